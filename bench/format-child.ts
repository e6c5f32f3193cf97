/**
 * One docsync instance of the `format` section, in its own process so that its peak RSS is its own
 * and it runs the code of the checkout it is given:
 *
 *   node --import tsx bench/format-child.ts --repo <checkout> --data-dir <dir> --webdav-url <url> --remote-root </root>
 *
 * It loads `<checkout>/src/docsync.ts` and `<checkout>/src/config.ts` and uses only what format-1 and
 * format-2 builds share (openDocsync, loadConfig, files, fileRepository, sync.sync()). Commands come
 * as JSON lines on stdin; each answer is one line on stdout starting with `@@` (anything else on
 * stdout is ignored by the parent).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import readline from 'node:readline';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RowFactory } from './rows.ts';

/** What the parent may ask. */
export type ChildCommand =
  | { op: 'seed'; files: number; from: number; to: number; keep: number }
  | { op: 'sync' }
  | { op: 'label'; id: string; label: string }
  | { op: 'content'; id: string; bytes: number; seed: string }
  | { op: 'get'; id: string }
  | { op: 'rss' }
  | { op: 'exit' };

export interface SyncAnswer {
  seconds: number;
  summary: { skipped?: boolean; uploaded: number; downloaded: number; errors: number; message?: string };
  /** Peak RSS of this process so far (bytes). */
  maxRss: number;
  /** Milliseconds per sync phase, from the progress events (`metadata`, `planning`, `applying`, …). */
  phases: Record<string, number>;
}

const SEED_BATCH = 50_000;
const BLOB_BYTES = 2048;

const { values } = parseArgs({
  options: {
    repo: { type: 'string' },
    'data-dir': { type: 'string' },
    'webdav-url': { type: 'string' },
    'webdav-user': { type: 'string' },
    'webdav-password': { type: 'string' },
    'remote-root': { type: 'string' },
  },
  strict: true,
});
const repo = path.resolve(values.repo!);
const dataDir = values['data-dir']!;

// The build under test: its own docsync and config modules (tsx compiles them on import).
const { openDocsync } = (await import(pathToFileURL(path.join(repo, 'src/docsync.ts')).href)) as typeof import('../src/docsync.ts');
const { loadConfig } = (await import(pathToFileURL(path.join(repo, 'src/config.ts')).href)) as typeof import('../src/config.ts');

const config = loadConfig(
  {
    DOCSYNC_DATA_DIR: dataDir,
    WEBDAV_BASE_URL: values['webdav-url']!,
    WEBDAV_USERNAME: values['webdav-user']!,
    WEBDAV_PASSWORD: values['webdav-password']!,
    WEBDAV_REMOTE_ROOT: values['remote-root']!,
    DOCSYNC_SYNC_INTERVAL: '0',
    DOCSYNC_ADMIN_PASSWORD: 'bench-format-password',
    DOCSYNC_LOG_LEVEL: 'silent',
  },
  {},
  dataDir,
);
const docsync = openDocsync(config);

const maxRss = (): number => process.resourceUsage().maxRSS * 1024;

/** Deterministic incompressible bytes (AES-128-CTR over zeros). */
function seededBytes(label: string, size: number): Buffer {
  const key = createHash('sha256').update(`docsync-bench-format:${label}`).digest();
  return createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32)).update(Buffer.alloc(size));
}

let blob: { hash: string; size: number; file_type: string; mime_type: string } | undefined;
let factory: RowFactory | undefined;

/**
 * Rows `from` … `to - 1` of a store of `files` rows, `modified` (never synced), all pointing at ONE
 * small blob put in the blob store the ordinary way (once); filenames and ids differ (RowFactory,
 * seeded by `files`, so the rows are the same whatever the batches). Returns the ids of the first
 * `keep` rows of this batch.
 */
async function seed(files: number, first: number, to: number, keep: number): Promise<{ ids: string[]; seconds: number }> {
  const start = performance.now();
  blob ??= await docsync.files.create(Readable.from([seededBytes('seed-blob', BLOB_BYTES)]), { filename: 'seed-blob.pdf' });
  factory ??= new RowFactory(files);
  const ids: string[] = [];
  for (let from = first; from < to; from += SEED_BATCH) {
    const rows = factory.batch(from, Math.min(to, from + SEED_BATCH)).map((row, k) => ({
      ...row,
      filename: `document-${String(from + k).padStart(7, '0')}.pdf`,
      file_type: blob!.file_type,
      mime_type: blob!.mime_type,
      hash: blob!.hash,
      size: blob!.size,
      deleted: false,
      sync_status: 'modified' as const,
      sync_hash: null,
      remote_version: null,
    }));
    docsync.fileRepository.insertMany(rows);
    for (const row of rows) if (ids.length < keep) ids.push(row.stable_id);
  }
  return { ids, seconds: (performance.now() - start) / 1000 };
}

async function run(command: ChildCommand): Promise<unknown> {
  switch (command.op) {
    case 'seed':
      return seed(command.files, command.from, command.to, command.keep);
    case 'sync': {
      const marks: { phase: string; at: number }[] = [];
      const unsubscribe = docsync.sync.subscribe((event) => {
        if (event.type === 'syncProgress' && marks.at(-1)?.phase !== event.data.phase) marks.push({ phase: event.data.phase, at: performance.now() });
      });
      const start = performance.now();
      try {
        const summary = await docsync.sync.sync();
        const end = performance.now();
        const phases: Record<string, number> = {};
        marks.forEach((mark, i) => {
          if (mark.phase !== 'done') phases[mark.phase] = (phases[mark.phase] ?? 0) + (marks[i + 1]?.at ?? end) - mark.at;
        });
        const answer: SyncAnswer = { seconds: (end - start) / 1000, summary, maxRss: maxRss(), phases };
        return answer;
      } finally {
        unsubscribe();
      }
    }
    case 'label':
      docsync.files.updateMetadata(command.id, { labels: [command.label] });
      return {};
    case 'content': {
      const file = await docsync.files.replaceContent(command.id, Readable.from([seededBytes(command.seed, command.bytes)]));
      return { hash: file.hash };
    }
    case 'get': {
      const row = docsync.fileRepository.get(command.id);
      return row && { hash: row.hash, labels: row.labels, sync_status: row.sync_status };
    }
    case 'rss':
      return { maxRss: maxRss() };
    case 'exit':
      docsync.close();
      setImmediate(() => process.exit(0));
      return {};
  }
}

const reply = (answer: { ok: true; value: unknown } | { ok: false; error: string }): void => {
  process.stdout.write(`@@${JSON.stringify(answer)}\n`);
};

// One command at a time, in order.
let queue = Promise.resolve();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  queue = queue.then(async () => {
    try {
      reply({ ok: true, value: await run(JSON.parse(line) as ChildCommand) });
    } catch (error) {
      reply({ ok: false, error: (error as Error).stack ?? String(error) });
    }
  });
});
reply({ ok: true, value: { ready: true, maxRss: maxRss() } });
