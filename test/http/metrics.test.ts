import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PREFIX, buildApp } from '../../src/http/app.ts';
import { startWebDavServer, webDavKindsForTests } from '../support/webdav-servers.ts';
import { createInstance, TEST_PASSWORD, tempDir, uploadBody, type TestApp, type TestInstance } from '../support/instance.ts';

const METRICS_TOKEN = 'scrape-only-0123456789';

/** Prometheus text format → `name{labels}` → value (every sample line; comments skipped). */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

interface Node {
  instance: TestInstance;
  app: TestApp;
  headers: { 'x-session-id': string };
}

async function startNode(env: Record<string, string>, seed: number): Promise<Node> {
  const instance = createInstance({ DOCSYNC_METRICS_TOKEN: METRICS_TOKEN, ...env }, seed);
  await instance.docsync.auth.ensureAdmin(TEST_PASSWORD);
  const app = await buildApp(instance.docsync);
  const login = await app.inject({ method: 'POST', url: `${API_PREFIX}/auth/login`, payload: { username: 'admin', password: TEST_PASSWORD } });
  return { instance, app, headers: { 'x-session-id': login.json<{ sessionId: string }>().sessionId } };
}

async function scrape(node: Node): Promise<Map<string, number>> {
  const res = await node.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(res.body);
}

async function sync(node: Node): Promise<{ statusCode: number; body: Record<string, unknown> }> {
  const res = await node.app.inject({ method: 'POST', url: `${API_PREFIX}/sync`, headers: node.headers, payload: {} });
  return { statusCode: res.statusCode, body: res.json() };
}

describe('GET /metrics after real syncs of two instances on a folder remote', () => {
  let remote: ReturnType<typeof tempDir>;
  let a: Node;
  let b: Node;
  beforeAll(async () => {
    remote = tempDir('docsync-metrics-remote-');
    const env = { DOCSYNC_REMOTE: pathToFileURL(remote.dir).href };
    a = await startNode(env, 1);
    b = await startNode(env, 2);
  });
  afterAll(async () => {
    for (const node of [a, b]) {
      await node.app.close();
      node.instance.cleanup();
    }
    remote.remove();
  });

  it('counts syncs by result, bytes each way, files, conflicts, lock waits; gauges read at scrape time', async () => {
    const ids: string[] = [];
    for (const [name, content] of [['a.txt', 'hello'], ['b.pdf', '%PDF-1.7']] as const) {
      const upload = uploadBody(name, content);
      const res = await a.app.inject({ method: 'POST', url: `${API_PREFIX}/files`, payload: upload.payload, headers: { ...upload.headers, ...a.headers } });
      ids.push(res.json<{ stable_id: string }>().stable_id);
    }
    const before = await scrape(a);
    expect(before.get('docsync_files{state="live"}')).toBe(2);
    expect(before.get('docsync_files{state="unsynced"}')).toBe(2);
    expect(before.get('docsync_syncs_total{result="ok"}') ?? 0).toBe(0);

    expect((await sync(a)).body).toMatchObject({ uploaded: 2, bytes_uploaded: 13 });
    expect((await sync(b)).body).toMatchObject({ downloaded: 2, bytes_downloaded: 13 });

    const pushed = await scrape(a);
    expect(pushed.get('docsync_syncs_total{result="ok"}')).toBe(1);
    expect(pushed.get('docsync_sync_bytes_total{direction="up"}')).toBe(13);
    expect(pushed.get('docsync_sync_bytes_total{direction="down"}')).toBe(0);
    expect(pushed.get('docsync_sync_files_total{action="pushed"}')).toBe(2);
    expect(pushed.get('docsync_files{state="unsynced"}')).toBe(0);
    expect(pushed.get('docsync_sync_duration_seconds_count')).toBe(1);
    expect(pushed.get('docsync_lock_wait_seconds_count')).toBe(1);
    expect(pushed.get('docsync_sse_clients')).toBe(0);
    // Node's process metrics come along.
    expect(pushed.get('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(pushed.has('nodejs_eventloop_lag_seconds')).toBe(true);
    // A healthy first sync (its capability probe refuses writes on purpose) counts no remote error.
    expect([...pushed.keys()].filter((key) => key.startsWith('docsync_remote_errors_total'))).toEqual([]);

    const pulled = await scrape(b);
    expect(pulled.get('docsync_sync_bytes_total{direction="down"}')).toBe(13);
    expect(pulled.get('docsync_sync_bytes_total{direction="up"}')).toBe(0);
    expect(pulled.get('docsync_sync_files_total{action="pulled"}')).toBe(2);
    expect(pulled.get('docsync_files{state="live"}')).toBe(2);

    // Both change the same file: the second to sync meets a conflict.
    await a.app.inject({ method: 'PATCH', url: `${API_PREFIX}/files/${ids[0]}`, headers: a.headers, payload: { labels: ['from-a'] } });
    await b.app.inject({ method: 'PATCH', url: `${API_PREFIX}/files/${ids[0]}`, headers: b.headers, payload: { labels: ['from-b'] } });
    expect((await sync(a)).body).toMatchObject({ metadata_synced: 1 });
    expect((await sync(b)).body).toMatchObject({ conflicts: 1 });
    const conflicted = await scrape(b);
    expect(conflicted.get('docsync_syncs_total{result="conflicts"}')).toBe(1);
    expect(conflicted.get('docsync_sync_conflicts_total')).toBe(1);
    expect(conflicted.get('docsync_files{state="conflict"}')).toBe(1);
    expect(conflicted.get('docsync_sync_duration_seconds_count')).toBe(2);

    // Nothing new: the quick check skips; counted, but not as a sync that ran.
    expect((await sync(a)).body).toMatchObject({ skipped: true });
    const skipped = await scrape(a);
    expect(skipped.get('docsync_syncs_total{result="skipped"}')).toBe(1);
    expect(skipped.get('docsync_syncs_total{result="ok"}')).toBe(2);
    expect(skipped.get('docsync_sync_duration_seconds_count')).toBe(2);
    expect(skipped.get('docsync_sync_files_total{action="metadata"}')).toBe(1);
  });

  it('counts open SSE streams', async () => {
    const address = await a.app.listen({ port: 0, host: '127.0.0.1' });
    const stream = new AbortController();
    const res = await fetch(`${address}${API_PREFIX}/sse/subscribe`, { headers: a.headers, signal: stream.signal });
    const reader = res.body!.getReader();
    await reader.read();
    expect((await scrape(a)).get('docsync_sse_clients')).toBe(1);
    stream.abort();
    await reader.cancel().catch(() => undefined);
  });

  it('refuses a scrape without a session, an API token or the metrics token; the metrics token opens nothing else', async () => {
    for (const headers of [{}, { authorization: 'Bearer not-the-token-0123456789' }, { 'x-session-id': 'forged' }]) {
      const res = await a.app.inject({ method: 'GET', url: '/metrics', headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(res.body).not.toMatch(/docsync_/);
    }
    expect((await a.app.inject({ method: 'GET', url: '/metrics', headers: a.headers })).statusCode).toBe(200);
    const token = a.instance.docsync.auth.createApiToken('admin', 'prometheus');
    expect((await a.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    const api = await a.app.inject({ method: 'GET', url: `${API_PREFIX}/files`, headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(api.statusCode).toBe(401);
  });
});

const kinds = webDavKindsForTests();

describe('GET /metrics: remote errors', () => {
  it('counts each failed request by kind, retries included, and the failed sync', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const node = await startNode({ WEBDAV_BASE_URL: `http://127.0.0.1:${port}/dav` }, 3);
    try {
      const failed = await sync(node);
      expect(failed.statusCode).toBe(502);
      const samples = await scrape(node);
      // The first request (the capability probe) is tried 4 times, then the sync stops.
      expect(samples.get('docsync_remote_errors_total{kind="unavailable"}')).toBe(4);
      expect(samples.get('docsync_syncs_total{result="error"}')).toBe(1);
      expect(samples.get('docsync_sync_duration_seconds_count')).toBe(1);
      expect(fs.existsSync(node.instance.dataDir)).toBe(true);
    } finally {
      await node.app.close();
      node.instance.cleanup();
    }
  });

  it.runIf(kinds.length > 0)(`counts a refused login to a real WebDAV server (${kinds[0]}) as auth`, async () => {
    const server = await startWebDavServer(kinds[0]!);
    const node = await startNode({ WEBDAV_BASE_URL: server.baseUrl, WEBDAV_USERNAME: server.username, WEBDAV_PASSWORD: 'not-the-password' }, 4);
    try {
      expect((await sync(node)).statusCode).toBe(502);
      const samples = await scrape(node);
      expect(samples.get('docsync_remote_errors_total{kind="auth"}')).toBe(1);
      expect(samples.get('docsync_syncs_total{result="error"}')).toBe(1);
    } finally {
      await node.app.close();
      node.instance.cleanup();
      await server.stop();
    }
  });
});
