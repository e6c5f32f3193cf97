import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.ts';
import { TooManyRequestsError } from '../../src/errors.ts';
import { LoginThrottle, type LoginThrottlePolicy } from '../../src/services/login-throttle.ts';

const strict = (maxEntries: number): LoginThrottlePolicy => ({
  perUserAddress: { free: 1, baseMs: 10_000, capMs: 60_000 },
  perAddress: { free: 1_000, baseMs: 10_000, capMs: 60_000 },
  perUser: { free: 1_000, baseMs: 10_000, capMs: 60_000 },
  forgetAfterMs: 3_600_000,
  maxEntries,
});

describe('LoginThrottle', () => {
  it('remembers at most maxEntries counters, forgetting the least recently failed first', () => {
    const throttle = new LoginThrottle(new ManualClock(), strict(6));
    throttle.begin('first', '10.0.0.1');
    expect(() => throttle.begin('first', '10.0.0.1')).toThrow(TooManyRequestsError);
    // Each new (user, address) adds three counters (pair, address, user): two more push `first` out.
    throttle.begin('second', '10.0.0.2');
    throttle.begin('third', '10.0.0.3');
    expect(() => throttle.begin('first', '10.0.0.1')).not.toThrow();
  });

  it('forgets a counter after forgetAfterMs without failures', () => {
    const clock = new ManualClock();
    const throttle = new LoginThrottle(clock, strict(100));
    throttle.begin('u', 'a');
    expect(() => throttle.begin('u', 'a')).toThrow(TooManyRequestsError);
    clock.advance(3_600_000);
    expect(() => throttle.begin('u', 'a')).not.toThrow();
  });

  it('a refunded attempt (never judged) does not count', () => {
    const throttle = new LoginThrottle(new ManualClock(), strict(100));
    throttle.begin('u', 'a');
    throttle.refund('u', 'a');
    expect(() => throttle.begin('u', 'a')).not.toThrow();
  });
});
