import { scryptSync } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ServiceUnavailableError } from '../../src/errors.ts';
import { hashPassword, PasswordHasher, verifyPassword } from '../../src/services/password.ts';

describe('password hashing in its own worker', () => {
  const hasher = new PasswordHasher(3);
  afterAll(() => hasher.close());

  it('produces the same scrypt hashes as before, so existing passwords still verify', async () => {
    const salt = Buffer.alloc(16, 9);
    const stored = ['scrypt', 16384, 8, 1, salt.toString('base64'), scryptSync('old password', salt, 32, { N: 16384, r: 8, p: 1 }).toString('base64')].join('$');
    expect(await hashPassword('old password', salt, hasher)).toBe(stored);
    expect(await verifyPassword('old password', stored, hasher)).toBe(true);
    expect(await verifyPassword('wrong password', stored, hasher)).toBe(false);
  });

  it('refuses at once (503 with Retry-After) past its queue bound instead of queueing without limit', async () => {
    const salt = Buffer.alloc(16, 1);
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => hashPassword(`p${i}`, salt, hasher)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    expect(refused).toHaveLength(7);
    for (const error of refused) expect(error).toMatchObject({ status: 503, retryAfterSeconds: 1 });
    expect(refused[0]).toBeInstanceOf(ServiceUnavailableError);
    // Once the queue drains, hashing works again.
    await expect(hashPassword('again', salt, hasher)).resolves.toMatch(/^scrypt\$/);
  });
});
