import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { PageQuery, problemResponses } from '../platform/schemas.js';
import { ClientPage, ClientParams, ClientView, ClientWithSecret, CreateClientBody, RotateClientBody } from './client.schemas.js';
import { createClientService } from './client.service.js';
import { OfficeParams } from './office.schemas.js';
import { auditOf, SECURITY } from './runtime.js';

/** A providing office's API clients, managed by its administrator. */
export const clientRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const clients = (request: FastifyRequest) => createClientService({ em: request.em, audit: auditOf(request) });
  const common = { tags: ['clients'], security: SECURITY.bearer };

  app.get(
    '/offices/:officeCode/clients',
    {
      schema: {
        ...common,
        operationId: 'listClients',
        summary: 'List an office’s API clients, oldest first',
        params: OfficeParams,
        querystring: PageQuery,
        response: { 200: ClientPage, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => clients(request).list(request.principal, request.params.officeCode, request.query),
  );

  app.post(
    '/offices/:officeCode/clients',
    {
      schema: {
        ...common,
        operationId: 'createClient',
        summary: 'Create an API client in a branch: with a client secret (shown once) or a registered public JWK for private_key_jwt',
        params: OfficeParams,
        body: CreateClientBody,
        response: { 201: ClientWithSecret, ...problemResponses(400, 401, 403, 404, 422) },
      },
    },
    async (request, reply) => reply.code(201).send(await clients(request).create(request.principal, request.params.officeCode, request.body)),
  );

  app.get(
    '/offices/:officeCode/clients/:clientId',
    {
      schema: {
        ...common,
        operationId: 'getClient',
        summary: 'One API client',
        params: ClientParams,
        response: { 200: ClientView, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => clients(request).get(request.principal, request.params.officeCode, request.params.clientId),
  );

  app.post(
    '/offices/:officeCode/clients/:clientId/credentials',
    {
      schema: {
        ...common,
        operationId: 'rotateClientCredentials',
        summary: 'Rotate a client’s credentials: a new secret (shown once), or a newly registered public JWK',
        description: 'The old secret or key stops working at once; access tokens already issued run until they expire.',
        params: ClientParams,
        body: RotateClientBody,
        response: { 200: ClientWithSecret, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request) => clients(request).rotate(request.principal, request.params.officeCode, request.params.clientId, request.body),
  );

  app.post(
    '/offices/:officeCode/clients/:clientId/revoke',
    {
      schema: {
        ...common,
        operationId: 'revokeClient',
        summary: 'Revoke an API client for good; its tokens stop working on the next request',
        params: ClientParams,
        response: { 200: ClientView, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => clients(request).revoke(request.principal, request.params.officeCode, request.params.clientId),
  );
};
