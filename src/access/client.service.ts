import type { EntityManager } from '@mikro-orm/postgresql';
import { importJWK, type JWK } from 'jose';
import { ConflictError, NotFoundError, UnprocessableError } from '../platform/errors.js';
import { isUuid } from '../platform/ids.js';
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageFrom, type PageRequest } from '../platform/pagination.js';
import { ApiClientEntity, type ApiClient } from './api-client.entity.js';
import type { AuditLog } from './audit.js';
import { branchForAssignment } from './branch.service.js';
import type { ClientView, ClientWithSecret, CreateClientInput, PublicJwk, RotateClientInput } from './client.schemas.js';
import type { Office } from './office.entity.js';
import { findOfficeOrThrow } from './office.service.js';
import { requireAccess } from './permissions.js';
import type { Principal } from './principal.js';
import { randomToken, sha256Hex } from './secrets.js';

export const CLIENT_SECRET_PREFIX = 'dxs_';

export function toClientView(client: ApiClient): ClientView {
  return {
    id: client.id,
    officeCode: client.officeCode,
    branchId: client.branchId ?? null,
    name: client.name,
    authMethod: client.authMethod,
    status: client.status,
    publicJwk: (client.publicJwk as PublicJwk | null | undefined) ?? null,
    createdAt: client.createdAt.toISOString(),
    credentialsRotatedAt: client.credentialsRotatedAt?.toISOString() ?? null,
    revokedAt: client.revokedAt?.toISOString() ?? null,
  };
}

/** The algorithms a registered key may sign client assertions with: pinned by the key's type. */
export function assertionAlgorithms(jwk: JWK): string[] {
  if (jwk.alg !== undefined) return [jwk.alg];
  if (jwk.kty === 'OKP') return ['EdDSA'];
  if (jwk.kty === 'EC') return ['ES256'];
  return ['RS256', 'PS256'];
}

const badKey = (detail: string): UnprocessableError => new UnprocessableError('INVALID_PUBLIC_JWK', detail);

/** Checks that a registered key is a usable public signing key; returns it without optional noise. */
async function checkPublicJwk(jwk: PublicJwk): Promise<JWK> {
  const expected: Record<string, { crv?: string; members: string[]; algs: string[] }> = {
    OKP: { crv: 'Ed25519', members: ['x'], algs: ['EdDSA'] },
    EC: { crv: 'P-256', members: ['x', 'y'], algs: ['ES256'] },
    RSA: { members: ['n', 'e'], algs: ['RS256', 'PS256'] },
  };
  const rule = expected[jwk.kty];
  if (!rule) throw badKey(`Key type ${jwk.kty} is not supported`);
  if (rule.crv !== undefined && jwk.crv !== rule.crv) throw badKey(`A ${jwk.kty} key must use the ${rule.crv} curve`);
  for (const member of rule.members) if ((jwk as Record<string, unknown>)[member] === undefined) throw badKey(`A ${jwk.kty} key needs "${member}"`);
  if (jwk.alg !== undefined && !rule.algs.includes(jwk.alg)) throw badKey(`A ${jwk.kty} key signs with ${rule.algs.join(' or ')}, not ${jwk.alg}`);
  if (jwk.kty === 'RSA' && Buffer.from(jwk.n ?? '', 'base64url').length * 8 < 2048) throw badKey('An RSA key must have at least 2048 bits');
  const clean: JWK = { ...jwk };
  try {
    await importJWK(clean, assertionAlgorithms(clean)[0]);
  } catch {
    throw badKey('The key does not parse as a public key of its type');
  }
  return clean;
}

/**
 * An office's API clients: created with a secret shown once (`client_secret_basic`) or with a registered
 * public JWK (`private_key_jwt`), rotated, revoked. Only offices with the providing role have clients.
 */
export function createClientService({ em, audit }: { em: EntityManager; audit: AuditLog }) {
  async function findClientOrThrow(office: Office, clientId: string): Promise<ApiClient> {
    const client = isUuid(clientId) ? await em.findOne(ApiClientEntity, { id: clientId, officeCode: office.code }) : null;
    if (!client) throw new NotFoundError('CLIENT_NOT_FOUND', `Office ${office.code} has no API client ${clientId}`);
    return client;
  }

  /** New credentials of the client's kind: a fresh secret, or the newly registered key. */
  async function setCredentials(client: ApiClient, publicJwk: PublicJwk | undefined): Promise<string | undefined> {
    if (client.authMethod === 'private_key_jwt') {
      if (publicJwk === undefined) throw new UnprocessableError('PUBLIC_JWK_REQUIRED', 'A private_key_jwt client needs publicJwk: the public key its assertions are signed with');
      client.publicJwk = await checkPublicJwk(publicJwk);
      client.secretHash = null;
      return undefined;
    }
    if (publicJwk !== undefined) throw new UnprocessableError('PUBLIC_JWK_NOT_EXPECTED', 'A client_secret_basic client has no key: omit publicJwk');
    const secret = randomToken(CLIENT_SECRET_PREFIX);
    client.secretHash = sha256Hex(secret);
    client.publicJwk = null;
    return secret;
  }

  return {
    async list(principal: Principal, officeCode: string, page: PageRequest) {
      requireAccess(principal, 'listClients', { officeCode });
      const office = await findOfficeOrThrow(em, officeCode);
      const limit = page.limit ?? DEFAULT_PAGE_LIMIT;
      const after = page.cursor === undefined ? undefined : String(decodeCursor(page.cursor, 1)[0]);
      const rows = await em.find(ApiClientEntity, { officeCode: office.code, ...(after !== undefined ? { id: { $gt: after } } : {}) }, { orderBy: { id: 'asc' }, limit: limit + 1 });
      return pageFrom(rows, limit, toClientView, (row) => row.id);
    },

    async get(principal: Principal, officeCode: string, clientId: string): Promise<ClientView> {
      requireAccess(principal, 'getClient', { officeCode });
      return toClientView(await findClientOrThrow(await findOfficeOrThrow(em, officeCode), clientId));
    },

    async create(principal: Principal, officeCode: string, input: CreateClientInput): Promise<ClientWithSecret> {
      requireAccess(principal, 'createClient', { officeCode });
      const office = await findOfficeOrThrow(em, officeCode);
      if (!office.providerMode) {
        throw new UnprocessableError('OFFICE_NOT_PROVIDING', `Office ${office.code} does not have the providing role: API clients are the machine identities of providing offices`);
      }
      const branchId = (await branchForAssignment(em, office.code, input.branchId)).id;
      const client = em.create(ApiClientEntity, { officeCode: office.code, branchId, name: input.name.trim(), authMethod: input.authMethod });
      const secret = await setCredentials(client, input.publicJwk);
      em.persist(client);
      audit.record(principal, {
        type: 'client.created',
        officeCode: office.code,
        target: { type: 'client', id: client.id },
        details: { name: client.name, branchId, authMethod: client.authMethod },
      });
      await em.flush();
      return { client: toClientView(client), ...(secret !== undefined ? { clientSecret: secret } : {}) };
    },

    /** Replaces the credentials: the old secret or key stops working at once; access tokens already issued run out. */
    async rotate(principal: Principal, officeCode: string, clientId: string, input: RotateClientInput): Promise<ClientWithSecret> {
      requireAccess(principal, 'rotateClientCredentials', { officeCode });
      const client = await findClientOrThrow(await findOfficeOrThrow(em, officeCode), clientId);
      if (client.status === 'revoked') throw new ConflictError('CLIENT_REVOKED', 'A revoked client cannot get new credentials: create a new client');
      const secret = await setCredentials(client, input.publicJwk);
      client.credentialsRotatedAt = new Date();
      audit.record(principal, { type: 'client.credentials_rotated', officeCode: client.officeCode, target: { type: 'client', id: client.id }, details: { name: client.name } });
      await em.flush();
      return { client: toClientView(client), ...(secret !== undefined ? { clientSecret: secret } : {}) };
    },

    /** Revocation is final and takes effect on the client's next request. */
    async revoke(principal: Principal, officeCode: string, clientId: string): Promise<ClientView> {
      requireAccess(principal, 'revokeClient', { officeCode });
      const client = await findClientOrThrow(await findOfficeOrThrow(em, officeCode), clientId);
      if (client.status === 'revoked') return toClientView(client);
      client.status = 'revoked';
      client.revokedAt = new Date();
      client.secretHash = null;
      audit.record(principal, { type: 'client.revoked', officeCode: client.officeCode, target: { type: 'client', id: client.id }, details: { name: client.name } });
      await em.flush();
      return toClientView(client);
    },
  };
}
