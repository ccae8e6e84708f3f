import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolStats } from './database/database.js';
import type { JobCounts } from './jobs/job-queue.js';

export interface MetricsSources {
  poolStats(): PoolStats | null;
  jobCounts(): Promise<JobCounts>;
}

/** A registry per app (no prom-client default registry), so isolated apps never share counters. */
export function createMetrics(sources: MetricsSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dx_' });

  const requests = new Counter({
    name: 'dx_http_requests_total',
    help: 'HTTP requests by route template, method and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'dx_http_request_duration_seconds',
    help: 'HTTP request latency by route template, method and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'dx_db_pool_connections',
    help: 'Database pool connections by state (PostgreSQL only)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const stats = sources.poolStats();
      if (!stats) return;
      this.set({ state: 'used' }, stats.used);
      this.set({ state: 'free' }, stats.free);
      this.set({ state: 'pending' }, stats.pendingAcquires);
    },
  });
  new Gauge({
    name: 'dx_jobs',
    help: 'Background jobs by queue and state',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      try {
        const counts = await sources.jobCounts();
        for (const [queue, states] of Object.entries(counts)) {
          for (const [state, count] of Object.entries(states)) this.set({ queue, state }, count);
        }
      } catch {
        // Redis down: the readiness probe reports it; metrics stay scrapeable.
      }
    },
  });

  return {
    registry,
    observeRequest(labels: { method: string; route: string; status_code: number }, seconds: number): void {
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
