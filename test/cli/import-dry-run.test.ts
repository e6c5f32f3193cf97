import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openDocsync, type Docsync } from '../../src/docsync.ts';
import type { ImportReport } from '../../src/services/folder-import.ts';
import { runCliCaptured } from '../support/cli.ts';
import { tempDir } from '../support/instance.ts';

describe('docsync import --dry-run', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
    for (const dir of ['a', 'b']) fs.mkdirSync(path.join(tmp.dir, dir));
  });
  afterEach(() => tmp.remove());

  const env = (dataDir: string) => ({ DOCSYNC_DATA_DIR: path.join(tmp.dir, dataDir), DOCSYNC_REMOTE: 'none', DOCSYNC_MAX_UPLOAD_MB: '1' });
  const cli = (dataDir: string, args: string[]) => runCliCaptured(args, { env: env(dataDir), cwd: tmp.dir });
  const write = (rel: string, content: string | Buffer) => {
    const file = path.join(tmp.dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  };
  const withStore = async <T>(dataDir: string, work: (docsync: Docsync) => Promise<T> | T): Promise<T> => {
    const docsync = openDocsync(loadConfig(env(dataDir), {}, tmp.dir), { create: false });
    try {
      return await work(docsync);
    } finally {
      docsync.close();
    }
  };
  /** Everything an import writes to: rows (tombstones too), blob files, temp files. */
  const footprint = async (dataDir: string) => {
    const rows = await withStore(dataDir, (d) => d.files.list({ limit: 1000, includeDeleted: true }).total);
    const under = (dir: string) => (fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).sort() : []);
    return { rows, blobs: under(path.join(tmp.dir, dataDir, 'blobs')), tmp: under(path.join(tmp.dir, dataDir, 'tmp')) };
  };
  const tree = () => {
    write('in/a.txt', 'same');
    write('in/Work/a-again.txt', 'same');
    write('in/Work/2024/plan.txt', 'plan');
    write('in/ok.pdf', '%PDF ok');
    write('in/bad\nname.txt', 'a newline in the name');
    write('in/big.bin', Buffer.alloc(2 * 1024 * 1024));
    fs.symlinkSync(path.join(tmp.dir, 'in'), path.join(tmp.dir, 'in', 'loop'));
    expect(spawnSync('mkfifo', [path.join(tmp.dir, 'in', 'pipe')]).status).toBe(0);
  };

  it('lists what would be imported, what is present, duplicated, skipped or would fail; writes nothing; exits 1', async () => {
    tree();
    const already = await withStore('a', async (d) => (await d.files.create(Readable.from([Buffer.from('%PDF ok')]), { filename: 'already.pdf' })).stable_id);
    const before = await footprint('a');
    expect(before.rows).toBe(1);

    const run = await cli('a', ['import', 'in', '--dry-run', '--folders-as', 'labels', '--collection', 'inbox']);
    expect(run.code).toBe(1);
    expect(run.stdout.split('\n')).toEqual([
      'import     Work/2024/plan.txt  as "plan.txt"  collections=inbox  labels=Work,2024',
      'import     Work/a-again.txt  as "a-again.txt"  collections=inbox  labels=Work',
      'duplicate  a.txt  same content as Work/a-again.txt (in this folder)',
      `present    ok.pdf  same content as ${already} "already.pdf" (already in the store)`,
      'skip       loop  a link to a folder (not followed)',
      'skip       pipe  not a regular file',
      'fail       "bad\\nname.txt"  filename must not contain control characters (NUL, newline, …)',
      'fail       big.bin  Upload exceeds the limit of 1 MB',
      'Dry run: nothing was imported. Would import 2, duplicates 2, would fail 2 (6 file(s), 2.0 MB)',
      '',
    ]);
    expect(run.stderr).toMatch(/error: 2 file\(s\) would not be imported \(listed above\); nothing was written\n$/);
    expect(await footprint('a')).toEqual(before);

    // The plan is what the import then does.
    const plan = JSON.parse((await cli('a', ['import', 'in', '--dry-run', '--json', '--folders-as', 'labels', '--collection', 'inbox'])).stdout) as ImportReport;
    expect(await footprint('a')).toEqual(before);
    const done = await cli('a', ['import', 'in', '--json', '--folders-as', 'labels', '--collection', 'inbox']);
    expect(done.code).toBe(1);
    const real = JSON.parse(done.stdout) as ImportReport;
    expect(plan.dry_run).toBe(true);
    expect(real.dry_run).toBe(false);
    const strip = (r: ImportReport) => ({
      imported: r.imported.map(({ path: p, filename, collections, labels }) => ({ p, filename, collections, labels })),
      duplicates: r.duplicates.map((d) => d.path),
      failed: r.failed,
      skipped: r.skipped,
    });
    expect(strip(plan)).toEqual(strip(real));
    expect((await footprint('a')).rows).toBe(3);
  });

  it('says every file of an export of the same store is already present, and exits 0', async () => {
    write('src/x.txt', 'x');
    write('src/Thesis/y.pdf', '%PDF y');
    expect((await cli('a', ['import', 'src', '--folders-as', 'collections'])).code).toBe(0);
    expect((await cli('a', ['export', 'out'])).code).toBe(0);
    const before = await footprint('a');
    const again = await cli('a', ['import', 'out', '--dry-run']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^present {4}Thesis\/y\.pdf {2}same content as \w{12} "y\.pdf" \(already in the store\)$/m);
    expect(again.stdout).toMatch(/^present {4}x\.txt {2}/m);
    expect(again.stdout).toMatch(/Would import 0, duplicates 2, would fail 0 \(2 file\(s\), 7 B, names and metadata from docsync-export\.json\)\n$/);
    expect(await footprint('a')).toEqual(before);
    // Into another store the same folder would bring both back, with their collections.
    const fresh = await cli('b', ['import', 'out', '--dry-run']);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toContain('import     Thesis/y.pdf  as "y.pdf"  collections=Thesis\n');
    expect((await footprint('b')).rows).toBe(0);
  });
});
