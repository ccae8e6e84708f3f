import type { FastifyRequest } from 'fastify';
import type { Config } from '../platform/config.js';
import { createAuditLog, type AuditLog, type RequestContext } from './audit.js';
import type { PasswordHasher } from './passwords.js';
import type { KeySet } from './signing-keys.js';
import type { Throttle } from './throttle.js';

/** What the access module keeps for the life of the app (one per node). */
export interface AccessRuntime {
  keys: KeySet;
  hasher: PasswordHasher;
  throttle: Throttle;
  auth: Config['auth'];
}

export function requestContext(request: FastifyRequest): RequestContext {
  return { ip: request.ip, requestId: String(request.id) };
}

/** The audit log of this request: events commit with the request's unit of work. */
export function auditOf(request: FastifyRequest): AuditLog {
  return createAuditLog({ em: request.em, context: requestContext(request) });
}

type SecurityRequirements = { [name: string]: string[] }[];

/** OpenAPI security requirements of the hub's operations. */
export const SECURITY: Record<'public' | 'bearer' | 'clientAuthentication', SecurityRequirements> = {
  /** No credentials needed. */
  public: [],
  /** A bearer access token from /v1/auth/login or /v1/auth/token. */
  bearer: [{ bearerAuth: [] }],
  /** The token endpoint: HTTP Basic (client_secret_basic), or a client assertion in the body (private_key_jwt, the empty alternative). */
  clientAuthentication: [{ clientSecretBasic: [] }, {}],
};
