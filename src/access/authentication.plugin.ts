import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Counter } from 'prom-client';
import { openChangeFeed, type ChangeFeed } from '../platform/database/change-feed.js';
import { preparedQuery } from '../platform/database/prepared-query.js';
import { ForbiddenError, UnauthorizedError } from '../platform/errors.js';
import { SESSION_ENDING_REASONS } from './account.entity.js';
import { isOperationId, requireRouteAccess } from './permissions.js';
import { ANONYMOUS, principalOfAccount, principalOfClient, type Principal } from './principal.js';
import { createPrincipalCache, type PrincipalLookup } from './principal-cache.js';
import { loadHubSecret } from './secrets.js';
import { createKeySet, type KeySet } from './signing-keys.js';
import { createVerifiedTokenCache, type TokenSubject } from './tokens.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The hub's signing keys: access tokens, and `signJws`/`verifyJws` for receipts. */
    signingKeys: KeySet;
    /** PostgreSQL with PRINCIPAL_CACHE_SECONDS > 0: the feed that keeps the principal cache honest (operations and tests). */
    principalChangeFeed?: ChangeFeed;
  }
  interface FastifyRequest {
    /** Who is calling: anonymous without an Authorization header. */
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** The route authenticates clients itself with `Authorization: Basic` (the token endpoint). */
    clientAuthentication?: boolean;
  }
}

const NO_SESSION = '00000000-0000-0000-0000-000000000000';
/** The channel the triggers of migration 0008 notify when account, client, office, branch or session facts change. */
export const PRINCIPAL_CHANGE_CHANNEL = 'dx_principal_change';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** The principal change feed's heartbeat, and how recent a returned one must be for cached principals to be used. */
const PRINCIPAL_FEED_HEARTBEAT_MS = 1_000;
const PRINCIPAL_FEED_WINDOW_MS = 2_500;
const ENDING_REASONS_SQL = SESSION_ENDING_REASONS.map((reason) => `'${reason}'`).join(', ');

/**
 * Turns a verified token's subject into a principal from the database, so a disabled account, a revoked client, an
 * ended session or a suspended office is refused at once (one indexed query; the token's lifetime does not matter).
 * On PostgreSQL the answer is reused until a change to those facts is notified (principal-cache.ts).
 */
export async function loadPrincipal(em: EntityManager, subject: TokenSubject): Promise<Principal> {
  const gone = (): UnauthorizedError => new UnauthorizedError('INVALID_TOKEN', 'The access token is not valid: its subject no longer exists');
  if (subject.kind === 'account') {
    const [row] = await preparedQuery<{ id: string; role: 'operator' | 'officeAdmin' | 'examiner'; status: string; office_code: string | null; branch_id: string | null; office_status: string | null; session_ended: boolean }>(
      em,
      `select a."id", a."role", a."status", a."office_code", a."branch_id", o."status" as "office_status",
         exists (select 1 from "refresh_token" r where r."family_id" = ? and r."revoked_reason" in (${ENDING_REASONS_SQL})) as "session_ended"
       from "account" a left join "office" o on o."code" = a."office_code" where a."id" = ?`,
      [subject.sessionId ?? NO_SESSION, subject.id],
    );
    if (!row) throw gone();
    if (row.status !== 'active') throw new UnauthorizedError('ACCOUNT_DISABLED', 'This account is disabled');
    if (row.session_ended) throw new UnauthorizedError('SESSION_ENDED', 'This session has ended (logout, password change or reset): sign in again');
    if (row.office_status !== null && row.office_status !== 'active') throw new ForbiddenError('OFFICE_SUSPENDED', `Office ${row.office_code ?? ''} is suspended`);
    return principalOfAccount({ id: row.id, role: row.role, officeCode: row.office_code, branchId: row.branch_id });
  }
  const [row] = await preparedQuery<{ id: string; status: string; office_code: string; branch_id: string | null; office_status: string }>(
    em,
    'select c."id", c."status", c."office_code", c."branch_id", o."status" as "office_status" from "api_client" c join "office" o on o."code" = c."office_code" where c."id" = ?',
    [subject.id],
  );
  if (!row) throw gone();
  const principal = principalOfClient({ id: row.id, officeCode: row.office_code, branchId: row.branch_id });
  if (row.status !== 'active' || !principal) throw new UnauthorizedError('CLIENT_REVOKED', 'This API client has been revoked');
  if (row.office_status !== 'active') throw new ForbiddenError('OFFICE_SUSPENDED', `Office ${row.office_code} is suspended`);
  return principal;
}

/**
 * Opens the signing keys and sets `request.principal` on every request. No Authorization header:
 * anonymous. `Bearer <jwt>`: verified (algorithm, issuer, audience and type pinned) and loaded, or 401/403
 * — a bad token never degrades to anonymous. `Basic` only where the route authenticates clients itself.
 */
export const authenticationPlugin = fp(
  async (app: FastifyInstance) => {
    const { config } = app;
    const hubSecret = await loadHubSecret({ hubSecret: config.auth.hubSecret, dataDir: config.dataDir });
    if (hubSecret.source !== 'environment' && config.database.driver === 'postgresql') {
      app.log.warn({ file: 'DATA_DIR/hub-secret' }, 'HUB_SECRET is not set: signing keys are encrypted with a secret kept in DATA_DIR; every node must share it, so set HUB_SECRET');
    }
    const keys = await createKeySet({ db: app.db, hubSecret: hubSecret.secret, publishDelaySeconds: config.auth.keyPublishDelaySeconds });
    app.decorate('signingKeys', keys);
    app.decorateRequest('principal', null as never);
    const tokens = createVerifiedTokenCache(keys, config.auth);

    const lookups = new Counter({
      name: 'dx_principal_cache_lookups_total',
      help: 'Callers identified from the principal cache (hit), from the database (miss), or from the database because the cache is off or its change feed down (bypass)',
      labelNames: ['result'] as const,
      registers: [app.metrics.registry],
    });
    let feed: ChangeFeed | undefined;
    const counted = { hit: lookups.labels('hit'), miss: lookups.labels('miss'), bypass: lookups.labels('bypass') };
    const principals = createPrincipalCache({
      maxAgeMs: config.auth.principalCacheSeconds * 1000,
      trusted: () => feed?.current(PRINCIPAL_FEED_WINDOW_MS) === true,
      onLookup: (result: PrincipalLookup) => counted[result].inc(),
    });
    // Only on PostgreSQL, where other nodes write too and each lookup is a network round trip; PGlite stays uncached.
    if (config.database.driver === 'postgresql' && config.auth.principalCacheSeconds > 0) {
      feed = openChangeFeed(
        { url: config.database.url, channel: PRINCIPAL_CHANGE_CHANNEL, heartbeatMs: PRINCIPAL_FEED_HEARTBEAT_MS },
        {
          onChange: () => principals.clear(),
          // Dropped or back, notifications may have been missed in between: nothing cached before is kept.
          onLiveChange: (live) => {
            principals.clear();
            app.log.info({ live }, live ? 'principal cache on: change feed listening' : 'principal cache off until its change feed is back');
          },
          onError: (error) => app.log.warn({ err: error }, 'principal change feed lost; reconnecting'),
        },
      );
      const opened = feed;
      app.addHook('onClose', async () => {
        await opened.close();
      });
      app.decorate('principalChangeFeed', feed);
    }
    // A write this node answered may have changed a principal (login, logout and password resets carry no bearer
    // token), even when it answers an error (a reused refresh token ends its session, then answers 401); its
    // notification arrives a moment later: forget them all before the answer leaves, so the caller's next request is
    // checked against the database.
    app.addHook('onSend', async (request) => {
      if (!SAFE_METHODS.has(request.method)) principals.clear();
    });

    const authenticate = async (request: FastifyRequest): Promise<Principal> => {
      const header = request.headers.authorization;
      if (header === undefined) return ANONYMOUS;
      const match = /^(\S+)\s+(\S+)\s*$/.exec(header);
      const scheme = match?.[1]?.toLowerCase();
      if (scheme === 'bearer' && match?.[2]) {
        const { subject } = await tokens.verify(match[2]);
        return principals.principalOf(subject, () => loadPrincipal(request.em, subject));
      }
      if (scheme === 'basic' && request.routeOptions.config.clientAuthentication === true) return ANONYMOUS;
      throw new UnauthorizedError('UNSUPPORTED_AUTHORIZATION', 'Send Authorization: Bearer <access token>');
    };

    app.addHook('onRequest', async (request) => {
      // Defined even when authentication throws, for the error handler and later hooks.
      request.principal = ANONYMOUS;
      request.principal = await authenticate(request);
      // The matrix, as far as the request line tells, before the body is read; services check again with the full scope.
      const operationId = (request.routeOptions.schema as { operationId?: unknown } | undefined)?.operationId;
      if (typeof operationId === 'string' && isOperationId(operationId)) {
        const officeCode = (request.params as { officeCode?: unknown } | undefined)?.officeCode;
        requireRouteAccess(request.principal, operationId, typeof officeCode === 'string' ? officeCode : undefined);
      }
    });
  },
  { name: 'authentication', dependencies: ['platform'] },
);
