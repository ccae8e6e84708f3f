import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../platform/config.js';
import type { Database } from '../platform/database/database.js';
import { ForbiddenError, NotFoundError, UnprocessableError } from '../platform/errors.js';
import { AccountEntity, OperatorSetupTokenEntity, type Account } from './account.entity.js';
import { createAuditLog } from './audit.js';
import { checkPasswordPolicy, type PasswordHasher } from './passwords.js';
import { systemPrincipal, type Principal } from './principal.js';
import { randomToken, sha256Hex } from './secrets.js';
import { revokeAccountSessions } from './sessions.js';
import { flushAccount, normaliseUsername, usernameTaken } from './user.service.js';

/** How long the printed setup token works (a restart prints a new one while there is no operator). */
export const SETUP_TOKEN_TTL_SECONDS = 24 * 3600;
/** Serialises operator bootstrap across nodes (any constant: the hub takes no other advisory locks). */
const BOOTSTRAP_LOCK_KEY = 0x64786f70; // "dxop"

/** Runs `work` in a transaction holding the bootstrap lock, so two nodes starting together create one operator. */
export async function withBootstrapLock<T>(em: EntityManager, work: () => Promise<T>): Promise<T> {
  await em.begin();
  try {
    await em.execute('select pg_advisory_xact_lock(?)', [BOOTSTRAP_LOCK_KEY]);
    const result = await work();
    await em.commit();
    return result;
  } catch (error) {
    await em.rollback();
    throw error;
  }
}

export type BootstrapOutcome = { kind: 'exists' } | { kind: 'created'; username: string } | { kind: 'setupToken'; setupToken: string; expiresAt: Date };

/**
 * On start with no operator: create it from OPERATOR_USERNAME/OPERATOR_PASSWORD, or mint a one-time
 * setup token (only its hash is stored) for POST /v1/auth/setup. Every start without an operator
 * mints another; each works until one of them is used.
 */
export async function bootstrapOperator(deps: { db: Database; auth: Config['auth']; hasher: PasswordHasher }): Promise<BootstrapOutcome> {
  const em = deps.db.fork();
  return withBootstrapLock(em, async (): Promise<BootstrapOutcome> => {
    if ((await em.count(AccountEntity, { role: 'operator' })) > 0) return { kind: 'exists' };
    const configured = deps.auth.operator;
    if (configured) {
      const username = normaliseUsername(configured.username);
      if (await em.findOne(AccountEntity, { username })) throw new Error(`OPERATOR_USERNAME "${username}" is taken by an office account: choose another`);
      const account = em.create(AccountEntity, {
        username,
        role: 'operator',
        officeCode: null,
        branchId: null,
        passwordHash: await deps.hasher.hash(configured.password),
        passwordChangedAt: new Date(),
      });
      em.persist(account);
      createAuditLog({ em, context: { ip: null, requestId: null } }).record(systemPrincipal('bootstrap'), {
        type: 'account.created',
        target: { type: 'account', id: account.id },
        details: { username, role: 'operator', from: 'OPERATOR_USERNAME' },
      });
      await em.flush();
      return { kind: 'created', username };
    }
    const setupToken = randomToken('dxsetup_');
    const expiresAt = new Date(Date.now() + SETUP_TOKEN_TTL_SECONDS * 1000);
    em.persist(em.create(OperatorSetupTokenEntity, { tokenHash: sha256Hex(setupToken), expiresAt }));
    await em.flush();
    return { kind: 'setupToken', setupToken, expiresAt };
  });
}

/** Operator accounts are managed from the command line (which holds the database itself). */
export function createOperatorService({ em, hasher }: { em: EntityManager; hasher: PasswordHasher }) {
  const audit = createAuditLog({ em, context: { ip: null, requestId: null } });
  const requireSystem = (principal: Principal): void => {
    if (principal.kind !== 'system') throw new ForbiddenError('OPERATION_NOT_PERMITTED', 'Operators are managed from the command line');
  };

  return {
    async create(principal: Principal, rawUsername: string, password: string): Promise<Account> {
      requireSystem(principal);
      const username = normaliseUsername(rawUsername);
      if (!/^[a-z0-9][a-z0-9._@-]{2,99}$/.test(username)) throw new UnprocessableError('INVALID_USERNAME', 'A username has 3 to 100 letters, digits and . _ @ -');
      checkPasswordPolicy(username, password);
      if (await em.findOne(AccountEntity, { username })) throw usernameTaken(username);
      const account = em.create(AccountEntity, { username, role: 'operator', officeCode: null, branchId: null, passwordHash: await hasher.hash(password), passwordChangedAt: new Date() });
      em.persist(account);
      audit.record(principal, { type: 'account.created', target: { type: 'account', id: account.id }, details: { username, role: 'operator' } });
      await flushAccount(em, username);
      return account;
    },

    /** New password, unlocked, every session ended. */
    async resetPassword(principal: Principal, rawUsername: string, password: string): Promise<Account> {
      requireSystem(principal);
      const username = normaliseUsername(rawUsername);
      const account = await em.findOne(AccountEntity, { username, role: 'operator' });
      if (!account) throw new NotFoundError('OPERATOR_NOT_FOUND', `No operator "${username}"`);
      checkPasswordPolicy(username, password);
      account.passwordHash = await hasher.hash(password);
      account.passwordChangedAt = new Date();
      account.failedLoginCount = 0;
      account.lockedUntil = null;
      account.status = 'active';
      audit.record(principal, { type: 'account.password_reset', target: { type: 'account', id: account.id }, details: { username } });
      await em.flush();
      await revokeAccountSessions(em, account.id, 'accountChanged');
      return account;
    },
  };
}
