import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { createHttpInstance, TEST_PASSWORD, type HttpInstance } from '../support/instance.ts';

describe('DOCSYNC_TRUST_PROXY', () => {
  it('is off by default; takes true, false, or addresses and CIDR ranges; anything else is named', () => {
    expect(loadConfig({}, {}, '/srv').trustProxy).toBe(false);
    expect(loadConfig({ DOCSYNC_TRUST_PROXY: 'true' }, {}, '/srv').trustProxy).toBe(true);
    expect(loadConfig({ DOCSYNC_TRUST_PROXY: 'FALSE' }, {}, '/srv').trustProxy).toBe(false);
    expect(loadConfig({ DOCSYNC_TRUST_PROXY: '127.0.0.1, ::1, 10.0.0.0/8,loopback' }, {}, '/srv').trustProxy).toEqual([
      '127.0.0.1',
      '::1',
      '10.0.0.0/8',
      'loopback',
    ]);
    expect(loadConfig({}, { trustProxy: 'fd00::/8' }, '/srv').trustProxy).toEqual(['fd00::/8']);
    for (const bad of ['yes', '2', '10.0.0.0/33', 'nginx.local', '127.0.0.1/8/8', ',']) {
      expect(() => loadConfig({ DOCSYNC_TRUST_PROXY: bad }, {}, '/srv'), bad).toThrow(ConfigError);
      expect(() => loadConfig({ DOCSYNC_TRUST_PROXY: bad }, {}, '/srv'), bad).toThrow(/DOCSYNC_TRUST_PROXY \(--trust-proxy\)/);
    }
  });
});

describe('behind a proxy that says the client used https', () => {
  let h: HttpInstance | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const login = (instance: HttpInstance, remoteAddress: string) =>
    instance.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      remoteAddress,
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'docs.example.org', origin: 'https://docs.example.org', host: 'docs.example.org' },
      payload: { username: 'admin', password: TEST_PASSWORD },
    });
  const secure = (setCookie: string | string[] | undefined) =>
    [setCookie ?? []].flat().some((c) => c.startsWith('sessionId=') && /;\s*Secure/i.test(c));

  it('makes the cookie Secure (and the login same-origin) only when the request comes from a trusted proxy', async () => {
    h = await createHttpInstance({ DOCSYNC_TRUST_PROXY: '127.0.0.1' });
    const fromProxy = await login(h, '127.0.0.1');
    expect(fromProxy.statusCode, fromProxy.body).toBe(200);
    expect(secure(fromProxy.headers['set-cookie'])).toBe(true);
    // Anyone else sending the same headers is judged on what it is: plain http, another origin.
    const direct = await login(h, '192.0.2.7');
    expect(direct.statusCode).toBe(403);
    expect(direct.json().error).toBe('cross_origin');
  });

  it('is not believed at all with the setting off (the default)', async () => {
    h = await createHttpInstance();
    const answer = await login(h, '127.0.0.1');
    expect(answer.statusCode).toBe(403);
    expect(answer.json().error).toBe('cross_origin');
  });
});
