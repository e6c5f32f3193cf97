import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { seededIdSource } from '../../src/domain/ids.ts';
import { RemoteCorruptError } from '../../src/remote/errors.ts';
import { remotePaths } from '../../src/remote/paths.ts';
import { probeCapabilities } from '../../src/remote/capabilities.ts';
import type { Remote } from '../../src/remote/remote.ts';
import { RemoteMetadataStore, RemoteMovedError, type ConditionalWrites } from '../../src/remote/remote-metadata.ts';
import type { RemoteFileRow } from '../../src/domain/shared-row.ts';
import { FORMAT_VERSION, RemoteFormatError } from '../../src/remote/remote-snapshot.ts';
import { formatVersionFile, parseVersionFile } from '../../src/remote/version-file.ts';
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

describe.each(remoteTargetNames())('remote metadata on %s', (name) => {
  let target: RemoteTarget;
  let tmp: ReturnType<typeof tempDir>;
  let seed = 100;
  beforeAll(async () => {
    target = await startRemoteTarget(name);
    tmp = tempDir();
  });
  afterAll(async () => {
    await target.stop();
    tmp.remove();
  });
  const storeFor = (remote = target.fresh().connect(), keep?: number) =>
    ({ remote, store: new RemoteMetadataStore(remote, tmp.dir, seededIdSource(seed++), keep) });

  it('a new remote has no head; the first commit creates version 1 with the repo id', async () => {
    const { remote, store } = storeFor();
    expect(await store.readHead()).toBeUndefined();
    const snapshot = await store.initialize('repo-1');
    const head = await store.commit(snapshot, undefined);
    expect(head.version).toBe(1);
    expect(head.snapshot).toBe(remotePaths.snapshot(1, head.commit));
    expect(await store.readHead()).toEqual(head);
    const text = (await remote.getBytes(remotePaths.versionFile))!.toString();
    expect(text.split('\n')[0]).toBe('1');
    const downloaded = await store.download(head);
    expect(downloaded.repoId).toBe('repo-1');
    expect(downloaded.version).toBe(1);
    expect(downloaded.recentCommits).toEqual([head.commit]);
    expect(downloaded.files()).toEqual([]);
    await store.discard(downloaded);
  });

  it('upserts rows and tombstones; a later commit carries them, with per-row versions', async () => {
    const { store } = storeFor();
    const v1 = await store.commit(await store.initialize('repo-2'), undefined);
    const s1 = await store.download(v1);
    s1.transaction(() => {
      s1.upsert(row('aaaaaaaaaaaa', 2));
      s1.upsert(row('bbbbbbbbbbbb', 2, { labels: ['x'] }));
    });
    const v2 = await store.commit(s1, v1);
    const s2 = await store.download(v2);
    s2.upsert(row('bbbbbbbbbbbb', 3, { deleted: true }));
    const v3 = await store.commit(s2, v2);
    const s3 = await store.download(v3);
    expect(s3.get('aaaaaaaaaaaa')).toEqual(row('aaaaaaaaaaaa', 2));
    expect(s3.get('bbbbbbbbbbbb')).toMatchObject({ deleted: true, version: 3, labels: [] });
    expect(s3.changedSince(2).map((r) => r.stable_id)).toEqual(['bbbbbbbbbbbb']);
    expect(s3.recentCommits).toEqual([v1.commit, v2.commit, v3.commit]);
    await store.discard(s3);
  });

  it('refuses to commit on a base that is no longer current, leaving version.txt alone', async () => {
    const { remote, store } = storeFor();
    const v1 = await store.commit(await store.initialize('repo-3'), undefined);
    const mine = await store.download(v1);
    const theirs = await store.download(v1);
    const v2 = await store.commit(theirs, v1);
    await expect(store.commit(mine, v1)).rejects.toBeInstanceOf(RemoteMovedError);
    expect(await store.readHead()).toEqual(v2);
    expect(parseVersionFile((await remote.getBytes(remotePaths.versionFile))!.toString())).toEqual(v2);
  });

  it('keeps the last few snapshots and prunes older ones', async () => {
    const { remote, store } = storeFor(undefined, 3);
    let head = await store.commit(await store.initialize('repo-4'), undefined);
    for (let i = 0; i < 5; i++) head = await store.commit(await store.download(head), head);
    const names = ((await remote.list(remotePaths.metadataDir)) ?? []).map((e) => e.name).sort();
    expect(names.map((n) => Number(n.slice(0, 6)))).toEqual([4, 5, 6]);
    expect(names).toContain(head.snapshot.slice('metadata/'.length));
  });

  it('refuses a snapshot that does not match its sha256, or that is missing', async () => {
    const { remote, store } = storeFor();
    const head = await store.commit(await store.initialize('repo-5'), undefined);
    await remote.put(head.snapshot, Buffer.from('SQLite format 3\u0000 but not really'));
    await expect(store.download(head)).rejects.toThrow(new RemoteCorruptError(`${head.snapshot} does not match the sha256 in version.txt`));
    await remote.delete(head.snapshot);
    await expect(store.download(head)).rejects.toThrow(/names metadata\/000001-.*, which is missing on the remote/);
  });

  it('refuses garbage in version.txt instead of reading it as an empty remote', async () => {
    const { remote, store } = storeFor();
    await store.commit(await store.initialize('repo-6'), undefined);
    await remote.put(remotePaths.versionFile, Buffer.from('<html>502 Bad Gateway</html>'));
    await expect(store.readHead()).rejects.toBeInstanceOf(RemoteCorruptError);
  });

  it('refuses a snapshot written by a newer format, with a clear message', async () => {
    const { remote, store } = storeFor();
    const head = await store.commit(await store.initialize('repo-7'), undefined);
    // Rewrite the published snapshot as a future docsync would, and point version.txt at it.
    const local = `${tmp.dir}/future-${name}.db`;
    fs.writeFileSync(local, (await remote.getBytes(head.snapshot))!);
    const db = new Database(local);
    db.prepare("UPDATE meta SET value = ? WHERE key = 'format_version'").run(String(FORMAT_VERSION + 1));
    db.close();
    const bytes = fs.readFileSync(local);
    await remote.put(head.snapshot, bytes);
    const future = { ...head, sha256: createHash('sha256').update(bytes).digest('hex') };
    await remote.put(remotePaths.versionFile, Buffer.from(formatVersionFile(future)));

    const error = await store.download((await store.readHead())!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteFormatError);
    expect((error as Error).message).toBe(
      `The remote was written by a newer docsync (metadata format ${FORMAT_VERSION + 1}; this build understands ${FORMAT_VERSION}): upgrade docsync`,
    );
  });

  // A sync frozen between its last check of version.txt and the switch (laptop asleep): meanwhile
  // another instance commits. The late switch must fail where the server honours preconditions.
  it('a switch sent after another commit landed is refused where the server honours If-Match, and lands where it does not', async () => {
    const remote = target.fresh().connect();
    const conditional = await conditionalWrites(remote);
    const { store } = storeFor(remote);
    const v1 = await store.commit(await store.initialize('repo-race'), undefined);
    const other = storeFor(remote).store;
    const late = storeFor(
      raceBeforeSwitch(
        remote,
        once(async () => {
          await other.commit(await other.download(v1), v1);
        }),
      ),
    ).store;
    const attempt = late.commit(await late.download(v1), v1, { conditional });
    const winner = conditional.ifMatch ? 'other' : 'late';
    if (winner === 'other') await expect(attempt).rejects.toBeInstanceOf(RemoteMovedError);
    const lateHead = winner === 'late' ? await attempt : undefined;
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
          await other.commit(await other.initialize('repo-first'), undefined);
        }),
      ),
    ).store;
    const attempt = late.commit(await late.initialize('repo-late'), undefined, { conditional });
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
