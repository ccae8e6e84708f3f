import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../platform/schemas.js';
import { JsonWebKeySetView, RotateKeyBody, SigningKeyList, SigningKeyView } from './keys.schemas.js';
import { createKeyService } from './keys.service.js';
import { auditOf, SECURITY, type AccessRuntime } from './runtime.js';

/** How long verifiers may cache the JWKS: well below the publish delay, so a new key is known before it signs. */
export const JWKS_MAX_AGE_SECONDS = 300;

/** `GET /.well-known/jwks.json`, registered at the root. */
export const jwksRoutes: FastifyPluginAsyncTypebox<{ runtime: AccessRuntime }> = async (app, { runtime }) => {
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['auth'],
        operationId: 'getJwks',
        summary: 'The hub’s public signing keys (published, active and retired), to verify its tokens and receipts',
        security: SECURITY.public,
        response: { 200: JsonWebKeySetView },
      },
    },
    async (_request, reply) => {
      void reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
      return runtime.keys.jwks();
    },
  );
};

/** The operator's view of the signing keys, and rotation. */
export const signingKeyRoutes: FastifyPluginAsyncTypebox<{ runtime: AccessRuntime }> = async (app, { runtime }) => {
  const common = { tags: ['keys'], security: SECURITY.bearer };

  app.get(
    '/signing-keys',
    {
      schema: {
        ...common,
        operationId: 'listSigningKeys',
        summary: 'The signing keys with their status: published, active, retired (operator)',
        response: { 200: SigningKeyList, ...problemResponses(401, 403) },
      },
    },
    async (request) => createKeyService({ keys: runtime.keys, audit: auditOf(request), em: request.em }).list(request.principal),
  );

  app.post(
    '/signing-keys',
    {
      schema: {
        ...common,
        operationId: 'rotateSigningKey',
        summary: 'Rotate the signing key (operator): the new key is published now and signs after the publish delay',
        body: RotateKeyBody,
        response: { 201: SigningKeyView, ...problemResponses(400, 401, 403) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await createKeyService({ keys: runtime.keys, audit: auditOf(request), em: request.em }).rotate(request.principal, request.body)),
  );
};
