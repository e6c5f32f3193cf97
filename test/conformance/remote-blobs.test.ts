import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cryptoIdSource } from '../../src/domain/ids.ts';
import { RemoteCorruptError, RemoteUnavailableError } from '../../src/remote/errors.ts';
import { remotePaths } from '../../src/remote/paths.ts';
import type { PutBody, PutOptions, PutResult, ReadOptions, Remote, RemoteEntry, RemoteStat } from '../../src/remote/remote.ts';
import { ALL_SHARDS, RemoteBlobStore, ROOT_LISTING_MIN_UPLOADS, type BlobRef } from '../../src/remote/remote-blobs.ts';
import { BlobStore } from '../../src/store/blob-store.ts';
import { remoteTargetNames, startRemoteTarget, type RemoteTarget } from '../support/remote-targets.ts';

/** Counts the calls a `Remote` gets, by operation; `dropPuts` acknowledges writes and stores nothing. */
class CountingRemote implements Remote {
  calls: Record<string, number> = {};
  dropPuts = false;
  /** Reads (stat, list) fail the way a server that stopped answering fails them. */
  failReads = false;
  constructor(private readonly inner: Remote) {}
  get description(): string {
    return this.inner.description;
  }
  get putAnswerConfirms(): boolean | undefined {
    // A server that loses acknowledged writes cannot be taken at its word.
    return this.dropPuts ? undefined : this.inner.putAnswerConfirms;
  }
  private refuseRead(): void {
    if (this.failReads) throw new RemoteUnavailableError('Injected: the server stopped answering reads');
  }
  private count(op: string): void {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
  }
  take(): Record<string, number> {
    const calls = this.calls;
    this.calls = {};
    return calls;
  }
  stat(p: string): Promise<RemoteStat | undefined> {
    this.count('stat');
    this.refuseRead();
    return this.inner.stat(p);
  }
  get(p: string, options?: ReadOptions): Promise<Readable | undefined> {
    this.count('get');
    return this.inner.get(p, options);
  }
  getBytes(p: string, options?: ReadOptions): Promise<Buffer | undefined> {
    this.count('getBytes');
    return this.inner.getBytes(p, options);
  }
  async put(p: string, body: PutBody, options?: PutOptions): Promise<PutResult> {
    this.count('put');
    if (this.dropPuts) return {};
    return this.inner.put(p, body, options);
  }
  delete(p: string, options?: { ifMatch?: string }): Promise<boolean> {
    this.count('delete');
    return this.inner.delete(p, options);
  }
  list(p: string): Promise<RemoteEntry[] | undefined> {
    this.count('list');
    this.refuseRead();
    return this.inner.list(p);
  }
  mkdir(p: string): Promise<'created' | 'exists'> {
    this.count('mkdir');
    return this.inner.mkdir(p);
  }
  serverTime(): Promise<number> {
    return this.inner.serverTime();
  }
}

/** Content whose hash starts with `prefix` (found by trying): two hex digits choose the shard. */
function blobIn(prefix: string, label: string): { ref: BlobRef; data: Buffer } {
  for (let i = 0; ; i++) {
    const data = Buffer.from(`${label} #${i}`);
    const hash = createHash('sha256').update(data).digest('hex');
    if (hash.startsWith(prefix)) return { ref: { hash, file_type: 'txt', size: data.length }, data };
  }
}

const open = (data: Buffer) => () => Readable.from([data]);

describe.each(remoteTargetNames())('remote blobs on %s', (name) => {
  let target: RemoteTarget;
  let dir: string;
  let local: BlobStore;
  beforeAll(async () => {
    target = await startRemoteTarget(name);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docsync-remote-blobs-'));
    local = new BlobStore(path.join(dir, 'blobs'), path.join(dir, 'tmp'), cryptoIdSource);
  });
  afterAll(async () => {
    await target.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const freshRemote = async () => {
    const remote = target.fresh().connect();
    await remote.mkdir('');
    return new CountingRemote(remote);
  };

  it('uploads into a missing shard: the folder is made only after the PUT finds it missing', async () => {
    const remote = await freshRemote();
    const { ref, data } = blobIn('a0', 'missing shard');
    await new RemoteBlobStore(remote).upload(ref, open(data));
    const calls = remote.take();
    // nginx (create_full_put_path) makes the folder itself: one PUT. Elsewhere PUT, MKCOL, PUT.
    if (name === 'nginx') expect(calls).toEqual({ put: 1 });
    else expect(calls).toEqual({ put: 2, mkdir: 1 });
    expect((await remote.getBytes(remotePaths.blob(ref.hash, 'txt')))?.equals(data)).toBe(true);
  });

  it('uploads a large blob (16 MB) into a missing shard: the shard is made first, so the body is sent once', async () => {
    const remote = await freshRemote();
    const data = Buffer.alloc(16 * 1024 * 1024, 7);
    const hash = createHash('sha256').update(data).digest('hex');
    const ref = { hash, file_type: 'bin', size: data.length };
    let opened = 0;
    await new RemoteBlobStore(remote).upload(ref, () => (opened++, open(data)()));
    // A PUT refused for the missing folder would have carried all 16 MB first (Apache reads it all).
    expect(remote.take()).toEqual({ mkdir: 1, put: 1 });
    expect(opened).toBe(1);
    expect((await remote.stat(remotePaths.blob(hash, 'bin')))?.size).toBe(data.length);
  });

  it('uploads into an existing shard with one request, and a second blob there with one more', async () => {
    const remote = await freshRemote();
    const first = blobIn('b0', 'first');
    const second = blobIn('b0', 'second');
    await remote.mkdir(remotePaths.blobDir(first.ref.hash));
    remote.take();
    const store = new RemoteBlobStore(remote);
    await store.upload(first.ref, open(first.data));
    await store.upload(second.ref, open(second.data));
    expect(remote.take()).toEqual({ put: 2 });
  });

  it('a batch lists the root once and creates each missing shard before its PUT: no refused PUT', async () => {
    const remote = await freshRemote();
    const blobs = ['c0', 'd0', 'e0', 'f0'].map((p) => blobIn(p, 'batch'));
    await remote.mkdir(remotePaths.blobDir(blobs[0]!.ref.hash));
    remote.take();
    const store = new RemoteBlobStore(remote);
    await store.prepareUploads(ROOT_LISTING_MIN_UPLOADS);
    await Promise.all(blobs.map((b) => store.upload(b.ref, open(b.data))));
    // One shard existed: three MKCOLs, four PUTs, one listing.
    expect(remote.take()).toEqual({ list: 1, mkdir: 3, put: 4 });
  });

  it('createShards makes every missing shard folder (one listing, one MKCOL each); then an upload anywhere is one PUT', async () => {
    const remote = await freshRemote();
    const existing = blobIn('c1', 'already there');
    await remote.mkdir(remotePaths.blobDir(existing.ref.hash));
    remote.take();
    expect(await new RemoteBlobStore(remote).createShards()).toBe(255);
    expect(remote.take()).toEqual({ list: 1, mkdir: 255 });
    const shards = ((await remote.list('')) ?? []).filter((e) => e.isDirectory).map((e) => e.name);
    expect(shards.sort()).toEqual(ALL_SHARDS);
    // A later sync (a new store: it knows nothing yet) puts a lone blob, and a batch, straight in.
    remote.take();
    const lone = blobIn('d7', 'lone after');
    await new RemoteBlobStore(remote).upload(lone.ref, open(lone.data));
    expect(remote.take()).toEqual({ put: 1 });
    const store = new RemoteBlobStore(remote);
    const batch = ['01', '7f', 'a5', 'fe'].map((p) => blobIn(p, 'batch after'));
    await store.prepareUploads(batch.length);
    await Promise.all(batch.map((b) => store.upload(b.ref, open(b.data))));
    expect(remote.take()).toEqual({ list: 1, put: 4 });
    // Once all are there, a second call makes nothing.
    expect(await new RemoteBlobStore(remote).createShards()).toBe(0);
    expect(remote.take()).toEqual({ list: 1 });
  });

  it('readyShards: nothing to upload and not said, no request; else every shard made once; said (version.txt), no request', async () => {
    const remote = await freshRemote();
    expect(await new RemoteBlobStore(remote).readyShards(false, 0)).toBe(false);
    expect(remote.take()).toEqual({});
    expect(await new RemoteBlobStore(remote).readyShards(false, 1)).toBe(true);
    expect(remote.take()).toEqual({ list: 1, mkdir: 256 });
    // A later push of any instance, told by version.txt: a blob into any shard, and a batch, go straight in.
    const store = new RemoteBlobStore(remote);
    expect(await store.readyShards(true, 5)).toBe(true);
    const batch = ['02', '3c', '80', 'c4'].map((p) => blobIn(p, 'said'));
    await store.prepareUploads(batch.length);
    await Promise.all(batch.map((b) => store.upload(b.ref, open(b.data))));
    expect(remote.take()).toEqual({ put: 4 });
  });

  it('every shard said to exist, yet one was removed by hand: its PUT finds it missing, it is made again, the blob lands', async () => {
    const remote = await freshRemote();
    const small = blobIn('e1', 'removed shard');
    const data = Buffer.alloc(2 * 1024 * 1024, 3);
    const large = { ref: { hash: createHash('sha256').update(data).digest('hex'), file_type: 'bin', size: data.length }, data };
    const store = new RemoteBlobStore(remote);
    await store.readyShards(true, 2);
    await store.upload(small.ref, open(small.data));
    // nginx makes the folder itself; elsewhere PUT (refused), MKCOL, PUT.
    expect(remote.take()).toEqual(name === 'nginx' ? { put: 1 } : { put: 2, mkdir: 1 });
    // A large blob too (said to exist, its shard is not made first: only a false claim costs its body twice).
    await store.upload(large.ref, open(large.data));
    expect(remote.take()).toEqual(name === 'nginx' || remotePaths.blobDir(large.ref.hash) === 'e1' ? { put: 1 } : { put: 2, mkdir: 1 });
    for (const b of [small, large]) expect((await remote.stat(remotePaths.blob(b.ref.hash, b.ref.file_type)))?.size).toBe(b.ref.size);
  });

  it('has, confirm and download: confirmed by the PUT answer where the remote vouches for it, else by one read per shard', async () => {
    const remote = await freshRemote();
    const one = blobIn('10', 'lone');
    const pair = [blobIn('20', 'pair a'), blobIn('20', 'pair b')];
    const store = new RemoteBlobStore(remote);
    expect(store.has(one.ref.hash, 'txt')).toBe(false);
    const uploads = [await store.upload(one.ref, open(one.data))];
    for (const b of pair) uploads.push(await store.upload(b.ref, open(b.data)));
    remote.take();
    expect(await store.confirm(uploads)).toEqual([]);
    const trusted = name !== 'memory' && name !== 'folder';
    expect(uploads.every((u) => u.confirmed)).toBe(trusted);
    // The lone upload: a PROPFIND of the file itself; the pair: one listing of their shard.
    expect(remote.take()).toEqual(trusted ? {} : { stat: 1, list: 1 });
    for (const b of [one, ...pair]) expect(store.has(b.ref.hash, 'txt')).toBe(true);

    await new RemoteBlobStore(remote).download(one.ref, local);
    expect(local.has(one.ref.hash, 'txt')).toBe(true);
    // Capped at its stated size, and verified against its hash: neither lands locally.
    const [a, b] = pair;
    await expect(new RemoteBlobStore(remote).download({ ...a!.ref, size: a!.ref.size - 1 }, local)).rejects.toThrow();
    await remote.put(remotePaths.blob(b!.ref.hash, 'txt'), Buffer.from('x'.repeat(b!.ref.size)));
    await expect(new RemoteBlobStore(remote).download(b!.ref, local)).rejects.toThrow();
    expect(local.has(a!.ref.hash, 'txt') || local.has(b!.ref.hash, 'txt')).toBe(false);
    const absent = blobIn('30', 'never uploaded');
    await expect(new RemoteBlobStore(remote).download(absent.ref, local)).rejects.toBeInstanceOf(RemoteCorruptError);
  });

  it('a PUT acknowledged and lost is not confirmed, and not known', async () => {
    const remote = await freshRemote();
    const kept = blobIn('40', 'kept');
    const lost = blobIn('40', 'lost');
    const alone = blobIn('50', 'lost alone');
    const store = new RemoteBlobStore(remote);
    const uploads = [await store.upload(kept.ref, open(kept.data))];
    remote.dropPuts = true;
    uploads.push(await store.upload(lost.ref, open(lost.data)));
    uploads.push(await store.upload(alone.ref, open(alone.data)));
    remote.dropPuts = false;
    const missing = await store.confirm(uploads);
    expect(missing.map((m) => m.blob.hash).sort()).toEqual([lost.ref.hash, alone.ref.hash].sort());
    expect(missing.every((m) => m.reason === 'did not arrive on the remote')).toBe(true);
    expect(store.has(lost.ref.hash, 'txt')).toBe(false);
    expect(store.has(alone.ref.hash, 'txt')).toBe(false);
  });

  it('a confirming read that fails says so (not "did not arrive"), and confirms nothing', async () => {
    const remote = await freshRemote();
    const { ref, data } = blobIn('70', 'unconfirmable');
    remote.dropPuts = true; // Not taken at its word: a read must confirm it.
    const store = new RemoteBlobStore(remote);
    const upload = await store.upload(ref, open(data));
    remote.dropPuts = false;
    remote.failReads = true;
    const [missing] = await store.confirm([upload]);
    expect(missing?.reason).toMatch(/^could not be confirmed \(reading 70\/ failed: Injected: the server stopped answering reads\)$/);
    expect(missing?.error).toBeInstanceOf(RemoteUnavailableError);
    expect(store.has(ref.hash, 'txt')).toBe(false);
  });

  it('where the PUT answer is trusted, the file is there at its full size the moment the answer comes (20 uploads)', async () => {
    const remote = await freshRemote();
    const store = new RemoteBlobStore(remote);
    for (let i = 0; i < 20; i++) {
      const { ref, data } = blobIn('60', `measured ${i} ${'y'.repeat(i * 1000)}`);
      await store.upload(ref, open(data));
      expect((await remote.stat(remotePaths.blob(ref.hash, 'txt')))?.size).toBe(ref.size);
    }
  });
});
