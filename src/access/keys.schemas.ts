import Type from 'typebox';
import { DateTime } from './branch.schemas.js';

/** Public keys that verify the hub's tokens and receipts (RFC 7517). */
export const JsonWebKeySetView = Type.Object(
  {
    keys: Type.Array(
      Type.Object(
        { kty: Type.String(), kid: Type.String(), crv: Type.Optional(Type.String()), x: Type.Optional(Type.String()), alg: Type.Optional(Type.String()), use: Type.Optional(Type.String()) },
        { additionalProperties: true },
      ),
    ),
  },
  { $id: 'JsonWebKeySet' },
);

export const SigningKeyView = Type.Object(
  {
    kid: Type.String(),
    algorithm: Type.String(),
    status: Type.Enum(['published', 'active', 'retired'], { description: 'published: in the JWKS, not signing yet; active: signs; retired: verifies only' }),
    createdAt: DateTime,
    activatesAt: DateTime,
    retiredAt: Type.Union([DateTime, Type.Null()]),
  },
  { $id: 'SigningKey' },
);
export const SigningKeyList = Type.Object({ items: Type.Array(SigningKeyView) }, { $id: 'SigningKeyList' });

export const RotateKeyBody = Type.Object(
  { activateNow: Type.Boolean({ default: false, description: 'Sign with the new key at once instead of after the publish delay (emergencies)' }) },
  { additionalProperties: false },
);
