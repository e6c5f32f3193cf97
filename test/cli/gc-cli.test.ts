import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { Sqlite } from '../../src/store/sqlite.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../support/cli.ts';
import { tempDir } from '../support/instance.ts';

const DAY = 24 * 3600 * 1000;

/** Two data dirs side by side share the embedded default remote, `remote/` beside them. */
describe('docsync gc', () => {
  let tmp: ReturnType<typeof tempDir>;
  let remoteDir: string;
  beforeEach(() => {
    tmp = tempDir();
    remoteDir = path.join(tmp.dir, 'remote');
    for (const dir of ['data', 'data2']) fs.mkdirSync(path.join(tmp.dir, dir));
  });
  afterEach(() => tmp.remove());

  const cli = (dataDir: string, args: string[]) =>
    runCliCaptured(args, { env: { DOCSYNC_DATA_DIR: path.join(tmp.dir, dataDir) }, cwd: tmp.dir });
  const put = async (dataDir: string, name: string, content: string) => {
    fs.writeFileSync(path.join(tmp.dir, name), content);
    const out = await cli(dataDir, ['files', 'put', name]);
    expect(out.code, out.stderr).toBe(0);
    return out.stdout.split(/\s+/)[0]!;
  };
  const sync = async (dataDir: string) => {
    const out = await cli(dataDir, ['sync']);
    expect(out.code, out.stderr).toBe(0);
  };
  const backdate = (file: string, ageMs: number) => {
    const at = new Date(Date.now() - ageMs);
    fs.utimesSync(file, at, at);
  };
  /** A file in a blob store's layout, `<root>/ab/<sha256>.txt`, that no row names. */
  const orphanBlob = (root: string, content: string, ageMs: number) => {
    const hash = createHash('sha256').update(content).digest('hex');
    const file = path.join(root, hash.slice(0, 2), `${hash}.txt`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    backdate(file, ageMs);
    return file;
  };
  /** The remote's metadata files (format 2): `snapshots/…db` and `journal/…json`, as `dir/name`. */
  const metadataFiles = () =>
    ['snapshots', 'journal'].flatMap((dir) => fs.readdirSync(path.join(remoteDir, dir)).sort().map((name) => `${dir}/${name}`));
  /**
   * Makes an instance "have watched the remote for a whole history window": the remote GC runs only
   * then (sync state `history_since` ≤ now − window). A real instance gets there by syncing for 30
   * days; the test sets the key 40 days back in the data dir's database (between CLI runs, so
   * nothing else holds it open).
   */
  const watchedWholeWindow = (dataDir: string) => {
    const db = new Sqlite(path.join(tmp.dir, dataDir, 'docsync.db'));
    try {
      const changed = db.prepare("UPDATE sync_state SET value = ? WHERE key = 'history_since'").run(new Date(Date.now() - 40 * DAY).toISOString());
      expect(changed.changes).toBe(1);
    } finally {
      db.close();
    }
  };

  it('a dry run reports the figures and deletes nothing; gc then deletes exactly that', async () => {
    await put('data', 'a.txt', 'kept: a live file');
    await sync('data');
    const gone = await put('data', 'b.txt', 'kept on the remote: named by a tombstone');
    await sync('data');
    expect((await cli('data', ['files', 'rm', gone])).code).toBe(0);
    await sync('data');
    // Format 2: the first commit (no snapshot yet) compacts; the next two only add journal files.
    expect(metadataFiles()).toEqual([
      expect.stringMatching(/^snapshots\/000001-.+\.db$/),
      expect.stringMatching(/^journal\/000001-.+\.json$/),
      expect.stringMatching(/^journal\/000002-.+\.json$/),
      expect.stringMatching(/^journal\/000003-.+\.json$/),
    ]);
    // Every metadata file is older than the 30-day window, yet all are kept: version.txt names them
    // (a compaction leaves the last deltas listed for readers a few versions behind). The pruning of
    // older snapshots and journals is covered by test/unit/remote-gc.test.ts.
    for (const name of metadataFiles()) backdate(path.join(remoteDir, name), 40 * DAY);
    watchedWholeWindow('data');
    const remoteOrphan = orphanBlob(remoteDir, 'no row names me', 2 * DAY);
    const remoteYoung = orphanBlob(remoteDir, 'an upload in flight', 3600 * 1000);
    const unknown = path.join(remoteDir, 'cd', 'notes.txt');
    fs.mkdirSync(path.dirname(unknown), { recursive: true });
    fs.writeFileSync(unknown, 'not a blob name');
    backdate(unknown, 90 * DAY);
    const localOrphan = orphanBlob(path.join(tmp.dir, 'data', 'blobs'), 'left behind locally', 2 * DAY);
    const leftover = path.join(tmp.dir, 'data', 'tmp', '0123abcd.part');
    fs.writeFileSync(leftover, 'killed transfer');
    backdate(leftover, DAY);

    const dry = await cli('data', ['gc', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const expected = {
      remote: { blobs_deleted: 1, bytes_freed: 15, journals_deleted: 0, snapshots_deleted: 0, blobs_kept: 3, errors: 0 },
      remote_skipped: null,
      remote_version: 3,
      local: { blobs_deleted: 1, bytes_freed: 19, temp_removed: 1 },
    };
    expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true, ...expected });
    expect(dry.stderr).toMatch(/left alone an unknown entry cd\/notes\.txt/);
    for (const file of [remoteOrphan, localOrphan, leftover]) expect(fs.existsSync(file)).toBe(true);
    expect(metadataFiles()).toHaveLength(4);
    const table = await cli('data', ['gc', '--dry-run']);
    expect(table.stdout).toMatch(/^Dry run: nothing was deleted/);
    expect(table.stdout).toMatch(/blobs deleted\s+1\s+1\n/);
    expect(table.stdout).toMatch(/journals deleted\s+0\s+-\n/);

    const real = await cli('data', ['gc', '--json']);
    expect(real.code, real.stderr).toBe(0);
    expect(JSON.parse(real.stdout)).toMatchObject({ dry_run: false, ...expected });
    for (const file of [remoteOrphan, localOrphan, leftover]) expect(fs.existsSync(file)).toBe(false);
    for (const file of [remoteYoung, unknown]) expect(fs.existsSync(file)).toBe(true);
    expect(metadataFiles()).toHaveLength(4);
    // What the other instance needs is all there: it joins (snapshot 1 + deltas 2, 3) and reads the live file.
    await sync('data2');
    const listed = await cli('data2', ['files', 'ls']);
    expect(listed.stdout).toMatch(/a\.txt/);
    expect(listed.stdout).not.toMatch(/b\.txt/);
    expect(JSON.parse((await cli('data', ['gc', '--json'])).stdout)).toMatchObject({ remote: { blobs_deleted: 0, journals_deleted: 0, snapshots_deleted: 0 } });
  });

  it('a freshly joined instance refuses the remote GC: its history does not cover the window', async () => {
    await put('data', 'a.txt', 'a');
    await sync('data');
    const orphan = orphanBlob(remoteDir, 'no row names me', 2 * DAY);
    // data2 joins from the snapshot: it has seen no commit before now, so it cannot tell which blobs
    // a version inside the window still needs. It is in step, so this is the only reason it refuses.
    await sync('data2');
    const joined = await cli('data2', ['gc', '--json']);
    expect(joined.code, joined.stderr).toBe(0);
    expect(JSON.parse(joined.stdout)).toMatchObject({
      remote: null,
      remote_version: null,
      remote_skipped: expect.stringMatching(/^this instance has seen the remote's commits only since \d{4}-.+: its history does not cover the 30-day window yet/),
    });
    expect((await cli('data2', ['gc'])).stdout).toMatch(/remote: not collected \(this instance has seen .+ history does not cover the 30-day window yet/);
    expect(fs.existsSync(orphan)).toBe(true);
    // The instance that started the repository has watched it from the start; 40 days on, it collects.
    watchedWholeWindow('data');
    expect(JSON.parse((await cli('data', ['gc', '--json'])).stdout)).toMatchObject({ remote: { blobs_deleted: 1 } });
    expect(fs.existsSync(orphan)).toBe(false);
  });

  it('refuses the remote GC unless this instance is in step with the remote: sync first', async () => {
    await put('data', 'a.txt', 'a');
    await sync('data');
    const orphan = orphanBlob(remoteDir, 'no row names me', 2 * DAY);

    const never = await cli('data2', ['gc']);
    expect(never.code).toBe(1);
    expect(never.stderr).toMatch(/This instance never synced with this remote: sync first, then collect garbage\. Nothing was deleted\./);

    await sync('data2');
    await put('data', 'b.txt', 'b');
    await sync('data');
    const behind = await cli('data2', ['gc', '--dry-run']);
    expect(behind.code).toBe(1);
    expect(behind.stderr).toMatch(/last saw version 1, the remote is at version 2: sync first/);

    await put('data', 'c.txt', 'c');
    const unsynced = await cli('data', ['gc']);
    expect(unsynced.code).toBe(1);
    expect(unsynced.stderr).toMatch(/1 local change\(s\) or conflict\(s\) are not synced yet: sync first/);
    expect(fs.existsSync(orphan)).toBe(true);
    // The lock was released: a sync goes through at once.
    expect(fs.existsSync(path.join(remoteDir, 'version.txt.lock'))).toBe(false);
    await sync('data');
    watchedWholeWindow('data');
    expect(JSON.parse((await cli('data', ['gc', '--json'])).stdout)).toMatchObject({ remote: { blobs_deleted: 1 } });
  });

  it('standalone: collects the local blobs only, and says why not the remote', async () => {
    const standalone = (args: string[]) =>
      runCliCaptured(args, { env: { DOCSYNC_DATA_DIR: path.join(tmp.dir, 'data'), DOCSYNC_REMOTE: 'none' }, cwd: tmp.dir });
    fs.writeFileSync(path.join(tmp.dir, 'kept.txt'), 'a file');
    expect((await standalone(['files', 'put', 'kept.txt'])).code).toBe(0);
    const orphan = orphanBlob(path.join(tmp.dir, 'data', 'blobs'), 'left behind locally', 2 * DAY);
    const young = orphanBlob(path.join(tmp.dir, 'data', 'blobs'), 'just written', 60 * 1000);
    const out = await standalone(['gc']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/remote: not collected \(no remote is configured\)/);
    expect(out.stdout).toMatch(/blobs deleted\s+-\s+1\n/);
    expect(out.stdout).toMatch(/blobs kept\s+-\s+2\n/);
    expect(fs.existsSync(orphan)).toBe(false);
    expect(fs.existsSync(young)).toBe(true);
  });
});
