import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import Type from 'typebox';

export const API_TITLE = 'Dossier Exchange API';
export const API_VERSION = '1.0.0';

/**
 * OpenAPI 3.1 generated from the route schemas. The document is independent of the
 * deployment (relative server URL), so the committed `openapi/openapi.json` can equal it.
 */
export const openapiPlugin = fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: API_TITLE,
          version: API_VERSION,
          description:
            'Hub through which patent offices share search and examination dossiers. Errors are RFC 9457 problem documents (application/problem+json) with a stable errorCode and the request id.',
          license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
        },
        servers: [{ url: '/' }],
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              bearerFormat: 'JWT',
              description: 'Access token (EdDSA JWT, typ at+jwt) from POST /v1/auth/login (people) or POST /v1/auth/token (API clients)',
            },
            clientSecretBasic: {
              type: 'http',
              scheme: 'basic',
              description: 'OAuth 2.0 client_secret_basic at the token endpoint: the client id and secret',
            },
          },
        },
        tags: [
          { name: 'auth', description: 'Login, sessions, client credentials, the JWKS and the caller itself' },
          { name: 'offices', description: 'The registry of participating offices' },
          { name: 'branches', description: 'An office’s branches (office administrator)' },
          { name: 'users', description: 'An office’s administrator and examiners (office administrator)' },
          { name: 'clients', description: 'A providing office’s API clients (office administrator)' },
          { name: 'audit', description: 'The security audit log' },
          { name: 'keys', description: 'The hub’s signing keys (operator)' },
          { name: 'numbers', description: 'Patent number normalisation' },
          { name: 'applications', description: 'Applications and their bibliographic data, pushed by providing offices' },
          { name: 'deposits', description: 'Document deposits with receipts, corrections, changes by the providing office' },
          { name: 'documents', description: 'Dossier documents under the visibility rule, and the vocabulary of document codes' },
          { name: 'citations', description: 'Patent and non-patent citations of an application' },
          { name: 'families', description: 'Simple and extended patent families computed from priority claims: members, timeline, citation matrix' },
          { name: 'operations', description: 'Health, readiness, metrics and this document' },
        ],
      },
      // Name shared schemas by their $id so they land in components.schemas.
      refResolver: {
        buildLocalReference(json, _baseUri, _fragment, index) {
          return typeof json.$id === 'string' ? json.$id : `def-${index}`;
        },
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true }, staticCSP: true });

    app.get(
      '/openapi.json',
      {
        schema: {
          tags: ['operations'],
          security: [],
          operationId: 'getOpenApiDocument',
          summary: 'This API’s OpenAPI 3.1 document',
          response: { 200: Type.Object({}, { additionalProperties: true }) },
        },
      },
      () => app.swagger(),
    );
  },
  { name: 'openapi' },
);
