import type { Principal } from './principal.js';
import type { TokenSubject } from './tokens.js';

export type PrincipalLookup = 'hit' | 'miss' | 'bypass';

export interface PrincipalCacheOptions {
  /** Longest an entry is reused, in milliseconds; 0 turns the cache off. */
  maxAgeMs: number;
  /** Entries kept; the oldest go first (default 10,000). */
  maxEntries?: number;
  now?: () => number;
  /** Checked on every lookup: whether notifications are arriving now (ChangeFeed.current); nothing is reused otherwise. */
  trusted: () => boolean;
  onLookup?: (result: PrincipalLookup) => void;
}

/**
 * The principals of verified tokens, so that a request need not ask the database who its caller is (one round trip
 * of two on a dossier list). Only what the database confirmed is kept (a refusal is asked again every time), and only
 * while the cache is trusted: while a PostgreSQL change feed delivers the notifications that the triggers on account,
 * api_client, office and refresh_token send (migration 0008) when a fact a principal is made of changes. The owner
 * clears it on each (every entry on every node), and whenever the feed drops or comes back; when the feed is down, or
 * its heartbeat late (`trusted`), nothing is reused.
 * A load that began before a clear is not kept, so an answer read before a change never outlives it.
 */
export function createPrincipalCache(options: PrincipalCacheOptions) {
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { principal: Principal; loadedAt: number }>();
  let generation = 0;

  const clear = (): void => {
    generation += 1;
    entries.clear();
  };

  return {
    get size(): number {
      return entries.size;
    },
    clear,
    /** The principal of a verified token's subject, from the cache or from `load` (which throws the refusals). */
    async principalOf(subject: TokenSubject, load: () => Promise<Principal>): Promise<Principal> {
      if (options.maxAgeMs <= 0 || !options.trusted()) {
        options.onLookup?.('bypass');
        return load();
      }
      const key = subject.kind === 'account' ? `a:${subject.id}:${subject.sessionId ?? ''}` : `c:${subject.id}`;
      const startedAt = now();
      const cached = entries.get(key);
      if (cached && startedAt - cached.loadedAt < options.maxAgeMs) {
        options.onLookup?.('hit');
        return cached.principal;
      }
      options.onLookup?.('miss');
      const before = generation;
      const principal = await load();
      if (generation === before) {
        entries.delete(key);
        if (entries.size >= maxEntries) {
          const oldest = entries.keys().next();
          if (oldest.done !== true) entries.delete(oldest.value);
        }
        // Aged from when the load began: the database answered for that moment, not a later one. Frozen: requests share it.
        entries.set(key, { principal: Object.freeze(principal), loadedAt: startedAt });
      }
      return principal;
    },
  };
}

export type PrincipalCache = ReturnType<typeof createPrincipalCache>;
