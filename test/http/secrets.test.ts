import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PREFIX, buildApp, loggerOptions } from '../../src/http/app.ts';
import { createInstance, TEST_PASSWORD, uploadBody, type TestInstance } from '../support/instance.ts';

describe('secrets never reach the log', () => {
  let t: TestInstance;
  let app: Awaited<ReturnType<typeof buildApp>>;
  const lines: string[] = [];
  beforeAll(async () => {
    t = createInstance({ WEBDAV_BASE_URL: 'http://127.0.0.1:1/dav', WEBDAV_USERNAME: 'ada', WEBDAV_PASSWORD: 'webdav-pw-123' });
    await t.docsync.auth.ensureAdmin(TEST_PASSWORD);
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    app = await buildApp(t.docsync, { logger: { ...(loggerOptions('trace') as object), stream } });
  });
  afterAll(async () => {
    await app.close();
    t.cleanup();
  });

  it('logs requests at trace level without passwords, session ids or tokens', async () => {
    const login = await app.inject({ method: 'POST', url: `${API_PREFIX}/auth/login`, payload: { username: 'admin', password: TEST_PASSWORD } });
    const { sessionId } = login.json<{ sessionId: string }>();
    const token = t.docsync.auth.createApiToken('admin', 'log test');
    await app.inject({ method: 'GET', url: `${API_PREFIX}/auth/me`, headers: { 'x-session-id': sessionId } });
    await app.inject({ method: 'GET', url: `${API_PREFIX}/sync/status`, headers: { cookie: `sessionId=${sessionId}` } });
    await app.inject({ method: 'POST', url: `${API_PREFIX}/sync`, headers: { authorization: `Bearer ${token}` } });
    const upload = uploadBody('a.txt', 'x');
    await app.inject({ method: 'POST', url: `${API_PREFIX}/files`, payload: upload.payload, headers: { ...upload.headers, 'x-session-id': sessionId } });
    await app.inject({ method: 'POST', url: `${API_PREFIX}/auth/login`, payload: { username: 'admin', password: 'wrong-guess-pw' } });

    const log = lines.join("");
    // One line per request (six of them) at debug and below, plus the sync's and the plugins' own.
    expect(lines.filter((line) => line.includes('"request completed"')).length).toBe(6);
    expect(log).toContain('/auth/login');
    for (const secret of [TEST_PASSWORD, 'wrong-guess-pw', sessionId, token, 'webdav-pw-123']) {
      expect(log).not.toContain(secret);
    }
  });
});
