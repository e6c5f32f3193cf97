import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_PREFIX } from '../../src/http/app.ts';
import { createHttpInstance, type HttpInstance } from '../support/instance.ts';

/** README.md#security: API tokens can be listed and revoked; revocation takes effect on the next request. */
describe('API tokens', () => {
  let h: HttpInstance;
  beforeEach(async () => {
    h = await createHttpInstance();
  });
  afterEach(() => h.close());

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const me = (headers: Record<string, string>) => h.app.inject({ method: 'GET', url: `${API_PREFIX}/auth/me`, headers });
  const create = async (name: string, headers: Record<string, string> = h.auth) => {
    const res = await h.app.inject({ method: 'POST', url: `${API_PREFIX}/auth/tokens`, headers, payload: { name } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<{ id: number; name: string; token: string; created_at: string; last_used_at: null }>();
  };
  const list = async (headers: Record<string, string> = h.auth) => {
    const res = await h.app.inject({ method: 'GET', url: `${API_PREFIX}/auth/tokens`, headers });
    expect(res.statusCode).toBe(200);
    return res.json<{ tokens: Array<Record<string, unknown>> }>().tokens;
  };
  const revoke = (id: number | string, headers: Record<string, string> = h.auth) =>
    h.app.inject({ method: 'DELETE', url: `${API_PREFIX}/auth/tokens/${id}`, headers });

  it('creates a token shown once, lists it without its secret, and records its last use', async () => {
    const created = await create('backup script');
    expect(created).toMatchObject({ name: 'backup script', token: expect.stringMatching(/^dst_/), last_used_at: null });
    const listed = await list();
    expect(listed).toEqual([{ id: created.id, name: 'backup script', created_at: created.created_at, last_used_at: null }]);
    expect(JSON.stringify(listed)).not.toContain(created.token);

    h.clock.advance(60_000);
    expect((await me(bearer(created.token))).json()).toEqual({ username: 'admin' });
    expect((await list())[0]!.last_used_at).toBe(new Date(h.clock.now()).toISOString());
  });

  it('a revoked token fails on the very next request', async () => {
    const keep = await create('keep');
    const gone = await create('gone');
    expect((await me(bearer(gone.token))).statusCode).toBe(200);
    expect((await revoke(gone.id)).statusCode).toBe(204);
    expect((await me(bearer(gone.token))).statusCode).toBe(401);
    expect((await me(bearer(keep.token))).statusCode).toBe(200);
    expect((await list()).map((t) => t.name)).toEqual(['keep']);
    expect((await revoke(gone.id)).statusCode).toBe(404);
  });

  it("one user can neither list nor revoke another's tokens", async () => {
    await h.docsync.auth.createUser('eve', 'eve password 123');
    const eve = await h.app.inject({ method: 'POST', url: `${API_PREFIX}/auth/login`, payload: { username: 'eve', password: 'eve password 123' } });
    const eveAuth = { 'x-session-id': eve.json<{ sessionId: string }>().sessionId };
    const admins = await create('admin only');
    expect(await list(eveAuth)).toEqual([]);
    const res = await revoke(admins.id, eveAuth);
    expect(res.statusCode).toBe(404);
    expect((await me(bearer(admins.token))).statusCode).toBe(200);
  });

  it('a password change revokes every token and session of that user', async () => {
    const token = await create('laptop');
    await h.docsync.auth.setPassword('admin', 'a brand new password');
    expect((await me(bearer(token.token))).statusCode).toBe(401);
    expect((await me(h.auth)).statusCode).toBe(401);
    expect(h.docsync.auth.listApiTokens('admin')).toEqual([]);
  });

  it('logout with a Bearer token revokes that token, and only it', async () => {
    const used = await create('one-off');
    const other = await create('other');
    const out = await h.app.inject({ method: 'POST', url: `${API_PREFIX}/auth/logout`, headers: bearer(used.token) });
    expect(out.statusCode).toBe(204);
    expect((await me(bearer(used.token))).statusCode).toBe(401);
    expect((await me(bearer(other.token))).statusCode).toBe(200);
    expect((await me(h.auth)).statusCode).toBe(200);
  });

  it.each([
    [{ name: '' }, /body\/name must NOT have fewer than 1 characters/],
    [{ name: 'x'.repeat(101) }, /body\/name must NOT have more than 100 characters/],
    [{ name: 'line\nbreak' }, /body\/name must match pattern/],
    [{}, /required property 'name'/],
  ])('creating with %j is a 400', async (payload, message) => {
    const res = await h.app.inject({ method: 'POST', url: `${API_PREFIX}/auth/tokens`, headers: h.auth, payload });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(message);
  });

  it('a bad token id is a 400, not a 500', async () => {
    expect((await revoke('abc')).statusCode).toBe(400);
  });

  it('is in the OpenAPI document with its schemas', async () => {
    const doc = (await h.app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, Record<string, unknown>> }>();
    expect(Object.keys(doc.paths[`${API_PREFIX}/auth/tokens`]!)).toEqual(expect.arrayContaining(['get', 'post']));
    expect(Object.keys(doc.paths[`${API_PREFIX}/auth/tokens/{id}`]!)).toEqual(['delete']);
    expect(JSON.stringify(doc.paths[`${API_PREFIX}/auth/tokens`])).toContain('last_used_at');
  });

});
