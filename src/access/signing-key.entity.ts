import { defineEntity, type InferEntity } from '@mikro-orm/core';
import type { JWK } from 'jose';

/**
 * A hub signing key (Ed25519). The private JWK is stored encrypted (AES-256-GCM under a key
 * derived from the hub secret). Its status follows from time: `published` before `activatesAt`,
 * then `active` until a newer key activates, then `retired` (still published for verification).
 */
export const SigningKeyEntity = defineEntity({
  name: 'SigningKey',
  tableName: 'signing_key',
  properties: (p) => ({
    kid: p.string().length(64).primary(),
    algorithm: p.string().length(16),
    publicJwk: p.json<JWK>(),
    privateJwkCiphertext: p.text(),
    activatesAt: p.datetime().index(),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
});
export type SigningKey = InferEntity<typeof SigningKeyEntity>;
