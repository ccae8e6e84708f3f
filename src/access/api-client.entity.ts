import { defineEntity, type InferEntity } from '@mikro-orm/core';
import type { JWK } from 'jose';
import { uuidv7 } from '../platform/ids.js';
import { BranchEntity } from './branch.entity.js';
import { OfficeEntity } from './office.entity.js';

export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'private_key_jwt'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];
export const CLIENT_STATUSES = ['active', 'revoked'] as const;
export type ClientStatus = (typeof CLIENT_STATUSES)[number];

/**
 * The machine identity of a providing office, in one branch; its id is the OAuth `client_id`.
 * It authenticates with a secret (kept as SHA-256: secrets are 256-bit random) or with a
 * registered public JWK (`private_key_jwt`). `branchId` becomes null only when the branch of a
 * revoked client is deleted.
 */
export const ApiClientEntity = defineEntity({
  name: 'ApiClient',
  tableName: 'api_client',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => uuidv7()),
    officeCode: p.manyToOne(OfficeEntity).mapToPk().joinColumn('office_code').index(),
    branchId: p.manyToOne(BranchEntity).mapToPk().joinColumn('branch_id').nullable().index(),
    name: p.string().length(200),
    authMethod: p.enum([...CLIENT_AUTH_METHODS]),
    secretHash: p.string().length(64).nullable(),
    publicJwk: p.json<JWK>().nullable(),
    status: p.enum([...CLIENT_STATUSES]).default('active'),
    credentialsRotatedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
});
export type ApiClient = InferEntity<typeof ApiClientEntity>;

/** `jti` of client assertions already used, kept until the assertion expires (RFC 7523 replay protection). */
export const ClientAssertionEntity = defineEntity({
  name: 'ClientAssertion',
  tableName: 'client_assertion',
  properties: (p) => ({
    clientId: p.uuid().primary(),
    jti: p.string().length(200).primary(),
    expiresAt: p.datetime().index(),
  }),
  primaryKeys: ['clientId', 'jti'],
});
export type ClientAssertion = InferEntity<typeof ClientAssertionEntity>;
