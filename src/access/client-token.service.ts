import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { decodeJwt, errors, importJWK, jwtVerify } from 'jose';
import type { Config } from '../platform/config.js';
import { BadRequestError, ForbiddenError, UnauthorizedError } from '../platform/errors.js';
import { isUuid } from '../platform/ids.js';
import { ApiClientEntity, ClientAssertionEntity, type ApiClient } from './api-client.entity.js';
import type { AuditLog } from './audit.js';
import type { ClientToken, ClientTokenInput } from './auth.schemas.js';
import { assertionAlgorithms } from './client.service.js';
import { OfficeEntity } from './office.entity.js';
import { requireAccess } from './permissions.js';
import { ANONYMOUS, principalOfClient, type Principal } from './principal.js';
import { constantTimeEqual, sha256Hex } from './secrets.js';
import type { KeySet } from './signing-keys.js';
import { requireAddressAllowed, type Throttle } from './throttle.js';
import { issueAccessToken } from './tokens.js';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** A client assertion may live at most this long (its jti is remembered until it expires). */
export const MAX_ASSERTION_LIFETIME_SECONDS = 600;
const CLOCK_TOLERANCE_SECONDS = 30;

/** 401 for a client that failed to authenticate, with the OAuth error code beside the problem's errorCode. */
export class ClientAuthenticationError extends UnauthorizedError {
  constructor(errorCode: string, detail: string) {
    super(errorCode, detail, { error: 'invalid_client', error_description: detail });
  }
  override headers(): Record<string, string> {
    return { 'www-authenticate': 'Basic realm="dossier-exchange", charset="UTF-8"' };
  }
}

const invalidRequest = (errorCode: string, detail: string, error = 'invalid_request'): BadRequestError => new BadRequestError(errorCode, detail, { error, error_description: detail });

/** `Authorization: Basic` credentials, form-decoded as RFC 6749 §2.3.1 requires; null without that header. */
function basicCredentials(header: string | undefined): { clientId: string; secret: string } | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const formDecode = (value: string): string => {
    try {
      return decodeURIComponent(value.replaceAll('+', ' '));
    } catch {
      return value;
    }
  };
  return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}

const DUMMY_SECRET_HASH = sha256Hex('no such client');

export interface ClientTokenServiceDeps {
  em: EntityManager;
  audit: AuditLog;
  keys: KeySet;
  throttle: Throttle;
  auth: Config['auth'];
  ip: string;
}

/** OAuth 2.0 client credentials (RFC 6749 §4.4) for API clients: client_secret_basic or private_key_jwt (RFC 7523). */
export function createClientTokenService({ em, audit, keys, throttle, auth, ip }: ClientTokenServiceDeps) {
  const tokenEndpoint = `${auth.issuer}/v1/auth/token`;

  const refuse = async (client: ApiClient | null, clientId: string | undefined, reason: string, error: ClientAuthenticationError): Promise<never> => {
    throttle.ipFailures.hit(ip);
    audit.record(
      ANONYMOUS,
      {
        type: 'auth.token.failed',
        outcome: 'failure',
        officeCode: client?.officeCode ?? null,
        ...(client ? { target: { type: 'client' as const, id: client.id } } : {}),
        details: { clientId: clientId?.slice(0, 64) ?? null, reason },
      },
    );
    await em.flush();
    throw error;
  };
  const invalidClient = (): ClientAuthenticationError => new ClientAuthenticationError('INVALID_CLIENT', 'Client authentication failed');

  async function findClient(clientId: string): Promise<ApiClient | null> {
    return isUuid(clientId) ? em.findOne(ApiClientEntity, { id: clientId }) : null;
  }

  async function bySecret(credentials: { clientId: string; secret: string }): Promise<ApiClient> {
    const client = await findClient(credentials.clientId);
    // Compare even for an unknown client, so the answer takes the same time.
    const matches = constantTimeEqual(sha256Hex(credentials.secret), client?.secretHash ?? DUMMY_SECRET_HASH);
    if (!client) return refuse(null, credentials.clientId, 'unknown_client', invalidClient());
    if (client.status !== 'active') return refuse(client, client.id, 'revoked', invalidClient());
    if (client.authMethod !== 'client_secret_basic') return refuse(client, client.id, 'wrong_method', invalidClient());
    if (!matches) return refuse(client, client.id, 'wrong_secret', invalidClient());
    return client;
  }

  async function byAssertion(assertion: string, claimedId: string | undefined): Promise<ApiClient> {
    let issuer: string | undefined;
    try {
      const claims = decodeJwt(assertion);
      issuer = claims.iss;
      if (claims.sub !== issuer) issuer = undefined;
    } catch {
      issuer = undefined;
    }
    if (issuer === undefined || (claimedId !== undefined && claimedId !== issuer)) return refuse(null, claimedId, 'malformed_assertion', invalidClient());
    const client = await findClient(issuer);
    if (!client) return refuse(null, issuer, 'unknown_client', invalidClient());
    if (client.status !== 'active') return refuse(client, client.id, 'revoked', invalidClient());
    if (client.authMethod !== 'private_key_jwt' || !client.publicJwk) return refuse(client, client.id, 'wrong_method', invalidClient());
    const jwk = client.publicJwk;
    const algorithms = assertionAlgorithms(jwk);
    let payload;
    try {
      const key = await importJWK(jwk, algorithms[0]);
      ({ payload } = await jwtVerify(assertion, key, {
        algorithms,
        issuer: client.id,
        subject: client.id,
        audience: [tokenEndpoint, auth.issuer],
        requiredClaims: ['jti', 'exp'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (error) {
      const reason = error instanceof errors.JWTExpired ? 'assertion_expired' : error instanceof errors.JOSEError ? 'assertion_invalid' : 'assertion_unusable';
      return refuse(client, client.id, reason, invalidClient());
    }
    const exp = payload.exp ?? 0;
    if (exp - Date.now() / 1000 > MAX_ASSERTION_LIFETIME_SECONDS) {
      return refuse(client, client.id, 'assertion_too_long', new ClientAuthenticationError('INVALID_CLIENT', `A client assertion may live at most ${MAX_ASSERTION_LIFETIME_SECONDS} s`));
    }
    const jti = payload.jti ?? '';
    if (jti.length === 0 || jti.length > 200) return refuse(client, client.id, 'assertion_invalid', invalidClient());
    // Remember the jti until the assertion expires: a second use is a replay.
    await em.nativeDelete(ClientAssertionEntity, { expiresAt: { $lt: new Date(Date.now() - CLOCK_TOLERANCE_SECONDS * 1000) } });
    try {
      await em.insert(ClientAssertionEntity, { clientId: client.id, jti, expiresAt: new Date((exp + CLOCK_TOLERANCE_SECONDS) * 1000) });
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) {
        return refuse(client, client.id, 'assertion_replayed', new ClientAuthenticationError('CLIENT_ASSERTION_REPLAYED', 'This client assertion (jti) was already used'));
      }
      throw error;
    }
    return client;
  }

  return {
    async issue(principal: Principal, request: { authorization: string | undefined; body: ClientTokenInput }): Promise<ClientToken> {
      requireAccess(principal, 'requestClientToken');
      requireAddressAllowed(throttle, ip);
      const { body } = request;
      if (body.grant_type !== 'client_credentials') {
        throw invalidRequest('UNSUPPORTED_GRANT_TYPE', 'Only grant_type=client_credentials is supported', 'unsupported_grant_type');
      }
      const basic = basicCredentials(request.authorization);
      const assertion = body.client_assertion;
      if (basic && assertion !== undefined) throw invalidRequest('MULTIPLE_CLIENT_AUTHENTICATIONS', 'Use one client authentication method: Basic or a client assertion');
      if (assertion !== undefined && body.client_assertion_type !== JWT_BEARER_ASSERTION_TYPE) {
        throw invalidRequest('UNSUPPORTED_ASSERTION_TYPE', `client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`);
      }
      if (!basic && assertion === undefined) {
        if (request.authorization !== undefined) return refuse(null, undefined, 'malformed_basic', invalidClient());
        throw new ClientAuthenticationError('CLIENT_AUTHENTICATION_REQUIRED', 'Authenticate with HTTP Basic (client_secret_basic) or a client assertion (private_key_jwt)');
      }
      const client = basic ? await bySecret(basic) : await byAssertion(assertion ?? '', body.client_id);
      const office = await em.findOneOrFail(OfficeEntity, { code: client.officeCode });
      const acting = principalOfClient(client);
      if (office.status !== 'active' || !acting) {
        audit.record(ANONYMOUS, { type: 'auth.token.failed', outcome: 'failure', officeCode: client.officeCode, target: { type: 'client', id: client.id }, details: { reason: 'office_suspended' } });
        await em.flush();
        throw new ForbiddenError('OFFICE_SUSPENDED', `Office ${office.code} is suspended`);
      }
      const { token, expiresIn } = await issueAccessToken(keys, auth, { kind: 'client', id: client.id });
      audit.record(acting, { type: 'auth.token.issued', officeCode: client.officeCode, target: { type: 'client', id: client.id }, details: { authMethod: client.authMethod } });
      await em.flush();
      return { access_token: token, token_type: 'Bearer', expires_in: expiresIn };
    },
  };
}
