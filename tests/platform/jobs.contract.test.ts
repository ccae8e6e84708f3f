import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBullmqQueue, createInProcessQueue } from '../../src/platform/jobs/index.js';
import type { JobContext, JobDefinition, JobInfo, JobQueue, JobState } from '../../src/platform/jobs/index.js';
import {
  assertServiceAvailable,
  deleteRedisKeys,
  redisStatus,
  redisUrlForTests,
  shouldSkip,
} from '../support/services.js';

// Unique per file run, so parallel test files (and reruns) never share BullMQ keys.
const prefix = `dx-test-${randomUUID().slice(0, 8)}`;
const redisUrl = redisUrlForTests();
const redis = await redisStatus(redisUrl);

interface Variant {
  driver: JobQueue['driver'];
  skip: boolean;
  make(): JobQueue;
}

const variants: Variant[] = [
  { driver: 'in-process', skip: false, make: () => createInProcessQueue() },
  { driver: 'bullmq', skip: shouldSkip(redis), make: () => createBullmqQueue({ redisUrl, prefix }) },
];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Timers may fire up to ~1 ms "early" when measured with a different clock. */
const CLOCK_SLACK_MS = 2;

async function waitFor<T>(check: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(15);
  }
}

function waitForState(queue: JobQueue, name: string, id: string, states: JobState[], timeoutMs?: number): Promise<JobInfo> {
  return waitFor(
    async () => {
      const info = await queue.getJob(name, id);
      return info && states.includes(info.state) ? info : null;
    },
    `job ${name}/${id} to be ${states.join(' or ')}`,
    timeoutMs,
  );
}

let nameCounter = 0;
function jobName(label: string): string {
  nameCounter += 1;
  return `${label}-${nameCounter}`;
}

describe.each(variants)('JobQueue contract ($driver)', (variant) => {
  describe.skipIf(variant.skip)('behaviour', () => {
    const opened: JobQueue[] = [];
    function makeQueue(): JobQueue {
      const queue = variant.make();
      opened.push(queue);
      return queue;
    }
    function defineOn<T>(queue: JobQueue, definition: JobDefinition<T>): JobDefinition<T> {
      queue.define(definition);
      return definition;
    }

    beforeAll(() => {
      if (variant.driver === 'bullmq') assertServiceAvailable(redis);
    });

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((queue) => queue.close()));
    });

    afterAll(async () => {
      if (variant.driver === 'bullmq' && redis.available) await deleteRedisKeys(prefix, redisUrl);
    });

    it('runs a job with its data and exposes the result through getJob', async () => {
      const queue = makeQueue();
      const name = jobName('double');
      const seen: unknown[] = [];
      defineOn<{ n: number }>(queue, {
        name,
        handler: (data, context) => {
          seen.push({ data, attempt: context.attempt, jobId: context.jobId });
          return Promise.resolve({ doubled: data.n * 2 });
        },
      });
      await queue.start();

      const id = await queue.enqueue(name, { n: 21 });
      const info = await waitForState(queue, name, id, ['completed', 'failed']);

      expect(info).toMatchObject({ id, name, state: 'completed', attemptsMade: 1, result: { doubled: 42 } });
      expect(info.failedReason).toBeUndefined();
      expect(seen).toEqual([{ data: { n: 21 }, attempt: 1, jobId: id }]);
      expect(await queue.getJob(name, 'no-such-job')).toBeNull();
    });

    it('rejects enqueueing a job that was never defined', async () => {
      const queue = makeQueue();
      await expect(queue.enqueue(jobName('undefined'), {})).rejects.toThrow(/Unknown job/);
    });

    it('keeps jobs enqueued before start() waiting until start()', async () => {
      const queue = makeQueue();
      const name = jobName('later');
      defineOn(queue, { name, handler: () => Promise.resolve('ran') });

      const id = await queue.enqueue(name, {});
      await sleep(100);
      expect((await queue.getJob(name, id))?.state).toBe('waiting');

      await queue.start();
      expect((await waitForState(queue, name, id, ['completed'])).result).toBe('ran');
    });

    it('respects the per-definition concurrency', async () => {
      const queue = makeQueue();
      const name = jobName('parallel');
      let running = 0;
      let maxRunning = 0;
      defineOn(queue, {
        name,
        concurrency: 2,
        handler: async () => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          await sleep(80);
          running -= 1;
        },
      });
      await queue.start();

      const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => queue.enqueue(name, { i })));
      await Promise.all(ids.map((id) => waitForState(queue, name, id, ['completed'])));

      expect(maxRunning).toBe(2);
    });

    it('retries a failing handler with exponential backoff', async () => {
      const queue = makeQueue();
      const name = jobName('flaky');
      const backoffMs = 50;
      const attempts: { attempt: number; at: number }[] = [];
      defineOn(queue, {
        name,
        attempts: 3,
        backoffMs,
        handler: (_data, context) => {
          attempts.push({ attempt: context.attempt, at: performance.now() });
          if (context.attempt < 3) return Promise.reject(new Error(`flaky failure ${context.attempt}`));
          return Promise.resolve('third time lucky');
        },
      });
      await queue.start();

      const id = await queue.enqueue(name, {});
      const info = await waitForState(queue, name, id, ['completed', 'failed']);

      expect(info).toMatchObject({ state: 'completed', attemptsMade: 3, result: 'third time lucky' });
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
      const [first, second, third] = attempts.map((a) => a.at);
      // delay = backoffMs * 2^(attempt-1): 50 ms after attempt 1, 100 ms after attempt 2.
      expect(second! - first!).toBeGreaterThanOrEqual(backoffMs - CLOCK_SLACK_MS);
      expect(third! - second!).toBeGreaterThanOrEqual(2 * backoffMs - CLOCK_SLACK_MS);
    });

    it('marks a job failed with the last error once attempts are exhausted', async () => {
      const queue = makeQueue();
      const name = jobName('doomed');
      let calls = 0;
      defineOn(queue, {
        name,
        attempts: 2,
        backoffMs: 20,
        handler: () => {
          calls += 1;
          return Promise.reject(new Error(`boom ${calls}`));
        },
      });
      await queue.start();

      const id = await queue.enqueue(name, {});
      const info = await waitForState(queue, name, id, ['failed']);

      expect(info).toMatchObject({ state: 'failed', attemptsMade: 2, failedReason: 'boom 2' });
      expect(info.result).toBeUndefined();
      expect(calls).toBe(2);
    });

    it('deduplicates by jobId', async () => {
      const queue = makeQueue();
      const name = jobName('once');
      let calls = 0;
      defineOn(queue, {
        name,
        handler: () => {
          calls += 1;
          return Promise.resolve();
        },
      });

      const first = await queue.enqueue(name, { v: 1 }, { jobId: 'report-42' });
      const second = await queue.enqueue(name, { v: 2 }, { jobId: 'report-42' });
      expect(first).toBe('report-42');
      expect(second).toBe('report-42');

      await queue.start();
      await waitForState(queue, name, first, ['completed']);
      // Still deduplicated while the finished job is retained.
      expect(await queue.enqueue(name, { v: 3 }, { jobId: 'report-42' })).toBe('report-42');
      await sleep(150);
      expect(calls).toBe(1);
    });

    it('honours delayMs', async () => {
      const queue = makeQueue();
      const name = jobName('delayed');
      let startedAt = 0;
      defineOn(queue, {
        name,
        handler: () => {
          startedAt = performance.now();
          return Promise.resolve();
        },
      });
      await queue.start();

      const enqueuedAt = performance.now();
      const id = await queue.enqueue(name, {}, { delayMs: 300 });
      expect((await queue.getJob(name, id))?.state).toBe('delayed');

      await waitForState(queue, name, id, ['completed']);
      expect(startedAt - enqueuedAt).toBeGreaterThanOrEqual(300 - CLOCK_SLACK_MS);
    });

    it('reports progress while the job runs', async () => {
      const queue = makeQueue();
      const name = jobName('progress');
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      defineOn(queue, {
        name,
        handler: async (_data, context: JobContext) => {
          await context.progress(50);
          await gate;
          await context.progress({ stage: 'done', pages: 12 });
        },
      });
      await queue.start();

      const id = await queue.enqueue(name, {});
      let midway: Awaited<ReturnType<typeof queue.getJob>>;
      try {
        midway = await waitFor(async () => {
          const info = await queue.getJob(name, id);
          return info?.progress === 50 ? info : null;
        }, 'progress 50');
      } finally {
        // Never leave the handler parked: closing the queue waits for it.
        release();
      }
      expect(midway?.state).toBe('active');

      const done = await waitForState(queue, name, id, ['completed']);
      expect(done.progress).toEqual({ stage: 'done', pages: 12 });
    });

    it('counts jobs per name and state', async () => {
      const queue = makeQueue();
      const ok = jobName('count-ok');
      const bad = jobName('count-bad');
      const idle = jobName('count-idle');
      defineOn(queue, { name: ok, handler: () => Promise.resolve('fine') });
      defineOn(queue, {
        name: bad,
        attempts: 1,
        handler: () => Promise.reject(new Error('nope')),
      });
      defineOn(queue, { name: idle, handler: () => Promise.resolve() });
      await queue.start();

      const okIds = await Promise.all([queue.enqueue(ok, {}), queue.enqueue(ok, {})]);
      const badId = await queue.enqueue(bad, {});
      await queue.enqueue(ok, {}, { delayMs: 60_000 });
      await Promise.all(okIds.map((id) => waitForState(queue, ok, id, ['completed'])));
      await waitForState(queue, bad, badId, ['failed']);

      const counts = await queue.counts();
      expect(counts[ok]).toEqual({ waiting: 0, delayed: 1, active: 0, completed: 2, failed: 0 });
      expect(counts[bad]).toEqual({ waiting: 0, delayed: 0, active: 0, completed: 0, failed: 1 });
      expect(counts[idle]).toEqual({ waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0 });
    });

    it('close() waits for the active job to finish and aborts its signal', async () => {
      const queue = makeQueue();
      const name = jobName('slow');
      let started = false;
      let finishedAt = 0;
      let abortedWhileRunning = false;
      defineOn(queue, {
        name,
        handler: async (_data, context) => {
          started = true;
          await sleep(300);
          abortedWhileRunning = context.signal.aborted;
          finishedAt = performance.now();
          return 'finished';
        },
      });
      await queue.start();
      const id = await queue.enqueue(name, {});
      await waitFor(() => Promise.resolve(started), 'handler to start');

      await queue.close();
      const closedAt = performance.now();

      expect(finishedAt).toBeGreaterThan(0);
      expect(closedAt).toBeGreaterThanOrEqual(finishedAt);
      expect(abortedWhileRunning).toBe(true);

      // The closed instance has released Redis, so BullMQ is inspected from a fresh producer.
      let observer = queue;
      if (variant.driver === 'bullmq') {
        observer = makeQueue();
        observer.define({ name, handler: () => Promise.resolve() });
      }
      const info = await observer.getJob(name, id);
      expect(info).toMatchObject({ state: 'completed', result: 'finished' });
    });

    it.runIf(variant.driver === 'bullmq')('processes jobs enqueued by a producer-only instance (API/worker split)', async () => {
      const name = jobName('split');
      const api = makeQueue();
      defineOn(api, {
        name,
        handler: () => Promise.reject(new Error('the API process must not run jobs')),
      });
      const worker = makeQueue();
      defineOn<{ dossier: string }>(worker, {
        name,
        handler: (data) => Promise.resolve({ indexed: data.dossier }),
      });
      await worker.start();

      const id = await api.enqueue(name, { dossier: 'EP1234567' });
      const info = await waitForState(api, name, id, ['completed', 'failed']);
      expect(info).toMatchObject({ state: 'completed', result: { indexed: 'EP1234567' } });
    });

    it.runIf(variant.driver === 'bullmq')('fails fast instead of hanging when Redis is unreachable', async () => {
      const queue = createBullmqQueue({ redisUrl: 'redis://127.0.0.1:1', prefix, operationTimeoutMs: 300 });
      opened.push(queue);
      const name = jobName('unreachable');
      queue.define({ name, handler: () => Promise.resolve() });

      const startedAt = performance.now();
      await expect(queue.enqueue(name, {})).rejects.toThrow();
      await expect(queue.ping()).rejects.toThrow();
      expect(performance.now() - startedAt).toBeLessThan(3000);
    });
  });
});
