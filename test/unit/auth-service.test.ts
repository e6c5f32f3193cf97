import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BadRequestError, ConflictError, NotFoundError, UnauthorizedError } from '../../src/errors.ts';
import { createInstance, type TestInstance } from '../support/instance.ts';

describe('AuthService', () => {
  let t: TestInstance;
  beforeEach(() => {
    t = createInstance({ DOCSYNC_SESSION_TTL_HOURS: '2' });
  });
  afterEach(() => t.cleanup());
  const auth = () => t.docsync.auth;

  it('stores passwords as salted scrypt hashes, never in clear', async () => {
    await auth().createUser('ada', 'analytical engine');
    await auth().createUser('bob', 'analytical engine');
    const rows = t.docsync.db.prepare('SELECT username, password_hash FROM users ORDER BY username').all() as {
      password_hash: string;
    }[];
    expect(rows[0]!.password_hash).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(rows[0]!.password_hash).not.toContain('analytical');
    expect(rows[0]!.password_hash).not.toBe(rows[1]!.password_hash);
  });

  it('logs in with the right password only, with the same answer for unknown users', async () => {
    await auth().createUser('ada', 'analytical engine');
    const session = await auth().login('ada', 'analytical engine');
    expect(session.username).toBe('ada');
    expect(auth().authenticateSession(session.sessionId)).toMatchObject({ username: 'ada' });
    await expect(auth().login('ada', 'wrong password')).rejects.toThrow(new UnauthorizedError('Invalid username or password'));
    await expect(auth().login('nobody', 'wrong password')).rejects.toThrow(new UnauthorizedError('Invalid username or password'));
  });

  it('stores only a digest of the session id', async () => {
    await auth().createUser('ada', 'analytical engine');
    const { sessionId } = await auth().login('ada', 'analytical engine');
    const stored = t.docsync.db.prepare('SELECT id_hash FROM sessions').all() as { id_hash: string }[];
    expect(stored).toHaveLength(1);
    expect(stored[0]!.id_hash).not.toContain(sessionId);
    expect(stored[0]!.id_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('expires sessions after their lifetime', async () => {
    await auth().createUser('ada', 'analytical engine');
    const { sessionId, expiresAt } = await auth().login('ada', 'analytical engine');
    expect(expiresAt).toBe('2026-01-01T02:00:00.000Z');
    t.clock.advance(2 * 3600 * 1000 - 1);
    expect(auth().authenticateSession(sessionId)).toBeDefined();
    t.clock.advance(1);
    expect(auth().authenticateSession(sessionId)).toBeUndefined();
  });

  it('ends sessions on logout and on a password change', async () => {
    await auth().createUser('ada', 'analytical engine');
    const a = await auth().login('ada', 'analytical engine');
    const b = await auth().login('ada', 'analytical engine');
    auth().logout(a.sessionId);
    expect(auth().authenticateSession(a.sessionId)).toBeUndefined();
    expect(auth().authenticateSession(b.sessionId)).toBeDefined();
    await auth().setPassword('ada', 'difference engine');
    expect(auth().authenticateSession(b.sessionId)).toBeUndefined();
    await expect(auth().login('ada', 'analytical engine')).rejects.toBeInstanceOf(UnauthorizedError);
    expect((await auth().login('ada', 'difference engine')).username).toBe('ada');
  });

  it('validates usernames and passwords, and refuses duplicates', async () => {
    await expect(auth().createUser('bad name', 'long enough')).rejects.toBeInstanceOf(BadRequestError);
    await expect(auth().createUser('ada', 'short')).rejects.toThrow(/at least 8/);
    await auth().createUser('ada', 'long enough');
    await expect(auth().createUser('ada', 'long enough')).rejects.toBeInstanceOf(ConflictError);
    await expect(auth().setPassword('ghost', 'long enough')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('issues API tokens that authenticate and are stored as digests', async () => {
    await auth().createUser('ada', 'analytical engine');
    const token = auth().createApiToken('ada', 'backup script');
    expect(token).toMatch(/^dst_/);
    expect(auth().authenticateToken(token)).toMatchObject({ username: 'ada' });
    expect(auth().authenticateToken(`${token}x`)).toBeUndefined();
    expect(auth().authenticateToken('not-a-token')).toBeUndefined();
    const stored = t.docsync.db.prepare('SELECT token_hash, last_used_at FROM api_tokens').get() as {
      token_hash: string;
      last_used_at: string;
    };
    expect(stored.token_hash).not.toContain(token.slice(4));
    expect(stored.last_used_at).toBe('2026-01-01T00:00:00.000Z');
  });

  it('creates admin once: generated password when none is configured', async () => {
    const first = await auth().ensureAdmin(undefined);
    expect(first.created).toBe(true);
    expect(first.generatedPassword).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect((await auth().login('admin', first.generatedPassword!)).username).toBe('admin');
    expect(await auth().ensureAdmin('another password')).toEqual({ created: false });
    expect(auth().listUsers().map((u) => u.username)).toEqual(['admin']);
  });

  it('creates admin with the configured password, without echoing it', async () => {
    expect(await auth().ensureAdmin('configured pw')).toEqual({ created: true });
    expect((await auth().login('admin', 'configured pw')).username).toBe('admin');
  });
});
