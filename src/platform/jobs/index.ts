import { createBullmqQueue } from './bullmq-queue.js';
import { createInProcessQueue } from './in-process-queue.js';
import type { JobLogger } from './in-process-queue.js';
import type { JobQueue } from './job-queue.js';

export type * from './job-queue.js';
export type { JobLogger, InProcessQueueOptions } from './in-process-queue.js';
export type { BullmqQueueOptions } from './bullmq-queue.js';
export { createInProcessQueue } from './in-process-queue.js';
export { createBullmqQueue } from './bullmq-queue.js';

export type JobQueueConfig =
  | { driver: 'in-process' }
  | { driver: 'bullmq'; redisUrl: string; prefix?: string };

/** Picks the driver from configuration; both run the same handlers. */
export function createJobQueue(config: JobQueueConfig, logger?: JobLogger): JobQueue {
  if (config.driver === 'bullmq') {
    return createBullmqQueue({
      redisUrl: config.redisUrl,
      ...(config.prefix !== undefined ? { prefix: config.prefix } : {}),
      ...(logger ? { logger } : {}),
    });
  }
  return createInProcessQueue(logger ? { logger } : {});
}
