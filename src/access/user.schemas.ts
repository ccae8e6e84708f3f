import Type, { type Static } from 'typebox';
import { Page } from '../platform/schemas.js';
import { ACCOUNT_ROLES, ACCOUNT_STATUSES } from './account.entity.js';
import { DateTime, Uuid } from './branch.schemas.js';
import { OfficeParams } from './office.schemas.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './passwords.js';

export const Username = Type.String({
  minLength: 3,
  maxLength: 100,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]*$',
  description: 'Letters, digits and . _ @ -; unique on the hub, case-insensitive',
});
export const NewPassword = Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH, description: `${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters` });
const DisplayName = Type.String({ minLength: 1, maxLength: 200 });

/** A person's account: an office administrator or an examiner (the operator in GET /v1/me). */
export const UserView = Type.Object(
  {
    id: Uuid,
    username: Type.String(),
    displayName: Type.Union([Type.String(), Type.Null()]),
    role: Type.Enum([...ACCOUNT_ROLES]),
    officeCode: Type.Union([Type.String(), Type.Null()]),
    branchId: Type.Union([Uuid, Type.Null()], { description: 'Set for examiners' }),
    status: Type.Enum([...ACCOUNT_STATUSES]),
    passwordSet: Type.Boolean({ description: 'False until the invitation has been accepted' }),
    locked: Type.Boolean({ description: 'Temporarily locked after repeated failed logins' }),
    createdAt: DateTime,
    lastLoginAt: Type.Union([DateTime, Type.Null()]),
  },
  { $id: 'User' },
);
export type UserView = Static<typeof UserView>;
export const UserPage = Page(UserView, 'UserPage');

export const UserParams = Type.Object({ ...OfficeParams.properties, userId: Uuid });

export const CreateUserBody = Type.Object(
  {
    username: Username,
    displayName: Type.Optional(DisplayName),
    role: Type.Enum(['examiner', 'officeAdmin'], { default: 'examiner', description: 'officeAdmin: only the operator creates it, one per office' }),
    branchId: Type.Optional(Uuid),
    password: Type.Optional(NewPassword),
  },
  { additionalProperties: false },
);
export type CreateUserInput = Static<typeof CreateUserBody>;

export const UpdateUserBody = Type.Object(
  {
    displayName: Type.Optional(Type.Union([DisplayName, Type.Null()])),
    status: Type.Optional(Type.Enum([...ACCOUNT_STATUSES])),
    branchId: Type.Optional(Uuid),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateUserInput = Static<typeof UpdateUserBody>;

export const ResetPasswordBody = Type.Object({ password: Type.Optional(NewPassword) }, { additionalProperties: false });
export type ResetPasswordInput = Static<typeof ResetPasswordBody>;

/** An account with, when no password was given, its one-time password token (shown once). */
export const UserWithPasswordToken = Type.Object(
  {
    user: UserView,
    passwordToken: Type.Optional(Type.String({ description: 'One-time token for POST /v1/auth/password; shown once' })),
    passwordTokenExpiresAt: Type.Optional(DateTime),
  },
  { $id: 'UserWithPasswordToken' },
);
export type UserWithPasswordToken = Static<typeof UserWithPasswordToken>;
