import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { problemResponses } from '../platform/schemas.js';
import { ChangePasswordBody, ClientToken, ClientTokenBody, LoginBody, MeView, RefreshBody, SetPasswordBody, SetupBody, SetupResult, TokenPair } from './auth.schemas.js';
import { createAuthService } from './auth.service.js';
import { createClientTokenService } from './client-token.service.js';
import { auditOf, SECURITY, type AccessRuntime } from './runtime.js';

const NoContent = Type.Null({ description: 'Done' });
const FORM = 'application/x-www-form-urlencoded';

/** Tokens must not be cached by the client or on the way (RFC 6749 §5.1). */
function noStore(reply: FastifyReply): void {
  void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

/** Login, sessions, the OAuth token endpoint, first-operator setup, password tokens, and the caller itself. */
export const authRoutes: FastifyPluginAsyncTypebox<{ runtime: AccessRuntime }> = async (app, { runtime }) => {
  // OAuth clients send form-encoded token requests (RFC 6749 §4.4.2); JSON is accepted too.
  app.addContentTypeParser(FORM, { parseAs: 'string', bodyLimit: 16 * 1024 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });

  const auth = (request: FastifyRequest) =>
    createAuthService({ em: request.em, audit: auditOf(request), keys: runtime.keys, hasher: runtime.hasher, throttle: runtime.throttle, auth: runtime.auth, ip: request.ip });

  app.post(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        operationId: 'login',
        summary: 'Sign in a person (operator, office administrator, examiner) with username and password',
        description:
          'Returns a short-lived access token and a single-use refresh token. A wrong password and an unknown user get the same 401. Repeated failures lock the account for a growing time (429 ACCOUNT_LOCKED) and are limited per address (429 TOO_MANY_ATTEMPTS).',
        security: SECURITY.public,
        body: LoginBody,
        response: { 200: TokenPair, ...problemResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const tokens = await auth(request).login(request.principal, request.body);
      noStore(reply);
      return tokens;
    },
  );

  app.post(
    '/auth/refresh',
    {
      schema: {
        tags: ['auth'],
        operationId: 'refreshSession',
        summary: 'Exchange a refresh token for a new access token and the next refresh token',
        description: 'Each refresh token works once. Presenting one that was already used ends the whole session (401 REFRESH_TOKEN_REUSED).',
        security: SECURITY.public,
        body: RefreshBody,
        response: { 200: TokenPair, ...problemResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const tokens = await auth(request).refresh(request.principal, request.body.refreshToken);
      noStore(reply);
      return tokens;
    },
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        tags: ['auth'],
        operationId: 'logout',
        summary: 'End the session of a refresh token; its access tokens stop working at once',
        security: SECURITY.public,
        body: RefreshBody,
        response: { 204: NoContent, ...problemResponses(400, 401) },
      },
    },
    async (request, reply) => {
      await auth(request).logout(request.principal, request.body.refreshToken);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/token',
    {
      config: { clientAuthentication: true },
      schema: {
        tags: ['auth'],
        operationId: 'requestClientToken',
        summary: 'OAuth 2.0 client credentials for API clients (client_secret_basic or private_key_jwt)',
        description:
          'grant_type=client_credentials, form-encoded. Authenticate with HTTP Basic (client id and secret), or send client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer and a client_assertion JWT (RFC 7523) signed with the registered key: iss = sub = client id, aud = this endpoint’s URL, a unique jti, exp at most 10 minutes ahead. A jti cannot be used twice. Errors carry the OAuth error code in `error`.',
        security: SECURITY.clientAuthentication,
        consumes: [FORM, 'application/json'],
        body: ClientTokenBody,
        response: { 200: ClientToken, ...problemResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const token = await createClientTokenService({
        em: request.em,
        audit: auditOf(request),
        keys: runtime.keys,
        throttle: runtime.throttle,
        auth: runtime.auth,
        ip: request.ip,
      }).issue(request.principal, { authorization: request.headers.authorization, body: request.body });
      noStore(reply);
      return token;
    },
  );

  app.post(
    '/auth/setup',
    {
      schema: {
        tags: ['auth'],
        operationId: 'setupOperator',
        summary: 'Create the first operator with the one-time setup token the hub printed at start',
        description: 'Works once, and only while the hub has no operator. The hub prints the token (warn level) when it starts on an empty database without OPERATOR_USERNAME/OPERATOR_PASSWORD.',
        security: SECURITY.public,
        body: SetupBody,
        response: { 201: SetupResult, ...problemResponses(400, 401, 409, 429) },
      },
    },
    async (request, reply) => reply.code(201).send(await auth(request).setupOperator(request.principal, request.body)),
  );

  app.post(
    '/auth/password',
    {
      schema: {
        tags: ['auth'],
        operationId: 'setPasswordWithToken',
        summary: 'Choose a password with an invitation or password-reset token (single use)',
        security: SECURITY.public,
        body: SetPasswordBody,
        response: { 204: NoContent, ...problemResponses(400, 401, 422, 429) },
      },
    },
    async (request, reply) => {
      await auth(request).setPasswordWithToken(request.principal, request.body);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me',
    {
      schema: {
        tags: ['auth'],
        operationId: 'getMe',
        summary: 'The caller: its account or client, office, branch and permissions',
        security: SECURITY.bearer,
        response: { 200: MeView, ...problemResponses(401, 403) },
      },
    },
    async (request) => auth(request).me(request.principal),
  );

  app.post(
    '/me/password',
    {
      schema: {
        tags: ['auth'],
        operationId: 'changeOwnPassword',
        summary: 'Change one’s own password; every other session ends and a new one starts',
        security: SECURITY.bearer,
        body: ChangePasswordBody,
        response: { 200: TokenPair, ...problemResponses(400, 401, 403, 422, 429) },
      },
    },
    async (request, reply) => {
      const tokens = await auth(request).changeOwnPassword(request.principal, request.body);
      noStore(reply);
      return tokens;
    },
  );
};
