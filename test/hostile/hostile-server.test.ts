import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/domain/clock.ts';
import { cryptoIdSource } from '../../src/domain/ids.ts';
import type { ReadLimits } from '../../src/remote/bounded-read.ts';
import { RemoteCorruptError, RemoteError, RemoteTimeoutError, RemoteUnavailableError } from '../../src/remote/errors.ts';
import { RemoteLock } from '../../src/remote/lock.ts';
import { remotePaths } from '../../src/remote/paths.ts';
import { realSleep, RetryingRemote } from '../../src/remote/retrying-remote.ts';
import { parseVersionFile } from '../../src/remote/version-file.ts';
import { WebDavRemote } from '../../src/remote/webdav-remote.ts';
import { dataPaths } from '../../src/store/data-dir.ts';
import type { SyncEvent } from '../../src/sync/events.ts';
import { startCluster, type Cluster, type Node } from '../support/cluster.ts';
import { startCredentialTrap, startHostileProxy, type CredentialTrap, type HostileProxy } from '../support/hostile-proxy.ts';
import { createHttpInstance, type HttpInstance } from '../support/instance.ts';
import type { FreshRemote } from '../support/remote-targets.ts';
import { startWebDavServer, webDavKindsForTests, type WebDavTestServer } from '../support/webdav-servers.ts';

/** Short limits, injected: each stall costs a fraction of a second, not the production 10-30 s. */
const LIMITS: ReadLimits = { headerMs: 300, idleMs: 300, afterUploadMs: 1000 };
const RETRIES = { attempts: 4, baseDelayMs: 20, maxDelayMs: 100 };
const MB = 1024 * 1024;

let counter = 0;
const unique = () => `h${process.pid}-${Date.now()}-${counter++}`;

const elapsed = async <T>(work: Promise<T>): Promise<{ ms: number; result: T | Error }> => {
  const started = Date.now();
  const result = await work.catch((error: unknown) => error as Error);
  return { ms: Date.now() - started, result };
};

/** What a sync's listener heard (`syncMessage`s): failed files are reported there. */
const messagesOf = (node: Node): string[] => {
  const heard: string[] = [];
  node.docsync.sync.subscribe((event: SyncEvent) => {
    if (event.type === 'syncMessage') heard.push(event.data.message);
  });
  return heard;
};

describe.each(webDavKindsForTests())('a hostile server in front of %s', (kind) => {
  let server: WebDavTestServer;
  let proxy: HostileProxy;
  let trap: CredentialTrap;
  let cluster: Cluster | undefined;
  let a: Node;
  let b: Node;
  let root: string;

  const client = (baseUrl: string) =>
    new RetryingRemote(
      new WebDavRemote({ baseUrl, username: server.username, password: server.password, remoteRoot: root, limits: LIMITS }),
      RETRIES,
    );
  const viaProxy = (): FreshRemote => ({ connect: () => client(server.baseUrl.replace(new URL(server.baseUrl).origin, proxy.origin)) });
  /** Straight to the server, past the proxy: what is really there. */
  const direct = () => client(server.baseUrl);

  beforeAll(async () => {
    server = await startWebDavServer(kind);
    proxy = await startHostileProxy(new URL(server.baseUrl).origin);
    trap = await startCredentialTrap();
  });
  afterAll(async () => {
    await proxy.stop();
    await trap.stop();
    await server.stop();
  });
  afterEach(() => {
    proxy.behave();
    cluster?.close();
    cluster = undefined;
  });

  /** a and b in sync on x.txt; b has a local file not yet synced. Lock TTL 6 s: renewals every 2 s. */
  const pair = async (env: Record<string, string> = {}) => {
    root = `/${unique()}`;
    cluster = startCluster(viaProxy(), ['a', 'b'], { DOCSYNC_LOCK_TTL: '6', ...env });
    [a, b] = cluster.nodes as [Node, Node];
    await a.put('x.txt', 'original');
    await a.sync();
    await b.sync();
    await b.put('pending.txt', 'not yet synced');
  };

  /** Nothing lost: b's files are all there, and once the server behaves both converge. */
  const expectIntactThenConverges = async () => {
    proxy.behave();
    expect(await b.contents()).toMatchObject({ 'x.txt': 'original', 'pending.txt': 'not yet synced' });
    await b.sync();
    await a.sync();
    expect(await a.contents()).toEqual(await b.contents());
    expect(await a.contents()).toMatchObject({ 'pending.txt': 'not yet synced' });
    parseVersionFile((await direct().getBytes(remotePaths.versionFile))!.toString());
  };

  /** a commits once more: b, one version behind, needs that commit's delta. */
  const aCommitsAgain = async () => {
    await a.put('y.txt', 'y');
    await a.sync();
  };
  /** b's kept copy of the remote state is gone (a lost data-dir file, as for a new instance): it needs the snapshot. */
  const bNeedsTheSnapshot = () => fs.rmSync(dataPaths(b.dataDir).remoteState);

  it('no headers ever (delta download): the sync fails within seconds, frees both locks, stops renewing', async () => {
    await pair();
    await aCommitsAgain();
    proxy.misbehave({ method: 'GET', pathIncludes: '/journal/', times: Number.POSITIVE_INFINITY, does: { kind: 'stallHeaders' } });
    const { ms, result } = await elapsed(b.sync());
    expect(result).toBeInstanceOf(RemoteUnavailableError);
    expect(result.message).toMatch(/^The WebDAV server did not answer within 0\.3 s \(GET journal\/\d{6}-[\w-]+\.json\)$/);
    expect(ms).toBeLessThan(8000);
    // The remote lock is released, and nobody renews it any more.
    expect(await direct().stat(remotePaths.lockDir)).toBeUndefined();
    const renewals = () => proxy.log.filter((line) => line.startsWith('PUT') && line.endsWith('/owner.json')).length;
    const before = renewals();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(renewals()).toBe(before);
    // The local lock too: the next sync runs at once (and, the server behaving, succeeds).
    await expectIntactThenConverges();
  });

  it('headers, then silence half way through a blob: the sync ends at the first stall, not once per file', async () => {
    root = `/${unique()}`;
    cluster = startCluster(viaProxy(), ['a', 'b'], { DOCSYNC_LOCK_TTL: '6', DOCSYNC_TRANSFER_WORKERS: '1' });
    [a, b] = cluster.nodes as [Node, Node];
    const ys = [];
    for (let i = 0; i < 3; i++) ys.push(await a.put(`y${i}.bin`, String(i).repeat(300_000)));
    await a.sync();
    await b.put('pending.txt', 'not yet synced');
    for (const y of ys) proxy.misbehave({ method: 'GET', pathIncludes: y.hash, times: Number.POSITIVE_INFINITY, does: { kind: 'stallBody', bytes: 1000 } });
    const stallsBefore = proxy.fired.stallBody;
    const { ms, result } = await elapsed(b.sync());
    expect(result).toBeInstanceOf(RemoteUnavailableError);
    expect(result.message).toMatch(/^The WebDAV server sent nothing for 0\.3 s in the middle of the body \(GET [0-9a-f]{2}\/[0-9a-f]{64}\.bin\)$/);
    expect(proxy.fired.stallBody - stallsBefore).toBe(1); // the other two were not waited out
    expect(ms).toBeLessThan(5000);
    expect(await direct().stat(remotePaths.lockDir)).toBeUndefined();
    expect(b.live().map((f) => f.filename)).toEqual(['pending.txt']);
    proxy.behave();
    await b.sync();
    await a.sync();
    expect(await b.contents()).toEqual(await a.contents());
    expect(await b.content(ys[2]!.stable_id)).toBe('2'.repeat(300_000));
  });

  it('no headers for any blob: one blob is retried, the rest skipped, the sync fails in bounded time', async () => {
    root = `/${unique()}`;
    cluster = startCluster(viaProxy(), ['a', 'b'], { DOCSYNC_TRANSFER_WORKERS: '1' });
    [a, b] = cluster.nodes as [Node, Node];
    const ys = [];
    for (let i = 0; i < 3; i++) ys.push(await a.put(`y${i}.txt`, `y${i}`));
    await a.sync();
    for (const y of ys) proxy.misbehave({ method: 'GET', pathIncludes: y.hash, times: Number.POSITIVE_INFINITY, does: { kind: 'stallHeaders' } });
    const stallsBefore = proxy.fired.stallHeaders;
    const { ms, result } = await elapsed(b.sync());
    expect(result).toBeInstanceOf(RemoteUnavailableError);
    expect(result.message).toMatch(/did not answer within 0\.3 s \(GET [0-9a-f]{2}\/[0-9a-f]{64}\.txt\)$/);
    expect(proxy.fired.stallHeaders - stallsBefore).toBe(RETRIES.attempts); // one blob, with its retries
    expect(ms).toBeLessThan(RETRIES.attempts * LIMITS.headerMs + 3000);
    proxy.behave();
    expect(await b.sync()).toMatchObject({ downloaded: 3, errors: 0 });
  });

  it('blob uploads never answered: the first one is retried, the rest skipped, nothing committed', async () => {
    await pair({ DOCSYNC_TRANSFER_WORKERS: '1' });
    for (let i = 0; i < 3; i++) await b.put(`up${i}.txt`, `up ${i}`);
    const before = parseVersionFile((await direct().getBytes(remotePaths.versionFile))!.toString());
    proxy.misbehave({ method: 'PUT', pathEndsWith: '.txt', times: Number.POSITIVE_INFINITY, does: { kind: 'stallHeaders' } });
    const stallsBefore = proxy.fired.stallHeaders;
    const { ms, result } = await elapsed(b.sync());
    expect(result).toBeInstanceOf(RemoteTimeoutError);
    expect(result.message).toMatch(/^The WebDAV server did not answer within 1 s of the upload \(PUT [0-9a-f]{2}\/[0-9a-f]{64}\.txt\)$/);
    expect(proxy.fired.stallHeaders - stallsBefore).toBe(RETRIES.attempts);
    expect(ms).toBeLessThan(RETRIES.attempts * LIMITS.afterUploadMs + 3000);
    const after = parseVersionFile((await direct().getBytes(remotePaths.versionFile))!.toString());
    expect(after.commit).toBe(before.commit);
    expect(b.docsync.fileRepository.pendingCount()).toBe(4);
    await expectIntactThenConverges();
    expect(Object.keys(await a.contents()).sort()).toEqual(['pending.txt', 'up0.txt', 'up1.txt', 'up2.txt', 'x.txt']);
  });

  it('an endless version.txt: cut off at 64 KiB with a clear error, memory flat, sync and status alike', async () => {
    await pair();
    proxy.misbehave({ method: 'GET', pathEndsWith: '/version.txt', times: Number.POSITIVE_INFINITY, does: { kind: 'endless' } });
    const rss = process.memoryUsage().rss;
    const { ms, result } = await elapsed(b.sync());
    expect(result).toBeInstanceOf(RemoteCorruptError);
    expect(result.message).toBe('GET version.txt is larger than the 65536 bytes it may have; the read was cut off');
    const status = await b.docsync.sync.status();
    expect(status.remote_error).toBe('GET version.txt is larger than the 65536 bytes it may have; the read was cut off');
    expect(ms).toBeLessThan(5000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100 * MB);
    await expectIntactThenConverges();
  });

  it('a blob larger than its row (1 MB more, then without end): refused at the row size, nothing kept', async () => {
    await pair();
    const y = await a.put('y.bin', 'y'.repeat(10_000));
    await a.sync();
    const heard = messagesOf(b);
    proxy.misbehave({ method: 'GET', pathIncludes: y.hash, times: 1, does: { kind: 'oversize', extraBytes: MB } });
    expect(await b.sync()).toMatchObject({ errors: 1 });
    expect(heard.at(-1)).toMatch(/Download of y\.bin failed: GET [0-9a-f]{2}\/[0-9a-f]{64}\.bin is larger than the 10000 bytes it may have/);
    const rss = process.memoryUsage().rss;
    const invented = proxy.inventedBytes;
    proxy.misbehave({ method: 'GET', pathIncludes: y.hash, times: 1, does: { kind: 'oversize', extraBytes: 'endless' } });
    const { ms, result } = await elapsed(b.sync());
    expect(result).toMatchObject({ errors: 1 });
    expect(heard.at(-1)).toMatch(/is larger than the 10000 bytes it may have; the read was cut off/);
    expect(ms).toBeLessThan(5000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100 * MB);
    expect(proxy.inventedBytes - invented).toBeLessThan(64 * MB); // the connection was dropped, not drained
    // Nothing half-downloaded stays on disk.
    expect(fs.readdirSync(path.join(b.dataDir, 'tmp')).filter((name) => name.endsWith('.part'))).toEqual([]);
    await expectIntactThenConverges();
    expect(await b.content(y.stable_id)).toBe('y'.repeat(10_000));
  });

  it('a snapshot or delta larger than DOCSYNC_MAX_SNAPSHOT_MB: refused before it reaches the disk', async () => {
    await pair({ DOCSYNC_MAX_SNAPSHOT_MB: '1' });
    bNeedsTheSnapshot();
    proxy.misbehave({ method: 'GET', pathIncludes: '/snapshots/', times: 1, does: { kind: 'oversize', extraBytes: 2 * MB } });
    const error = await b.sync().catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(RemoteCorruptError);
    expect(error.message).toMatch(/^GET snapshots\/\d{6}-[\w-]+\.db is larger than the 1048576 bytes it may have \(it announces \d+\); the read was cut off$/);
    // Without end (no Content-Length): cut off at the cap while it streams, the partial file removed.
    proxy.misbehave({ method: 'GET', pathIncludes: '/snapshots/', times: 1, does: { kind: 'oversize', extraBytes: 'endless' } });
    const endless = await b.sync().catch((e: unknown) => e as Error);
    expect(endless.message).toMatch(/^GET snapshots\/\d{6}-[\w-]+\.db is larger than the 1048576 bytes it may have; the read was cut off$/);
    const tmpDir = path.join(b.dataDir, 'tmp');
    expect(fs.readdirSync(tmpDir).filter((name) => name.startsWith('state-') || name.startsWith('snapshot-'))).toEqual([]);
    expect(fs.existsSync(dataPaths(b.dataDir).remoteState)).toBe(false);
    await expectIntactThenConverges();
    // A delta is held to the same cap.
    await aCommitsAgain();
    proxy.misbehave({ method: 'GET', pathIncludes: '/journal/', times: 1, does: { kind: 'oversize', extraBytes: 'endless' } });
    const delta = await b.sync().catch((e: unknown) => e as Error);
    expect(delta).toBeInstanceOf(RemoteCorruptError);
    expect(delta.message).toMatch(/^GET journal\/\d{6}-[\w-]+\.json is larger than the 1048576 bytes it may have; the read was cut off$/);
    await expectIntactThenConverges();
  });

  it('resolving a conflict with the remote version: its content too is capped at the row size', async () => {
    await pair();
    const x = a.live().find((f) => f.filename === 'x.txt')!;
    await a.edit(x.stable_id, 'edited on a');
    await a.sync();
    await b.edit(x.stable_id, 'edited on b');
    expect(await b.sync()).toMatchObject({ conflicts: 1 });
    const theirs = b.docsync.sync.conflicts()[0]!;
    proxy.misbehave({ method: 'GET', pathIncludes: theirs.remote_hash!, times: 1, does: { kind: 'oversize', extraBytes: MB } });
    const error = await b.docsync.sync.resolveConflict(x.stable_id, 'remote_wins').catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(RemoteCorruptError);
    expect(error.message).toMatch(/is larger than the 11 bytes it may have \(it announces 1048587\)/);
    expect(await b.content(x.stable_id)).toBe('edited on b');
    expect(b.docsync.sync.conflicts()).toHaveLength(1);
    await b.docsync.sync.resolveConflict(x.stable_id, 'remote_wins');
    expect(await b.content(x.stable_id)).toBe('edited on a');
  });

  it('redirects of PROPFIND and GET to another port: never followed, no credentials arrive there', async () => {
    await pair();
    const ifMatch = (await b.docsync.sync.status()).remote_capabilities!.ifMatch;
    trap.requests.length = 0;
    const heard = messagesOf(b);
    const stopPropfind = proxy.misbehave({
      method: 'PROPFIND',
      times: Number.POSITIVE_INFINITY,
      does: { kind: 'redirect', status: 307, location: trap.origin },
    });
    const { result } = await elapsed(b.sync());
    // The switch's If-Match takes the ETag that came with version.txt's GET; lighttpd sends none on
    // a GET, so there it takes one PROPFIND of version.txt: the only PROPFIND of a commit.
    if (ifMatch && kind === 'lighttpd') {
      expect(result).toBeInstanceOf(RemoteError);
      expect(result.message).toMatch(
        new RegExp(`^The WebDAV server redirected PROPFIND version\\.txt \\(307\\) to ${trap.origin}/\\S+; redirects are not followed .*set WEBDAV_BASE_URL to the final address$`),
      );
    } else {
      // Otherwise a commit (no compaction) needs no PROPFIND: every PUT's answer confirms it.
      expect(result).toMatchObject({ uploaded: 1, errors: 0 });
      await b.put('later.txt', 'later');
    }
    // The blob needs no PROPFIND: on a WebDAV server its PUT's answer confirms it (remote-blobs.ts).
    expect(heard.join('\n')).not.toMatch(/Upload of pending\.txt/);
    stopPropfind();
    proxy.misbehave({ method: 'GET', pathEndsWith: '/version.txt', times: 1, does: { kind: 'redirect', status: 302, location: trap.origin } });
    await expect(b.sync()).rejects.toThrow(/redirected GET version\.txt \(302\)/);
    expect(trap.requests).toEqual([]);
    await expectIntactThenConverges();
  });

  it('an empty version.txt (a rewrite in progress) is read again; empty for good is corrupt, and says so', async () => {
    await pair();
    proxy.misbehave({ method: 'GET', pathEndsWith: '/version.txt', times: 2, does: { kind: 'empty' } });
    expect(await b.sync()).toMatchObject({ uploaded: 1, errors: 0 });
    expect(proxy.fired.empty).toBeGreaterThanOrEqual(2);
    await b.put('later.txt', 'later');
    proxy.misbehave({ method: 'GET', pathEndsWith: '/version.txt', times: Number.POSITIVE_INFINITY, does: { kind: 'empty' } });
    const error = await b.sync().catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(RemoteCorruptError);
    expect(error.message).toBe('version.txt is empty (read 4 times)');
    proxy.behave();
    await b.sync();
    await a.sync();
    expect(await a.contents()).toEqual(await b.contents());
  });

  it('the lock holder reading its owner file empty (a renewal in progress) looks again before calling the lock lost', async () => {
    root = `/${unique()}`;
    const remote = viaProxy().connect();
    const lock = new RemoteLock(remote, systemClock, cryptoIdSource, realSleep, { ownerId: 'me', ttlMs: 60_000, waitMs: 5000, exclusiveMkcol: false });
    const handle = await lock.acquire();
    proxy.misbehave({ method: 'GET', pathEndsWith: '/owner.json', times: 2, does: { kind: 'empty' } });
    expect(await handle.verify()).toBe(true);
    proxy.misbehave({ method: 'GET', pathEndsWith: '/owner.json', times: Number.POSITIVE_INFINITY, does: { kind: 'empty' } });
    expect(await handle.verify()).toBe(false);
    proxy.behave();
    expect(await handle.release()).toBe(true);
  });
});

describe.each(webDavKindsForTests())('remote roots that need percent-encoding on %s', (kind) => {
  let server: WebDavTestServer;
  beforeAll(async () => {
    server = await startWebDavServer(kind);
  });
  afterAll(() => server.stop());

  it.each(['Belege & Rechnungen', 'a#b', 'q?x', '100%'])('%s: two instances converge, and the folder has that very name', async (name) => {
    const parent = unique();
    const root = `/${parent}/${name}`;
    const fresh: FreshRemote = {
      connect: () =>
        new RetryingRemote(new WebDavRemote({ baseUrl: server.baseUrl, username: server.username, password: server.password, remoteRoot: root }), RETRIES),
    };
    const cluster = startCluster(fresh);
    try {
      const [a, b] = cluster.nodes as [Node, Node];
      const x = await a.put('x.txt', 'from a');
      expect(await a.sync()).toMatchObject({ uploaded: 1, errors: 0 });
      expect(await b.sync()).toMatchObject({ downloaded: 1, errors: 0 });
      await b.edit(x.stable_id, 'edited on b');
      await b.put('y.txt', 'from b');
      expect(await b.sync()).toMatchObject({ uploaded: 2, errors: 0 });
      expect(await a.sync()).toMatchObject({ downloaded: 2, errors: 0 });
      expect(await a.contents()).toEqual({ 'x.txt': 'edited on b', 'y.txt': 'from b' });
      expect(await b.contents()).toEqual(await a.contents());
      // Encoded once, not twice: the server stored the folder under its real name.
      expect(fs.existsSync(path.join(server.rootDir, parent, name, 'version.txt'))).toBe(true);
      const listed = await fresh.connect().list('');
      expect(listed?.map((e) => e.name)).toContain('version.txt');
    } finally {
      cluster.close();
    }
  });
});

describe('GET /sync/status against a server that accepts connections and never answers (production limits)', () => {
  let proxy: HostileProxy;
  let instance: HttpInstance;
  beforeAll(async () => {
    proxy = await startHostileProxy('http://127.0.0.1:9'); // nothing is forwarded
    proxy.misbehave({ times: Number.POSITIVE_INFINITY, does: { kind: 'stallHeaders' } });
    instance = await createHttpInstance({ WEBDAV_BASE_URL: `${proxy.origin}/dav`, WEBDAV_USERNAME: 'u', WEBDAV_PASSWORD: 'p' });
  });
  afterAll(async () => {
    await instance.close();
    await proxy.stop();
  });

  it('answers within the 12 s budget with remote_error', async () => {
    const started = Date.now();
    const response = await instance.app.inject({ method: 'GET', url: '/api/v1/sync/status', headers: instance.auth });
    const ms = Date.now() - started;
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      remote_configured: true,
      remote_error: `The remote ${proxy.origin}/dav/docsync (user u) did not answer within 12 s`,
    });
    expect(ms).toBeGreaterThanOrEqual(11_900);
    expect(ms).toBeLessThan(15_000);
  }, 30_000);
});
