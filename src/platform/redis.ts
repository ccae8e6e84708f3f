import type { Redis } from 'ioredis';
import { withTimeout } from './timeout.js';

/** Resolves once the client is connected; rejects after `ms` instead of waiting forever. */
export async function waitForRedis(client: Redis, ms: number): Promise<void> {
  if (client.status === 'ready') return;
  // 'close' and 'reconnecting' may still recover; only 'end' is final.
  if (client.status === 'end') throw new Error('Redis connection is closed');
  let onReady: (() => void) | undefined;
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
    client.once('ready', resolve);
  });
  try {
    await withTimeout(ready, ms, `Redis not reachable within ${ms} ms (status: ${client.status})`);
  } finally {
    if (onReady) client.off('ready', onReady);
  }
}

/**
 * Ends a connection politely (QUIT) when it is up, at once otherwise. A client that is
 * reconnecting gets a moment to finish: ioredis re-subscribes as soon as it is ready and
 * leaves that promise unhandled, so ending it mid-way would raise an unhandled rejection.
 */
export async function quitRedis(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') await waitForRedis(client, 1000).catch(() => undefined);
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
