import type { PGlite } from '@electric-sql/pglite';
import type { EntitySchema } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from './config.js';
import { openDatabase, type Database } from './database/database.js';
import { createJobQueue, type JobQueue } from './jobs/index.js';
import { createMetrics, type Metrics } from './metrics.js';
import { operationsRoutes, type ReadinessProbe } from './operations.routes.js';
import { createRealtime, type Realtime } from './realtime.js';
import { createBlobStore, type BlobStore, type FilesystemBlobStore } from './storage/index.js';

/** An upload temp file older than this belongs to a process that died. */
const STALE_UPLOAD_MS = 6 * 60 * 60 * 1000;

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    db: Database;
    storage: BlobStore;
    jobs: JobQueue;
    realtime: Realtime;
    metrics: Metrics;
    /** Whether this process processes background jobs (started in onReady); schedulers run only where it does. */
    runsJobs: boolean;
  }
  interface FastifyRequest {
    /** This request's own EntityManager fork. */
    em: EntityManager;
  }
}

export interface PlatformOptions {
  config: Config;
  entities: EntitySchema[];
  /** Borrowed in-memory PGlite (tests); the app does not close it. */
  pglite?: PGlite;
  /** Process background jobs in this process. Default: yes for the in-process runner, no for BullMQ (workers do). */
  runJobs?: boolean;
}

/**
 * The infrastructure every module shares, opened in dependency order and closed in
 * reverse: database (migrated at start), object store, job queue, realtime, metrics.
 */
export const platformPlugin = fp<PlatformOptions>(
  async (app: FastifyInstance, options) => {
    const { config } = options;
    const opened: { name: string; close(): Promise<void> }[] = [];
    const closeAll = async (): Promise<void> => {
      for (const resource of opened.reverse()) {
        try {
          await resource.close();
        } catch (error) {
          app.log.error({ err: error, resource: resource.name }, 'failed to close resource');
        }
      }
    };

    try {
      const db = await openDatabase({ config: config.database, entities: options.entities, ...(options.pglite ? { pglite: options.pglite } : {}) });
      opened.push({ name: 'database', close: () => db.close() });
      const applied = await db.migrate();
      if (applied.length > 0) app.log.info({ migrations: applied }, 'applied database migrations');

      const storage = await createBlobStore(config.storage);
      opened.push({ name: 'storage', close: () => storage.close() });

      const jobs = createJobQueue(config.jobs, app.log);
      opened.push({ name: 'jobs', close: () => jobs.close() });

      const realtime = await createRealtime({ server: app.server, logger: app.log, ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}) });
      opened.push({ name: 'realtime', close: () => realtime.close() });

      const metrics = createMetrics({ poolStats: () => db.poolStats(), jobCounts: () => jobs.counts() });

      app.decorate('config', config);
      app.decorate('db', db);
      app.decorate('storage', storage);
      app.decorate('jobs', jobs);
      app.decorate('realtime', realtime);
      app.decorate('metrics', metrics);
    } catch (error) {
      await closeAll();
      throw error;
    }

    app.decorateRequest('em', null as unknown as EntityManager);
    app.addHook('onRequest', async (request) => {
      request.em = app.db.fork();
    });

    app.addHook('onResponse', async (request, reply) => {
      app.metrics.observeRequest(
        { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: reply.statusCode },
        reply.elapsedTime / 1000,
      );
    });

    const runJobs = options.runJobs ?? config.jobs.driver === 'in-process';
    app.decorate('runsJobs', runJobs);
    app.addHook('onReady', async () => {
      // Uploads cut off by a crash leave temp files: sweep those old enough not to be in flight.
      if (app.storage.driver === 'filesystem') {
        const swept = await (app.storage as FilesystemBlobStore).sweepTemp(STALE_UPLOAD_MS);
        if (swept > 0) app.log.warn({ swept }, 'removed temp files of interrupted uploads');
      }
      if (runJobs) await app.jobs.start();
    });
    // Upgraded websocket connections keep the HTTP server from closing: drop them first.
    app.addHook('preClose', async () => {
      await app.realtime.close();
    });
    // Runs after fastify stopped accepting and in-flight requests finished.
    app.addHook('onClose', closeAll);

    const probes: ReadinessProbe[] = [
      { name: 'database', check: () => app.db.ping() },
      { name: 'storage', check: () => app.storage.ping() },
    ];
    if (config.redisUrl) probes.push({ name: 'redis', check: () => app.jobs.ping() });
    await app.register(operationsRoutes, { probes, timeoutMs: config.limits.readinessTimeoutMs });
  },
  { name: 'platform', dependencies: ['problem-handler'] },
);
