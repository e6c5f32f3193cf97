import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import type { FileRecord } from '../../src/domain/file.ts';
import { openDocsync, type Docsync } from '../../src/docsync.ts';
import { runCliCaptured, type CliRun } from '../support/cli.ts';
import { commitInfo, sharedRowOf } from '../support/history.ts';
import { tempDir } from '../support/instance.ts';

describe('docsync history, trash, restore', () => {
  let tmp: ReturnType<typeof tempDir>;
  let dataDir: string;
  beforeEach(() => {
    tmp = tempDir();
    dataDir = path.join(tmp.dir, 'data');
    fs.mkdirSync(dataDir);
  });
  afterEach(() => tmp.remove());

  const env = () => ({ DOCSYNC_DATA_DIR: dataDir, DOCSYNC_REMOTE: 'none' });
  const cli = (args: string[]): Promise<CliRun> => runCliCaptured(args, { env: env(), cwd: tmp.dir });
  /** Works on the data dir directly, as a sync would (the CLI has closed it by then). */
  const withStore = <T>(work: (docsync: Docsync) => T): T => {
    const docsync = openDocsync(loadConfig(env()), { create: false });
    try {
      return work(docsync);
    } finally {
      docsync.close();
    }
  };
  const commitRow = (docsync: Docsync, file: FileRecord, version: number, at: string): void => {
    const synced: FileRecord = { ...file, sync_status: 'synced', sync_hash: file.hash, remote_version: version };
    docsync.fileRepository.update(synced);
    docsync.historyRepository.record(commitInfo(version, at, 'laptop'), [sharedRowOf(synced, version)]);
  };

  it('prints the history table, restores a version with --to, and fails clearly without content', async () => {
    fs.writeFileSync(path.join(tmp.dir, 'notes.txt'), 'my notes');
    const put = await cli(['files', 'put', 'notes.txt', '--label', 'draft']);
    const id = put.stdout.split(/\s+/)[0]!;
    withStore((docsync) => commitRow(docsync, docsync.files.get(id), 1, '2026-01-01T10:00:00.000Z'));
    expect((await cli(['files', 'tag', id, '--add-label', 'final', '--remove-label', 'draft'])).code).toBe(0);
    withStore((docsync) => commitRow(docsync, docsync.files.get(id), 2, '2026-01-02T10:00:00.000Z'));

    const history = await cli(['history', id]);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout.trimEnd().split('\n')).toEqual([
      'VERSION  COMMITTED (UTC)           INSTANCE  SIZE  NAME         LABELS',
      '*2       2026-01-02T10:00:00.000Z  laptop    8 B   "notes.txt"  final',
      ' 1       2026-01-01T10:00:00.000Z  laptop    8 B   "notes.txt"  draft',
    ]);
    expect(JSON.parse((await cli(['history', id, '--json'])).stdout).versions).toHaveLength(2);

    const restored = await cli(['restore', id, '--to', '1']);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(new RegExp(`^${id}  modified .*"notes\\.txt"\\s+labels=draft\\n$`));

    expect(await cli(['restore', id, '--to', '9'])).toMatchObject({ code: 1, stderr: `error: File '${id}' has no version 9 in its history\n` });
    expect((await cli(['restore', id, '--to', 'two'])).stderr).toMatch(/--to must be a positive whole number/);

    // Content no row holds any more, and no remote to fetch it from.
    withStore((docsync) => {
      docsync.historyRepository.record(commitInfo(3, '2026-01-03T10:00:00.000Z', 'desktop'), [
        { ...sharedRowOf(docsync.files.get(id), 3), hash: 'e'.repeat(64) },
      ]);
    });
    expect(await cli(['restore', id, '--to', '3'])).toMatchObject({
      code: 1,
      stderr: 'error: the content of this version is no longer on this instance and no remote is configured\n',
    });
  });

  it('lists the trash and brings a deleted file back', async () => {
    fs.writeFileSync(path.join(tmp.dir, 'a.txt'), 'a');
    fs.writeFileSync(path.join(tmp.dir, 'b.txt'), 'b');
    const ids = (await cli(['files', 'put', 'a.txt', 'b.txt'])).stdout.trim().split('\n').map((line) => line.split(/\s+/)[0]!);
    expect((await cli(['trash'])).stdout).toBe('');
    expect((await cli(['restore', ids[0]!])).stderr).toMatch(/is not deleted/);
    await cli(['files', 'rm', ...ids]);

    const trash = await cli(['trash', '--limit', '1']);
    expect(trash.code, trash.stderr).toBe(0);
    expect(trash.stdout.trim().split('\n')).toHaveLength(1);
    expect(trash.stdout).toMatch(/deleted .*deleted_at=\d{4}-/);
    const cursor = /--cursor (\S+)/.exec(trash.stderr)?.[1];
    expect(cursor).toBeDefined();
    const next = await cli(['trash', '--cursor', cursor!]);
    expect(next.stderr).toBe('1 deleted file(s)\n');
    const listed = new Set([trash.stdout, next.stdout].map((out) => out.split(/\s+/)[0]));
    expect(listed).toEqual(new Set(ids));

    const restored = await cli(['restore', ids[1]!]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/modified .*"b\.txt"/);
    const get = await cli(['files', 'get', ids[1]!]);
    expect(get.stdout).toBe('b');
    expect(JSON.parse((await cli(['trash', '--json'])).stdout).files.map((f: FileRecord) => f.stable_id)).toEqual([ids[0]]);
  });

  it('has --help on each command', async () => {
    for (const args of [['history'], ['trash'], ['restore']]) {
      const run = await cli([...args, '--help']);
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout).toMatch(/^Usage: docsync/);
    }
  });
});
