/** Context handed to a job handler on every attempt. */
export interface JobContext {
  jobId: string;
  /** 1 on the first attempt. */
  attempt: number;
  /** Aborted when the runner is shutting down and the handler should stop early if it can. */
  signal: AbortSignal;
  /** Report progress (0..100 or any JSON), visible through `getJob`. */
  progress(value: number | object): Promise<void>;
}

export type JobHandler<TData = unknown> = (data: TData, context: JobContext) => Promise<unknown>;

export interface JobDefinition<TData = unknown> {
  name: string;
  handler: JobHandler<TData>;
  /** Parallel jobs of this kind per process. */
  concurrency?: number;
  /** Total attempts including the first (default 3). */
  attempts?: number;
  /** Exponential backoff base in ms (default 1000): delay = base * 2^(attempt-1). */
  backoffMs?: number;
}

export interface EnqueueOptions {
  /** Deduplicates: enqueueing an id that already exists returns the existing job. */
  jobId?: string;
  delayMs?: number;
}

export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

export interface JobInfo {
  id: string;
  name: string;
  state: JobState;
  attemptsMade: number;
  progress: number | object;
  result?: unknown;
  failedReason?: string;
}

export type JobCounts = Record<string, Record<JobState, number>>;

/**
 * Background jobs with retries. The in-process runner and BullMQ implement the same
 * contract and run the same handlers.
 */
export interface JobQueue {
  readonly driver: 'in-process' | 'bullmq';
  /** Register a handler; must happen before `start`. */
  define<TData>(definition: JobDefinition<TData>): void;
  enqueue<TData>(name: string, data: TData, options?: EnqueueOptions): Promise<string>;
  getJob(name: string, jobId: string): Promise<JobInfo | null>;
  /** Begin processing the defined jobs in this process. Producers that never call it only enqueue. */
  start(): Promise<void>;
  counts(): Promise<JobCounts>;
  ping(): Promise<void>;
  /** Stop taking new jobs, wait for active ones to finish, release connections. */
  close(): Promise<void>;
}
