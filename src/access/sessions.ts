import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../platform/config.js';
import { uuidv7 } from '../platform/ids.js';
import { RefreshTokenEntity, type Account, type RefreshRevokeReason } from './account.entity.js';
import type { TokenPair } from './auth.schemas.js';
import { randomToken, sha256Hex } from './secrets.js';
import type { KeySet } from './signing-keys.js';
import { issueAccessToken } from './tokens.js';

/**
 * People's sessions continue by refresh-token rotation: a session is a family of single-use refresh
 * tokens. Each refresh revokes the token presented and issues the next one in the family.
 */
export async function startSession(
  deps: { em: EntityManager; keys: KeySet; auth: Config['auth'] },
  account: Account,
  familyId: string = uuidv7(),
): Promise<TokenPair> {
  const refreshToken = randomToken();
  deps.em.persist(
    deps.em.create(RefreshTokenEntity, {
      accountId: account.id,
      familyId,
      tokenHash: sha256Hex(refreshToken),
      expiresAt: new Date(Date.now() + deps.auth.refreshTokenTtlSeconds * 1000),
    }),
  );
  const access = await issueAccessToken(deps.keys, deps.auth, { kind: 'account', id: account.id, sessionId: familyId });
  return {
    accessToken: access.token,
    tokenType: 'Bearer',
    expiresIn: access.expiresIn,
    refreshToken,
    refreshTokenExpiresIn: deps.auth.refreshTokenTtlSeconds,
  };
}

/** Ends every session of an account (disabled, password reset or changed). Runs at once, outside the unit of work. */
export async function revokeAccountSessions(em: EntityManager, accountId: string, reason: RefreshRevokeReason): Promise<number> {
  return em.nativeUpdate(RefreshTokenEntity, { accountId, revokedAt: null }, { revokedAt: new Date(), revokedReason: reason });
}

export async function revokeSessionFamily(em: EntityManager, familyId: string, reason: RefreshRevokeReason): Promise<number> {
  return em.nativeUpdate(RefreshTokenEntity, { familyId, revokedAt: null }, { revokedAt: new Date(), revokedReason: reason });
}
