import { TooManyRequestsError } from '../platform/errors.js';

/**
 * Brute-force defences of the authentication endpoints.
 * - Per account (in the database, so every node agrees): after `accountFreeFailures` consecutive
 *   failures the account is locked for `accountBaseLockSeconds`, doubling with each further failure up to
 *   `accountMaxLockSeconds`. Usernames that do not exist get the same treatment in memory, so a lock
 *   does not reveal that an account exists.
 * - Per IP (in memory, per node): at most `ipFailureLimit` failed attempts in a sliding window of
 *   `ipWindowSeconds`. With N nodes behind a balancer an address gets up to N times that.
 */
export interface ThrottleSettings {
  ipFailureLimit: number;
  ipWindowSeconds: number;
  accountFreeFailures: number;
  accountBaseLockSeconds: number;
  accountMaxLockSeconds: number;
}

export const DEFAULT_THROTTLE: ThrottleSettings = {
  ipFailureLimit: 30,
  ipWindowSeconds: 900,
  accountFreeFailures: 5,
  accountBaseLockSeconds: 30,
  accountMaxLockSeconds: 900,
};

/** Lock duration after `failures` consecutive failures (0: not locked). */
export function lockSeconds(failures: number, settings: ThrottleSettings): number {
  if (failures < settings.accountFreeFailures) return 0;
  return Math.min(settings.accountBaseLockSeconds * 2 ** (failures - settings.accountFreeFailures), settings.accountMaxLockSeconds);
}

/** Sliding-window log of events per key, bounded in keys (the oldest key is forgotten first). */
export class SlidingWindowLimiter {
  private readonly events = new Map<string, number[]>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxKeys = 100_000,
  ) {}

  private recent(key: string, now: number): number[] {
    const times = this.events.get(key);
    if (!times) return [];
    const kept = times.filter((time) => time > now - this.windowMs);
    if (kept.length === 0) this.events.delete(key);
    else this.events.set(key, kept);
    return kept;
  }

  /** Seconds until the key may try again; 0 when it may now. */
  retryAfterSeconds(key: string, now = Date.now()): number {
    const times = this.recent(key, now);
    if (times.length < this.limit) return 0;
    const oldest = times[times.length - this.limit] ?? now;
    return Math.max(1, Math.ceil((oldest + this.windowMs - now) / 1000));
  }

  hit(key: string, now = Date.now()): void {
    const times = this.recent(key, now);
    times.push(now);
    // Keep only what the limit needs, and re-insert so the map's order is least recently hit first.
    this.events.delete(key);
    this.events.set(key, times.slice(-this.limit));
    if (this.events.size > this.maxKeys) {
      const oldest = this.events.keys().next().value;
      if (oldest !== undefined) this.events.delete(oldest);
    }
  }
}

/** The in-memory twin of the account lock, for usernames that do not exist. */
export class UnknownAccountLocks {
  private readonly entries = new Map<string, { failures: number; lockedUntil: number }>();
  constructor(
    private readonly settings: ThrottleSettings,
    private readonly maxKeys = 100_000,
  ) {}

  retryAfterSeconds(username: string, now = Date.now()): number {
    const entry = this.entries.get(username);
    return entry && entry.lockedUntil > now ? Math.ceil((entry.lockedUntil - now) / 1000) : 0;
  }

  fail(username: string, now = Date.now()): void {
    const failures = (this.entries.get(username)?.failures ?? 0) + 1;
    this.entries.delete(username);
    this.entries.set(username, { failures, lockedUntil: now + lockSeconds(failures, this.settings) * 1000 });
    if (this.entries.size > this.maxKeys) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}

/** What one node keeps for the authentication endpoints. */
export interface Throttle {
  settings: ThrottleSettings;
  ipFailures: SlidingWindowLimiter;
  unknownAccounts: UnknownAccountLocks;
}

export function createThrottle(settings: ThrottleSettings = DEFAULT_THROTTLE): Throttle {
  return {
    settings,
    ipFailures: new SlidingWindowLimiter(settings.ipFailureLimit, settings.ipWindowSeconds * 1000),
    unknownAccounts: new UnknownAccountLocks(settings),
  };
}

/** 429 TOO_MANY_ATTEMPTS when this address has failed too often lately. */
export function requireAddressAllowed(throttle: Throttle, ip: string): void {
  const wait = throttle.ipFailures.retryAfterSeconds(ip);
  if (wait > 0) throw new TooManyRequestsError('TOO_MANY_ATTEMPTS', `Too many failed attempts from your address: try again in ${wait} s`, wait);
}
