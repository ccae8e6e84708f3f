import Type, { type Static } from 'typebox';
import { Page } from '../platform/schemas.js';
import { CLIENT_AUTH_METHODS, CLIENT_STATUSES } from './api-client.entity.js';
import { DateTime, Uuid } from './branch.schemas.js';
import { OfficeParams } from './office.schemas.js';

const JwkMember = Type.String({ minLength: 1, maxLength: 2048 });

/** A public JSON Web Key (RFC 7517) for private_key_jwt: Ed25519 (OKP), P-256 (EC) or RSA of 2048 bits or more. */
export const PublicJwk = Type.Object(
  {
    kty: Type.Enum(['OKP', 'EC', 'RSA']),
    crv: Type.Optional(Type.Enum(['Ed25519', 'P-256'])),
    x: Type.Optional(JwkMember),
    y: Type.Optional(JwkMember),
    n: Type.Optional(JwkMember),
    e: Type.Optional(JwkMember),
    kid: Type.Optional(Type.String({ maxLength: 200 })),
    alg: Type.Optional(Type.Enum(['EdDSA', 'ES256', 'RS256', 'PS256'])),
    use: Type.Optional(Type.Literal('sig')),
  },
  { $id: 'PublicJwk', additionalProperties: false, description: 'Public members only: a private key (d, p, q …) is refused' },
);
export type PublicJwk = Static<typeof PublicJwk>;

/** An API client: the machine identity of a providing office, in one branch. */
export const ClientView = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'The OAuth client_id' }),
    officeCode: Type.String(),
    branchId: Type.Union([Uuid, Type.Null()]),
    name: Type.String(),
    authMethod: Type.Enum([...CLIENT_AUTH_METHODS]),
    status: Type.Enum([...CLIENT_STATUSES]),
    publicJwk: Type.Union([PublicJwk, Type.Null()]),
    createdAt: DateTime,
    credentialsRotatedAt: Type.Union([DateTime, Type.Null()]),
    revokedAt: Type.Union([DateTime, Type.Null()]),
  },
  { $id: 'ApiClient' },
);
export type ClientView = Static<typeof ClientView>;
export const ClientPage = Page(ClientView, 'ApiClientPage');

export const ClientParams = Type.Object({ ...OfficeParams.properties, clientId: Uuid });

export const CreateClientBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    branchId: Uuid,
    authMethod: Type.Enum([...CLIENT_AUTH_METHODS], { default: 'client_secret_basic' }),
    publicJwk: Type.Optional(PublicJwk),
  },
  { additionalProperties: false },
);
export type CreateClientInput = Static<typeof CreateClientBody>;

export const RotateClientBody = Type.Object(
  { publicJwk: Type.Optional(PublicJwk) },
  { additionalProperties: false, description: 'private_key_jwt clients send their new public key; secret clients send nothing' },
);
export type RotateClientInput = Static<typeof RotateClientBody>;

/** A client with its new secret (client_secret_basic), shown once and never again. */
export const ClientWithSecret = Type.Object(
  {
    client: ClientView,
    clientSecret: Type.Optional(Type.String({ description: 'Shown once: store it now' })),
  },
  { $id: 'ApiClientWithSecret' },
);
export type ClientWithSecret = Static<typeof ClientWithSecret>;
