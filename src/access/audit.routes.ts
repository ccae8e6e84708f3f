import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { problemResponses } from '../platform/schemas.js';
import { createAuditService } from './audit.js';
import { AuditEventPage, AuditQuerySchema, GlobalAuditQuerySchema } from './audit.schemas.js';
import { OfficeParams } from './office.schemas.js';
import { SECURITY } from './runtime.js';

/** The security audit log: all of it for the operator, an office's part for its administrator. */
export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const audit = (request: FastifyRequest) => createAuditService({ em: request.em });
  const common = { tags: ['audit'], security: SECURITY.bearer };

  app.get(
    '/audit-events',
    {
      schema: {
        ...common,
        operationId: 'listAuditEvents',
        summary: 'Security audit events of the whole hub, newest first (operator)',
        querystring: GlobalAuditQuerySchema,
        response: { 200: AuditEventPage, ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => audit(request).list(request.principal, request.query),
  );

  app.get(
    '/offices/:officeCode/audit-events',
    {
      schema: {
        ...common,
        operationId: 'listOfficeAuditEvents',
        summary: 'Security audit events concerning one office, newest first (operator, or that office’s administrator)',
        params: OfficeParams,
        querystring: AuditQuerySchema,
        response: { 200: AuditEventPage, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => audit(request).listForOffice(request.principal, request.params.officeCode, request.query),
  );
};
