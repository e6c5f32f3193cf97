import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_PREFIX } from '../../src/http/app.ts';
import { LOGINS_PER_MINUTE } from '../../src/http/routes/auth.ts';
import { createHttpInstance, TEST_PASSWORD, type HttpInstance } from '../support/instance.ts';

/**
 * README.md#security: login is throttled per user and per address. Policy (src/services/login-throttle.ts):
 * one user from one address: 5 free failures, then 2 s doubling to 15 min, cleared by a success;
 * one address, any users: 20 free; one user from strangers' addresses: 50 free, capped at 60 s.
 */
describe('login throttling', () => {
  let h: HttpInstance;
  beforeEach(async () => {
    h = await createHttpInstance();
  });
  afterEach(() => h.close());

  const login = (username: string, password: string, remoteAddress = '10.0.0.1') =>
    h.app.inject({ method: 'POST', url: `${API_PREFIX}/auth/login`, remoteAddress, payload: { username, password } });
  const fail = async (times: number, username = 'admin', address = '10.0.0.1') => {
    for (let i = 0; i < times; i++) expect((await login(username, 'wrong password', address)).statusCode).toBe(401);
  };

  it('after 5 failures answers 429 with Retry-After, refuses even the right password, and frees it after the delay', async () => {
    await fail(5);
    const blocked = await login('admin', 'wrong password');
    expect(blocked.statusCode).toBe(429);
    expect(blocked.headers['retry-after']).toBe('2');
    expect(blocked.json()).toEqual({ error: 'too_many_requests', message: 'Too many failed logins; try again in 2 s', statusCode: 429 });
    expect((await login('admin', TEST_PASSWORD)).statusCode).toBe(429);

    h.clock.advance(2_000);
    await fail(1);
    const longer = await login('admin', TEST_PASSWORD);
    expect(longer.statusCode).toBe(429);
    expect(longer.headers['retry-after']).toBe('4');
    h.clock.advance(3_999);
    expect((await login('admin', TEST_PASSWORD)).statusCode).toBe(429);
    h.clock.advance(1);
    expect((await login('admin', TEST_PASSWORD)).statusCode).toBe(200);
    // The success cleared this user's counter for this address: five free failures again.
    await fail(5);
    expect((await login('admin', 'wrong password')).statusCode).toBe(429);
  });

  it('one address gets at most 60 login attempts a minute, however they end (429 with Retry-After)', async () => {
    for (let i = 0; i < LOGINS_PER_MINUTE; i++) expect((await login('admin', TEST_PASSWORD, '10.0.0.9')).statusCode).toBe(200);
    const capped = await login('admin', TEST_PASSWORD, '10.0.0.9');
    expect(capped.statusCode).toBe(429);
    expect(Number(capped.headers['retry-after'])).toBeGreaterThan(0);
    expect(capped.json()).toMatchObject({ error: 'too_many_requests', statusCode: 429 });
    expect(capped.json().message).toMatch(/^Too many requests from this address; try again in \d+ s$/);
    expect((await login('admin', TEST_PASSWORD, '10.0.0.10')).statusCode).toBe(200);
  });

  it('the delay doubles and stops growing at 15 minutes', async () => {
    let retryAfter = 0;
    for (let i = 0; i < 40; i++) {
      const res = await login('admin', 'wrong password');
      if (res.statusCode === 429) {
        retryAfter = Number(res.headers['retry-after']);
        h.clock.advance(retryAfter * 1000);
      }
    }
    expect(retryAfter).toBe(900);
  });

  it('a guesser at one address does not lock the user out from another', async () => {
    await fail(5, 'admin', '10.0.0.66');
    expect((await login('admin', TEST_PASSWORD, '10.0.0.66')).statusCode).toBe(429);
    expect((await login('admin', TEST_PASSWORD, '10.0.0.2')).statusCode).toBe(200);
  });

  it('one address spraying usernames is stopped after 20 failures, for every username', async () => {
    for (let i = 0; i < 20; i++) expect((await login(`user${i}`, 'wrong password', '10.0.0.9')).statusCode).toBe(401);
    const res = await login('someone-new', 'wrong password', '10.0.0.9');
    expect(res.statusCode).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect((await login('admin', TEST_PASSWORD, '10.0.0.10')).statusCode).toBe(200);
  });

  it('many addresses guessing one user slow strangers, not an address that has logged in as that user', async () => {
    expect((await login('admin', TEST_PASSWORD, '192.168.1.5')).statusCode).toBe(200);
    for (let i = 0; i < 50; i++) await fail(1, 'admin', `10.1.${Math.floor(i / 200)}.${i % 200}`);
    const stranger = await login('admin', TEST_PASSWORD, '10.2.0.1');
    expect(stranger.statusCode).toBe(429);
    expect(Number(stranger.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect((await login('admin', TEST_PASSWORD, '192.168.1.5')).statusCode).toBe(200);
  });

  it('concurrent guesses cannot slip past the counter while passwords are being checked', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, () => login('admin', 'wrong password')));
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes.filter((c) => c === 401)).toHaveLength(5);
    expect(codes.filter((c) => c === 429)).toHaveLength(7);
  });
});
