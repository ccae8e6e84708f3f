import type { Server as HttpServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { quitRedis, waitForRedis } from './redis.js';
import { withTimeout } from './timeout.js';

export interface RealtimeOptions {
  /** The HTTP server to attach to (fastify's `app.server`); it stays owned by the caller. */
  server: HttpServer;
  /** With Redis, events emitted on any node reach clients connected to every node. */
  redisUrl?: string;
  path?: string;
  corsOrigin?: string | boolean;
  logger?: { warn(obj: object, msg: string): void };
  /** How long to wait for Redis at startup. Default 5000 ms. */
  connectTimeoutMs?: number;
}

export interface Realtime {
  io: Server;
  close(): Promise<void>;
  /** Present when backed by Redis: checks the adapter's connection. */
  ping?(): Promise<void>;
}

const PING_TIMEOUT_MS = 2000;

/**
 * Attaches socket.io to the HTTP server. Modules add their own namespaces
 * (`io.of('/notifications')`); nothing here knows about them.
 */
export async function createRealtime(options: RealtimeOptions): Promise<Realtime> {
  const { logger } = options;
  let pubClient: Redis | undefined;
  let subClient: Redis | undefined;

  if (options.redisUrl) {
    pubClient = new Redis(options.redisUrl);
    subClient = pubClient.duplicate();
    // Reconnection errors repeat; without listeners ioredis prints them to stderr.
    pubClient.on('error', (error) => logger?.warn({ err: error, client: 'pub' }, 'realtime redis error'));
    subClient.on('error', (error) => logger?.warn({ err: error, client: 'sub' }, 'realtime redis error'));
    const timeoutMs = options.connectTimeoutMs ?? 5000;
    try {
      // Fail at boot rather than silently running as a node that cannot reach its peers.
      await Promise.all([waitForRedis(pubClient, timeoutMs), waitForRedis(subClient, timeoutMs)]);
    } catch (error) {
      pubClient.disconnect();
      subClient.disconnect();
      throw error;
    }
  }

  const io = new Server(options.server, {
    path: options.path ?? '/socket.io',
    ...(options.corsOrigin !== undefined ? { cors: { origin: options.corsOrigin } } : {}),
    ...(pubClient && subClient ? { adapter: createAdapter(pubClient, subClient) } : {}),
  });

  let closed: Promise<void> | null = null;
  const realtime: Realtime = {
    io,
    close(): Promise<void> {
      closed ??= (async () => {
        // Not io.close(): that also closes the HTTP server, which belongs to the caller.
        // Closing the engine drops every transport, so clients see "transport close" and
        // reconnect (to another node) instead of treating it as a deliberate kick.
        io.engine.close();
        await Promise.allSettled([...io._nsps.values()].map(async (nsp) => nsp.adapter.close()));
        const redisClients = [pubClient, subClient].filter((client): client is Redis => client !== undefined);
        await Promise.allSettled(redisClients.map((client) => quitRedis(client)));
      })();
      return closed;
    },
  };

  if (pubClient) {
    const client = pubClient;
    realtime.ping = () =>
      withTimeout(
        client.ping().then(() => undefined),
        PING_TIMEOUT_MS,
        `Realtime: Redis did not answer PING within ${PING_TIMEOUT_MS} ms`,
      );
  }
  return realtime;
}
