import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { PageQuery, problemResponses } from '../platform/schemas.js';
import { OfficeParams } from './office.schemas.js';
import { auditOf, SECURITY, type AccessRuntime } from './runtime.js';
import { CreateUserBody, ResetPasswordBody, UpdateUserBody, UserPage, UserParams, UserView, UserWithPasswordToken } from './user.schemas.js';
import { createUserService } from './user.service.js';

/** An office's people: its administrator manages examiners; the operator creates the administrator. */
export const userRoutes: FastifyPluginAsyncTypebox<{ runtime: AccessRuntime }> = async (app, { runtime }) => {
  const users = (request: FastifyRequest) => createUserService({ em: request.em, audit: auditOf(request), hasher: runtime.hasher });
  const common = { tags: ['users'], security: SECURITY.bearer };

  app.get(
    '/offices/:officeCode/users',
    {
      schema: {
        ...common,
        operationId: 'listUsers',
        summary: 'List an office’s accounts (administrator and examiners), by username',
        params: OfficeParams,
        querystring: PageQuery,
        response: { 200: UserPage, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => users(request).list(request.principal, request.params.officeCode, request.query),
  );

  app.post(
    '/offices/:officeCode/users',
    {
      schema: {
        ...common,
        operationId: 'createUser',
        summary: 'Create an examiner in a branch (or, operator only, the office administrator), with an initial password or an invitation (a one-time password token)',
        description: 'Without `password` the answer carries a one-time `passwordToken` (valid 7 days) for POST /v1/auth/password; it is shown once.',
        params: OfficeParams,
        body: CreateUserBody,
        response: { 201: UserWithPasswordToken, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => reply.code(201).send(await users(request).create(request.principal, request.params.officeCode, request.body)),
  );

  app.get(
    '/offices/:officeCode/users/:userId',
    {
      schema: {
        ...common,
        operationId: 'getUser',
        summary: 'One account of the office',
        params: UserParams,
        response: { 200: UserView, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => users(request).get(request.principal, request.params.officeCode, request.params.userId),
  );

  app.patch(
    '/offices/:officeCode/users/:userId',
    {
      schema: {
        ...common,
        operationId: 'updateUser',
        summary: 'Disable or enable an account, move an examiner to another branch, or change the display name',
        description: 'Disabling takes effect on the account’s next request and ends its sessions.',
        params: UserParams,
        body: UpdateUserBody,
        response: { 200: UserView, ...problemResponses(400, 401, 403, 404, 422) },
      },
    },
    async (request) => users(request).update(request.principal, request.params.officeCode, request.params.userId, request.body),
  );

  app.post(
    '/offices/:officeCode/users/:userId/password-reset',
    {
      schema: {
        ...common,
        operationId: 'resetUserPassword',
        summary: 'Reset an account’s password: set a new one, or (without) issue a one-time password token',
        description: 'Unlocks the account and ends its sessions; without `password` the old password stops working.',
        params: UserParams,
        body: ResetPasswordBody,
        response: { 200: UserWithPasswordToken, ...problemResponses(400, 401, 403, 404, 422) },
      },
    },
    async (request) => users(request).resetPassword(request.principal, request.params.officeCode, request.params.userId, request.body),
  );
};
