import { describe, expect, it } from 'vitest';
import { DEFAULT_THROTTLE, lockSeconds, SlidingWindowLimiter, UnknownAccountLocks } from '../../src/access/throttle.js';

describe('brute-force limits', () => {
  it('locks after five failures for 30 s, doubling up to 15 minutes', () => {
    expect([1, 4, 5, 6, 7, 8, 9, 10, 20].map((failures) => lockSeconds(failures, DEFAULT_THROTTLE))).toEqual([0, 0, 30, 60, 120, 240, 480, 900, 900]);
  });

  it('counts events per key in a sliding window and says how long to wait', () => {
    const limiter = new SlidingWindowLimiter(3, 60_000);
    const start = 1_000_000;
    limiter.hit('10.0.0.1', start);
    limiter.hit('10.0.0.1', start + 10_000);
    expect(limiter.retryAfterSeconds('10.0.0.1', start + 20_000)).toBe(0);
    limiter.hit('10.0.0.1', start + 20_000);
    expect(limiter.retryAfterSeconds('10.0.0.1', start + 20_000)).toBe(40);
    expect(limiter.retryAfterSeconds('10.0.0.2', start + 20_000)).toBe(0);
    // The oldest event leaves the window: one more attempt is allowed.
    expect(limiter.retryAfterSeconds('10.0.0.1', start + 60_001)).toBe(0);
  });

  it('forgets the least recently seen key beyond its capacity', () => {
    const limiter = new SlidingWindowLimiter(1, 60_000, 2);
    limiter.hit('a', 0);
    limiter.hit('b', 0);
    limiter.hit('c', 0);
    expect(limiter.retryAfterSeconds('a', 1)).toBe(0);
    expect(limiter.retryAfterSeconds('c', 1)).toBeGreaterThan(0);
  });

  it('locks unknown usernames like real accounts', () => {
    const locks = new UnknownAccountLocks(DEFAULT_THROTTLE);
    for (let failure = 0; failure < 4; failure += 1) locks.fail('ghost', 0);
    expect(locks.retryAfterSeconds('ghost', 0)).toBe(0);
    locks.fail('ghost', 0);
    expect(locks.retryAfterSeconds('ghost', 0)).toBe(30);
    expect(locks.retryAfterSeconds('ghost', 30_000)).toBe(0);
  });
});
