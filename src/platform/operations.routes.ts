import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ServiceUnavailableError } from './errors.js';
import { problemResponses } from './schemas.js';
import { withTimeout } from './timeout.js';

const DependencyStatus = Type.Object({ name: Type.String(), status: Type.Enum(['up', 'down']), error: Type.Optional(Type.String()) });
const Readiness = Type.Object({ status: Type.Literal('ready'), dependencies: Type.Array(DependencyStatus) }, { $id: 'Readiness' });

export interface ReadinessProbe {
  name: string;
  check(): Promise<void>;
}


/** Liveness, readiness and Prometheus metrics: what an orchestrator and a scraper call. */
export const operationsRoutes: FastifyPluginAsyncTypebox<{ probes: ReadinessProbe[]; timeoutMs: number }> = async (app, { probes, timeoutMs }) => {
  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        security: [],
        operationId: 'getHealth',
        summary: 'Liveness: the process is up and serving',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['operations'],
        security: [],
        operationId: 'getReadiness',
        summary: 'Readiness: the database, the object store and Redis (when configured) answer',
        response: { 200: Readiness, ...problemResponses(503) },
      },
    },
    async () => {
      const dependencies = await Promise.all(
        probes.map(async (probe) => {
          try {
            await withTimeout(probe.check(), timeoutMs, `no answer within ${timeoutMs} ms`);
            return { name: probe.name, status: 'up' as const };
          } catch (error) {
            return { name: probe.name, status: 'down' as const, error: error instanceof Error ? error.message : String(error) };
          }
        }),
      );
      const down = dependencies.filter((dependency) => dependency.status === 'down');
      if (down.length > 0) {
        // Name what is down, not why: error texts may carry hosts and are for the logs.
        app.log.warn({ down }, 'readiness check failed');
        throw new ServiceUnavailableError('NOT_READY', `Not ready: ${down.map((dependency) => dependency.name).join(', ')} unavailable`, 5, {
          dependencies: dependencies.map(({ name, status }) => ({ name, status })),
        });
      }
      return { status: 'ready' as const, dependencies };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        security: [],
        operationId: 'getMetrics',
        summary: 'Prometheus metrics: request counts and latency by route, pool and job gauges',
        produces: ['text/plain'],
        response: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: Type.String() } } } },
      },
    },
    async (_request, reply) => {
      const registry = app.metrics.registry;
      return reply.type(registry.contentType).send(await registry.metrics());
    },
  );
};
