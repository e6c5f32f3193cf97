import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.ts';
import { API_PREFIX, buildApp, loggerOptions } from '../../src/http/app.ts';
import { createInstance, TEST_PASSWORD, tempDir, uploadBody, type TestApp } from '../support/instance.ts';
import { startWebDavServer, webDavKindsForTests, type WebDavTestServer } from '../support/webdav-servers.ts';

/** A log destination that keeps every line. */
function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, destination, json: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

async function startLogged(env: Record<string, string>, level: string, format: Config['logFormat'], seed = 1) {
  const log = capture();
  const instance = createInstance(env, seed);
  await instance.docsync.auth.ensureAdmin(TEST_PASSWORD);
  const app = await buildApp(instance.docsync, { logger: loggerOptions(level, format, { isTTY: false, destination: log.destination }) });
  const login = await app.inject({ method: 'POST', url: `${API_PREFIX}/auth/login`, payload: { username: 'admin', password: TEST_PASSWORD } });
  const sessionId = login.json<{ sessionId: string }>().sessionId;
  return { instance, app, log, sessionId, close: async () => (await app.close(), instance.cleanup()) };
}

async function uploadAndSync(app: TestApp, sessionId: string): Promise<void> {
  for (const [name, content] of [['a.txt', 'hello'], ['b.txt', 'world!']]) {
    const upload = uploadBody(name!, content!);
    await app.inject({ method: 'POST', url: `${API_PREFIX}/files`, payload: upload.payload, headers: { ...upload.headers, 'x-session-id': sessionId } });
  }
  const res = await app.inject({ method: 'POST', url: `${API_PREFIX}/sync`, headers: { 'x-session-id': sessionId }, payload: {} });
  expect(res.statusCode, res.body).toBe(200);
}

describe('server logs on a folder remote', () => {
  let remote: ReturnType<typeof tempDir>;
  beforeAll(() => {
    remote = tempDir('docsync-logs-remote-');
  });
  afterAll(() => remote.remove());
  const env = () => ({ DOCSYNC_REMOTE: pathToFileURL(remote.dir).href });

  it('at info: one line per sync with its summary, no request lines', async () => {
    const s = await startLogged(env(), 'info', 'json');
    try {
      await uploadAndSync(s.app, s.sessionId);
      await s.app.inject({ method: 'GET', url: `${API_PREFIX}/files`, headers: { 'x-session-id': s.sessionId } });
      // A second sync finds nothing to do: a quick check, not a sync worth a line at info.
      await s.app.inject({ method: 'POST', url: `${API_PREFIX}/sync`, headers: { 'x-session-id': s.sessionId }, payload: {} });
      const entries = s.log.json();
      expect(entries.filter((e) => e.msg === 'request completed' || e.msg === 'incoming request')).toEqual([]);
      const syncs = entries.filter((e) => 'sync' in e);
      expect(syncs).toEqual([
        expect.objectContaining({
          level: 30,
          sync: 'ok',
          pushed: 2,
          pulled: 0,
          deleted_local: 0,
          deleted_remote: 0,
          conflicts: 0,
          errors: 0,
          bytes_up: 11,
          bytes_down: 0,
          version: 1,
          duration_ms: expect.any(Number),
          msg: expect.stringMatching(/^sync ok: 2 pushed, 0 pulled, 0 metadata-only, 0 deleted, 0 conflict\(s\), 0 error\(s\), 11 B up, 0 B down, \d+ ms, version 1$/),
        }),
      ]);
    } finally {
      await s.close();
    }
  });

  it('at debug: a line per request (method, url, status, time), refused ones too', async () => {
    const s = await startLogged(env(), 'debug', 'json', 2);
    try {
      await s.app.inject({ method: 'GET', url: `${API_PREFIX}/files?limit=5`, headers: { 'x-session-id': s.sessionId } });
      const refused = await s.app.inject({ method: 'GET', url: `${API_PREFIX}/files/nope`, headers: { 'x-session-id': s.sessionId } });
      expect(refused.statusCode).toBeGreaterThanOrEqual(400);
      const requests = s.log.json().filter((e) => e.msg === 'request completed');
      expect(requests.every((e) => e.level === 20)).toBe(true);
      expect(requests).toContainEqual(
        expect.objectContaining({ req: { method: 'GET', url: `${API_PREFIX}/files?limit=5` }, res: { statusCode: 200 }, responseTime: expect.any(Number) }),
      );
      expect(requests).toContainEqual(expect.objectContaining({ req: { method: 'GET', url: `${API_PREFIX}/files/nope` }, res: { statusCode: refused.statusCode } }));
    } finally {
      await s.close();
    }
  });

  it('pretty: one readable line per event, no JSON', async () => {
    const s = await startLogged(env(), 'info', 'pretty', 3);
    try {
      await uploadAndSync(s.app, s.sessionId);
      const line = s.log.lines.find((l) => l.includes('sync ok'));
      expect(line).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: sync ok: 2 pushed, .* version \d+ \{"sync":"ok",/);
      expect(s.log.lines.every((l) => !l.startsWith('{'))).toBe(true);
    } finally {
      await s.close();
    }
  });
});

const kinds = webDavKindsForTests();
describe.runIf(kinds.length > 0)(`server logs at debug with a WebDAV remote (${kinds[0]})`, () => {
  let server: WebDavTestServer;
  beforeAll(async () => {
    server = await startWebDavServer(kinds[0]!);
  });
  afterAll(() => server?.stop());

  it('never carry the WebDAV password, the session id or an API token, while a real sync runs', async () => {
    const s = await startLogged(
      { WEBDAV_BASE_URL: server.baseUrl, WEBDAV_USERNAME: server.username, WEBDAV_PASSWORD: server.password, WEBDAV_REMOTE_ROOT: `/logs-${process.pid}-${Date.now()}` },
      'trace',
      'json',
      4,
    );
    try {
      const token = s.instance.docsync.auth.createApiToken('admin', 'logs');
      await uploadAndSync(s.app, s.sessionId);
      await s.app.inject({ method: 'GET', url: `${API_PREFIX}/sync/status`, headers: { cookie: `sessionId=${s.sessionId}` } });
      await s.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
      const log = s.log.lines.join('\n');
      expect(s.log.json().filter((e) => e.sync === 'ok')).toHaveLength(1);
      expect(s.log.json().filter((e) => e.msg === 'request completed').length).toBeGreaterThanOrEqual(5);
      expect(server.password.length).toBeGreaterThanOrEqual(8);
      for (const secret of [server.password, s.sessionId, token, TEST_PASSWORD]) expect(log).not.toContain(secret);
    } finally {
      await s.close();
    }
  });
});
