import type { Clock } from '../domain/clock.ts';
import { TooManyRequestsError } from '../errors.ts';

/** How one kind of counter forgives: `free` failures cost nothing, then each doubles the wait. */
export interface BackoffPolicy {
  free: number;
  baseMs: number;
  capMs: number;
}

export interface LoginThrottlePolicy {
  /** One username from one address: the ordinary guesser. A success clears it. */
  perUserAddress: BackoffPolicy;
  /** One address, any usernames: a guesser who sprays names. */
  perAddress: BackoffPolicy;
  /**
   * One username, from any address: a guesser with many addresses. Addresses that have logged in as
   * this user before are exempt, so such an attacker slows strangers, never the user at home.
   */
  perUser: BackoffPolicy;
  /** A counter with no failure for this long is forgotten. */
  forgetAfterMs: number;
  /** Bound on remembered counters (usernames and addresses are the attacker's to choose). */
  maxEntries: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottlePolicy = {
  perUserAddress: { free: 5, baseMs: 2_000, capMs: 15 * 60_000 },
  perAddress: { free: 20, baseMs: 2_000, capMs: 15 * 60_000 },
  perUser: { free: 50, baseMs: 1_000, capMs: 60_000 },
  forgetAfterMs: 24 * 60 * 60_000,
  maxEntries: 10_000,
};

interface Counter {
  failures: number;
  lastFailureAt: number;
}

/**
 * Failed-login counters, in memory (a restart forgets them). Every attempt is charged as a failure
 * before its password is checked — so concurrent guesses cannot slip past the counter while scrypt
 * runs — and a success refunds it. A blocked attempt is refused before any hashing.
 */
export class LoginThrottle {
  private readonly counters = new Map<string, Counter>();
  /** `user\0address` pairs that have logged in successfully. */
  private readonly known = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly policy: LoginThrottlePolicy = DEFAULT_LOGIN_THROTTLE,
  ) {}

  /** Throws 429 if this attempt must wait; otherwise charges it. Call `succeeded` when it was right. */
  begin(username: string, address: string): void {
    const now = this.clock.now();
    const waits = this.keysFor(username, address).map(([key, policy]) => this.waitMs(key, policy, now));
    const wait = Math.max(0, ...waits);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      throw new TooManyRequestsError(`Too many failed logins; try again in ${seconds} s`, seconds);
    }
    for (const [key] of this.keysFor(username, address)) this.charge(key, now);
  }

  /** The attempt was right: its user is free from this address again. */
  succeeded(username: string, address: string): void {
    const pair = pairKey(username, address);
    this.counters.delete(`ua\0${pair}`);
    for (const [key] of this.keysFor(username, address)) {
      const counter = this.counters.get(key);
      if (counter) counter.failures = Math.max(0, counter.failures - 1);
    }
    this.known.delete(pair);
    this.known.set(pair, this.clock.now());
    if (this.known.size > this.policy.maxEntries) this.known.delete(this.known.keys().next().value!);
  }

  /** The attempt was never judged (the hasher was too busy): it does not count against anyone. */
  refund(username: string, address: string): void {
    for (const [key] of this.keysFor(username, address)) {
      const counter = this.counters.get(key);
      if (counter) counter.failures = Math.max(0, counter.failures - 1);
    }
  }

  private keysFor(username: string, address: string): Array<[string, BackoffPolicy]> {
    const keys: Array<[string, BackoffPolicy]> = [
      [`ua\0${pairKey(username, address)}`, this.policy.perUserAddress],
      [`a\0${address}`, this.policy.perAddress],
    ];
    if (!this.known.has(pairKey(username, address))) keys.push([`u\0${username}`, this.policy.perUser]);
    return keys;
  }

  private waitMs(key: string, policy: BackoffPolicy, now: number): number {
    const counter = this.counters.get(key);
    if (!counter) return 0;
    if (now - counter.lastFailureAt >= this.policy.forgetAfterMs) {
      this.counters.delete(key);
      return 0;
    }
    if (counter.failures < policy.free) return 0;
    const delay = Math.min(policy.capMs, policy.baseMs * 2 ** (counter.failures - policy.free));
    return counter.lastFailureAt + delay - now;
  }

  private charge(key: string, now: number): void {
    const counter = this.counters.get(key) ?? { failures: 0, lastFailureAt: now };
    counter.failures += 1;
    counter.lastFailureAt = now;
    // Re-inserted so the Map's order is least recently failed first: that is what gets evicted.
    this.counters.delete(key);
    this.counters.set(key, counter);
    if (this.counters.size > this.policy.maxEntries) this.counters.delete(this.counters.keys().next().value!);
  }
}

function pairKey(username: string, address: string): string {
  return `${username}\0${address}`;
}
