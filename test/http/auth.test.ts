import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PREFIX } from '../../src/http/app.ts';
import { createHttpInstance, TEST_PASSWORD, type HttpInstance } from '../support/instance.ts';

describe('authentication over HTTP', () => {
  let h: HttpInstance;
  beforeAll(async () => {
    h = await createHttpInstance();
  });
  afterAll(() => h.close());

  const login = (payload: unknown) => h.app.inject({ method: 'POST', url: `${API_PREFIX}/auth/login`, payload: payload as object });
  const me = (headers: Record<string, string>) => h.app.inject({ method: 'GET', url: `${API_PREFIX}/auth/me`, headers });

  it('health needs no session', async () => {
    const res = await h.app.inject({ method: 'GET', url: `${API_PREFIX}/health` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });

  it('login sets an httpOnly sessionId cookie and returns the session id', async () => {
    const res = await login({ username: 'admin', password: TEST_PASSWORD });
    expect(res.statusCode).toBe(200);
    const { sessionId, username } = res.json<{ sessionId: string; username: string }>();
    expect(username).toBe('admin');
    const cookie = res.cookies.find((c) => c.name === 'sessionId');
    expect(cookie).toMatchObject({ value: sessionId, httpOnly: true, sameSite: 'Lax', path: '/' });
    expect((await me({ cookie: `sessionId=${sessionId}` })).json()).toEqual({ username: 'admin' });
    expect((await me({ 'x-session-id': sessionId })).json()).toEqual({ username: 'admin' });
  });

  it('wrong credentials get 401 and no cookie', async () => {
    for (const payload of [
      { username: 'admin', password: 'wrong password' },
      { username: 'nobody', password: TEST_PASSWORD },
    ]) {
      const res = await login(payload);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: 'unauthorized', message: 'Invalid username or password', statusCode: 401 });
      expect(res.cookies).toHaveLength(0);
    }
  });

  it.each([
    [{ username: 'admin' }, /body must have required property 'password'/],
    [{ username: '', password: 'x' }, /body\/username must NOT have fewer than 1 characters/],
    [{ username: 'admin', password: 12345678 }, /body\/password must be string/],
    [{ username: 'admin', password: 'x', remember: true }, /additional properties/],
  ])('login with %j is a 400', async (payload, message) => {
    const res = await login(payload);
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(message);
  });

  it('logout ends the session and clears the cookie', async () => {
    const { sessionId } = (await login({ username: 'admin', password: TEST_PASSWORD })).json<{ sessionId: string }>();
    const out = await h.app.inject({ method: 'POST', url: `${API_PREFIX}/auth/logout`, headers: { 'x-session-id': sessionId } });
    expect(out.statusCode).toBe(204);
    expect(out.cookies.find((c) => c.name === 'sessionId')?.value).toBe('');
    expect((await me({ 'x-session-id': sessionId })).statusCode).toBe(401);
  });

  it('sessions expire with the clock', async () => {
    const { sessionId } = (await login({ username: 'admin', password: TEST_PASSWORD })).json<{ sessionId: string }>();
    expect((await me({ 'x-session-id': sessionId })).statusCode).toBe(200);
    h.clock.advance(h.config.sessionTtlHours * 3600 * 1000);
    expect((await me({ 'x-session-id': sessionId })).statusCode).toBe(401);
  });

  it('API tokens authenticate with Authorization: Bearer', async () => {
    const token = h.docsync.auth.createApiToken('admin', 'test');
    expect((await me({ authorization: `Bearer ${token}` })).json()).toEqual({ username: 'admin' });
    expect((await me({ authorization: `Bearer ${token.slice(0, -1)}` })).statusCode).toBe(401);
    // A bad token is not rescued by a valid cookie: what the client asked for is what is checked.
    const { sessionId } = (await login({ username: 'admin', password: TEST_PASSWORD })).json<{ sessionId: string }>();
    expect((await me({ authorization: 'Bearer nope', cookie: `sessionId=${sessionId}` })).statusCode).toBe(401);
  });

  it('made-up session ids get 401', async () => {
    expect((await me({ 'x-session-id': 'made-up' })).statusCode).toBe(401);
    expect((await me({ cookie: 'sessionId=made-up' })).statusCode).toBe(401);
    expect((await me({})).json()).toEqual({
      error: 'unauthorized',
      message: 'A valid session or API token is required',
      statusCode: 401,
    });
  });
});
