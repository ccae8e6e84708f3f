import { randomUUID } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { accessEventsPlugin, dossierModule } from './dossier/index.js';
import { providersModule } from './providers/index.js';
import { accessModule, authenticationPlugin, type AccessModuleOptions } from './access/index.js';
import { entities } from './entities.js';
import type { Config } from './platform/config.js';
import { openapiPlugin } from './platform/openapi.plugin.js';
import { platformPlugin } from './platform/platform.plugin.js';
import { installValidation } from './platform/validation.js';
import { problemHandlerPlugin } from './platform/problem-handler.js';

export interface BuildAppOptions {
  config: Config;
  /** Pino options, or false to log nothing (tests). Default: JSON logs at config.logLevel. */
  logger?: FastifyServerOptions['logger'];
  /** Borrowed in-memory PGlite for the embedded profile (tests). */
  pglite?: PGlite;
  /** Process background jobs here (default: only with the in-process runner). */
  runJobs?: boolean;
  /** Access module settings that are not configuration (tests lower the password hashing cost). */
  access?: AccessModuleOptions;
}

function trustHops(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** The whole hub as a fastify instance that has not started listening. */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const app = Fastify({
    logger: options.logger ?? {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]'],
    },
    // Trust a caller's request id only when it is short and plain; otherwise mint one.
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
    },
    logController: new LogController({
      requestIdLogLabel: 'requestId',
      // Probes are polled every few seconds: logging each drowns the useful lines.
      disableRequestLogging: (request) => request.url === '/health' || request.url === '/ready' || request.url === '/metrics',
    }),
    // A hop count becomes proxy-addr's trust function (fastify's types only name the other forms).
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    bodyLimit: config.limits.bodyLimitBytes,
    requestTimeout: config.limits.requestTimeoutMs,
    // While closing: refuse new requests with 503, drop idle keep-alive sockets, let in-flight ones finish.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Opening the platform (PGlite's initdb on a fresh DATA_DIR, migrations, crash recovery after a kill) can take
    // longer than fastify's 10 s default on a slow or busy machine; a start that takes long is not a start that failed.
    pluginTimeout: 120_000,
  }).withTypeProvider<TypeBoxTypeProvider>();

  installValidation(app);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  await app.register(problemHandlerPlugin);
  await app.register(openapiPlugin);
  await app.register(platformPlugin, {
    config,
    entities,
    ...(options.pglite ? { pglite: options.pglite } : {}),
    ...(options.runJobs !== undefined ? { runJobs: options.runJobs } : {}),
  });
  await app.register(authenticationPlugin);
  await app.register(accessModule, options.access ?? {});
  await app.register(accessEventsPlugin);
  await app.register(dossierModule);
  await app.register(providersModule);
  return app;
}
