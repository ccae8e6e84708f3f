import type { FastifyPluginAsync } from 'fastify';
import { auditRoutes } from './audit.routes.js';
import { authRoutes } from './auth.routes.js';
import { bootstrapOperator } from './bootstrap.js';
import { branchRoutes } from './branch.routes.js';
import { clientRoutes } from './client.routes.js';
import { jwksRoutes, signingKeyRoutes } from './keys.routes.js';
import { officeRoutes } from './office.routes.js';
import { createPasswordHasher } from './passwords.js';
import type { AccessRuntime } from './runtime.js';
import { createThrottle, DEFAULT_THROTTLE, type ThrottleSettings } from './throttle.js';
import { userRoutes } from './user.routes.js';

export { authenticationPlugin } from './authentication.plugin.js';
export { createOfficeService, type OfficeService } from './office.service.js';
export { requireAccess, requireDepositor, PERMISSIONS, type AccessScope, type Depositor, type DepositOperationId, type OperationId } from './permissions.js';
export { principalBranch, principalId, principalOffice, type Principal } from './principal.js';
export { canSeeApplication, canSeeDocument, DEFAULT_VISIBILITY, type ApplicationVisibilityFacts, type DocumentStatus, type DocumentVisibility, type VisibilityFacts } from './visibility.js';
export { findOfficeOrThrow } from './office.service.js';
export { isSt3Code } from './st3.js';
export { SECURITY } from './runtime.js';
export type { KeySet } from './signing-keys.js';

export interface AccessModuleOptions {
  /**
   * scrypt N for new password hashes. The default (2^15) is the secure setting; tests lower it (down to
   * 2^10) to stay fast. Never lower it in a deployment: there is deliberately no environment variable.
   */
  passwordHashCost?: number;
  /** Brute-force limits (tests tighten them); defaults in throttle.ts. */
  throttle?: Partial<ThrottleSettings>;
}

/**
 * Principals, offices, branches, accounts, API clients, login and tokens, the JWKS and the security
 * audit log. Registers its routes under `/v1`, and the JWKS at `/.well-known/jwks.json`. Needs the
 * `authentication` plugin (signing keys, `request.principal`) registered at the root before it.
 */
export const accessModule: FastifyPluginAsync<AccessModuleOptions> = async (app, options) => {
  const hasher = createPasswordHasher({ cost: options.passwordHashCost });
  const runtime: AccessRuntime = {
    keys: app.signingKeys,
    hasher,
    throttle: createThrottle({ ...DEFAULT_THROTTLE, ...options.throttle }),
    auth: app.config.auth,
  };

  const outcome = await bootstrapOperator({ db: app.db, auth: app.config.auth, hasher });
  if (outcome.kind === 'created') app.log.info({ username: outcome.username }, 'created the operator account from OPERATOR_USERNAME');
  if (outcome.kind === 'setupToken') {
    app.log.warn(
      { setupToken: outcome.setupToken, expiresAt: outcome.expiresAt.toISOString() },
      'No operator account yet: POST /v1/auth/setup with this one-time setupToken, a username and a password (or run `npm run cli -- operator create <username>`)',
    );
  }

  await app.register(officeRoutes, { prefix: '/v1' });
  await app.register(authRoutes, { prefix: '/v1', runtime });
  await app.register(branchRoutes, { prefix: '/v1' });
  await app.register(userRoutes, { prefix: '/v1', runtime });
  await app.register(clientRoutes, { prefix: '/v1' });
  await app.register(auditRoutes, { prefix: '/v1' });
  await app.register(signingKeyRoutes, { prefix: '/v1', runtime });
  await app.register(jwksRoutes, { runtime });
};
