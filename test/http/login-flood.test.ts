import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureLoginFlood } from '../../bench/login-flood.ts';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { createInstance, TEST_PASSWORD, type TestInstance } from '../support/instance.ts';

/**
 * README.md#security: password hashing never starves file I/O. scrypt on libuv's pool (4 threads, shared with
 * every file read) made a 4 MiB download take 110 s under 32 concurrent wrong-password logins; in its
 * own worker, with a bounded queue, the download stays fast. Bounds are loose for a busy CI machine.
 */
describe('a login flood does not starve downloads', () => {
  let instance: TestInstance;
  let server: RunningServer;
  let auth: Record<string, string>;
  beforeAll(async () => {
    instance = createInstance({ PORT: '0' });
    await instance.docsync.auth.ensureAdmin(TEST_PASSWORD);
    server = await startServer(instance.docsync);
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: TEST_PASSWORD }),
    });
    auth = { 'x-session-id': ((await login.json()) as { sessionId: string }).sessionId };
  });
  afterAll(async () => {
    await server.close();
    instance.cleanup();
  });

  it('downloads 2 MiB and answers /health promptly under 32 concurrent wrong-password logins', { timeout: 60_000 }, async () => {
    const report = await measureLoginFlood(server.url, auth, { attackers: 32, seconds: 3, mb: 2, timeoutMs: 10_000 });
    console.log(`login flood: ${JSON.stringify(report)}`);
    // The flood was real: logins were checked (401) and the rest refused at once (503 busy, 429 throttled).
    expect(report.logins[401]).toBeGreaterThan(5);
    expect(report.flooded.download.runs).toBeGreaterThan(3);
    expect(report.flooded.download.medianMs).toBeLessThan(1000);
    expect(report.flooded.health.medianMs).toBeLessThan(250);
  });
});
