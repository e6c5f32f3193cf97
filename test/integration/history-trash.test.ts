import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/domain/clock.ts';
import type { FileRecord } from '../../src/domain/file.ts';
import { buildApp } from '../../src/http/app.ts';
import type { HistoryEntry } from '../../src/services/history-service.ts';
import { isBlobShard, joinPath, remotePaths } from '../../src/remote/paths.ts';
import type { Remote } from '../../src/remote/remote.ts';
import { startCluster, type Cluster, type Node } from '../support/cluster.ts';
import { TEST_PASSWORD } from '../support/instance.ts';
import { remoteTargetNames, ShiftedTimeRemote, startRemoteTarget, type RemoteTarget } from '../support/remote-targets.ts';

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
/** Past the default history window (30 days) and GC grace (24 hours). */
const BEYOND_WINDOW = 32 * DAY;

/** Real time, moved forward on demand: the instances' clock (locks still see time flow). */
class OffsetClock implements Clock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
}

const sha256 = (content: string) => createHash('sha256').update(content).digest('hex');

/**
 * History, trash, restore and the remote GC, end to end: two instances on one remote of each
 * target, with time moved forward on both sides — the instances' clock, and the server's clock by
 * which the GC judges remote ages (the memory server's own clock; for a folder or a real server, a
 * client whose `serverTime()` is shifted, since the test cannot move that clock).
 */
describe.each(remoteTargetNames())('history, trash and remote GC on %s', (name) => {
  let target: RemoteTarget;
  let cluster: Cluster;
  let a: Node;
  let b: Node;
  let clock: OffsetClock;
  let shifted: ShiftedTimeRemote[];
  /** A client of the same remote for the test's own looks (version.txt, shard listings). */
  let probe: Remote;
  beforeAll(async () => {
    target = await startRemoteTarget(name);
  });
  afterAll(() => target.stop());
  afterEach(() => cluster?.close());

  const setup = () => {
    const fresh = target.fresh();
    shifted = [];
    clock = new OffsetClock();
    probe = fresh.connect();
    const connect = () => {
      const remote = new ShiftedTimeRemote(fresh.connect(), 0);
      shifted.push(remote);
      return remote;
    };
    cluster = startCluster({ connect }, ['a', 'b'], {}, clock);
    [a, b] = cluster.nodes as [Node, Node];
  };
  /** Time passes for the instances and for the server. */
  const pass = (ms: number) => {
    clock.offsetMs += ms;
    if (target.clock) target.clock.advance(ms);
    else for (const remote of shifted) remote.shiftMs += ms;
  };
  const remoteVersion = async () => Number((await probe.getBytes(remotePaths.versionFile))!.toString().split('\n')[0]);
  /** Every blob on the remote, as `<hash>.<ext>`. */
  const remoteBlobs = async () => {
    const shards = ((await probe.list('')) ?? []).filter((e) => e.isDirectory && isBlobShard(e.name));
    const names: string[] = [];
    for (const shard of shards) for (const e of (await probe.list(shard.name)) ?? []) if (!e.isDirectory) names.push(e.name);
    return names.sort();
  };
  const blobOf = (content: string) => `${sha256(content)}.txt`;
  /** Where an instance keeps a blob locally. */
  const localBlob = (node: Node, content: string) => path.join(node.dataDir, 'blobs', sha256(content).slice(0, 2), blobOf(content));
  const hasRemoteBlob = async (content: string) => (await probe.stat(joinPath(sha256(content).slice(0, 2), blobOf(content)))) !== undefined;

  it('B lists the versions A committed, restores version 1, and A gets its content and labels back', async () => {
    setup();
    const before = new Date(clock.now()).toISOString();
    const x = await a.put('paper.txt', 'first draft', { labels: ['draft'] });
    await a.sync();
    await b.sync();
    await a.edit(x.stable_id, 'second draft, longer');
    a.docsync.files.updateMetadata(x.stable_id, { labels: ['final'], collections: ['thesis'] });
    await a.sync();
    const published = await remoteVersion();
    await b.sync();
    expect(await b.content(x.stable_id)).toBe('second draft, longer');

    // Through B's HTTP API, as the web page and clients see it.
    const app = await buildApp(b.docsync);
    await b.docsync.auth.ensureAdmin(TEST_PASSWORD);
    const login = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: TEST_PASSWORD } });
    const auth = { 'x-session-id': login.json<{ sessionId: string }>().sessionId };
    const listed = await app.inject({ method: 'GET', url: `/api/v1/files/${x.stable_id}/history`, headers: auth });
    expect(listed.statusCode, listed.body).toBe(200);
    const versions = listed.json<{ versions: HistoryEntry[] }>().versions;
    expect(versions).toEqual([
      expect.objectContaining({ version: 2, hash: sha256('second draft, longer'), labels: ['final'], collections: ['thesis'], instance_id: a.docsync.instanceId, current: true }),
      expect.objectContaining({ version: 1, hash: sha256('first draft'), labels: ['draft'], collections: [], instance_id: a.docsync.instanceId, current: false }),
    ]);
    const after = new Date(clock.now()).toISOString();
    for (const v of versions) expect(v.committed_at >= before && v.committed_at <= after, v.committed_at).toBe(true);
    expect(versions[1]!.committed_at <= versions[0]!.committed_at).toBe(true);

    const restoring = await app.inject({ method: 'POST', url: `/api/v1/files/${x.stable_id}/history/1/restore`, headers: auth });
    await app.close();
    expect(restoring.statusCode, restoring.body).toBe(200);
    expect(restoring.json()).toMatchObject({ hash: sha256('first draft'), labels: ['draft'], collections: [], sync_status: 'modified' });
    expect(await b.sync()).toMatchObject({ errors: 0, conflicts: 0 });
    await a.sync();
    expect(await a.content(x.stable_id)).toBe('first draft');
    expect(a.docsync.files.get(x.stable_id)).toMatchObject({ labels: ['draft'], collections: [], sync_status: 'synced' });
    // A restore is a new commit on top: remote history is never rewritten.
    expect(await remoteVersion()).toBe(published + 1);
    expect(a.docsync.history.versions(x.stable_id).map((v) => v.version)).toEqual([3, 2, 1]);
  });

  it('a file A deleted is in B\'s trash; B restores it (content fetched from the remote) and A has it back', async () => {
    setup();
    const x = await a.put('gone.txt', 'content worth keeping', { labels: ['keep'] });
    await a.put('other.txt', 'stays');
    await a.sync();
    await b.sync();
    a.docsync.files.delete(x.stable_id);
    await a.sync();
    expect(await b.sync()).toMatchObject({ deleted_local: 1 });
    // B released its copy of the content: the restore has to fetch it.
    expect(b.docsync.files.get(x.stable_id, true)).toMatchObject({ deleted: true });
    expect(fs.existsSync(localBlob(b, 'content worth keeping'))).toBe(false);
    expect(b.docsync.history.trash({ limit: 10 }).files.map((f) => f.stable_id)).toEqual([x.stable_id]);

    const restored = await b.docsync.history.restoreDeleted(x.stable_id);
    expect(restored).toMatchObject({ deleted: false, sync_status: 'modified', labels: ['keep'] });
    expect(await b.content(x.stable_id)).toBe('content worth keeping');
    expect(b.docsync.history.trash({ limit: 10 }).files).toEqual([]);
    await b.sync();
    await a.sync();
    expect(await a.contents()).toEqual({ 'gone.txt': 'content worth keeping', 'other.txt': 'stays' });
    expect(a.docsync.files.get(x.stable_id)).toMatchObject({ labels: ['keep'], sync_status: 'synced' });
  });

  it('a trash restore checks the content it fetches: altered bytes on the remote are refused, nothing changes', async () => {
    setup();
    const x = await a.put('gone.txt', 'the original bytes');
    await a.sync();
    await b.sync();
    a.docsync.files.delete(x.stable_id);
    await a.sync();
    await b.sync();
    const where = joinPath(sha256('the original bytes').slice(0, 2), blobOf('the original bytes'));
    // Same length, other bytes: only the hash check can tell.
    await probe.put(where, Buffer.from('the altered  bytes'));
    // A 502 with its reason (the HTTP route answers with it), never a 500.
    await expect(b.docsync.history.restoreDeleted(x.stable_id)).rejects.toMatchObject({
      code: 'hash_mismatch',
      status: 502,
      message: expect.stringMatching(/^Content hash mismatch: expected /),
    });
    expect(b.docsync.files.get(x.stable_id, true)).toMatchObject({ deleted: true, sync_status: 'synced' });
    expect(fs.existsSync(localBlob(b, 'the original bytes'))).toBe(false);
    expect(b.docsync.history.trash({ limit: 10 }).files.map((f) => f.stable_id)).toEqual([x.stable_id]);

    await probe.put(where, Buffer.from('the original bytes'));
    await b.docsync.history.restoreDeleted(x.stable_id);
    expect(await b.content(x.stable_id)).toBe('the original bytes');
  });

  it('remote size after deleting half the files and letting the window pass: the blobs are gone', async () => {
    setup();
    // A starts the repository and watches it for a whole window: from then on its commits collect.
    await a.put('seed.txt', 'the first file');
    await a.sync();
    await b.sync();
    pass(BEYOND_WINDOW);
    const files: FileRecord[] = [];
    for (let i = 0; i < 10; i++) files.push(await a.put(`f${i}.txt`, `content of file ${i}`));
    expect((await a.sync()).gc).toMatchObject({ blobs_deleted: 0, errors: 0 });
    await b.sync();
    const [deleted, kept] = [files.slice(0, 5), files.slice(5)];
    for (const f of deleted) a.docsync.files.delete(f.stable_id);
    expect(await a.sync()).toMatchObject({ deleted_remote: 5, errors: 0 });
    expect(await b.sync()).toMatchObject({ deleted_local: 5, errors: 0 });
    expect(await remoteBlobs()).toEqual([blobOf('the first file'), ...files.map((_, i) => blobOf(`content of file ${i}`))].sort());
    // B released its copies of the deleted files' content.
    expect(fs.existsSync(localBlob(b, 'content of file 0'))).toBe(false);

    // Inside the window the GC runs and deletes nothing: the tombstones keep their blobs. The trash
    // still restores with content (fetched from the remote), and the file goes again.
    pass(2 * DAY);
    await a.put('early.txt', 'a change inside the window');
    expect((await a.sync()).gc).toMatchObject({ blobs_deleted: 0, errors: 0 });
    for (let i = 0; i < 10; i++) expect(await hasRemoteBlob(`content of file ${i}`), `file ${i}`).toBe(true);
    await b.sync();
    await b.docsync.history.restoreDeleted(deleted[0]!.stable_id);
    expect(await b.content(deleted[0]!.stable_id)).toBe('content of file 0');
    await b.sync();
    await a.sync();
    expect(await a.content(deleted[0]!.stable_id)).toBe('content of file 0');
    a.docsync.files.delete(deleted[0]!.stable_id);
    await a.sync();
    await b.sync();

    pass(BEYOND_WINDOW);
    await a.put('late.txt', 'the change after the window');
    const late = await a.sync();
    expect(late.gc).toMatchObject({ blobs_deleted: 5, errors: 0 });
    for (let i = 0; i < 10; i++) expect(await hasRemoteBlob(`content of file ${i}`), `file ${i}`).toBe(i >= 5);
    for (const content of ['the first file', 'a change inside the window', 'the change after the window']) {
      expect(await hasRemoteBlob(content), content).toBe(true);
    }
    expect(await remoteBlobs()).toHaveLength(8);

    expect(await b.sync()).toMatchObject({ errors: 0 });
    expect(await b.contents()).toEqual({
      'seed.txt': 'the first file',
      ...Object.fromEntries(kept.map((f) => [f.filename, `content of file ${files.indexOf(f)}`])),
      'early.txt': 'a change inside the window',
      'late.txt': 'the change after the window',
    });
  });

  it('a version replaced inside the window keeps its blob through GC: B restores it afterwards', async () => {
    setup();
    const x = await a.put('draft.txt', 'version one');
    const y = await a.put('scratch.txt', 'scratch one');
    await a.sync();
    await b.sync();
    // Replaced before the window that the GC below looks at: its blob goes.
    await a.edit(y.stable_id, 'scratch two');
    await a.sync();
    await b.sync();
    // Long enough for A to have watched a whole window: the next commit collects.
    pass(BEYOND_WINDOW);
    await a.edit(x.stable_id, 'version two');
    expect((await a.sync()).gc).toMatchObject({ blobs_deleted: 1, errors: 0 });
    expect(await hasRemoteBlob('scratch one')).toBe(false);
    expect(await hasRemoteBlob('version one')).toBe(true);
    await b.sync();
    expect(fs.existsSync(localBlob(b, 'version one'))).toBe(false);

    pass(2 * DAY);
    await a.put('later.txt', 'another change');
    expect((await a.sync()).gc).toMatchObject({ blobs_deleted: 0, errors: 0 });
    expect(await hasRemoteBlob('version one')).toBe(true);

    await b.sync();
    const first = b.docsync.history.versions(x.stable_id).find((v) => v.hash === sha256('version one'));
    expect(first).toBeDefined();
    await b.docsync.history.restoreVersion(x.stable_id, first!.version);
    expect(await b.content(x.stable_id)).toBe('version one');
    await b.sync();
    await a.sync();
    expect(await a.content(x.stable_id)).toBe('version one');
  });

  /**
   * B joins from a snapshot while x is at version one, so B learns that version from the join, not
   * from a journal. 32 days on, A rewrites x (inside the window) and B, which has now watched a whole
   * window, runs the GC: version one was x's state at the window's start, so its blob must stay.
   * With `commitsBeforeJoin` commits in between, the join's snapshot is a compacted one and version
   * one's journal is no longer listed in version.txt.
   */
  const joinedInstanceKeepsWindowStart = async (commitsBeforeJoin: number) => {
    setup();
    const x = await a.put('old.txt', 'written before B joined');
    const y = await a.put('tmp.txt', 'replaced before B joined');
    await a.sync();
    await a.edit(y.stable_id, 'tmp two');
    await a.sync();
    for (let i = 0; i < commitsBeforeJoin; i++) {
      a.docsync.files.updateMetadata(y.stable_id, { labels: [`round-${i}`] });
      await a.sync();
    }
    await b.sync();
    pass(2 * DAY);
    await b.put('b1.txt', 'from b, before a whole window');
    // B has watched the remote for two days only: it puts the GC off.
    expect((await b.sync()).gc).toBeUndefined();
    pass(BEYOND_WINDOW);
    await a.edit(x.stable_id, 'rewritten inside the window');
    expect((await a.sync()).gc).toMatchObject({ blobs_deleted: 1, errors: 0 });
    expect(await hasRemoteBlob('replaced before B joined')).toBe(false);
    await b.put('b2.txt', 'from b, after a whole window');
    const collected = await b.sync();
    expect(collected).toMatchObject({ downloaded: 1, uploaded: 1, errors: 0 });
    expect(collected.gc).toMatchObject({ blobs_deleted: 0, errors: 0 });
    expect(await hasRemoteBlob('written before B joined')).toBe(true);
    expect(fs.existsSync(localBlob(b, 'written before B joined'))).toBe(false);
    const first = b.docsync.history.versions(x.stable_id).find((v) => v.hash === sha256('written before B joined'));
    expect(first).toBeDefined();
    await b.docsync.history.restoreVersion(x.stable_id, first!.version);
    expect(await b.content(x.stable_id)).toBe('written before B joined');
    return first!;
  };

  it('B, joined from a snapshot, collects only after a whole window, and keeps the blob of the state at its start', async () => {
    const first = await joinedInstanceKeepsWindowStart(0);
    // Its journal was still listed at the join: B knows who committed it.
    expect(first.instance_id).toBe(a.docsync.instanceId);
  });

  // Defined on memory only: reaching a compaction takes 64 commits, minutes on the real servers; the
  // code that records the versions a joined instance learns is the same on every target.
  if (name === 'memory') {
    it('the same when B joins from a compacted snapshot that no longer lists version one', async () => {
      const first = await joinedInstanceKeepsWindowStart(70);
      expect(first).toMatchObject({ instance_id: 'unknown', version: 1 });
    });
  }
});
