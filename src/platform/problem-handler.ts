import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import findMyWay, { type HTTPMethod } from 'find-my-way';
import { AppError, MethodNotAllowedError, NotFoundError, type FieldProblem } from './errors.js';
import { PROBLEM_CONTENT_TYPE, Problem } from './schemas.js';

const PROBLEM_TYPE_BASE = 'https://dossier-exchange.org/problems/';

function problemType(errorCode: string): string {
  return PROBLEM_TYPE_BASE + errorCode.toLowerCase().replaceAll('_', '-');
}

/** Maps fastify's own errors (validation, body parsing, limits) to problem fields. */
function fromFastifyError(error: FastifyError): { status: number; title: string; errorCode: string; detail: string; errors?: FieldProblem[] } | null {
  if (error.validation) {
    const context = error.validationContext ?? 'body';
    const errors = error.validation.map((issue) => {
      const missing = issue.keyword === 'required' ? `/${String(issue.params.missingProperty)}` : '';
      const extra = issue.keyword === 'additionalProperties' ? `/${String(issue.params.additionalProperty)}` : '';
      const field = `/${context}${issue.instancePath}${missing}${extra}`;
      return { field, message: issue.message ?? 'is invalid' };
    });
    return {
      status: 400,
      title: 'Bad Request',
      errorCode: 'VALIDATION_FAILED',
      detail: `Invalid request: ${errors.map((entry) => `${entry.field} ${entry.message}`).join('; ')}`,
      errors,
    };
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, title: 'Payload Too Large', errorCode: 'PAYLOAD_TOO_LARGE', detail: 'The request body exceeds the allowed size' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, title: 'Unsupported Media Type', errorCode: 'UNSUPPORTED_MEDIA_TYPE', detail: 'The request body has a media type this operation does not accept' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, title: 'Bad Request', errorCode: 'EMPTY_BODY', detail: 'The JSON body is empty' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, title: 'Bad Request', errorCode: 'MALFORMED_BODY', detail: 'The request body is not well-formed' };
  }
  if (error instanceof SyntaxError) {
    return { status: 400, title: 'Bad Request', errorCode: 'MALFORMED_BODY', detail: 'The request body is not valid JSON' };
  }
  // Other 4xx errors fastify raises (e.g. bad headers): keep the status, neutral wording.
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return { status: error.statusCode, title: 'Bad Request', errorCode: 'BAD_REQUEST', detail: error.message };
  }
  return null;
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', '57P01', '57P03', '53300']);
const UNAVAILABLE_NAMES = new Set(['KnexTimeoutError', 'ConnectionException', 'TimeoutError']);
const UNAVAILABLE_MESSAGES = /Unable to acquire a connection|Connection terminated|PGlite is closed|Timeout acquiring a connection|connect ECONNREFUSED/i;

/** A dependency (database, store, Redis) that is down or saturated: the client should retry, not give up. */
function isDependencyUnavailable(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    if (UNAVAILABLE_NAMES.has(current.name) || UNAVAILABLE_MESSAGES.test(current.message)) return true;
  }
  return false;
}

async function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  problem: { status: number; title: string; errorCode: string; detail: string } & Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<void> {
  const { status, title, errorCode, detail, ...extensions } = problem;
  await reply
    .code(status)
    .headers(headers)
    .type(PROBLEM_CONTENT_TYPE)
    .send({
      type: problemType(errorCode),
      title,
      status,
      detail,
      instance: request.url.split('?')[0],
      errorCode,
      requestId: String(request.id),
      ...extensions,
    });
}

/**
 * The one place errors become responses: typed AppErrors, fastify's validation and
 * parsing errors, unknown routes (404) and known routes with another method (405).
 * A 5xx never carries internals: they are logged with the request id instead.
 */
export const problemHandlerPlugin = fp(
  async (app: FastifyInstance) => {
    app.addSchema(Problem);

    // A second router holding just the route shapes lets a miss tell "unknown path" from "wrong method".
    const shapes = findMyWay();
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) {
        if (method === 'HEAD' || method === 'OPTIONS') continue;
        try {
          shapes.on(method as HTTPMethod, route.url, () => undefined);
        } catch {
          // Same shape registered twice (e.g. a prefix and its trailing slash): one entry suffices.
        }
      }
    });

    app.setNotFoundHandler(async (request, reply) => {
      const url = request.url.split('?')[0] ?? '/';
      const allowed = (['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const).filter((method) => shapes.find(method, url) !== null);
      const error = allowed.length > 0 ? new MethodNotAllowedError(request.method, url, allowed) : new NotFoundError('ROUTE_NOT_FOUND', `No route matches ${request.method} ${url}`);
      await sendProblem(request, reply, { status: error.status, title: error.title, errorCode: error.errorCode, detail: error.detail, ...error.extensions }, error.headers());
    });

    app.setErrorHandler(async (error: FastifyError, request, reply) => {
      if (error instanceof AppError) {
        if (error.status >= 500) request.log.error({ err: error }, 'request failed');
        await sendProblem(request, reply, { status: error.status, title: error.title, errorCode: error.errorCode, detail: error.detail, ...error.extensions }, error.headers());
        return;
      }
      const mapped = fromFastifyError(error);
      if (mapped) {
        await sendProblem(request, reply, mapped);
        return;
      }
      if (isDependencyUnavailable(error)) {
        request.log.error({ err: error }, 'dependency unavailable');
        await sendProblem(
          request,
          reply,
          { status: 503, title: 'Service Unavailable', errorCode: 'DEPENDENCY_UNAVAILABLE', detail: 'A service the hub depends on is unavailable; retry shortly' },
          { 'retry-after': '5' },
        );
        return;
      }
      request.log.error({ err: error }, 'unhandled error');
      await sendProblem(request, reply, {
        status: 500,
        title: 'Internal Server Error',
        errorCode: 'INTERNAL_ERROR',
        detail: `An unexpected error occurred; quote request id ${String(request.id)} when reporting it`,
      });
    });
  },
  { name: 'problem-handler' },
);
