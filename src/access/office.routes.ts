import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Page, PageQuery, problemResponses } from '../platform/schemas.js';
import { CreateOfficeBody, OfficeParams, OfficeView, UpdateOfficeBody } from './office.schemas.js';
import { createOfficeService } from './office.service.js';
import { auditOf, SECURITY } from './runtime.js';

const OfficePage = Page(OfficeView, 'OfficePage');

/** The office registry: public reads; the operator admits offices and sets their roles and status. */
export const officeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const offices = (request: Parameters<typeof auditOf>[0]) => createOfficeService({ em: request.em, audit: auditOf(request) });

  app.get(
    '/offices',
    {
      schema: {
        tags: ['offices'],
        operationId: 'listOffices',
        summary: 'List participating offices with their roles and status',
        security: [],
        querystring: PageQuery,
        response: { 200: OfficePage, ...problemResponses(400) },
      },
    },
    async (request) => offices(request).list(request.principal, request.query),
  );

  app.get(
    '/offices/:officeCode',
    {
      schema: {
        tags: ['offices'],
        operationId: 'getOffice',
        summary: 'One office by its ST.3 code',
        security: [],
        params: OfficeParams,
        response: { 200: OfficeView, ...problemResponses(400, 404) },
      },
    },
    async (request) => offices(request).get(request.principal, request.params.officeCode),
  );

  app.post(
    '/offices',
    {
      schema: {
        tags: ['offices'],
        operationId: 'createOffice',
        summary: 'Admit an office (operator): ST.3 code, name, roles, provider mode, public-access consent',
        security: SECURITY.bearer,
        body: CreateOfficeBody,
        response: { 201: OfficeView, ...problemResponses(400, 401, 403, 409, 422) },
      },
    },
    async (request, reply) => reply.code(201).send(await offices(request).create(request.principal, request.body)),
  );

  app.patch(
    '/offices/:officeCode',
    {
      schema: {
        tags: ['offices'],
        operationId: 'updateOffice',
        summary: 'Change an office’s roles, provider mode, public-access consent or status (operator); suspension takes effect on the next request',
        security: SECURITY.bearer,
        params: OfficeParams,
        body: UpdateOfficeBody,
        response: { 200: OfficeView, ...problemResponses(400, 401, 403, 404, 422) },
      },
    },
    async (request) => offices(request).update(request.principal, request.params.officeCode, request.body),
  );
};
