import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openDocsync, type Docsync } from '../../src/docsync.ts';
import type { FileRecord } from '../../src/domain/file.ts';
import type { CliIo } from '../../src/cli/io.ts';
import { runCli } from '../../src/cli/program.ts';
import { runCliCaptured } from '../support/cli.ts';
import { tempDir } from '../support/instance.ts';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe('docsync import / export', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
    for (const dir of ['a', 'b']) fs.mkdirSync(path.join(tmp.dir, dir));
  });
  afterEach(() => tmp.remove());

  const env = (dataDir: string) => ({ DOCSYNC_DATA_DIR: path.join(tmp.dir, dataDir), DOCSYNC_REMOTE: 'none' });
  const cli = (dataDir: string, args: string[]) => runCliCaptured(args, { env: env(dataDir), cwd: tmp.dir });
  const write = (rel: string, content: string | Buffer) => {
    const file = path.join(tmp.dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  };
  /** Works on a data dir directly between CLI runs (what the CLI cannot set: metadata, tricky names). */
  const withStore = async <T>(dataDir: string, work: (docsync: Docsync) => Promise<T> | T): Promise<T> => {
    const docsync = openDocsync(loadConfig(env(dataDir), {}, tmp.dir), { create: false });
    try {
      return await work(docsync);
    } finally {
      docsync.close();
    }
  };
  const liveFiles = (dataDir: string) => withStore(dataDir, (d) => d.files.list({ limit: 1000 }).files);
  /** What must survive a round trip; ids and times are the new store's own. */
  const comparable = (files: FileRecord[]) =>
    files
      .map((f) => ({ filename: f.filename, collections: f.collections, labels: f.labels, doc_id: f.doc_id, metadata: f.metadata, hash: f.hash }))
      .sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));

  it('import → export → import gives back every name, collection, label, doc id and metadata', async () => {
    write('tree/top.txt', 'top');
    write('tree/Thesis/paper.pdf', '%PDF paper');
    write('tree/Thesis/ch1/notes.txt', 'notes');
    write('tree/.DS_Store', 'hidden: skipped');
    write('tree/Thesis/.git/config', 'hidden folder: skipped');
    const first = await cli('a', ['import', 'tree', '--folders-as', 'collections', '--label', 'scanned', '--label', '2024']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('imported 3, duplicates 0, failed 0 (3 file(s), 18 B)\n');
    const imported = await liveFiles('a');
    expect(comparable(imported).map((f) => [f.filename, f.collections, f.labels])).toEqual([
      ['notes.txt', ['Thesis', 'ch1'], ['scanned', '2024']],
      ['paper.pdf', ['Thesis'], ['scanned', '2024']],
      ['top.txt', [], ['scanned', '2024']],
    ]);

    // What only the API sets, and names no filesystem takes as they are.
    await withStore('a', async (d) => {
      const paper = imported.find((f) => f.filename === 'paper.pdf')!;
      d.files.updateMetadata(paper.stable_id, { doc_id: 'doc-42', metadata: { authors: ['Ada', 'Bob'], pages: 12, nested: { ok: true } } });
      const add = (filename: string, content: string, extra: { collections?: string[]; labels?: string[] } = {}) =>
        d.files.create(Readable.from([Buffer.from(content)]), { filename, ...extra });
      await add('Report.pdf', 'report one', { collections: ['Thesis'] });
      await add('report.pdf', 'report two', { collections: ['Thesis'] }); // same name on a case-insensitive disk
      await add('report.pdf', 'report three', { collections: ['thesis'] }); // a collection differing by case only
      await add('../../etc/passwd', 'not a path');
      await add('CON.txt', 'a Windows device name');
      await add('a:b*c?.txt', 'forbidden on Windows');
      await add('.profile', 'would be hidden');
      await add('trailing dot.', 'Windows drops it');
      await add('Cafe\u0301.txt', 'decomposed é');
      await add('copy-one.txt', 'same bytes', { labels: ['x'] });
      await add('copy-two.txt', 'same bytes', { labels: ['y'] }); // equal content, another file: both must come back
      await add('docsync-export.json', 'a file with the sidecar name');
      await add(`${'é'.repeat(120)}.pdf`, 'a name of 244 bytes');
    });

    const exported = await cli('a', ['export', 'out']);
    expect(exported.code, exported.stderr).toBe(0);
    const source = await liveFiles('a');
    expect(exported.stdout).toMatch(new RegExp(`^exported ${source.length} file\\(s\\), .*; metadata in .*docsync-export\\.json\\n$`));

    // Human-readable names, one per file, each a plain safe segment, none hidden, none colliding.
    const written = listFiles(path.join(tmp.dir, 'out'));
    expect(written).toHaveLength(source.length + 1);
    expect(written).toContain('docsync-export.json');
    const lower = written.map((w) => w.toLowerCase().normalize('NFC'));
    expect(new Set(lower).size).toBe(lower.length);
    for (const rel of written) {
      for (const segment of rel.split('/')) {
        expect(segment, rel).not.toMatch(/^\.|[<>:"\\|?*]|[. ]$|^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i);
        expect(Buffer.byteLength(segment), rel).toBeLessThanOrEqual(200);
      }
    }
    expect(written).toEqual(expect.arrayContaining(['top.txt', 'Thesis/paper.pdf', 'Thesis/notes.txt', 'Thesis/Report.pdf', '_CON.txt', '_profile']));
    expect(written.filter((w) => /^Thesis\/report \(.{12}\)\.pdf$/i.test(w))).toHaveLength(1);
    expect(written.filter((w) => /^thesis \([0-9a-f]{8}\)\/report\.pdf$/.test(w))).toHaveLength(1);
    expect(written.filter((w) => /^docsync-export \(.{12}\)\.json$/.test(w))).toHaveLength(1);
    // Every exported file holds the content the sidecar says.
    const sidecar = JSON.parse(fs.readFileSync(path.join(tmp.dir, 'out', 'docsync-export.json'), 'utf8')) as { files: Array<{ path: string; hash: string; id: string }> };
    expect(sidecar.files.map((f) => f.id).sort()).toEqual(source.map((f) => f.stable_id).sort());
    for (const entry of sidecar.files) expect(sha256(fs.readFileSync(path.join(tmp.dir, 'out', entry.path))), entry.path).toBe(entry.hash);

    const back = await cli('b', ['import', 'out']);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toMatch(new RegExp(`^imported ${source.length}, duplicates 0, failed 0 .*names and metadata from docsync-export\\.json`));
    expect(comparable(await liveFiles('b'))).toEqual(comparable(source));

    // Importing the same export again adds nothing: each file is already there.
    const again = await cli('b', ['import', 'out']);
    expect(again.stdout).toMatch(new RegExp(`^imported 0, duplicates ${source.length}, failed 0`));
    expect(await liveFiles('b')).toHaveLength(source.length);
  });

  it('draws a progress bar of files and bytes on a terminal, ending at every file and byte', async () => {
    write('tree/one.txt', 'x'.repeat(1000));
    write('tree/sub/two.txt', 'y'.repeat(3000));
    write('tree/sub/same.txt', 'y'.repeat(3000));
    const stderr = Object.assign(new PassThrough(), { isTTY: true, columns: 160 });
    let drawn = '';
    stderr.on('data', (c: Buffer) => (drawn += c.toString()));
    const io: CliIo = { stdout: new PassThrough(), stderr, stdin: Readable.from([]), env: env('a'), cwd: tmp.dir };
    expect(await runCli(['import', 'tree'], io)).toBe(0);
    // eslint-disable-next-line no-control-regex
    const frames = drawn.split(/\r|\x1b\[[0-9;]*[A-Za-z]/).map((f) => f.trim()).filter((f) => f.includes('%'));
    expect(frames[0]).toMatch(/ 0% \| 0\/3 files \| 0 B of 6\.8 KB \| /);
    expect(frames[frames.length - 1]).toMatch(/ 100% \| 3\/3 files \| 6\.8 KB of 6\.8 KB \| [\d.]+ (B|KB|MB)\/s \| ETA 0s$/);
    // Never more files or bytes than there are.
    for (const frame of frames) {
      const [, done, total] = /(\d+)\/(\d+) files/.exec(frame)!;
      expect(Number(done)).toBeLessThanOrEqual(Number(total));
      expect(Number(/(\d+)%/.exec(frame)![1])).toBeLessThanOrEqual(100);
    }
  });

  it('reports duplicates, skips what is not a regular file, lists failures and exits 1', async () => {
    write('in/a.txt', 'same');
    write('in/sub/a-again.txt', 'same');
    write('in/ok.pdf', '%PDF ok');
    write('in/bad\nname.txt', 'a newline in the name');
    write('in/big.bin', Buffer.alloc(2 * 1024 * 1024));
    fs.symlinkSync(path.join(tmp.dir, 'nowhere'), path.join(tmp.dir, 'in', 'dangling.pdf'));
    fs.symlinkSync(path.join(tmp.dir, 'in'), path.join(tmp.dir, 'in', 'loop'));
    // Reading a FIFO would block for ever: it is never opened.
    expect(spawnSync('mkfifo', [path.join(tmp.dir, 'in', 'pipe')]).status).toBe(0);
    const unreadable = process.getuid?.() !== 0; // root reads a file whatever its mode
    if (unreadable) {
      write('in/locked.txt', 'locked');
      fs.chmodSync(path.join(tmp.dir, 'in', 'locked.txt'), 0);
    }
    await withStore('a', (d) => d.files.create(Readable.from([Buffer.from('%PDF ok')]), { filename: 'already.pdf' }));

    const run = await runCliCaptured(['import', 'in'], { env: { ...env('a'), DOCSYNC_MAX_UPLOAD_MB: '1' }, cwd: tmp.dir });
    expect(run.code).toBe(1);
    const failed = run.stderr.split('\n').filter((l) => l.startsWith('failed:'));
    expect(failed).toEqual(
      expect.arrayContaining([
        'failed:    bad\nname.txt: filename must not contain control characters (NUL, newline, …)'.split('\n')[0]!,
        'failed:    big.bin: Upload exceeds the limit of 1 MB',
        'failed:    dangling.pdf: a link to something that does not exist',
        ...(unreadable ? ['failed:    locked.txt: permission denied'] : []),
      ]),
    );
    expect(failed).toHaveLength(unreadable ? 4 : 3);
    expect(run.stderr).toMatch(/^duplicate: ok\.pdf \(same content as \w{12} "already\.pdf"\)$/m);
    expect(run.stderr).toMatch(/^duplicate: sub\/a-again\.txt \(same content as \w{12} "a\.txt"\)$/m);
    expect(run.stderr).toContain('skipped:   loop (a link to a folder (not followed))');
    expect(run.stderr).toContain('skipped:   pipe (not a regular file)');
    expect(run.stderr).toMatch(/error: \d file\(s\) were not imported \(listed above\); the rest was\n$/);
    expect(run.stdout).toMatch(/^imported 1, duplicates 2, failed [34] /);
    expect((await liveFiles('a')).map((f) => f.filename).sort()).toEqual(['a.txt', 'already.pdf']);

    const json = await runCliCaptured(['import', 'in', '--json'], { env: { ...env('b'), DOCSYNC_MAX_UPLOAD_MB: '1' }, cwd: tmp.dir });
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { imported: unknown[]; duplicates: unknown[]; failed: Array<{ path: string }> };
    expect(report.imported).toHaveLength(2);
    expect(report.duplicates).toEqual([{ path: 'sub/a-again.txt', existing_id: expect.any(String), existing_filename: 'a.txt' }]);
    expect(report.failed.map((f) => f.path)).toContain('big.bin');
  });

  it("never imports the data dir or the remote folder inside the folder, and refuses a bad --folders-as", async () => {
    write('docs/x.txt', 'x');
    fs.mkdirSync(path.join(tmp.dir, 'docs', 'data'));
    fs.mkdirSync(path.join(tmp.dir, 'docs', 'remote'));
    const run = await runCliCaptured(['import', '.'], {
      env: { DOCSYNC_DATA_DIR: path.join(tmp.dir, 'docs', 'data'), DOCSYNC_REMOTE: `file://${path.join(tmp.dir, 'docs', 'remote')}` },
      cwd: path.join(tmp.dir, 'docs'),
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^imported 1, duplicates 0, failed 0/);
    expect(run.stderr).toContain("skipped:   data (docsync's own data (data dir or remote folder))");
    expect(run.stderr).toContain("skipped:   remote (docsync's own data (data dir or remote folder))");
    const bad = await cli('a', ['import', 'docs', '--folders-as', 'tags']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/option '--folders-as <what>' argument 'tags' is invalid\. Allowed choices are collections, labels/);
  });

  it('export refuses a folder that is not empty; import refuses a broken sidecar', async () => {
    write('full/x.txt', 'x');
    expect(await cli('a', ['export', 'full'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/full is not empty: export into a new or empty folder/) });
    write('full/docsync-export.json', '{"format": "docsync-export", "version": 1, "files": [{"path": "../x.txt", "filename": "x"}]}');
    const run = await cli('a', ['import', 'full']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('error: docsync-export.json, files[0]: path must be a relative path inside the export folder\n');
    expect(await liveFiles('a')).toEqual([]);
  });
});

/** Every regular file under `dir`, relative, with `/`. */
function listFiles(dir: string, rel = ''): string[] {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const child = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? listFiles(dir, child) : [child];
  });
}
