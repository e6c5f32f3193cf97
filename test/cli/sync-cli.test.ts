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
    // Synced, but a person has to decide: its own exit code.
    expect(met.code).toBe(3);
    const listed = await cli('data2', ['conflicts']);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+modified_both\\s+"paper\\.txt"`));
    const sideways = await cli('data2', ['resolve', id, 'sideways']);
    expect(sideways.stderr).toMatch(/resolution must be one of local_wins, remote_wins, keep_both/);
    expect(sideways.code).toBe(2);
    expect((await cli('data2', ['resolve', id, 'local_wins'])).code).toBe(0);
    expect((await cli('data2', ['sync'])).code).toBe(0);
    await cli('data', ['sync']);
    expect((await cli('data', ['files', 'ls'])).stdout).toMatch(/labels=draft,from-b/);
  });

  it('a dry run lists its plan file by file, changes nothing, and never says "nothing" when something would be done', async () => {
    const put = async (dataDir: string, name: string, content: string) => {
      fs.writeFileSync(path.join(tmp.dir, name), content);
      return (await cli(dataDir, ['files', 'put', name])).stdout.split(/\s+/)[0]!;
    };
    const [a, b, d] = [await put('data', 'a.txt', 'a'), await put('data', 'b.txt', 'b'), await put('data', 'd.txt', 'd')];
    await cli('data', ['sync']);
    await cli('data2', ['sync']);
    const e = await put('data2', 'e.txt', 'e from data2');
    await cli('data2', ['files', 'tag', d, '--add-label', 'there']);
    await cli('data2', ['sync']);
    const c = await put('data', 'c.txt', 'new here');
    await cli('data', ['files', 'rm', a]);
    await cli('data', ['files', 'tag', b, '--add-label', 'here']);
    await cli('data', ['files', 'tag', d, '--add-label', 'here']);
    const versionBefore = fs.readFileSync(path.join(tmp.dir, 'remote', 'version.txt'), 'utf8');

    const dry = await cli('data', ['sync', '--dry-run']);
    const plan = dry.stdout.trimEnd().split('\n');
    expect(plan.slice(0, 5).sort()).toEqual(
      [
        `conflict (modified_both)  "d.txt"  ${d}`,
        `delete remote             "a.txt"  ${a}`,
        `download                  "e.txt" (12 B)  ${e}`,
        `update remote             "b.txt"  ${b}`,
        `upload                    "c.txt" (8 B)  ${c}`,
      ].sort(),
    );
    expect(plan.slice(5)).toEqual([
      expect.stringMatching(/^Dry run: a sync would upload 1, download 1, update the metadata of 1, delete 1 on the remote, meet 1 conflict\(s\) \(version 2, \d+ ms\)$/),
      "Resolve conflicts with 'docsync conflicts' and 'docsync resolve <id> <strategy>'.",
    ]);
    expect(dry.stdout).not.toMatch(/nothing/i);
    // A conflict would be left to resolve: the same exit code as a real sync.
    expect(dry.code).toBe(3);
    const json = JSON.parse((await cli('data', ['sync', '--dry-run', '--json'])).stdout);
    expect(json).toMatchObject({ uploaded: 1, downloaded: 1, deleted_remote: 1, metadata_synced: 1, conflicts: 1 });
    expect(json.plan).toContainEqual({ action: 'upload', stable_id: c, filename: 'c.txt', bytes: 8 });
    expect(json.plan).toContainEqual({ action: 'conflict', stable_id: d, filename: 'd.txt', bytes: 0, conflict_type: 'modified_both' });

    // Nothing moved: the remote and the local rows are as they were.
    expect(fs.readFileSync(path.join(tmp.dir, 'remote', 'version.txt'), 'utf8')).toBe(versionBefore);
    expect((await cli('data', ['files', 'ls'])).stdout).not.toMatch(/e\.txt|conflict/);
    // In step with the remote, a dry run says so.
    const quiet = await cli('data2', ['sync', '--dry-run']);
    expect(quiet).toMatchObject({ code: 0 });
    expect(quiet.stdout).toMatch(/^Dry run: nothing to do, already in sync \(version 2, \d+ ms\)\n$/);
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
