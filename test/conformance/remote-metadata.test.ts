import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Database from 'better-sqlite3';
import { Sqlite } from '../../src/store/sqlite.ts';
import { seededIdSource } from '../../src/domain/ids.ts';
import { RemoteCorruptError } from '../../src/remote/errors.ts';
import { remotePaths } from '../../src/remote/paths.ts';
import { probeCapabilities } from '../../src/remote/capabilities.ts';
import type { Remote } from '../../src/remote/remote.ts';
import {
  DELTAS_KEPT_AFTER_COMPACTION,
  MAX_DELTAS,
  RemoteMetadataStore,
  RemoteMovedError,
  type ConditionalWrites,
} from '../../src/remote/remote-metadata.ts';
import type { RemoteFileRow } from '../../src/domain/shared-row.ts';
import { FORMAT_VERSION, RemoteFormatError, RemoteSnapshot } from '../../src/remote/remote-snapshot.ts';
import { deltaPath, formatVersionFile, parseVersionFile, snapshotPath, type VersionHead } from '../../src/remote/version-file.ts';
import { formatJournal } from '../../src/remote/journal-file.ts';
import { tempDir } from '../support/instance.ts';
import { once, raceBeforeSwitch } from '../support/race.ts';
import { remoteTargetNames, startRemoteTarget, type RemoteTarget } from '../support/remote-targets.ts';

const row = (id: string, version: number, extra: Partial<RemoteFileRow> = {}): RemoteFileRow => ({
  stable_id: id,
  hash: 'f'.repeat(64),
  filename: `${id}.pdf`,
  file_type: 'pdf',
  mime_type: 'application/pdf',
  size: 10,
  doc_id: null,
  collections: ['c'],
  labels: [],
  metadata: { n: 1 },
  deleted: false,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  version,
  ...extra,
});
const A = 'aaaaaaaaaaaa';
const B = 'bbbbbbbbbbbb';
const info = (repo: string) => ({ repo, instance: 'test-instance', committedAt: '2026-11-30T06:00:00.000Z' });
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** `remote`, recording the path of every read (`get`, `getBytes`). */
function countingReads(remote: Remote): { remote: Remote; reads: string[] } {
  const reads: string[] = [];
  const counted = new Proxy(remote, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const bound = (value as (...a: unknown[]) => unknown).bind(target);
      if (prop !== 'get' && prop !== 'getBytes') return bound;
      return (path: string, ...rest: unknown[]) => {
        reads.push(path);
        return bound(path, ...rest);
      };
    },
  });
  return { remote: counted, reads };
}

describe.each(remoteTargetNames())('remote metadata on %s', (name) => {
  let target: RemoteTarget;
  let tmp: ReturnType<typeof tempDir>;
  let seed = 100;
  let states = 0;
  beforeAll(async () => {
    target = await startRemoteTarget(name);
    tmp = tempDir();
  });
  afterAll(async () => {
    await target.stop();
    tmp.remove();
  });
  const noSleep = async () => undefined;
  const storeFor = (remote = target.fresh().connect()) => ({ remote, store: new RemoteMetadataStore(remote, tmp.dir, seededIdSource(seed++), noSleep) });
  /** A new kept-state path (an instance's `remote-state.db`). */
  const statePath = () => `${tmp.dir}/state-${name}-${states++}.db`;
  /** A second instance on the same remote, reads counted. */
  const reader = (remote: Remote) => {
    const counted = countingReads(remote);
    return { ...counted, store: new RemoteMetadataStore(counted.remote, tmp.dir, seededIdSource(seed++), noSleep), path: statePath() };
  };
  /** A writer with its own kept state, on a new remote, after its first commit (rows: A). */
  const firstCommit = async (repo: string) => {
    const { remote, store } = storeFor();
    const state = await store.initialize(statePath(), repo);
    const { head } = await store.commit(state, [row(A, 0)], undefined, info(repo));
    return { remote, store, state, head };
  };

  it('a new remote has no head; the first commit creates version 1: format 2, its snapshot and its delta listed', async () => {
    const { remote, store } = storeFor();
    expect(await store.readHead()).toBeUndefined();
    const state = await store.initialize(statePath(), 'repo-1');
    const { head, journal } = await store.commit(state, [row(A, 0)], undefined, info('repo-1'));
    expect(head).toMatchObject({ format: 2, version: 1, repo: 'repo-1', snapshot: { version: 1, commit: head.commit }, recent: [head.commit] });
    expect(head.deltas.map((d) => [d.version, d.commit])).toEqual([[1, head.commit]]);
    expect(journal).toMatchObject({ version: 1, commit: head.commit, parent: undefined, rows: [row(A, 1)] });
    expect(await store.readHead()).toEqual(head);
    const text = (await remote.getBytes(remotePaths.versionFile))!.toString();
    expect(text.split('\n').slice(0, 4)).toEqual(['1', 'format 2', 'repo repo-1', `commit ${head.commit}`]);
    expect(snapshotPath(head)).toBe(remotePaths.snapshotV2(1, head.commit));
    expect((await remote.stat(snapshotPath(head)))?.size).toBe(head.snapshot.size);
    expect((await remote.stat(deltaPath(head.deltas[0]!)))?.size).toBe(head.deltas[0]!.size);
    // The committing instance's own state moved with it: no download needed.
    expect([state.version, state.commit, state.recentCommits]).toEqual([1, head.commit, [head.commit]]);
    expect(state.files()).toEqual([row(A, 1)]);
    state.close();
  });

  it('a second instance catches up by the snapshot, then by only the new delta, then not at all', async () => {
    const { remote, store, state, head: v1 } = await firstCommit('repo-2');
    const other = reader(remote);
    const first = await other.store.catchUp(other.path, v1);
    expect(first.via).toBe('snapshot');
    // The snapshot, then (for the file history only) the delta still listed up to it.
    expect(other.reads).toEqual([snapshotPath(v1), deltaPath(v1.deltas[0]!)]);
    expect(first.state.files()).toEqual([row(A, 1)]);
    expect([first.state.version, first.state.commit]).toEqual([1, v1.commit]);
    first.state.close();

    const { head: v2 } = await store.commit(state, [row(B, 0, { labels: ['x'] })], v1, info('repo-2'));
    const { head: v3 } = await store.commit(state, [row(B, 0, { deleted: true })], v2, info('repo-2'));
    other.reads.length = 0;
    const second = await other.store.catchUp(other.path, v3);
    expect(second.via).toBe('deltas');
    expect(other.reads).toEqual([deltaPath(v3.deltas.at(-2)!), deltaPath(v3.deltas.at(-1)!)]);
    expect(second.journals.map((j) => [j.version, j.parent?.commit])).toEqual([[2, v1.commit], [3, v2.commit]]);
    expect(second.state.get(A)).toEqual(row(A, 1));
    expect(second.state.get(B)).toMatchObject({ deleted: true, version: 3, labels: [] });
    expect(second.state.changedSince(2).map((r) => r.stable_id)).toEqual([B]);
    expect(second.state.recentCommits).toEqual([v1.commit, v2.commit, v3.commit]);
    second.state.close();

    const { head: v4 } = await store.commit(state, [row(A, 0, { labels: ['y'] })], v3, info('repo-2'));
    other.reads.length = 0;
    const third = await other.store.catchUp(other.path, v4);
    expect(third.via).toBe('deltas');
    expect(other.reads).toEqual([remotePaths.journal(4, v4.commit)]);
    third.state.close();

    other.reads.length = 0;
    const fourth = await other.store.catchUp(other.path, (await store.readHead())!);
    expect(fourth).toMatchObject({ via: 'current', journals: [] });
    expect(other.reads).toEqual([]);
    expect(fourth.state.files()).toEqual(state.files());
    fourth.state.close();
    state.close();
  });

  it('refuses to commit on a base that is no longer current, leaving version.txt and the state alone', async () => {
    const { remote, store, state: theirs, head: v1 } = await firstCommit('repo-3');
    const mine = (await store.catchUp(statePath(), v1)).state;
    const { head: v2 } = await store.commit(theirs, [row(B, 0)], v1, info('repo-3'));
    await expect(store.commit(mine, [row(A, 0, { labels: ['mine'] })], v1, info('repo-3'))).rejects.toBeInstanceOf(RemoteMovedError);
    expect(await store.readHead()).toEqual(v2);
    expect(parseVersionFile((await remote.getBytes(remotePaths.versionFile))!.toString())).toEqual(v2);
    expect([mine.version, mine.get(A)]).toEqual([1, row(A, 1)]);
    mine.close();
    theirs.close();
  });

  it(`compacts after ${MAX_DELTAS} deltas; a reader a few versions behind still takes deltas, one far behind the snapshot`, async () => {
    const { remote, store, state, head: v1 } = await firstCommit('repo-4');
    const near = reader(remote);
    const far = reader(remote);
    (await far.store.catchUp(far.path, v1)).state.close();
    let head = v1;
    const compactedAt = MAX_DELTAS + 1;
    for (let v = 2; v <= compactedAt; v++) {
      if (v === compactedAt) {
        // Just before: the snapshot is still the first commit's, every delta since listed.
        expect(head.snapshot.version).toBe(1);
        expect(head.deltas.map((d) => d.version)).toEqual(range(1, compactedAt - 1));
      }
      ({ head } = await store.commit(state, [row(A, 0, { labels: [`v${v}`] })], head, info('repo-4')));
      if (v === compactedAt - 3) (await near.store.catchUp(near.path, head)).state.close();
    }
    expect(head.version).toBe(compactedAt);
    expect(head.snapshot.version).toBe(compactedAt);
    expect(head.deltas.map((d) => d.version)).toEqual(range(compactedAt - DELTAS_KEPT_AFTER_COMPACTION + 1, compactedAt));
    expect(await store.readHead()).toEqual(head);
    expect((await remote.stat(snapshotPath(head)))?.size).toBe(head.snapshot.size);

    near.reads.length = 0;
    const nearUp = await near.store.catchUp(near.path, head);
    expect(nearUp.via).toBe('deltas');
    expect(near.reads).toEqual(range(compactedAt - 2, compactedAt).map((v) => deltaPath(head.deltas.find((d) => d.version === v)!)));
    far.reads.length = 0;
    const farUp = await far.store.catchUp(far.path, head);
    expect(farUp.via).toBe('snapshot');
    // The snapshot; then, for the file history only, the small deltas still listed up to it.
    expect(far.reads).toEqual([snapshotPath(head), ...head.deltas.map(deltaPath)]);
    for (const caught of [nearUp.state, farUp.state]) {
      expect(caught.files()).toEqual([row(A, compactedAt, { labels: [`v${compactedAt}`] })]);
      expect([caught.version, caught.commit]).toEqual([head.version, head.commit]);
      expect(caught.recentCommits).toEqual(head.recent);
      caught.close();
    }
    state.close();
  });

  it('a compaction on a format-2 base sends no MKCOL for snapshots/; a folder removed by hand is made again', async () => {
    const { remote, state, head: v1 } = await firstCommit('repo-12');
    const mkdirs: string[] = [];
    const counted = new Proxy(remote, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        const bound = (value as (...a: unknown[]) => unknown).bind(target);
        return prop === 'mkdir' ? (path: string) => (mkdirs.push(path), bound(path)) : bound;
      },
    });
    const store = new RemoteMetadataStore(counted, tmp.dir, seededIdSource(seed++), noSleep);
    const { head: v2 } = await store.commit(state, [row(B, 0)], v1, { ...info('repo-12'), compact: true });
    expect(v2.snapshot.version).toBe(2);
    expect(mkdirs).toEqual([]);
    for (const old of [v1, v2]) await remote.delete(snapshotPath(old));
    await remote.delete(remotePaths.snapshotsDir);
    const { head: v3 } = await store.commit(state, [row(A, 0, { labels: ['again'] })], v2, { ...info('repo-12'), compact: true });
    // nginx (create_full_put_path) makes the folder for the PUT itself.
    expect(mkdirs).toEqual(name === 'nginx' ? [] : [remotePaths.snapshotsDir]);
    expect((await remote.stat(snapshotPath(v3)))?.size).toBe(v3.snapshot.size);
    state.close();
  });

  it('refuses a delta that does not match its sha256 (after reading it again), or that is missing', async () => {
    const { remote, store, state, head: v1 } = await firstCommit('repo-5');
    const other = reader(remote);
    (await other.store.catchUp(other.path, v1)).state.close();
    const { head: v2 } = await store.commit(state, [row(B, 0)], v1, info('repo-5'));
    const delta = deltaPath(v2.deltas.at(-1)!);
    await remote.put(delta, Buffer.from('{"kind":"docsync-journal","rows":[]}'));
    other.reads.length = 0;
    await expect(other.store.catchUp(other.path, v2)).rejects.toThrow(new RemoteCorruptError(`${delta} does not match the sha256 in version.txt`));
    expect(other.reads.filter((p) => p === delta)).toHaveLength(2);
    expect(other.reads).toContain(remotePaths.versionFile);
    await remote.delete(delta);
    await expect(other.store.catchUp(other.path, v2)).rejects.toThrow(new RemoteCorruptError(`version.txt names ${delta}, which is missing on the remote`));
    // The kept state is still the last good one.
    const kept = RemoteSnapshot.open(other.path);
    expect([kept.version, kept.commit, kept.get(B)]).toEqual([1, v1.commit, undefined]);
    kept.close();
    state.close();
  });

  it('refuses a snapshot that does not match its sha256, or that is missing', async () => {
    const { remote, state, head } = await firstCommit('repo-6');
    const other = reader(remote);
    const path = snapshotPath(head);
    await remote.put(path, Buffer.from('SQLite format 3\u0000 but not really'));
    await expect(other.store.catchUp(other.path, head)).rejects.toThrow(new RemoteCorruptError(`${path} does not match the sha256 in version.txt`));
    await remote.delete(path);
    await expect(other.store.catchUp(other.path, head)).rejects.toThrow(/names snapshots\/000001-.*, which is missing on the remote/);
    expect(fs.existsSync(other.path)).toBe(false);
    state.close();
  });

  it('a kept state whose commit is no longer in the chain (history rewritten) starts over from the snapshot', async () => {
    const { remote, store, state, head: v1 } = await firstCommit('repo-7');
    const v1Text = (await remote.getBytes(remotePaths.versionFile))!;
    const rewriter = (await store.catchUp(statePath(), v1)).state;
    const { head: v2 } = await store.commit(state, [row(B, 0)], v1, info('repo-7'));
    const other = reader(remote);
    const atV2 = await other.store.catchUp(other.path, v2);
    expect(atV2.state.get(B)).toBeDefined();
    atV2.state.close();
    // version.txt put back to v1 (a restored copy), then two other commits on it: a v2 with another commit id.
    await remote.put(remotePaths.versionFile, v1Text);
    const { head: v2b } = await store.commit(rewriter, [row(A, 0, { labels: ['rewritten'] })], v1, info('repo-7'));
    const { head: v3b } = await store.commit(rewriter, [row(A, 0, { labels: ['again'] })], v2b, info('repo-7'));
    expect(v2b.commit).not.toBe(v2.commit);
    other.reads.length = 0;
    const caught = await other.store.catchUp(other.path, v3b);
    expect(caught.via).toBe('snapshot');
    expect(other.reads[0]).toBe(snapshotPath(v3b));
    // The remote's word wins: the row only the lost v2 had is gone from the state.
    expect(caught.state.get(B)).toBeUndefined();
    expect(caught.state.get(A)).toMatchObject({ version: 3, labels: ['again'] });
    expect([caught.state.version, caught.state.commit]).toEqual([3, v3b.commit]);
    caught.state.close();
    rewriter.close();
    state.close();
  });

  it('a re-initialised remote (a new repository over an old one) starts a new chain: nothing of the old one listed', async () => {
    const { remote, store, state, head: v1 } = await firstCommit('repo-old');
    const { head: v2 } = await store.commit(state, [row(B, 0)], v1, info('repo-old'));
    state.close();
    // `sync --reinitialize`: a new, empty state with a new repository id, committed on the current head.
    const fresh = await store.initialize(statePath(), 'repo-new');
    const { head, journal } = await store.commit(fresh, [row(A, 0, { labels: ['new'] })], v2, info('repo-new'));
    fresh.close();
    expect(head).toMatchObject({ version: 3, repo: 'repo-new', snapshot: { version: 3 } });
    expect(head.deltas.map((d) => d.version)).toEqual([3]);
    expect(head.recent).toEqual([head.commit]);
    expect(journal.parent).toBeUndefined();
    const caught = await reader(remote).store.catchUp(statePath(), (await store.readHead())!);
    expect(caught.state.files()).toEqual([row(A, 3, { labels: ['new'] })]);
    expect(caught.state.repoId).toBe('repo-new');
    caught.state.close();
  });

  it('`shards all`: written once a commit says so, carried by every later commit (a compaction too); not into a new repository', async () => {
    const { remote, store, state, head: v1 } = await firstCommit('repo-shards');
    expect(v1.allShards).toBeUndefined();
    const { head: v2 } = await store.commit(state, [row(B, 0)], v1, { ...info('repo-shards'), allShards: true });
    expect(v2.allShards).toBe(true);
    expect((await remote.getBytes(remotePaths.versionFile))!.toString()).toMatch(/^shards all$/m);
    // A commit that does not say (nothing uploaded, or another caller) keeps what its base said.
    const { head: v3 } = await store.commit(state, [row(A, 0, { labels: ['x'] })], v2, info('repo-shards'));
    const { head: v4 } = await store.commit(state, [row(B, 0, { labels: ['y'] })], v3, { ...info('repo-shards'), compact: true });
    expect([v3.allShards, v4.allShards, v4.snapshot.version]).toEqual([true, true, 4]);
    expect((await reader(remote).store.readHead())?.allShards).toBe(true);
    state.close();
    const fresh = await store.initialize(statePath(), 'repo-shards-new');
    const { head: v5 } = await store.commit(fresh, [], v4, info('repo-shards-new'));
    fresh.close();
    expect(v5.allShards).toBeUndefined();
  });

  it('a listed delta that does not follow on from the chain (another parent): refused as corrupt, for a new reader too', async () => {
    const { remote, store, state, head: v1 } = await firstCommit('repo-11');
    const kept = reader(remote);
    (await kept.store.catchUp(kept.path, v1)).state.close();
    // A delta for version 2 that names a parent the chain never had, listed with its right sha256.
    const bytes = formatJournal({
      repo: 'repo-11', version: 2, commit: 'strayc2', parent: { version: 1, commit: 'notv1commit' },
      instance: 'stray', committed_at: '2026-11-30T06:00:00.000Z', rows: [row(B, 2)],
    });
    await remote.put(remotePaths.journal(2, 'strayc2'), bytes);
    const stray: VersionHead = {
      ...v1,
      version: 2,
      commit: 'strayc2',
      deltas: [...v1.deltas, { version: 2, commit: 'strayc2', size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }],
      recent: [...v1.recent, 'strayc2'],
    };
    await remote.put(remotePaths.versionFile, Buffer.from(formatVersionFile(stray)));
    const head = (await store.readHead())!;
    const message = /The delta of version 2 does not follow on from version 1/;
    kept.reads.length = 0;
    const error = await kept.store.catchUp(kept.path, head).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteCorruptError);
    expect((error as Error).message).toMatch(message);
    // The kept state first tried the delta, then started over from the snapshot, which the delta does not follow either.
    expect(kept.reads).toEqual([deltaPath(head.deltas[1]!), snapshotPath(head), deltaPath(head.deltas[1]!)]);
    await expect(reader(remote).store.catchUp(statePath(), head)).rejects.toThrow(message);
    state.close();
  });

  it('refuses garbage in version.txt (after reading it again) instead of reading it as an empty remote', async () => {
    const { remote, state } = await firstCommit('repo-8');
    await remote.put(remotePaths.versionFile, Buffer.from('<html>502 Bad Gateway</html>'));
    const other = reader(remote);
    await expect(other.store.readHead()).rejects.toBeInstanceOf(RemoteCorruptError);
    expect(other.reads).toEqual(Array(4).fill(remotePaths.versionFile));
    state.close();
  });

  it('refuses a version.txt of a newer format: "upgrade docsync"', async () => {
    const { remote, store, state } = await firstCommit('repo-9');
    const text = (await remote.getBytes(remotePaths.versionFile))!.toString().replace('format 2', `format ${FORMAT_VERSION + 1}`);
    await remote.put(remotePaths.versionFile, Buffer.from(text));
    const error = await store.readHead().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteFormatError);
    expect((error as Error).message).toMatch(/upgrade docsync$/);
    state.close();
  });

  it('refuses a snapshot written by a newer format, with a clear message', async () => {
    const { remote, store, state, head } = await firstCommit('repo-10');
    // Rewrite the published snapshot as a future docsync would, and point version.txt at it.
    const local = `${tmp.dir}/future-${name}.db`;
    fs.writeFileSync(local, (await remote.getBytes(snapshotPath(head), { maxBytes: 1 << 24 }))!);
    const db = new Sqlite(local);
    db.prepare("UPDATE meta SET value = ? WHERE key = 'format_version'").run(String(FORMAT_VERSION + 1));
    db.close();
    const bytes = fs.readFileSync(local);
    await remote.put(snapshotPath(head), bytes);
    const future: VersionHead = { ...head, snapshot: { ...head.snapshot, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') } };
    await remote.put(remotePaths.versionFile, Buffer.from(formatVersionFile(future)));

    const error = await store.catchUp(statePath(), (await store.readHead())!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteFormatError);
    expect((error as Error).message).toBe(
      `The remote was written by a newer docsync (metadata format ${FORMAT_VERSION + 1}; this build understands ${FORMAT_VERSION}): upgrade docsync`,
    );
    state.close();
  });

  // A sync frozen between its last check of version.txt and the switch (laptop asleep): meanwhile
  // another instance commits. The late switch must fail where the server honours preconditions.
  it('a switch sent after another commit landed is refused where the server honours If-Match, and lands where it does not', async () => {
    const remote = target.fresh().connect();
    const conditional = await conditionalWrites(remote);
    const { store } = storeFor(remote);
    const { head: v1 } = await store.commit(await store.initialize(statePath(), 'repo-race'), [], undefined, info('repo-race'));
    const other = storeFor(remote).store;
    const late = storeFor(
      raceBeforeSwitch(
        remote,
        once(async () => {
          await other.commit((await other.catchUp(statePath(), v1)).state, [row(B, 0)], v1, info('repo-race'));
        }),
      ),
    ).store;
    const attempt = late.commit((await late.catchUp(statePath(), v1)).state, [row(A, 0)], v1, info('repo-race'), { conditional });
    const winner = conditional.ifMatch ? 'other' : 'late';
    if (winner === 'other') await expect(attempt).rejects.toBeInstanceOf(RemoteMovedError);
    const lateHead = winner === 'late' ? (await attempt).head : undefined;
    const head = (await store.readHead())!;
    expect(head.version).toBe(2);
    if (lateHead) expect(head.commit).toBe(lateHead.commit);
    expect(['apache', 'lighttpd', 'sabre', 'memory', 'folder'].includes(name) ? conditional.ifMatch : !conditional.ifMatch).toBe(true);
  });

  it('the first switch of a new remote is refused if another instance created the repository meanwhile, where If-None-Match is honoured', async () => {
    const remote = target.fresh().connect();
    const conditional = await conditionalWrites(remote);
    const other = storeFor(remote).store;
    const late = storeFor(
      raceBeforeSwitch(
        remote,
        once(async () => {
          await other.commit(await other.initialize(statePath(), 'repo-first'), [], undefined, info('repo-first'));
        }),
      ),
    ).store;
    const attempt = late.commit(await late.initialize(statePath(), 'repo-late'), [], undefined, info('repo-late'), { conditional });
    if (conditional.ifNoneMatch) await expect(attempt).rejects.toBeInstanceOf(RemoteMovedError);
    else await attempt;
    expect((await other.readHead())!.repo).toBe(conditional.ifNoneMatch ? 'repo-first' : 'repo-late');
  });
});

/** What the engine gets from the capability probe (sync-service.ts). */
async function conditionalWrites(remote: Remote): Promise<ConditionalWrites> {
  const caps = await probeCapabilities(remote, seededIdSource(7), 'now');
  return { ifMatch: caps.ifMatch, ifNoneMatch: caps.conditionalPut };
}
