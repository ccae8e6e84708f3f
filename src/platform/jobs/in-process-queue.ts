import { randomUUID } from 'node:crypto';
import type {
  EnqueueOptions,
  JobCounts,
  JobDefinition,
  JobHandler,
  JobInfo,
  JobQueue,
  JobState,
} from './job-queue.js';

/** The subset of a pino logger the job runners use. */
export interface JobLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const DEFAULT_ATTEMPTS = 3;
export const DEFAULT_BACKOFF_MS = 1000;
/** Finished (completed or failed) job records kept per job name. */
export const RETAINED_FINISHED_JOBS = 1000;

export const JOB_STATES: readonly JobState[] = ['waiting', 'delayed', 'active', 'completed', 'failed'];

export function emptyStateCounts(): Record<JobState, number> {
  return { waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0 };
}

/** Delay before the attempt that follows failed attempt number `attempt` (1-based). */
export function backoffDelay(backoffMs: number, attempt: number): number {
  return backoffMs * 2 ** (attempt - 1);
}

/**
 * Both drivers enforce BullMQ's naming rules so code that works against the in-process
 * runner in development does not start failing once deployed with BullMQ.
 */
export function assertValidJobName(name: string): void {
  if (name.length === 0 || name.includes(':')) {
    throw new Error(`Invalid job name "${name}": must be non-empty and must not contain ":"`);
  }
}

export function assertValidJobId(jobId: string): void {
  if (jobId.length === 0) throw new Error('Custom job id must not be empty');
  if (`${Number.parseInt(jobId, 10)}` === jobId) {
    throw new Error(`Custom job id "${jobId}" must not be an integer (BullMQ reserves those)`);
  }
  if (jobId.includes(':')) throw new Error(`Custom job id "${jobId}" must not contain ":"`);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * BullMQ stores data and results as JSON; round-tripping here gives handlers the same
 * shapes (Dates become strings, undefined properties vanish) under both drivers.
 */
function jsonRoundTrip(value: unknown): unknown {
  if (value === undefined) return undefined;
  return JSON.parse(JSON.stringify(value)) as unknown;
}

interface JobRecord {
  id: string;
  name: string;
  data: unknown;
  state: JobState;
  attemptsMade: number;
  progress: number | object;
  result?: unknown;
  failedReason?: string;
  /** Pending delay or retry timer. */
  timer?: NodeJS.Timeout;
}

interface Lane {
  definition: JobDefinition;
  records: Map<string, JobRecord>;
  /** FIFO of records in state 'waiting'. */
  waiting: JobRecord[];
  /** Ids of finished records, oldest first, to bound memory. */
  finished: string[];
  active: number;
}

export interface InProcessQueueOptions {
  logger?: JobLogger;
}

/**
 * Runs jobs inside the current process. Nothing survives a restart: meant for development,
 * tests and single-node installs without Redis.
 */
export function createInProcessQueue(options: InProcessQueueOptions = {}): JobQueue {
  const logger = options.logger;
  const lanes = new Map<string, Lane>();
  const running = new Set<Promise<void>>();
  const shutdown = new AbortController();
  let started = false;
  // Set synchronously by close() so nothing new starts while it drains.
  let closing = false;
  let closed: Promise<void> | null = null;

  function laneFor(name: string): Lane {
    const lane = lanes.get(name);
    if (!lane) throw new Error(`Unknown job "${name}": define() it before use`);
    return lane;
  }

  function makeWaiting(lane: Lane, record: JobRecord): void {
    record.timer = undefined;
    record.state = 'waiting';
    lane.waiting.push(record);
    pump(lane);
  }

  function schedule(lane: Lane, record: JobRecord, delayMs: number): void {
    record.state = 'delayed';
    record.timer = setTimeout(() => makeWaiting(lane, record), delayMs);
  }

  function pump(lane: Lane): void {
    if (!started || closing) return;
    const concurrency = Math.max(1, lane.definition.concurrency ?? 1);
    while (lane.active < concurrency) {
      const record = lane.waiting.shift();
      if (!record) return;
      const run = runAttempt(lane, record).finally(() => {
        running.delete(run);
        lane.active -= 1;
        pump(lane);
      });
      running.add(run);
    }
  }

  function finish(lane: Lane, record: JobRecord): void {
    lane.finished.push(record.id);
    while (lane.finished.length > RETAINED_FINISHED_JOBS) {
      const oldest = lane.finished.shift();
      if (oldest !== undefined) lane.records.delete(oldest);
    }
  }

  // Never rejects: handler errors become retries or a failed record.
  async function runAttempt(lane: Lane, record: JobRecord): Promise<void> {
    lane.active += 1;
    record.state = 'active';
    const attempt = record.attemptsMade + 1;
    const { handler, name } = lane.definition;
    try {
      const result = await handler(record.data, {
        jobId: record.id,
        attempt,
        signal: shutdown.signal,
        progress: (value) => {
          record.progress = jsonRoundTrip(value) as number | object;
          return Promise.resolve();
        },
      });
      record.attemptsMade = attempt;
      record.result = jsonRoundTrip(result);
      record.failedReason = undefined;
      record.state = 'completed';
      finish(lane, record);
    } catch (error) {
      record.attemptsMade = attempt;
      record.failedReason = errorMessage(error);
      const attempts = lane.definition.attempts ?? DEFAULT_ATTEMPTS;
      if (attempt < attempts) {
        const delay = backoffDelay(lane.definition.backoffMs ?? DEFAULT_BACKOFF_MS, attempt);
        logger?.warn({ err: error, job: name, jobId: record.id, attempt, retryInMs: delay }, 'job attempt failed, will retry');
        // While closing no timer is armed; the record stays 'delayed' and dies with the process.
        if (closing) record.state = 'delayed';
        else schedule(lane, record, delay);
      } else {
        logger?.error({ err: error, job: name, jobId: record.id, attempt }, 'job failed, no attempts left');
        record.state = 'failed';
        finish(lane, record);
      }
    }
  }

  function enqueueNow(name: string, data: unknown, enqueueOptions: EnqueueOptions): string {
    const lane = laneFor(name);
    if (closing) throw new Error('Job queue is closed');
    if (enqueueOptions.jobId !== undefined) {
      assertValidJobId(enqueueOptions.jobId);
      if (lane.records.has(enqueueOptions.jobId)) return enqueueOptions.jobId;
    }
    const record: JobRecord = {
      id: enqueueOptions.jobId ?? randomUUID(),
      name,
      data: jsonRoundTrip(data),
      state: 'waiting',
      attemptsMade: 0,
      progress: 0,
    };
    lane.records.set(record.id, record);
    const delayMs = enqueueOptions.delayMs ?? 0;
    if (delayMs > 0) schedule(lane, record, delayMs);
    else makeWaiting(lane, record);
    return record.id;
  }

  function toInfo(record: JobRecord): JobInfo {
    const info: JobInfo = {
      id: record.id,
      name: record.name,
      state: record.state,
      attemptsMade: record.attemptsMade,
      progress: record.progress,
    };
    // BullMQ cannot tell null from undefined results; neither is reported.
    if (record.result !== undefined && record.result !== null) info.result = record.result;
    if (record.failedReason !== undefined) info.failedReason = record.failedReason;
    return info;
  }

  return {
    driver: 'in-process',

    define<TData>(definition: JobDefinition<TData>): void {
      assertValidJobName(definition.name);
      if (started) throw new Error(`Cannot define job "${definition.name}" after start()`);
      if (lanes.has(definition.name)) throw new Error(`Job "${definition.name}" is already defined`);
      lanes.set(definition.name, {
        // Handlers only ever receive data enqueued under their own name.
        definition: { ...definition, handler: definition.handler as JobHandler },
        records: new Map(),
        waiting: [],
        finished: [],
        active: 0,
      });
    },

    enqueue<TData>(name: string, data: TData, enqueueOptions?: EnqueueOptions): Promise<string> {
      // Reject rather than throw synchronously, exactly like the BullMQ driver.
      try {
        return Promise.resolve(enqueueNow(name, data, enqueueOptions ?? {}));
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },

    getJob(name: string, jobId: string): Promise<JobInfo | null> {
      const record = lanes.get(name)?.records.get(jobId);
      return Promise.resolve(record ? toInfo(record) : null);
    },

    start(): Promise<void> {
      if (closing) return Promise.reject(new Error('Job queue is closed'));
      started = true;
      for (const lane of lanes.values()) pump(lane);
      return Promise.resolve();
    },

    counts(): Promise<JobCounts> {
      const counts: JobCounts = {};
      for (const [name, lane] of lanes) {
        const perState = emptyStateCounts();
        for (const record of lane.records.values()) perState[record.state] += 1;
        counts[name] = perState;
      }
      return Promise.resolve(counts);
    },

    ping(): Promise<void> {
      return Promise.resolve();
    },

    close(): Promise<void> {
      if (closed) return closed;
      closing = true;
      closed = (async () => {
        shutdown.abort(new Error('Job queue is closing'));
        for (const lane of lanes.values()) {
          for (const record of lane.records.values()) {
            if (record.timer) clearTimeout(record.timer);
            record.timer = undefined;
          }
        }
        // Attempts are wrapped so they never reject; allSettled is belt and braces.
        await Promise.allSettled([...running]);
      })();
      return closed;
    },
  };
}
