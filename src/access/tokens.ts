import { randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import type { Config } from '../platform/config.js';
import { UnauthorizedError } from '../platform/errors.js';
import { isUuid } from '../platform/ids.js';
import { SIGNING_ALGORITHM, UnknownSigningKeyError, type KeySet } from './signing-keys.js';

/** RFC 9068 media type of access tokens, in the `typ` header. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

export type TokenSubject = { kind: 'account'; id: string; sessionId?: string } | { kind: 'client'; id: string };

export interface VerifiedAccessToken {
  subject: TokenSubject;
  /** `iat`, Unix seconds. */
  issuedAt: number;
  /** `exp`, Unix seconds: the token is refused from this second on. */
  expiresAt: number;
}

export type TokenSettings = Pick<Config['auth'], 'issuer' | 'audience' | 'accessTokenTtlSeconds'>;

/** A short-lived access token: EdDSA JWT with `kid`, `typ: at+jwt`, the hub as `iss` and `aud`. */
export async function issueAccessToken(keys: KeySet, settings: TokenSettings, subject: TokenSubject): Promise<{ token: string; expiresIn: number }> {
  const { kid, privateKey } = await keys.currentSigningKey();
  const claims: Record<string, string> =
    subject.kind === 'client' ? { client_id: subject.id } : subject.sessionId !== undefined ? { sid: subject.sessionId } : {};
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid, typ: ACCESS_TOKEN_TYPE })
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setSubject(`${subject.kind}:${subject.id}`)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(`${settings.accessTokenTtlSeconds}s`)
    .sign(privateKey);
  return { token, expiresIn: settings.accessTokenTtlSeconds };
}

const invalid = (reason: string): UnauthorizedError => new UnauthorizedError('INVALID_TOKEN', `The access token is not valid: ${reason}`);

const CLAIM_REASONS: Record<string, string> = {
  iss: 'it was issued by someone else',
  aud: 'it is meant for another audience',
  typ: 'it is not an access token (typ must be at+jwt)',
  nbf: 'it is not valid yet',
  iat: 'its issue time is invalid',
  sub: 'it names no subject',
};

/** Maps every way verification fails to a 401 problem; only expiry has its own code. */
function toUnauthorized(error: unknown): UnauthorizedError {
  if (error instanceof errors.JWTExpired) return new UnauthorizedError('TOKEN_EXPIRED', 'The access token has expired: refresh it or sign in again');
  if (error instanceof errors.JWTClaimValidationFailed) return invalid(CLAIM_REASONS[error.claim] ?? `claim ${error.claim} is invalid`);
  if (error instanceof errors.JOSEAlgNotAllowed) return invalid(`only ${SIGNING_ALGORITHM} signatures are accepted`);
  if (error instanceof errors.JWSSignatureVerificationFailed) return invalid('the signature does not verify');
  if (error instanceof UnknownSigningKeyError) return invalid('it is signed with a key this hub does not know');
  if (error instanceof errors.JOSEError) return invalid('it is malformed');
  throw error;
}

/**
 * Verifies an access token with the algorithm list, issuer, audience and type pinned. Signature,
 * `exp`, `nbf` and `iat` are checked by jose; `sub` must name an account or a client.
 */
export async function verifyAccessToken(keys: KeySet, settings: TokenSettings, token: string): Promise<VerifiedAccessToken> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, (header) => keys.verificationKey(header.kid), {
      algorithms: [SIGNING_ALGORITHM],
      issuer: settings.issuer,
      audience: settings.audience,
      typ: ACCESS_TOKEN_TYPE,
      requiredClaims: ['sub', 'exp', 'iat'],
    }));
  } catch (error) {
    throw toUnauthorized(error);
  }
  const match = /^(account|client):(.+)$/.exec(payload.sub ?? '');
  const id = match?.[2];
  if (!match || id === undefined || !isUuid(id)) throw invalid('its subject is not an account or a client of this hub');
  const issuedAt = payload.iat ?? 0;
  const expiresAt = payload.exp ?? 0;
  if (match[1] === 'client') return { subject: { kind: 'client', id }, issuedAt, expiresAt };
  const sessionId = typeof payload.sid === 'string' && isUuid(payload.sid) ? payload.sid : undefined;
  return { subject: { kind: 'account', id, ...(sessionId !== undefined ? { sessionId } : {}) }, issuedAt, expiresAt };
}

/**
 * Remembers the tokens that verified, until their `exp`: whether a token's signature and claims verify depends only
 * on the token, the clock and the keys, and keys are never deleted (retired ones still verify), so verifying it
 * again would give the same answer. Whether its subject may still act is checked on every request all the same
 * (loadPrincipal). Bounded: when full, the oldest entry goes. One per app, never shared between apps.
 */
export function createVerifiedTokenCache(keys: KeySet, settings: TokenSettings, maxEntries = 10_000) {
  const verified = new Map<string, VerifiedAccessToken>();
  return {
    async verify(token: string): Promise<VerifiedAccessToken> {
      const known = verified.get(token);
      // jose refuses a token once its exp second has begun, whatever is cached.
      if (known !== undefined && Math.floor(Date.now() / 1000) < known.expiresAt) return known;
      verified.delete(token);
      const result = await verifyAccessToken(keys, settings, token);
      if (verified.size >= maxEntries) verified.delete(verified.keys().next().value ?? '');
      verified.set(token, result);
      return result;
    },
  };
}
