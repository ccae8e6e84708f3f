import type { FastifyInstance } from 'fastify';
import { ConfigError, environmentFromProcess, loadConfig, type Config } from './config.js';

/** Reads the configuration or exits with EX_CONFIG (78), printing every bad variable. */
export function configOrExit(): Config {
  try {
    return loadConfig(environmentFromProcess());
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78);
    }
    throw error;
  }
}

/**
 * Closes the app on SIGTERM/SIGINT: fastify stops accepting, lets in-flight requests
 * finish, then the platform waits for active jobs and closes its pools. Exit 0 when
 * that completes within the budget, 1 otherwise.
 */
export function closeOnSignals(app: FastifyInstance, shutdownTimeoutMs: number, what: string): void {
  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, `${what} shutting down: finishing in-flight work`);
    const deadline = setTimeout(() => {
      app.log.error({ timeoutMs: shutdownTimeoutMs }, 'graceful shutdown timed out');
      process.exit(1);
    }, shutdownTimeoutMs);
    deadline.unref();
    app.close().then(
      () => {
        app.log.info(`${what} shut down cleanly`);
        process.exit(0);
      },
      (error: unknown) => {
        app.log.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
