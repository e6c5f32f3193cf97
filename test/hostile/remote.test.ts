import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RemoteCorruptError, RemoteError } from '../../src/remote/errors.ts';
import { remotePaths } from '../../src/remote/paths.ts';
import { deltaPath, parseVersionFile, snapshotPath } from '../../src/remote/version-file.ts';
import { dataPaths } from '../../src/store/data-dir.ts';
import { startCluster, type Cluster, type Node } from '../support/cluster.ts';
import { tempDir } from '../support/instance.ts';
import { remoteTargetNames, startRemoteTarget, type FreshRemote, type RemoteTarget } from '../support/remote-targets.ts';

/** A hostile remote: whatever is found there, a clear error and no local data lost. */
describe.each(remoteTargetNames())('hostile remote on %s', (name) => {
  let target: RemoteTarget;
  let cluster: Cluster;
  let fresh: FreshRemote;
  let a: Node;
  let b: Node;
  beforeAll(async () => {
    target = await startRemoteTarget(name);
  });
  afterAll(() => target.stop());
  afterEach(() => cluster?.close());

  /** a and b in sync on one file; b has a local edit pending. */
  const synced = async () => {
    fresh = target.fresh();
    cluster = startCluster(fresh);
    [a, b] = cluster.nodes as [Node, Node];
    const x = await a.put('x.txt', 'original');
    await a.sync();
    await b.sync();
    await b.put('pending.txt', 'not yet synced');
    return x;
  };
  const expectIntact = async (node: Node) => {
    expect(await node.contents()).toMatchObject({ 'x.txt': 'original' });
  };
  const remote = () => fresh.connect();
  const head = async () => parseVersionFile((await remote().getBytes(remotePaths.versionFile))!.toString());

  /** a commits once more: b is one version behind, its kept state one delta short. */
  const aCommitsAgain = async () => {
    await a.put('y.txt', 'y');
    await a.sync();
    const current = await head();
    return deltaPath(current.deltas.at(-1)!);
  };
  /** b's kept copy of the remote state is gone (a new instance, or a lost data dir file): it needs the snapshot. */
  const bLosesItsState = () => fs.rmSync(dataPaths(b.dataDir).remoteState);
  const expectPendingKept = async () => {
    await expectIntact(b);
    expect(await b.content(b.live().find((f) => f.filename === 'pending.txt')!.stable_id)).toBe('not yet synced');
    expect(b.docsync.fileRepository.pendingCount()).toBe(1);
    expect(b.live().map((f) => f.filename).sort()).toEqual(['pending.txt', 'x.txt']);
  };

  it('a corrupt delta: refused, nothing changed', async () => {
    await synced();
    const delta = await aCommitsAgain();
    await remote().put(delta, Buffer.from('{"kind":"docsync-journal","rows":[]}'));
    await expect(b.sync()).rejects.toThrow(new RemoteCorruptError(`${delta} does not match the sha256 in version.txt`));
    await expectPendingKept();
  });

  it('version.txt naming a missing delta: refused with the name', async () => {
    await synced();
    const delta = await aCommitsAgain();
    await remote().delete(delta);
    await expect(b.sync()).rejects.toThrow(`version.txt names ${delta}, which is missing on the remote`);
    await expectPendingKept();
  });

  it('a corrupt metadata snapshot (for an instance that needs it): refused, nothing changed', async () => {
    await synced();
    bLosesItsState();
    const current = await head();
    await remote().put(snapshotPath(current), Buffer.from('this is not a database'));
    await expect(b.sync()).rejects.toBeInstanceOf(RemoteCorruptError);
    await expectPendingKept();
  });

  it('version.txt naming a missing snapshot (for an instance that needs it): refused with the name', async () => {
    await synced();
    bLosesItsState();
    const current = await head();
    await remote().delete(snapshotPath(current));
    await expect(b.sync()).rejects.toThrow(`version.txt names ${snapshotPath(current)}, which is missing on the remote`);
    await expectIntact(b);
  });

  it('garbage in version.txt: refused, never read as an empty remote', async () => {
    await synced();
    await remote().put(remotePaths.versionFile, Buffer.from('\u0000\u0001garbage'));
    await expect(b.sync()).rejects.toBeInstanceOf(RemoteCorruptError);
    const status = await b.docsync.sync.status();
    expect(status.remote_error).toMatch(/version\.txt does not start with a version number/);
    await expectIntact(b);
  });

  it('a blob whose content does not match its hash is never used; the next sync retries it', async () => {
    await synced();
    const y = await a.put('y.txt', 'the real y');
    await a.sync();
    await remote().put(remotePaths.blob(y.hash, 'txt'), Buffer.from('tampered y'));
    const summary = await b.sync();
    expect(summary.errors).toBe(1);
    expect(b.live().map((f) => f.filename).sort()).toEqual(['pending.txt', 'x.txt']);
    // Repaired on the remote: the next sync brings it, verified.
    await remote().put(remotePaths.blob(y.hash, 'txt'), Buffer.from('the real y'));
    expect(await b.sync()).toMatchObject({ downloaded: 1, errors: 0 });
    expect(await b.content(y.stable_id)).toBe('the real y');
    expect(createHash('sha256').update('the real y').digest('hex')).toBe(y.hash);
  });

  // Garbage in the lock owner file: see 'garbage in the owner file counts as no owner' in test/conformance/lock.test.ts.
});

describe('a remote root that is a file', () => {
  let tmp: ReturnType<typeof tempDir>;
  afterEach(() => tmp.remove());

  it('is a clear error, and the local store is untouched', async () => {
    tmp = tempDir();
    const rootFile = path.join(tmp.dir, 'remote');
    fs.writeFileSync(rootFile, 'I am a file');
    const { FolderRemote } = await import('../../src/remote/folder-remote.ts');
    const { cryptoIdSource } = await import('../../src/domain/ids.ts');
    const cluster = startCluster({ connect: () => new FolderRemote(rootFile, cryptoIdSource) }, ['a']);
    try {
      const a = cluster.nodes[0]!;
      await a.put('x.txt', 'x');
      const error = await a.sync().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RemoteError);
      expect((error as Error).message).toMatch(/a file is in the way|not a folder|not a directory/i);
      expect(await a.contents()).toEqual({ 'x.txt': 'x' });
      expect(fs.readFileSync(rootFile, 'utf8')).toBe('I am a file');
    } finally {
      cluster.close();
    }
  });
});
