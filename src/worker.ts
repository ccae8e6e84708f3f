import { buildApp } from './app.js';
import { closeOnSignals, configOrExit } from './platform/lifecycle.js';

/**
 * A worker process of the production profile: the same app and job handlers as the
 * API, processing BullMQ jobs without serving HTTP. Scale out by running more of them.
 */
async function main(): Promise<void> {
  const config = configOrExit();
  if (config.jobs.driver !== 'bullmq') {
    console.error('The worker processes BullMQ jobs: set REDIS_URL. With the in-process runner the hub (npm start) runs jobs itself.');
    process.exit(78);
  }
  const app = await buildApp({ config, runJobs: true });
  closeOnSignals(app, config.limits.shutdownTimeoutMs, 'worker');
  await app.ready();
  app.log.info({ jobs: config.jobs.driver }, 'worker is processing jobs');
}

main().catch((error: unknown) => {
  console.error('failed to start the worker:', error);
  process.exit(1);
});
