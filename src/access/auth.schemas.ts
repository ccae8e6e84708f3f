import Type, { type Static } from 'typebox';
import { BranchView } from './branch.schemas.js';
import { ClientView } from './client.schemas.js';
import { OfficeView } from './office.schemas.js';
import { NewPassword, Username, UserView } from './user.schemas.js';

const Secret = Type.String({ minLength: 1, maxLength: 1024 });

export const LoginBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 200 }), password: Secret },
  { additionalProperties: false },
);
export type LoginInput = Static<typeof LoginBody>;

/** What a person gets on login and refresh. */
export const TokenPair = Type.Object(
  {
    accessToken: Type.String({ description: 'EdDSA JWT (typ at+jwt) for Authorization: Bearer' }),
    tokenType: Type.Literal('Bearer'),
    expiresIn: Type.Integer({ description: 'Seconds until the access token expires' }),
    refreshToken: Type.String({ description: 'Opaque, single use: POST /v1/auth/refresh returns the next one' }),
    refreshTokenExpiresIn: Type.Integer({ description: 'Seconds until the refresh token expires' }),
  },
  { $id: 'TokenPair' },
);
export type TokenPair = Static<typeof TokenPair>;

export const RefreshBody = Type.Object({ refreshToken: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

/** RFC 6749 §4.4 token request (form-encoded, or JSON). */
export const ClientTokenBody = Type.Object(
  {
    grant_type: Type.String({ maxLength: 100, description: 'client_credentials' }),
    client_id: Type.Optional(Type.String({ maxLength: 100 })),
    client_assertion_type: Type.Optional(Type.String({ maxLength: 200, description: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' })),
    client_assertion: Type.Optional(Type.String({ maxLength: 8192, description: 'A JWT signed with the client’s registered key (RFC 7523)' })),
    scope: Type.Optional(Type.String({ maxLength: 1000, description: 'Ignored: a client’s permissions follow from its office and branch' })),
  },
  { additionalProperties: true },
);
export type ClientTokenInput = Static<typeof ClientTokenBody>;

/** RFC 6749 §5.1 token response (snake_case, as OAuth client libraries expect). */
export const ClientToken = Type.Object(
  { access_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer() },
  { $id: 'ClientToken' },
);
export type ClientToken = Static<typeof ClientToken>;

export const SetupBody = Type.Object(
  { setupToken: Type.String({ minLength: 1, maxLength: 200 }), username: Username, password: NewPassword },
  { additionalProperties: false },
);
export type SetupInput = Static<typeof SetupBody>;

export const SetPasswordBody = Type.Object(
  { passwordToken: Type.String({ minLength: 1, maxLength: 200 }), newPassword: NewPassword },
  { additionalProperties: false },
);
export type SetPasswordInput = Static<typeof SetPasswordBody>;

export const ChangePasswordBody = Type.Object({ currentPassword: Secret, newPassword: NewPassword }, { additionalProperties: false });
export type ChangePasswordInput = Static<typeof ChangePasswordBody>;

/** The caller: who it is, its office and branch, and what it may do. */
export const MeView = Type.Object(
  {
    kind: Type.Enum(['operator', 'officeAdmin', 'examiner', 'client']),
    user: Type.Union([UserView, Type.Null()]),
    client: Type.Union([ClientView, Type.Null()]),
    office: Type.Union([OfficeView, Type.Null()]),
    branch: Type.Union([BranchView, Type.Null()]),
    permissions: Type.Array(
      Type.Object({ operationId: Type.String(), scope: Type.Enum(['any', 'ownOffice', 'ownBranch']) }),
      { description: 'The operations this principal may call (docs/permissions.md)' },
    ),
  },
  { $id: 'Me' },
);
export type MeView = Static<typeof MeView>;

/** The user created by the setup token. */
export const SetupResult = Type.Object({ user: UserView }, { $id: 'SetupResult' });
