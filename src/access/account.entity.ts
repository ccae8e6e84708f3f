import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { uuidv7 } from '../platform/ids.js';
import { BranchEntity } from './branch.entity.js';
import { OfficeEntity } from './office.entity.js';

/** The people: the hub operator, an office's administrator (its master account) and examiners (in a branch). */
export const ACCOUNT_ROLES = ['operator', 'officeAdmin', 'examiner'] as const;
export type AccountRole = (typeof ACCOUNT_ROLES)[number];
export const ACCOUNT_STATUSES = ['active', 'disabled'] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

/**
 * A person who logs in with a username and a password. `officeCode` is null for the operator;
 * `branchId` is set for examiners only. Usernames are unique hub-wide and stored in lower case.
 */
export const AccountEntity = defineEntity({
  name: 'Account',
  tableName: 'account',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => uuidv7()),
    username: p.string().length(100).unique(),
    displayName: p.string().length(200).nullable(),
    role: p.enum([...ACCOUNT_ROLES]),
    officeCode: p.manyToOne(OfficeEntity).mapToPk().joinColumn('office_code').nullable().deleteRule('no action').index(),
    branchId: p.manyToOne(BranchEntity).mapToPk().joinColumn('branch_id').nullable().deleteRule('no action').index(),
    status: p.enum([...ACCOUNT_STATUSES]).default('active'),
    /** scrypt hash (see passwords.ts); null until an invitation is accepted. */
    passwordHash: p.text().nullable(),
    passwordChangedAt: p.datetime().nullable(),
    failedLoginCount: p.integer().default(0),
    lockedUntil: p.datetime().nullable(),
    lastLoginAt: p.datetime().nullable(),
    /** SHA-256 (hex) of a pending invitation or password-reset token. */
    pendingTokenHash: p.string().length(64).nullable().unique(),
    pendingTokenExpiresAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
});
export type Account = InferEntity<typeof AccountEntity>;

export const REFRESH_REVOKE_REASONS = ['rotated', 'reused', 'logout', 'accountChanged'] as const;
export type RefreshRevokeReason = (typeof REFRESH_REVOKE_REASONS)[number];
/** Reasons that end the whole session: its access tokens are refused from the next request on. */
export const SESSION_ENDING_REASONS: readonly RefreshRevokeReason[] = ['reused', 'logout', 'accountChanged'];

/**
 * An opaque refresh token, stored as its SHA-256. Each use revokes it (`rotated`) and issues the next one
 * in the same family; presenting a rotated token again revokes the whole family (`reused`).
 */
export const RefreshTokenEntity = defineEntity({
  name: 'RefreshToken',
  tableName: 'refresh_token',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => uuidv7()),
    accountId: p.manyToOne(AccountEntity).mapToPk().joinColumn('account_id').deleteRule('cascade').index(),
    familyId: p.uuid().index(),
    tokenHash: p.string().length(64).unique(),
    expiresAt: p.datetime(),
    revokedAt: p.datetime().nullable(),
    revokedReason: p.enum([...REFRESH_REVOKE_REASONS]).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
});
export type RefreshToken = InferEntity<typeof RefreshTokenEntity>;

/** One-time token that lets the first operator set a password (only its SHA-256 is kept). */
export const OperatorSetupTokenEntity = defineEntity({
  name: 'OperatorSetupToken',
  tableName: 'operator_setup_token',
  properties: (p) => ({
    tokenHash: p.string().length(64).primary(),
    expiresAt: p.datetime(),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
});
export type OperatorSetupToken = InferEntity<typeof OperatorSetupTokenEntity>;
