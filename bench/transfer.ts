import { createHash, randomBytes } from 'node:crypto';
import { tempDir } from './cleanup.ts';
import { benchEnv } from './instance.ts';
import { readMemory, sampleRss, startServer, type ServerProcess } from './server.ts';
import { fixed, mb, type Table } from './table.ts';

export interface TransferOptions {
  /** Upload size in MiB (1024 = the 1 GB). */
  mib: number;
}

const RSS_TARGET_BYTES = 150e6;
const CHUNK = 1024 * 1024;
const SAMPLE_MS = 50;

interface Upload {
  seconds: number;
  generatedHash: string;
  file: { stable_id: string; hash: string; size: number };
}

export async function benchTransfer(options: TransferOptions, log: (line: string) => void): Promise<Table> {
  const bytes = options.mib * 1024 * 1024;
  const tmp = tempDir('transfer');
  let server: ServerProcess | undefined;
  try {
    server = await startServer({
      ...benchEnv(tmp.dir),
      DOCSYNC_MAX_UPLOAD_MB: String(Math.max(2048, options.mib + 1)),
      DOCSYNC_LOG_LEVEL: 'warn',
    });
    const idle = readMemory(server.pid).rss;
    log(`transfer: uploading ${options.mib} MiB to pid ${server.pid}…`);
    let sampler = sampleRss(server.pid, SAMPLE_MS);
    const upload = await uploadGenerated(server, bytes);
    const uploadRss = sampler.stop();
    log('transfer: downloading…');
    sampler = sampleRss(server.pid, SAMPLE_MS);
    const download = await downloadAndHash(server, upload.file.stable_id);
    const downloadRss = sampler.stop();
    const hwm = readMemory(server.pid).hwm;
    const { identity, startRss } = server;
    await server.stop();
    server = undefined;

    const sizeOk = upload.file.size === bytes && download.size === bytes;
    const hashOk = upload.generatedHash === upload.file.hash && download.hash === upload.file.hash;
    const rate = (seconds: number): string => `${fixed(seconds, 1)} s, ${fixed(bytes / 1e6 / seconds, 0)} MB/s`;
    const rssRow = (label: string, value: number) => ({
      cells: [label, `${mb(value)} MB`, '< 150 MB'],
      ok: value < RSS_TARGET_BYTES,
    });
    return {
      title: `Transfer of ${options.mib} MiB through a spawned server`,
      columns: ['measure', 'value', 'target'],
      textColumns: [1, 2],
      rows: [
        { cells: [`upload (POST /api/v1/files, multipart, ${fixed(bytes / 1e6, 1)} MB)`, rate(upload.seconds), '—'] },
        { cells: ['download (GET /api/v1/files/:id/content)', rate(download.seconds), '—'] },
        { cells: ['server RSS at start (answering /health, before login)', `${mb(startRss)} MB`, '—'] },
        { cells: ['server RSS idle, after login', `${mb(idle)} MB`, '—'] },
        rssRow(`server RSS peak during upload (${uploadRss.samples} samples)`, uploadRss.peak),
        rssRow(`server RSS peak during download (${downloadRss.samples} samples)`, downloadRss.peak),
        rssRow('server VmHWM (peak over its whole life)', hwm),
        { cells: ['RSS growth over idle while transferring', `+${mb(Math.max(uploadRss.peak, downloadRss.peak) - idle)} MB`, '—'] },
        {
          cells: ['SHA-256 generated = returned = downloaded', `${upload.file.hash.slice(0, 16)}…`, 'all equal, sizes too'],
          ok: hashOk && sizeOk,
        },
      ],
      notes: [
        `Server: ${identity}. RSS sampled from /proc/<pid>/status VmRSS every ${SAMPLE_MS} ms.`,
        'Upload: multipart framing built around generated content (no source file), explicit Content-Length, hashed while sent;',
        'time ends when the 201 arrives (the server has fsynced and committed). Download: streamed and hashed on the client.',
        'MB = 10^6 bytes. Client and server share the same cores.',
      ],
    };
  } finally {
    await server?.stop();
    tmp.remove();
  }
}

/**
 * `bytes` of content that is never held in memory: a random 1 MiB block, stamped with the chunk
 * number so no two chunks are alike. Hashed as it is produced.
 */
function* generatedContent(bytes: number, hasher: ReturnType<typeof createHash>): Generator<Buffer> {
  const block = randomBytes(CHUNK);
  for (let offset = 0, index = 0; offset < bytes; offset += CHUNK, index++) {
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK, bytes - offset));
    block.copy(chunk, 0, 0, chunk.length);
    if (chunk.length >= 8) chunk.writeDoubleBE(index, 0);
    hasher.update(chunk);
    yield chunk;
  }
}

/** A multipart/form-data body with one `file` part, as a stream of known length. */
function multipartBody(bytes: number, hasher: ReturnType<typeof createHash>): { body: ReadableStream<Uint8Array>; headers: Record<string, string> } {
  const boundary = `docsync-bench-${randomBytes(12).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench-${bytes}.bin"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const parts = (function* () {
    yield head;
    yield* generatedContent(bytes, hasher);
    yield tail;
  })();
  // Pull-based: the next chunk is made only when fetch wants it, so memory stays at a chunk or two.
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = parts.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
  });
  return {
    body,
    headers: {
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(head.length + bytes + tail.length),
    },
  };
}

async function uploadGenerated(server: ServerProcess, bytes: number): Promise<Upload> {
  const hasher = createHash('sha256');
  const { body, headers } = multipartBody(bytes, hasher);
  const start = performance.now();
  // Node's fetch needs `duplex: 'half'` for a stream body; the global RequestInit type does not list it yet.
  const init: RequestInit & { duplex: 'half' } = { method: 'POST', headers: { ...headers, ...server.auth }, body, duplex: 'half' };
  const res = await fetch(`${server.baseUrl}/api/v1/files`, init);
  const text = await res.text();
  const seconds = (performance.now() - start) / 1000;
  if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${text}`);
  return { seconds, generatedHash: hasher.digest('hex'), file: JSON.parse(text) as Upload['file'] };
}

async function downloadAndHash(server: ServerProcess, id: string): Promise<{ seconds: number; hash: string; size: number }> {
  const hasher = createHash('sha256');
  let size = 0;
  const start = performance.now();
  const res = await fetch(`${server.baseUrl}/api/v1/files/${id}/content`, { headers: server.auth });
  if (res.status !== 200 || !res.body) throw new Error(`download answered ${res.status}: ${await res.text()}`);
  const reader = res.body.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    hasher.update(chunk.value);
    size += chunk.value.length;
  }
  return { seconds: (performance.now() - start) / 1000, hash: hasher.digest('hex'), size };
}
