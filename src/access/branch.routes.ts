import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { PageQuery, problemResponses } from '../platform/schemas.js';
import { BranchBody, BranchPage, BranchParams, BranchView } from './branch.schemas.js';
import { createBranchService } from './branch.service.js';
import { OfficeParams } from './office.schemas.js';
import { auditOf, SECURITY } from './runtime.js';

/** An office's branches: its administrator (or the operator) creates, renames and deletes them. */
export const branchRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const branches = (request: FastifyRequest) => createBranchService({ em: request.em, audit: auditOf(request) });
  const common = { tags: ['branches'], security: SECURITY.bearer };

  app.get(
    '/offices/:officeCode/branches',
    {
      schema: {
        ...common,
        operationId: 'listBranches',
        summary: 'List an office’s branches, by name',
        params: OfficeParams,
        querystring: PageQuery,
        response: { 200: BranchPage, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => branches(request).list(request.principal, request.params.officeCode, request.query),
  );

  app.post(
    '/offices/:officeCode/branches',
    {
      schema: {
        ...common,
        operationId: 'createBranch',
        summary: 'Create a branch',
        params: OfficeParams,
        body: BranchBody,
        response: { 201: BranchView, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await branches(request).create(request.principal, request.params.officeCode, request.body)),
  );

  app.get(
    '/offices/:officeCode/branches/:branchId',
    {
      schema: {
        ...common,
        operationId: 'getBranch',
        summary: 'One branch',
        params: BranchParams,
        response: { 200: BranchView, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => branches(request).get(request.principal, request.params.officeCode, request.params.branchId),
  );

  app.patch(
    '/offices/:officeCode/branches/:branchId',
    {
      schema: {
        ...common,
        operationId: 'updateBranch',
        summary: 'Rename a branch',
        params: BranchParams,
        body: BranchBody,
        response: { 200: BranchView, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => branches(request).rename(request.principal, request.params.officeCode, request.params.branchId, request.body),
  );

  app.delete(
    '/offices/:officeCode/branches/:branchId',
    {
      schema: {
        ...common,
        operationId: 'deleteBranch',
        summary: 'Delete an empty branch (no accounts, no active clients)',
        params: BranchParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await branches(request).delete(request.principal, request.params.officeCode, request.params.branchId);
      return reply.code(204).send(null);
    },
  );
};
