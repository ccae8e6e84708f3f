import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../platform/config.js';
import { ForbiddenError, TooManyRequestsError, UnauthorizedError } from '../platform/errors.js';
import { AccountEntity, OperatorSetupTokenEntity, RefreshTokenEntity, type Account } from './account.entity.js';
import { ApiClientEntity } from './api-client.entity.js';
import type { AuditLog } from './audit.js';
import type { ChangePasswordInput, LoginInput, MeView, SetPasswordInput, SetupInput, TokenPair } from './auth.schemas.js';
import { withBootstrapLock } from './bootstrap.js';
import { BranchEntity } from './branch.entity.js';
import { toBranchView } from './branch.service.js';
import { toClientView } from './client.service.js';
import { OfficeEntity, type Office } from './office.entity.js';
import { toOfficeView } from './office.service.js';
import { checkPasswordPolicy, type PasswordHasher } from './passwords.js';
import { permissionsOf, requireAccess } from './permissions.js';
import { ANONYMOUS, principalOfAccount, type Principal } from './principal.js';
import { sha256Hex } from './secrets.js';
import { revokeAccountSessions, revokeSessionFamily, startSession } from './sessions.js';
import type { KeySet } from './signing-keys.js';
import { requireAddressAllowed, type Throttle } from './throttle.js';
import { flushAccount, normaliseUsername, toUserView, usernameTaken } from './user.service.js';

export interface AuthServiceDeps {
  em: EntityManager;
  audit: AuditLog;
  keys: KeySet;
  hasher: PasswordHasher;
  throttle: Throttle;
  auth: Config['auth'];
  /** The caller's address, for the per-IP limit. */
  ip: string;
}

const invalidCredentials = (): UnauthorizedError => new UnauthorizedError('INVALID_CREDENTIALS', 'The username or the password is wrong');
const locked = (seconds: number): TooManyRequestsError =>
  new TooManyRequestsError('ACCOUNT_LOCKED', `Too many failed logins for this account: try again in ${seconds} s`, Math.max(1, seconds));

/** Refuses a login or refresh for a disabled account or an account of a suspended office. */
export function checkAccountUsable(account: Account, office: Office | null): void {
  if (account.status !== 'active') throw new ForbiddenError('ACCOUNT_DISABLED', 'This account is disabled');
  if (office && office.status !== 'active') throw new ForbiddenError('OFFICE_SUSPENDED', `Office ${office.code} is suspended`);
}

/** Login, sessions (refresh-token rotation), logout, first-operator setup and password tokens: the people side of authentication. */
export function createAuthService(deps: AuthServiceDeps) {
  const { em, audit, keys, hasher, throttle, auth, ip } = deps;
  const settings = throttle.settings;

  const checkAddress = (): void => requireAddressAllowed(throttle, ip);

  /**
   * Counts the attempt before the password is checked, locking the account from the failure that
   * reaches the threshold on: concurrent guesses cannot outrun the lock. Null when locked (with the wait).
   */
  async function claimAttempt(accountId: string): Promise<{ lockedFor: number } | null> {
    const claimed = await em.execute<{ failed_login_count: number }[]>(
      `update "account" set "failed_login_count" = "failed_login_count" + 1,
         "locked_until" = case when "failed_login_count" + 1 >= ?::int
           then now() + make_interval(secs => least(?::float8 * power(2, "failed_login_count" + 1 - ?::int), ?::float8)) else null end
       where "id" = ? and ("locked_until" is null or "locked_until" <= now())
       returning "failed_login_count"`,
      [settings.accountFreeFailures, settings.accountBaseLockSeconds, settings.accountFreeFailures, settings.accountMaxLockSeconds, accountId],
    );
    if (claimed.length > 0) return null;
    const [row] = await em.execute<{ wait: number | string | null }[]>('select extract(epoch from ("locked_until" - now())) as "wait" from "account" where "id" = ?', [accountId]);
    return { lockedFor: Math.ceil(Number(row?.wait ?? 1)) };
  }

  async function officeOf(account: Account): Promise<Office | null> {
    return account.officeCode ? em.findOne(OfficeEntity, { code: account.officeCode }) : null;
  }

  return {
    /**
     * Same answer (401 INVALID_CREDENTIALS, same time: one scrypt either way) for an unknown user and a
     * wrong password; a disabled account or a suspended office is only told after a correct password.
     */
    async login(principal: Principal, input: LoginInput): Promise<TokenPair> {
      requireAccess(principal, 'login');
      checkAddress();
      const username = normaliseUsername(input.username);
      const failure = async (reason: string, account: Account | null): Promise<void> => {
        audit.record(account ? principalOfAccount(account) : ANONYMOUS, {
          type: 'auth.login.failed',
          outcome: 'failure',
          officeCode: account?.officeCode ?? null,
          ...(account ? { target: { type: 'account' as const, id: account.id } } : {}),
          details: { username: username.slice(0, 100), reason },
        });
        await em.flush();
      };

      const account = await em.findOne(AccountEntity, { username });
      if (!account) {
        const wait = throttle.unknownAccounts.retryAfterSeconds(username);
        if (wait > 0) {
          await failure('locked', null);
          throw locked(wait);
        }
        await hasher.verify(input.password, null);
        throttle.unknownAccounts.fail(username);
        throttle.ipFailures.hit(ip);
        await failure('invalid_credentials', null);
        throw invalidCredentials();
      }

      const attempt = await claimAttempt(account.id);
      if (attempt) {
        await failure('locked', account);
        throw locked(attempt.lockedFor);
      }
      if (!(await hasher.verify(input.password, account.passwordHash ?? null))) {
        throttle.ipFailures.hit(ip);
        await failure('invalid_credentials', account);
        throw invalidCredentials();
      }
      await em.nativeUpdate(AccountEntity, { id: account.id }, { failedLoginCount: 0, lockedUntil: null });

      const office = await officeOf(account);
      try {
        checkAccountUsable(account, office);
      } catch (error) {
        await failure(error instanceof ForbiddenError ? error.errorCode.toLowerCase() : 'refused', account);
        throw error;
      }
      if (account.passwordHash && hasher.needsRehash(account.passwordHash)) account.passwordHash = await hasher.hash(input.password);
      account.lastLoginAt = new Date();
      const tokens = await startSession({ em, keys, auth }, account);
      audit.record(principalOfAccount(account), {
        type: 'auth.login.succeeded',
        officeCode: account.officeCode ?? null,
        target: { type: 'account', id: account.id },
        details: { username, role: account.role },
      });
      await em.flush();
      return tokens;
    },

    /** Rotates the refresh token; a rotated token presented again ends its whole family (theft detection). */
    async refresh(principal: Principal, refreshToken: string): Promise<TokenPair> {
      requireAccess(principal, 'refreshSession');
      checkAddress();
      const invalid = (): UnauthorizedError => new UnauthorizedError('INVALID_REFRESH_TOKEN', 'The refresh token is unknown, expired or its session has ended: sign in again');
      const row = await em.findOne(RefreshTokenEntity, { tokenHash: sha256Hex(refreshToken) });
      if (!row) {
        throttle.ipFailures.hit(ip);
        throw invalid();
      }
      const reused = async (): Promise<never> => {
        await revokeSessionFamily(em, row.familyId, 'reused');
        const owner = await em.findOne(AccountEntity, { id: row.accountId });
        audit.record(ANONYMOUS, {
          type: 'auth.refresh.reused',
          outcome: 'failure',
          officeCode: owner?.officeCode ?? null,
          target: { type: 'account', id: row.accountId },
          details: { sessionId: row.familyId },
        });
        await em.flush();
        throw new UnauthorizedError('REFRESH_TOKEN_REUSED', 'This refresh token was already used: the session has been ended for safety; sign in again');
      };
      if (row.revokedAt) {
        if (row.revokedReason === 'rotated') return reused();
        throw invalid();
      }
      if (row.expiresAt.getTime() <= Date.now()) throw invalid();
      // Claim the token atomically: of two concurrent refreshes one wins, the other looks like reuse.
      const claimed = await em.nativeUpdate(RefreshTokenEntity, { id: row.id, revokedAt: null }, { revokedAt: new Date(), revokedReason: 'rotated' });
      if (claimed === 0) return reused();

      const account = await em.findOne(AccountEntity, { id: row.accountId });
      if (!account) throw invalid();
      try {
        checkAccountUsable(account, await officeOf(account));
      } catch (error) {
        await revokeSessionFamily(em, row.familyId, 'accountChanged');
        throw error;
      }
      const tokens = await startSession({ em, keys, auth }, account, row.familyId);
      await em.flush();
      return tokens;
    },

    /** Ends the session the refresh token belongs to, with its access tokens. Unknown tokens are ignored. */
    async logout(principal: Principal, refreshToken: string): Promise<void> {
      requireAccess(principal, 'logout');
      const row = await em.findOne(RefreshTokenEntity, { tokenHash: sha256Hex(refreshToken) });
      if (!row) return;
      const ended = await revokeSessionFamily(em, row.familyId, 'logout');
      if (ended > 0) {
        const owner = await em.findOneOrFail(AccountEntity, { id: row.accountId });
        audit.record(principalOfAccount(owner), {
          type: 'auth.logout',
          officeCode: owner.officeCode ?? null,
          target: { type: 'account', id: row.accountId },
          details: { sessionId: row.familyId },
        });
        await em.flush();
      }
    },

    /** Creates the first operator with the one-time setup token the hub printed at start. Works once. */
    async setupOperator(principal: Principal, input: SetupInput) {
      requireAccess(principal, 'setupOperator');
      checkAddress();
      const username = normaliseUsername(input.username);
      checkPasswordPolicy(username, input.password);
      const created = await withBootstrapLock(em, async () => {
        const token = await em.findOne(OperatorSetupTokenEntity, { tokenHash: sha256Hex(input.setupToken), expiresAt: { $gt: new Date() } });
        if (!token || (await em.count(AccountEntity, { role: 'operator' })) > 0) return null;
        if (await em.findOne(AccountEntity, { username })) throw usernameTaken(username);
        const account = em.create(AccountEntity, { username, role: 'operator', officeCode: null, branchId: null, passwordHash: await hasher.hash(input.password), passwordChangedAt: new Date() });
        em.persist(account);
        await em.nativeDelete(OperatorSetupTokenEntity, {});
        audit.record(ANONYMOUS, { type: 'auth.setup.completed', target: { type: 'account', id: account.id }, details: { username } });
        await flushAccount(em, username);
        return account;
      });
      if (!created) {
        throttle.ipFailures.hit(ip);
        throw new UnauthorizedError('INVALID_SETUP_TOKEN', 'The setup token is wrong, expired or already used');
      }
      return { user: toUserView(created) };
    },

    /** Chooses a password with an invitation or password-reset token (single use). */
    async setPasswordWithToken(principal: Principal, input: SetPasswordInput): Promise<void> {
      requireAccess(principal, 'setPasswordWithToken');
      checkAddress();
      const account = await em.findOne(AccountEntity, { pendingTokenHash: sha256Hex(input.passwordToken) });
      if (!account || !account.pendingTokenExpiresAt || account.pendingTokenExpiresAt.getTime() <= Date.now()) {
        throttle.ipFailures.hit(ip);
        throw new UnauthorizedError('INVALID_PASSWORD_TOKEN', 'The password token is wrong, expired or already used');
      }
      checkPasswordPolicy(account.username, input.newPassword);
      account.passwordHash = await hasher.hash(input.newPassword);
      account.passwordChangedAt = new Date();
      account.pendingTokenHash = null;
      account.pendingTokenExpiresAt = null;
      account.failedLoginCount = 0;
      account.lockedUntil = null;
      audit.record(ANONYMOUS, { type: 'auth.password.set', officeCode: account.officeCode ?? null, target: { type: 'account', id: account.id }, details: { username: account.username } });
      await em.flush();
    },

    /** A person changes its own password: every other session ends, and a new one starts. */
    async changeOwnPassword(principal: Principal, input: ChangePasswordInput): Promise<TokenPair> {
      requireAccess(principal, 'changeOwnPassword');
      checkAddress();
      if (!('userId' in principal)) throw new Error('changeOwnPassword admits people only');
      const account = await em.findOneOrFail(AccountEntity, { id: principal.userId });
      if (!(await hasher.verify(input.currentPassword, account.passwordHash ?? null))) {
        throttle.ipFailures.hit(ip);
        audit.record(principal, { type: 'auth.password.changed', outcome: 'failure', officeCode: account.officeCode ?? null, target: { type: 'account', id: account.id }, details: { reason: 'wrong_current_password' } });
        await em.flush();
        throw new ForbiddenError('WRONG_CURRENT_PASSWORD', 'The current password is wrong');
      }
      checkPasswordPolicy(account.username, input.newPassword);
      account.passwordHash = await hasher.hash(input.newPassword);
      account.passwordChangedAt = new Date();
      await revokeAccountSessions(em, account.id, 'accountChanged');
      const tokens = await startSession({ em, keys, auth }, account);
      audit.record(principal, { type: 'auth.password.changed', officeCode: account.officeCode ?? null, target: { type: 'account', id: account.id }, details: {} });
      await em.flush();
      return tokens;
    },

    /** The caller, its office and branch, and the operations it may call. */
    async me(principal: Principal): Promise<MeView> {
      requireAccess(principal, 'getMe');
      if (principal.kind === 'anonymous' || principal.kind === 'system') throw new Error('getMe admits signed-in principals only');
      const office = 'officeCode' in principal ? await em.findOneOrFail(OfficeEntity, { code: principal.officeCode }) : null;
      const branch = 'branchId' in principal ? await em.findOne(BranchEntity, { id: principal.branchId }) : null;
      const user = 'userId' in principal ? toUserView(await em.findOneOrFail(AccountEntity, { id: principal.userId })) : null;
      const client = principal.kind === 'client' ? toClientView(await em.findOneOrFail(ApiClientEntity, { id: principal.clientId })) : null;
      return {
        kind: principal.kind,
        user,
        client,
        office: office ? toOfficeView(office) : null,
        branch: branch ? toBranchView(branch) : null,
        permissions: permissionsOf(principal, office ? { providing: office.providerMode != null } : null),
      };
    },
  };
}
