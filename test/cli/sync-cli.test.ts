import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../support/cli.ts';
import { tempDir } from '../support/instance.ts';

/** Two data dirs side by side share the embedded default remote, `remote/` beside them. */
describe('docsync sync / conflicts / resolve on the embedded folder remote', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
    // Only `serve` makes a new data dir; the other commands refuse a path that does not exist.
    for (const dir of ['data', 'data2']) fs.mkdirSync(path.join(tmp.dir, dir));
  });
  afterEach(() => tmp.remove());

  const cli = (dataDir: string, args: string[]) =>
    runCliCaptured(args, { env: { DOCSYNC_DATA_DIR: path.join(tmp.dir, dataDir) }, cwd: tmp.dir });

  it('a file put on one instance arrives on the other; conflicts are listed and resolved', async () => {
    fs.writeFileSync(path.join(tmp.dir, 'paper.txt'), 'v1');
    const put = await cli('data', ['files', 'put', 'paper.txt', '--label', 'draft']);
    const id = put.stdout.split(/\s+/)[0]!;
    const first = await cli('data', ['sync']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^Synced: 1 uploaded \(version 1, \d+ ms\)/);
    expect(fs.existsSync(path.join(tmp.dir, 'remote', 'version.txt'))).toBe(true);

    expect((await cli('data2', ['sync'])).stdout).toMatch(/Synced: 1 downloaded/);
    expect((await cli('data2', ['files', 'ls'])).stdout).toMatch(new RegExp(`${id}\\s+synced .*"paper\\.txt"\\s+labels=draft`));
    expect((await cli('data2', ['status'])).stdout).toMatch(/needs sync:\s+no/);

    // Both edit: the second syncer meets a conflict.
    fs.writeFileSync(path.join(tmp.dir, 'v-a.txt'), 'edited by data');
    fs.writeFileSync(path.join(tmp.dir, 'v-b.txt'), 'edited by data2');
    await cli('data', ['files', 'tag', id, '--add-label', 'from-a']);
    await cli('data2', ['files', 'tag', id, '--add-label', 'from-b']);
    await cli('data', ['sync']);
    const met = await cli('data2', ['sync', '--json']);
    expect(JSON.parse(met.stdout)).toMatchObject({ conflicts: 1 });
    const listed = await cli('data2', ['conflicts']);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+modified_both\\s+"paper\\.txt"`));
    expect((await cli('data2', ['resolve', id, 'sideways'])).stderr).toMatch(/resolution must be one of local_wins, remote_wins, keep_both/);
    expect((await cli('data2', ['resolve', id, 'local_wins'])).code).toBe(0);
    await cli('data2', ['sync']);
    await cli('data', ['sync']);
    expect((await cli('data', ['files', 'ls'])).stdout).toMatch(/labels=draft,from-b/);
  });

  it('a dry run reports without changing anything', async () => {
    fs.writeFileSync(path.join(tmp.dir, 'a.txt'), 'a');
    await cli('data', ['files', 'put', 'a.txt']);
    const dry = await cli('data', ['sync', '--dry-run', '--json']);
    expect(JSON.parse(dry.stdout)).toMatchObject({ uploaded: 1, message: 'Dry run: nothing was changed' });
    expect(fs.existsSync(path.join(tmp.dir, 'remote', 'version.txt'))).toBe(false);
    expect((await cli('data', ['files', 'ls'])).stdout).toMatch(/modified/);
  });

  it('refuses a second sync of the same data dir while one runs in another process', async () => {
    fs.mkdirSync(path.join(tmp.dir, 'data'), { recursive: true });
    // A lock file held by a live process (this test's parent, pid 1 is always alive).
    fs.writeFileSync(path.join(tmp.dir, 'data', 'sync.lock'), JSON.stringify({ pid: 1 }));
    const run = await cli('data', ['sync']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Another sync of this data dir is running/);
    // A lock file left by a dead process is taken over.
    fs.writeFileSync(path.join(tmp.dir, 'data', 'sync.lock'), JSON.stringify({ pid: 2 ** 22 + 1 }));
    expect((await cli('data', ['sync'])).code).toBe(0);
  });
});
