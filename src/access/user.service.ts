import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ConflictError, ForbiddenError, NotFoundError, UnprocessableError } from '../platform/errors.js';
import { isUuid } from '../platform/ids.js';
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageFrom, type PageRequest } from '../platform/pagination.js';
import { AccountEntity, type Account } from './account.entity.js';
import type { AuditLog } from './audit.js';
import { branchForAssignment } from './branch.service.js';
import type { Office } from './office.entity.js';
import { findOfficeOrThrow } from './office.service.js';
import { checkPasswordPolicy, type PasswordHasher } from './passwords.js';
import { requireAccess } from './permissions.js';
import type { Principal } from './principal.js';
import { randomToken, sha256Hex } from './secrets.js';
import { revokeAccountSessions } from './sessions.js';
import type { CreateUserInput, ResetPasswordInput, UpdateUserInput, UserView, UserWithPasswordToken } from './user.schemas.js';

/** How long an invitation or a password-reset token stays valid. */
export const PASSWORD_TOKEN_TTL_SECONDS = 7 * 24 * 3600;

export function normaliseUsername(raw: string): string {
  return raw.trim().toLowerCase();
}

export function toUserView(account: Account, now = new Date()): UserView {
  return {
    id: account.id,
    username: account.username,
    displayName: account.displayName ?? null,
    role: account.role,
    officeCode: account.officeCode ?? null,
    branchId: account.branchId ?? null,
    status: account.status,
    passwordSet: account.passwordHash != null,
    locked: account.lockedUntil != null && account.lockedUntil.getTime() > now.getTime(),
    createdAt: account.createdAt.toISOString(),
    lastLoginAt: account.lastLoginAt?.toISOString() ?? null,
  };
}

export const usernameTaken = (username: string): ConflictError => new ConflictError('USERNAME_TAKEN', `The username "${username}" is taken`);

/** Flushes, turning a lost race on the unique username into 409. */
export async function flushAccount(em: EntityManager, username: string): Promise<void> {
  try {
    await em.flush();
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw usernameTaken(username);
    throw error;
  }
}

/** Sets a one-time password token on the account and returns it (only its hash is stored). */
function issuePasswordToken(account: Account): { passwordToken: string; passwordTokenExpiresAt: string } {
  const token = randomToken();
  const expiresAt = new Date(Date.now() + PASSWORD_TOKEN_TTL_SECONDS * 1000);
  account.pendingTokenHash = sha256Hex(token);
  account.pendingTokenExpiresAt = expiresAt;
  return { passwordToken: token, passwordTokenExpiresAt: expiresAt.toISOString() };
}

export interface UserServiceDeps {
  em: EntityManager;
  audit: AuditLog;
  hasher: PasswordHasher;
}

/**
 * The people of an office: its administrator (created by the operator, one per office) and its
 * examiners (each in one branch), managed by the administrator. Operators are managed by the CLI.
 */
export function createUserService({ em, audit, hasher }: UserServiceDeps) {
  async function findUserOrThrow(office: Office, userId: string): Promise<Account> {
    const account = isUuid(userId) ? await em.findOne(AccountEntity, { id: userId, officeCode: office.code }) : null;
    if (!account) throw new NotFoundError('USER_NOT_FOUND', `Office ${office.code} has no user ${userId}`);
    return account;
  }

  return {
    async list(principal: Principal, officeCode: string, page: PageRequest) {
      requireAccess(principal, 'listUsers', { officeCode });
      const office = await findOfficeOrThrow(em, officeCode);
      const limit = page.limit ?? DEFAULT_PAGE_LIMIT;
      const after = page.cursor === undefined ? undefined : String(decodeCursor(page.cursor, 1)[0]);
      const rows = await em.find(AccountEntity, { officeCode: office.code, ...(after !== undefined ? { username: { $gt: after } } : {}) }, { orderBy: { username: 'asc' }, limit: limit + 1 });
      return pageFrom(rows, limit, (row) => toUserView(row), (row) => row.username);
    },

    async get(principal: Principal, officeCode: string, userId: string): Promise<UserView> {
      requireAccess(principal, 'getUser', { officeCode });
      const office = await findOfficeOrThrow(em, officeCode);
      return toUserView(await findUserOrThrow(office, userId));
    },

    /** With `password` the account can log in at once; without, the answer carries a one-time password token. */
    async create(principal: Principal, officeCode: string, input: CreateUserInput): Promise<UserWithPasswordToken> {
      requireAccess(principal, 'createUser', { officeCode });
      const office = await findOfficeOrThrow(em, officeCode);
      const username = normaliseUsername(input.username);
      const role = input.role;
      let branchId: string | null = null;
      if (role === 'officeAdmin') {
        if (principal.kind !== 'operator' && principal.kind !== 'system') {
          throw new ForbiddenError('ADMINISTRATOR_CREATED_BY_OPERATOR', 'Only the hub operator creates an office administrator');
        }
        if (input.branchId !== undefined) throw new UnprocessableError('ADMINISTRATOR_HAS_NO_BRANCH', 'An office administrator sees every branch and belongs to none: omit branchId');
        if (await em.findOne(AccountEntity, { officeCode: office.code, role: 'officeAdmin' })) {
          throw new ConflictError('OFFICE_ADMINISTRATOR_EXISTS', `Office ${office.code} already has its administrator`);
        }
      } else {
        if (input.branchId === undefined) throw new UnprocessableError('BRANCH_REQUIRED', 'An examiner belongs to a branch: give branchId');
        branchId = (await branchForAssignment(em, office.code, input.branchId)).id;
      }
      if (input.password !== undefined) checkPasswordPolicy(username, input.password);
      if (await em.findOne(AccountEntity, { username })) throw usernameTaken(username);

      const account = em.create(AccountEntity, {
        username,
        displayName: input.displayName?.trim() ?? null,
        role,
        officeCode: office.code,
        branchId,
        passwordHash: input.password === undefined ? null : await hasher.hash(input.password),
        passwordChangedAt: input.password === undefined ? null : new Date(),
      });
      const token = input.password === undefined ? issuePasswordToken(account) : undefined;
      em.persist(account);
      audit.record(principal, {
        type: 'account.created',
        officeCode: office.code,
        target: { type: 'account', id: account.id },
        details: { username, role, branchId, invitation: token !== undefined },
      });
      await flushAccount(em, username);
      return { user: toUserView(account), ...(token ?? {}) };
    },

    /** Display name, status (disable / enable) and branch (examiners move between branches). */
    async update(principal: Principal, officeCode: string, userId: string, input: UpdateUserInput): Promise<UserView> {
      requireAccess(principal, 'updateUser', { officeCode });
      const office = await findOfficeOrThrow(em, officeCode);
      const account = await findUserOrThrow(office, userId);
      const changes: Record<string, unknown> = {};
      if (input.branchId !== undefined && input.branchId !== account.branchId) {
        if (account.role !== 'examiner') throw new UnprocessableError('ADMINISTRATOR_HAS_NO_BRANCH', 'An office administrator belongs to no branch');
        account.branchId = (await branchForAssignment(em, office.code, input.branchId)).id;
        changes.branchId = account.branchId;
      }
      if (input.displayName !== undefined && input.displayName !== account.displayName) {
        account.displayName = input.displayName?.trim() ?? null;
        changes.displayName = account.displayName;
      }
      if (input.status !== undefined && input.status !== account.status) {
        if (input.status === 'disabled' && 'userId' in principal && principal.userId === account.id) {
          throw new UnprocessableError('CANNOT_DISABLE_SELF', 'You cannot disable your own account');
        }
        account.status = input.status;
        changes.status = input.status;
      }
      if (Object.keys(changes).length > 0) {
        audit.record(principal, { type: 'account.updated', officeCode: office.code, target: { type: 'account', id: account.id }, details: { username: account.username, changes } });
        await em.flush();
        if (changes.status === 'disabled') await revokeAccountSessions(em, account.id, 'accountChanged');
      }
      return toUserView(account);
    },

    /**
     * Sets a new password, or (without one) clears it and issues a password-reset token. Either way the
     * account is unlocked and every session it had ends, with its access tokens.
     */
    async resetPassword(principal: Principal, officeCode: string, userId: string, input: ResetPasswordInput): Promise<UserWithPasswordToken> {
      requireAccess(principal, 'resetUserPassword', { officeCode });
      const office = await findOfficeOrThrow(em, officeCode);
      const account = await findUserOrThrow(office, userId);
      if (input.password !== undefined) checkPasswordPolicy(account.username, input.password);
      let token: ReturnType<typeof issuePasswordToken> | undefined;
      if (input.password !== undefined) {
        account.passwordHash = await hasher.hash(input.password);
        account.passwordChangedAt = new Date();
        account.pendingTokenHash = null;
        account.pendingTokenExpiresAt = null;
      } else {
        account.passwordHash = null;
        token = issuePasswordToken(account);
      }
      account.failedLoginCount = 0;
      account.lockedUntil = null;
      audit.record(principal, {
        type: 'account.password_reset',
        officeCode: office.code,
        target: { type: 'account', id: account.id },
        details: { username: account.username, resetToken: token !== undefined },
      });
      await em.flush();
      await revokeAccountSessions(em, account.id, 'accountChanged');
      return { user: toUserView(account), ...(token ?? {}) };
    },
  };
}
