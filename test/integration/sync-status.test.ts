import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.ts';
import { ManualClock } from '../../src/domain/clock.ts';
import { seededIdSource } from '../../src/domain/ids.ts';
import { MemoryRemote } from '../../src/remote/memory-remote.ts';
import { RemoteMetadataStore } from '../../src/remote/remote-metadata.ts';
import { createInstance, tempDir, type TestInstance } from '../support/instance.ts';
import { startWebDavServer, webDavKindsForTests, type WebDavTestServer } from '../support/webdav-servers.ts';
import { PassThrough } from 'node:stream';

describe('sync status with a remote', () => {
  let t: TestInstance;
  afterEach(() => t.cleanup());

  /** An instance on a memory remote whose requests we can count. */
  const withMemoryRemote = (remote: MemoryRemote) => {
    t = createInstance({ DOCSYNC_REMOTE: 'file:///unused' }, 1, { remote });
    return t.docsync.sync;
  };

  it('probes the server once, then answers with one small request', async () => {
    const remote = new MemoryRemote({ clock: new ManualClock() });
    const sync = withMemoryRemote(remote);
    const first = await sync.status();
    expect(first).toMatchObject({
      remote_configured: true,
      remote_version: 0,
      remote_error: null,
      lock_atomic: true,
      remote_capabilities: { conditionalPut: true, ifMatch: true, exclusiveMkcol: true, etagChangesOnWrite: true },
    });
    remote.resetCounts();
    const second = await sync.status();
    expect(second.remote_capabilities).toEqual(first.remote_capabilities);
    expect(remote.requestCount).toBe(1);
    expect(remote.requests.getBytes).toBe(1);
  });

  it('needs a sync when files changed locally or the remote moved on', async () => {
    const remote = new MemoryRemote({ clock: new ManualClock() });
    const sync = withMemoryRemote(remote);
    expect((await sync.status()).needs_sync).toBe(false);
    await t.docsync.files.create(Readable.from([Buffer.from('x')]), { filename: 'x.txt' });
    expect(await sync.status()).toMatchObject({ needs_sync: true, unsynced_count: 1 });
    t.docsync.db.exec("UPDATE files SET sync_status = 'synced'");
    const store = new RemoteMetadataStore(remote, `${t.dataDir}/tmp`, seededIdSource(9));
    const other = await store.initialize(`${t.dataDir}/tmp/other-state.db`, 'repo');
    const { head } = await store.commit(other, [], undefined, { repo: 'repo', instance: 'other', committedAt: '2026-01-01T00:00:00.000Z' });
    other.close();
    expect(await sync.status()).toMatchObject({ needs_sync: true, unsynced_count: 0, remote_version: 1, local_version: null });
    t.docsync.syncState.markSeen(head);
    expect(await sync.status()).toMatchObject({ needs_sync: false, remote_version: 1, local_version: 1 });
    // Same version, another commit: ours was replaced; that is news.
    t.docsync.syncState.markSeen({ version: 1, commit: 'someoneelse' });
    expect(await sync.status()).toMatchObject({ needs_sync: true, remote_version: 1, local_version: 1 });
  });

  it('reports an unreachable server as an error, not as an empty remote', async () => {
    const remote = new MemoryRemote({ clock: new ManualClock() });
    remote.faults.inject({ op: 'getBytes', times: 100, effect: { kind: 'error', status: 503 } });
    const status = await withMemoryRemote(remote).status();
    expect(status.remote_version).toBeNull();
    expect(status.remote_error).toMatch(/503/);
  });

  it('works on a shared folder remote configured by DOCSYNC_REMOTE', async () => {
    const folder = tempDir();
    try {
      t = createInstance({ DOCSYNC_REMOTE: `file://${folder.dir}` });
      const status = await t.docsync.sync.status();
      expect(status).toMatchObject({ remote_configured: true, remote_version: 0, remote_error: null, lock_atomic: true });
      expect(status.remote).toBe(`file://${folder.dir}`);
    } finally {
      folder.remove();
    }
  });
});

describe.each(webDavKindsForTests())('docsync status against %s', (kind) => {
  let server: WebDavTestServer;
  let data: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    server = await startWebDavServer(kind);
    data = tempDir();
  });
  afterAll(async () => {
    await server.stop();
    data.remove();
  });

  it('reports the capabilities the probe found, without the password', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const code = await runCli(['status', '--json'], {
      stdout: out,
      stderr: new PassThrough(),
      stdin: Readable.from([]),
      env: {
        DOCSYNC_DATA_DIR: data.dir,
        WEBDAV_BASE_URL: server.baseUrl,
        WEBDAV_USERNAME: server.username,
        WEBDAV_PASSWORD: server.password,
        WEBDAV_REMOTE_ROOT: `/status-${kind}`,
      },
      cwd: data.dir,
    });
    expect(code).toBe(0);
    const text = Buffer.concat(chunks).toString();
    expect(text).not.toContain(server.password);
    const status = JSON.parse(text);
    expect(status).toMatchObject({ remote_configured: true, remote_version: 0, remote_error: null });
    const expected = {
      apache: { conditionalPut: true, ifMatch: true, exclusiveMkcol: true },
      nginx: { conditionalPut: false, ifMatch: false, exclusiveMkcol: true },
      rclone: { conditionalPut: false, ifMatch: false, exclusiveMkcol: false },
      lighttpd: { conditionalPut: true, ifMatch: true, exclusiveMkcol: true },
      // MKCOL answers 405 to one client, but two racers can both get 201: the probe races it.
      sabre: { conditionalPut: true, ifMatch: true, exclusiveMkcol: false },
    }[kind];
    expect(status.remote_capabilities).toMatchObject(expected);
    expect(status.lock_atomic).toBe(expected.exclusiveMkcol);
  });
});
