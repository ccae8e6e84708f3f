import { buildApp } from './app.js';
import { closeOnSignals, configOrExit } from './platform/lifecycle.js';

/** The API process: serves HTTP and socket.io; processes jobs too with the in-process runner. */
async function main(): Promise<void> {
  const config = configOrExit();
  const app = await buildApp({ config });
  closeOnSignals(app, config.limits.shutdownTimeoutMs, 'hub');
  await app.listen({ port: config.port, host: config.host });
  app.log.info(
    { database: config.database.driver, storage: config.storage.driver, jobs: config.jobs.driver, publicUrl: config.publicUrl },
    'Dossier Exchange is ready',
  );
}

main().catch((error: unknown) => {
  console.error('failed to start:', error);
  process.exit(1);
});
