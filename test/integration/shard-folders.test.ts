/**
 * Blob shard folders through whole syncs, on every remote: made once per remote by its first push
 * with content and said in version.txt (`shards all`), so that no later push of any instance pays a
 * MKCOL (nor a refused PUT) for a shard no blob used yet; a remote an earlier build left without the
 * line gets them on its next push with content; a folder removed by hand is made again by its PUT.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isBlobShard, remotePaths } from '../../src/remote/paths.ts';
import { ALL_SHARDS } from '../../src/remote/remote-blobs.ts';
import type { Remote } from '../../src/remote/remote.ts';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { remoteTargetNames, startRemoteTarget, type FreshRemote, type RemoteTarget } from '../support/remote-targets.ts';

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/** Text whose blob goes into a shard other than `avoid`'s (two hex digits choose it). */
function contentOutside(avoid: string[], label: string): string {
  for (let i = 0; ; i++) {
    const text = `${label} ${i}`;
    if (!avoid.includes(sha256Hex(text).slice(0, 2))) return text;
  }
}

/** Records each call as `<method> <path>` (what reached the remote, under the sync's retries). */
function recording(remote: Remote, calls: string[]): Remote {
  return new Proxy(remote, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (typeof args[0] === 'string') calls.push(`${String(prop)} ${args[0]}`);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

const shardMkcols = (calls: string[]) => calls.filter((c) => /^mkdir [0-9a-f]{2}$/.test(c));
const blobPuts = (calls: string[]) => calls.filter((c) => /^put [0-9a-f]{2}\//.test(c));

describe.each(remoteTargetNames())('blob shard folders on %s', (name) => {
  let target: RemoteTarget;
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    target = await startRemoteTarget(name);
  });
  afterEach(() => {
    cluster?.close();
    cluster = undefined;
  });
  afterAll(async () => {
    await target.stop();
  });

  /** Two instances on a fresh remote, their calls recorded; `probe` looks at the remote directly. */
  const start = () => {
    const calls: string[] = [];
    const fresh: FreshRemote = target.fresh();
    cluster = startCluster({ connect: () => recording(fresh.connect(), calls) }, ['a', 'b']);
    return { calls, probe: fresh.connect(), a: cluster.nodes[0]!, b: cluster.nodes[1]! };
  };
  const shardsOn = async (remote: Remote) =>
    ((await remote.list('')) ?? []).filter((e) => e.isDirectory && isBlobShard(e.name)).map((e) => e.name).sort();
  const versionText = async (remote: Remote) => (await remote.getBytes(remotePaths.versionFile))!.toString('utf8');

  it('the first push with content makes every shard folder and says so; a blob first in its shard is then one PUT, for the other instance too', async () => {
    const { calls, probe, a, b } = start();
    const first = await a.put('first.pdf', 'first');
    expect(await a.sync()).toMatchObject({ uploaded: 1, errors: 0 });
    expect(shardMkcols(calls)).toHaveLength(256);
    expect(await shardsOn(probe)).toEqual(ALL_SHARDS);
    expect(await versionText(probe)).toMatch(/^shards all$/m);
    expect(await b.sync()).toMatchObject({ downloaded: 1, errors: 0 });

    calls.length = 0;
    await b.put('second.pdf', contentOutside([first.hash.slice(0, 2)], 'second'));
    expect(await b.sync()).toMatchObject({ uploaded: 1, errors: 0 });
    expect(shardMkcols(calls)).toEqual([]);
    expect(blobPuts(calls)).toHaveLength(1);
    // No listing of the root either (it said which shards exist before `shards all`).
    expect(calls).not.toContain('list ');
    expect(await versionText(probe)).toMatch(/^shards all$/m);
    await a.sync();
    expect(await a.contents()).toEqual(await b.contents());
  });

  it('a remote whose version.txt lacks `shards all` (an earlier build) gets the missing shards on its next push with content, once', async () => {
    const { calls, probe, a } = start();
    const first = await a.put('first.pdf', 'first');
    await a.sync();
    // As an earlier build left it: the line gone, and only the shard folder its blob uses.
    await probe.put(remotePaths.versionFile, Buffer.from((await versionText(probe)).replace(/^shards all\n/m, '')));
    for (const shard of await shardsOn(probe)) if (shard !== first.hash.slice(0, 2)) await probe.delete(shard);
    expect(await shardsOn(probe)).toEqual([first.hash.slice(0, 2)]);

    calls.length = 0;
    await a.put('second.pdf', 'second');
    expect(await a.sync()).toMatchObject({ uploaded: 1, errors: 0 });
    expect(shardMkcols(calls)).toHaveLength(255);
    expect(await shardsOn(probe)).toEqual(ALL_SHARDS);
    expect(await versionText(probe)).toMatch(/^shards all$/m);

    calls.length = 0;
    await a.put('third.pdf', 'third');
    expect(await a.sync()).toMatchObject({ uploaded: 1, errors: 0 });
    expect(shardMkcols(calls)).toEqual([]);
    expect(blobPuts(calls)).toHaveLength(1);
  });

  it('a shard folder removed by hand while version.txt says all exist: its PUT finds it missing, it is made again, and the file arrives', async () => {
    const { calls, probe, a, b } = start();
    const first = await a.put('first.pdf', 'first');
    await a.sync();
    const text = contentOutside([first.hash.slice(0, 2)], 'into a removed shard');
    const shard = sha256Hex(text).slice(0, 2);
    expect(await probe.delete(shard)).toBe(true);

    calls.length = 0;
    const second = await a.put('second.pdf', text);
    expect(await a.sync()).toMatchObject({ uploaded: 1, errors: 0 });
    // nginx makes the folder for the PUT; elsewhere the PUT is refused, then MKCOL, PUT.
    expect(shardMkcols(calls)).toEqual(name === 'nginx' ? [] : [`mkdir ${shard}`]);
    expect((await probe.stat(remotePaths.blob(second.hash, 'pdf')))?.size).toBe(text.length);
    expect(await b.sync()).toMatchObject({ downloaded: 2, errors: 0 });
    expect(await b.content(second.stable_id)).toBe(text);
  });
});
