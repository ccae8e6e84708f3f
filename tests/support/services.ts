import { Redis } from 'ioredis';

/**
 * External services (Redis, later PostgreSQL) used by integration tests.
 *
 * Locally a missing service skips the tests that need it, with a warning. In CI
 * (CI=true) a missing service is a failure: a silently skipped suite would hide
 * a broken pipeline.
 */

export const PROBE_TIMEOUT_MS = 2000;

export function isCI(): boolean {
  return process.env.CI === 'true';
}

export function redisUrlForTests(): string {
  return process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

export interface ServiceStatus {
  name: string;
  available: boolean;
  /** Why the probe failed; undefined when available. */
  reason?: string;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs the probe with a timeout; never throws. */
export async function probeService(
  name: string,
  probe: () => Promise<void>,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<ServiceStatus> {
  try {
    await withTimeout(probe(), timeoutMs, `no answer within ${timeoutMs} ms`);
    return { name, available: true };
  } catch (error) {
    return { name, available: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

function unavailableMessage(status: ServiceStatus): string {
  return `${status.name} is not available (${status.reason ?? 'unknown reason'})`;
}

/**
 * True when tests needing the service should be skipped: it is down and we are not in CI.
 * Warns with the reason. Use with `describe.skipIf(...)`, and call `assertServiceAvailable`
 * in that describe's `beforeAll` so CI fails loudly instead.
 */
export function shouldSkip(status: ServiceStatus): boolean {
  if (status.available || isCI()) return false;
  console.warn(`Skipping tests: ${unavailableMessage(status)}. With CI=true this fails instead.`);
  return true;
}

/** Throws when the service is down: call from `beforeAll` so the suite fails. */
export function assertServiceAvailable(status: ServiceStatus): void {
  if (!status.available) throw new Error(`${unavailableMessage(status)}, and it is required (CI=true)`);
}

/**
 * One-shot form: false (with a warning) when unavailable locally, throws under CI=true.
 * Suitable for top-level `await` when a whole file needs the service.
 */
export async function serviceAvailable(name: string, probe: () => Promise<void>): Promise<boolean> {
  const status = await probeService(name, probe);
  if (status.available) return true;
  if (isCI()) assertServiceAvailable(status);
  shouldSkip(status);
  return false;
}

/** PINGs Redis with a throwaway connection that gives up instead of reconnecting. */
export async function probeRedis(url = redisUrlForTests()): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: PROBE_TIMEOUT_MS,
    retryStrategy: () => null,
  });
  // connect() only says "Connection is closed"; the error event has the real cause.
  let cause: unknown;
  client.on('error', (error) => {
    cause ??= error;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw cause instanceof Error ? cause : error;
  } finally {
    client.disconnect();
  }
}

export function redisStatus(url = redisUrlForTests()): Promise<ServiceStatus> {
  return probeService('Redis', () => probeRedis(url));
}

/** Deletes every key under `prefix:` (test isolation for BullMQ prefixes and the like). */
export async function deleteRedisKeys(prefix: string, url = redisUrlForTests()): Promise<number> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    await client.quit().catch(() => client.disconnect());
  }
  return deleted;
}
