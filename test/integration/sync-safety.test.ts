import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seededIdSource } from '../../src/domain/ids.ts';
import { MemoryRemote } from '../../src/remote/memory-remote.ts';
import { remotePaths } from '../../src/remote/paths.ts';
import { RemoteMetadataStore, WEAK_ETAG_MS } from '../../src/remote/remote-metadata.ts';
import { RetryingRemote } from '../../src/remote/retrying-remote.ts';
import { WebDavRemote } from '../../src/remote/webdav-remote.ts';
import { formatVersionFile, type VersionHead } from '../../src/remote/version-file.ts';
import { formatJournal } from '../../src/remote/journal-file.ts';
import type { RemoteFileRow } from '../../src/domain/shared-row.ts';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { tempDir } from '../support/instance.ts';
import { startWebDavServer, webDavKindsForTests, type WebDavTestServer } from '../support/webdav-servers.ts';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const info = (repo: string) => ({ repo, instance: 'test-instance', committedAt: '2026-11-30T06:00:00.000Z' });

describe('lost commits (a racing writer replaced ours, where the lock is not atomic)', () => {
  let cluster: Cluster;
  let tmp: ReturnType<typeof tempDir>;
  afterEach(() => {
    cluster.close();
    tmp.remove();
  });

  it('re-queues the rows of a commit missing from the remote, and merges them with what won', async () => {
    tmp = tempDir();
    const memory = new MemoryRemote();
    cluster = startCluster({ connect: () => memory }, ['a']);
    const a = cluster.nodes[0]!;
    await a.put('base.txt', 'base');
    await a.sync();
    const store = new RemoteMetadataStore(memory, tmp.dir, seededIdSource(5));
    const v1 = (await store.readHead())!;
    const mine = await a.put('mine.txt', 'mine');
    expect(await a.sync()).toMatchObject({ new_version: 2, uploaded: 1 });

    // A racer that also based its commit on v1 switches version.txt after us: our v2 is gone. It
    // writes its delta and version.txt as a commit does (v1's chain plus its delta).
    const content = Buffer.from('from the racer');
    const hash = sha256(content);
    await memory.mkdir(remotePaths.blobDir(hash));
    await memory.put(remotePaths.blob(hash, 'txt'), content);
    const racerRow: RemoteFileRow = {
      stable_id: 'racerracer22', hash, filename: 'racer.txt', file_type: 'txt', mime_type: 'text/plain', size: content.length,
      doc_id: null, collections: [], labels: [], metadata: {}, deleted: false,
      created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z', version: 2,
    };
    const delta = formatJournal({
      repo: v1.repo, version: 2, commit: 'racercommit1', parent: { version: 1, commit: v1.commit },
      instance: 'racer', committed_at: '2026-01-01T00:00:00.000Z', rows: [racerRow],
    });
    await memory.put(remotePaths.journal(2, 'racercommit1'), delta);
    const head: VersionHead = {
      ...v1,
      version: 2,
      commit: 'racercommit1',
      deltas: [...v1.deltas, { version: 2, commit: 'racercommit1', size: delta.length, sha256: sha256(delta) }],
      recent: [...v1.recent, 'racercommit1'],
    };
    await memory.put(remotePaths.versionFile, Buffer.from(formatVersionFile(head)));

    const summary = await a.sync();
    expect(summary.message).toMatch(/1 re-queued from a lost commit/);
    expect(summary.new_version).toBe(3);
    const final = (await store.catchUp(`${tmp.dir}/state.db`, (await store.readHead())!)).state;
    expect(final.files().map((r) => r.filename).sort()).toEqual(['base.txt', 'mine.txt', 'racer.txt']);
    expect(final.get(mine.stable_id)).toMatchObject({ deleted: false, hash: mine.hash, version: 3 });
    final.close();
    expect(await a.contents()).toEqual({ 'base.txt': 'base', 'mine.txt': 'mine', 'racer.txt': 'from the racer' });
  });
});

describe('the conditional version switch', () => {
  let tmp: ReturnType<typeof tempDir>;
  afterEach(() => tmp.remove());
  const conditional = { ifMatch: true, ifNoneMatch: true };

  it('refused although version.txt did not move (a weak ETag): waits a second, then tries again; a third try goes unconditional', async () => {
    tmp = tempDir();
    const memory = new MemoryRemote();
    const slept: number[] = [];
    const store = new RemoteMetadataStore(memory, tmp.dir, seededIdSource(6), async (ms) => void slept.push(ms));
    const { head: v1 } = await store.commit(await store.initialize(`${tmp.dir}/a.db`, 'repo-weak'), [], undefined, info('repo-weak'), { conditional });
    const refused: (string | undefined)[] = [];
    memory.faults.inject({ op: 'put', path: remotePaths.versionFile, times: 2, effect: { kind: 'precondition' } });
    const observed = new Proxy(memory, {
      get(target, prop) {
        if (prop === 'put') {
          return (path: string, body: Buffer, options?: { ifMatch?: string }) => {
            if (path === remotePaths.versionFile) refused.push(options?.ifMatch);
            return target.put(path, body, options);
          };
        }
        const value: unknown = Reflect.get(target, prop);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const retried = new RemoteMetadataStore(observed, tmp.dir, seededIdSource(7), async (ms) => void slept.push(ms));
    const { head: v2 } = await retried.commit((await retried.catchUp(`${tmp.dir}/b.db`, v1)).state, [], v1, info('repo-weak'), { conditional });
    expect((await store.readHead())?.commit).toBe(v2.commit);
    expect(slept).toEqual([WEAK_ETAG_MS]);
    expect(refused).toHaveLength(3);
    expect(refused[0]).toMatch(/^"/);
    expect(refused[1]).toMatch(/^"/);
    expect(refused[2]).toBeUndefined();
  });

  it('a 412 whose write did land (its answer lost, the retry refused) is a success, not a conflict', async () => {
    tmp = tempDir();
    const memory = new MemoryRemote();
    const store = new RemoteMetadataStore(memory, tmp.dir, seededIdSource(8));
    const { head: v1 } = await store.commit(await store.initialize(`${tmp.dir}/a.db`, 'repo-lost-answer'), [], undefined, info('repo-lost-answer'), { conditional });
    memory.faults.inject({ op: 'put', path: remotePaths.versionFile, times: 1, effect: { kind: 'lostResponse' } });
    const retrying = new RemoteMetadataStore(new RetryingRemote(memory, { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 }), tmp.dir, seededIdSource(9));
    const { head: v2 } = await retrying.commit((await retrying.catchUp(`${tmp.dir}/b.db`, v1)).state, [], v1, info('repo-lost-answer'), { conditional });
    expect((await store.readHead())?.commit).toBe(v2.commit);
    expect(v2.version).toBe(2);
  });
});

describe.each(webDavKindsForTests())('requests a sync makes on %s', (kind) => {
  let server: WebDavTestServer;
  let proxy: FaultProxy;
  let cluster: Cluster;
  beforeAll(async () => {
    server = await startWebDavServer(kind);
    proxy = await startFaultProxy(new URL(server.baseUrl).origin);
  });
  afterAll(async () => {
    cluster?.close();
    await proxy.stop();
    await server.stop();
  });

  it('a no-change sync makes at most 2 HTTP requests (it makes 1: version.txt)', async () => {
    const viaProxy = server.baseUrl.replace(new URL(server.baseUrl).origin, proxy.origin);
    cluster = startCluster({
      connect: () =>
        new RetryingRemote(new WebDavRemote({ baseUrl: viaProxy, username: server.username, password: server.password, remoteRoot: '/count' })),
    }, ['a']);
    const a = cluster.nodes[0]!;
    await a.put('one.pdf', 'one');
    await a.sync();
    expect((await a.docsync.sync.status()).needs_sync).toBe(false);
    const before = proxy.log.length;
    expect(await a.sync()).toMatchObject({ skipped: true });
    const requests = proxy.log.slice(before);
    expect(requests).toEqual(['GET /dav/count/version.txt']);
    expect(requests.length).toBeLessThanOrEqual(2);
  });

  it('a one-file push into an existing shard folder: one blob PUT, no MKCOL, and ≤ 8 requests on Apache', async () => {
    const viaProxy = server.baseUrl.replace(new URL(server.baseUrl).origin, proxy.origin);
    const connect = () =>
      new RetryingRemote(new WebDavRemote({ baseUrl: viaProxy, username: server.username, password: server.password, remoteRoot: '/push' }));
    const pushing = startCluster({ connect }, ['a']);
    try {
      const a = pushing.nodes[0]!;
      const first = await a.put('first.pdf', 'first');
      await a.sync();
      // Content whose blob goes into the shard folder the first one made.
      let text = '';
      for (let i = 0; !sha256Hex(text).startsWith(first.hash.slice(0, 2)); i++) text = `second ${i}`;
      await a.put('second.pdf', text);
      const before = proxy.log.length;
      expect(await a.sync()).toMatchObject({ uploaded: 1, errors: 0 });
      const requests = proxy.log.slice(before);
      expect(requests.filter((r) => r.startsWith('MKCOL ') && !r.includes('version.txt.lock'))).toEqual([]);
      expect(requests.filter((r) => /^PUT \/dav\/push\/[0-9a-f]{2}\//.test(r))).toHaveLength(1);
      // Apache (the target): lock, version.txt, blob, journal, lock check, switch (If-Match),
      // release (unread: see LockHandle.release). Elsewhere more: a switch without If-Match reads
      // version.txt before and after (nginx; lighttpd, whose GET ETag is not used), and a lock without
      // exclusive MKCOL reads its owner back (rclone, sabre).
      if (kind === 'apache') expect(requests.length, requests.join('\n')).toBeLessThanOrEqual(8);
    } finally {
      pushing.close();
    }
  });

  it('a one-file push whose blob is the first in its shard: the same (every shard folder was made by the first push)', async () => {
    const viaProxy = server.baseUrl.replace(new URL(server.baseUrl).origin, proxy.origin);
    const connect = () =>
      new RetryingRemote(new WebDavRemote({ baseUrl: viaProxy, username: server.username, password: server.password, remoteRoot: '/push-new-shard' }));
    const pushing = startCluster({ connect }, ['a']);
    try {
      const a = pushing.nodes[0]!;
      const first = await a.put('first.pdf', 'first');
      await a.sync();
      let text = 'second';
      for (let i = 0; sha256Hex(text).startsWith(first.hash.slice(0, 2)); i++) text = `second ${i}`;
      await a.put('second.pdf', text);
      const before = proxy.log.length;
      expect(await a.sync()).toMatchObject({ uploaded: 1, errors: 0 });
      const requests = proxy.log.slice(before);
      expect(requests.filter((r) => r.startsWith('MKCOL ') && !r.includes('version.txt.lock'))).toEqual([]);
      expect(requests.filter((r) => /^PUT \/dav\/push-new-shard\/[0-9a-f]{2}\//.test(r))).toHaveLength(1);
      if (kind === 'apache') expect(requests.length, requests.join('\n')).toBeLessThanOrEqual(8);
    } finally {
      pushing.close();
    }
  });
});

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
