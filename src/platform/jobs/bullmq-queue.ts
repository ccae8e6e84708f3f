import { Queue, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import type {
  EnqueueOptions,
  JobCounts,
  JobDefinition,
  JobHandler,
  JobInfo,
  JobQueue,
  JobState,
} from './job-queue.js';
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  RETAINED_FINISHED_JOBS,
  assertValidJobId,
  assertValidJobName,
  emptyStateCounts,
} from './in-process-queue.js';
import type { JobLogger } from './in-process-queue.js';
import { quitRedis, waitForRedis } from '../redis.js';
import { withTimeout } from '../timeout.js';

export interface BullmqQueueOptions {
  redisUrl: string;
  /** Key prefix in Redis; API and worker processes must use the same one. Default 'dx'. */
  prefix?: string;
  logger?: JobLogger;
  /**
   * How long producer calls (enqueue, getJob, counts) wait for Redis before failing.
   * Default 5000 ms. ping() always uses 2000 ms.
   */
  operationTimeoutMs?: number;
}

const PING_TIMEOUT_MS = 2000;
/** Connection errors repeat on every reconnect attempt; log them at most this often. */
const CONNECTION_ERROR_LOG_INTERVAL_MS = 30_000;

function toJobState(state: string): JobState | null {
  switch (state) {
    case 'waiting':
    case 'prioritized':
    case 'waiting-children':
      return 'waiting';
    case 'delayed':
    case 'active':
    case 'completed':
    case 'failed':
      return state;
    default:
      // 'unknown': removed between lookup and state query.
      return null;
  }
}

/**
 * BullMQ-backed queue: jobs live in Redis, so any process with the same prefix can enqueue
 * (API) or process (worker, after start()).
 */
export function createBullmqQueue(options: BullmqQueueOptions): JobQueue {
  const prefix = options.prefix ?? 'dx';
  const logger = options.logger;
  const operationTimeoutMs = options.operationTimeoutMs ?? 5000;
  const definitions = new Map<string, JobDefinition>();
  const queues = new Map<string, Queue>();
  const workers: Worker[] = [];
  const shutdown = new AbortController();
  let started = false;
  let closing = false;
  let closed: Promise<void> | null = null;

  const lastLogged = new Map<string, number>();
  function logConnectionError(source: string, error: unknown): void {
    const now = Date.now();
    if (now - (lastLogged.get(source) ?? 0) < CONNECTION_ERROR_LOG_INTERVAL_MS) return;
    lastLogged.set(source, now);
    logger?.warn({ err: error, source }, 'job queue redis error');
  }

  // Producer: no offline queue and a command timeout, so enqueue fails fast while Redis is
  // down instead of buffering forever. BullMQ only issues non-blocking commands on it.
  const producer = new Redis(options.redisUrl, {
    enableOfflineQueue: false,
    commandTimeout: operationTimeoutMs,
    maxRetriesPerRequest: 1,
  });
  producer.on('error', (error) => logConnectionError('producer', error));

  // Workers: BullMQ requires maxRetriesPerRequest null; commands wait out Redis outages.
  // Created only in start() so producer-only processes hold a single connection.
  let workerConnection: Redis | null = null;

  function queueFor(name: string): Queue {
    const queue = queues.get(name);
    if (!queue) throw new Error(`Unknown job "${name}": define() it before use`);
    return queue;
  }

  async function ready(): Promise<void> {
    if (closing) throw new Error('Job queue is closed');
    await waitForRedis(producer, operationTimeoutMs);
  }

  function makeWorker(definition: JobDefinition, connection: Redis): Worker {
    const handler = definition.handler;
    // Three parameters: BullMQ only passes its abort signal to processors declaring it.
    const processor = async (job: Job, _token?: string, jobSignal?: AbortSignal): Promise<unknown> => {
      const signal = jobSignal ? AbortSignal.any([shutdown.signal, jobSignal]) : shutdown.signal;
      return handler(job.data, {
        jobId: job.id ?? '',
        // attemptsMade counts finished attempts, so this one is the next.
        attempt: job.attemptsMade + 1,
        signal,
        progress: (value) => job.updateProgress(value),
      });
    };
    const worker = new Worker(definition.name, processor, {
      connection,
      prefix,
      concurrency: Math.max(1, definition.concurrency ?? 1),
      autorun: true,
    });
    worker.on('error', (error) => logConnectionError(`worker:${definition.name}`, error));
    worker.on('failed', (job, error) => {
      if (!job) return;
      const attempts = job.opts.attempts ?? 1;
      const payload = { err: error, job: definition.name, jobId: job.id, attempt: job.attemptsMade };
      if (job.attemptsMade < attempts) logger?.warn(payload, 'job attempt failed, will retry');
      else logger?.error(payload, 'job failed, no attempts left');
    });
    return worker;
  }

  function toInfo(name: string, state: JobState, job: Job): JobInfo {
    const progress = job.progress;
    const info: JobInfo = {
      id: job.id ?? '',
      name,
      state,
      attemptsMade: job.attemptsMade,
      progress: typeof progress === 'number' || (typeof progress === 'object' && progress !== null) ? progress : 0,
    };
    if (state === 'completed' && job.returnvalue !== undefined && job.returnvalue !== null) {
      info.result = job.returnvalue as unknown;
    }
    // Like the in-process runner: the last error stays visible while retrying, not after success.
    if (state !== 'completed' && job.failedReason) info.failedReason = job.failedReason;
    return info;
  }

  return {
    driver: 'bullmq',

    define<TData>(definition: JobDefinition<TData>): void {
      assertValidJobName(definition.name);
      if (started) throw new Error(`Cannot define job "${definition.name}" after start()`);
      if (definitions.has(definition.name)) throw new Error(`Job "${definition.name}" is already defined`);
      // Handlers only ever receive data enqueued under their own name.
      definitions.set(definition.name, { ...definition, handler: definition.handler as JobHandler });
      const queue = new Queue(definition.name, { connection: producer, prefix });
      queue.on('error', (error) => logConnectionError(`queue:${definition.name}`, error));
      queues.set(definition.name, queue);
    },

    async enqueue<TData>(name: string, data: TData, enqueueOptions: EnqueueOptions = {}): Promise<string> {
      const queue = queueFor(name);
      const definition = definitions.get(name);
      if (enqueueOptions.jobId !== undefined) assertValidJobId(enqueueOptions.jobId);
      await ready();
      const delayMs = enqueueOptions.delayMs ?? 0;
      const job = await queue.add(name, data, {
        ...(enqueueOptions.jobId !== undefined ? { jobId: enqueueOptions.jobId } : {}),
        ...(delayMs > 0 ? { delay: delayMs } : {}),
        // Retry policy travels with the job, so the producer's definition decides it.
        attempts: definition?.attempts ?? DEFAULT_ATTEMPTS,
        backoff: { type: 'exponential', delay: definition?.backoffMs ?? DEFAULT_BACKOFF_MS },
        removeOnComplete: { count: RETAINED_FINISHED_JOBS },
        removeOnFail: { count: RETAINED_FINISHED_JOBS },
      });
      if (job.id === undefined) throw new Error(`BullMQ returned no id for job "${name}"`);
      return job.id;
    },

    async getJob(name: string, jobId: string): Promise<JobInfo | null> {
      const queue = queues.get(name);
      if (!queue) return null;
      await ready();
      // State first, then the job hash: read the other way round, a job finishing in
      // between would show 'completed' without its return value.
      const state = toJobState(await queue.getJobState(jobId));
      if (!state) return null;
      const job = await queue.getJob(jobId);
      return job ? toInfo(name, state, job) : null;
    },

    async start(): Promise<void> {
      if (closing) throw new Error('Job queue is closed');
      if (started) return;
      started = true;
      const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
      connection.on('error', (error) => logConnectionError('worker', error));
      workerConnection = connection;
      for (const definition of definitions.values()) workers.push(makeWorker(definition, connection));
      // Fail loudly at boot when Redis is unreachable rather than idling silently.
      await withTimeout(
        Promise.all(workers.map((worker) => worker.waitUntilReady())),
        operationTimeoutMs,
        `BullMQ workers could not connect to Redis within ${operationTimeoutMs} ms`,
      );
    },

    async counts(): Promise<JobCounts> {
      await ready();
      const counts: JobCounts = {};
      await Promise.all(
        [...queues].map(async ([name, queue]) => {
          const raw = await queue.getJobCounts(
            'waiting',
            'prioritized',
            'waiting-children',
            'delayed',
            'active',
            'completed',
            'failed',
          );
          const perState = emptyStateCounts();
          perState.waiting = (raw.waiting ?? 0) + (raw.prioritized ?? 0) + (raw['waiting-children'] ?? 0);
          perState.delayed = raw.delayed ?? 0;
          perState.active = raw.active ?? 0;
          perState.completed = raw.completed ?? 0;
          perState.failed = raw.failed ?? 0;
          counts[name] = perState;
        }),
      );
      return counts;
    },

    async ping(): Promise<void> {
      // Waits (within the budget) for a connection still being established, e.g. right after boot.
      await withTimeout(
        (async () => {
          await waitForRedis(producer, PING_TIMEOUT_MS);
          await producer.ping();
        })(),
        PING_TIMEOUT_MS,
        `Redis did not answer PING within ${PING_TIMEOUT_MS} ms`,
      );
    },

    close(): Promise<void> {
      if (closed) return closed;
      closing = true;
      closed = (async () => {
        shutdown.abort(new Error('Job queue is closing'));
        // Order matters: workers finish their active jobs while queues and connections still work.
        const results = await Promise.allSettled(workers.map((worker) => worker.close()));
        const queueResults = await Promise.allSettled([...queues.values()].map((queue) => queue.close()));
        for (const result of [...results, ...queueResults]) {
          if (result.status === 'rejected') {
            logger?.warn({ err: result.reason as unknown }, 'error while closing job queue');
          }
        }
        await Promise.allSettled([
          quitRedis(producer),
          ...(workerConnection ? [quitRedis(workerConnection)] : []),
        ]);
      })();
      return closed;
    },
  };
}
