import { calculateJwkThumbprint, CompactSign, compactVerify, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Database } from '../platform/database/database.js';
import { SigningKeyEntity, type SigningKey } from './signing-key.entity.js';
import { decrypt, deriveEncryptionKey, encrypt } from './secrets.js';

/** Every hub signature (access tokens, deposit receipts) is EdDSA over Ed25519. */
export const SIGNING_ALGORITHM = 'EdDSA';
/** How long a node trusts its cached copy of the key table before reading it again. */
export const KEY_REFRESH_INTERVAL_MS = 30_000;
/** A token naming an unknown kid makes the node re-read the table at most this often. */
const UNKNOWN_KID_REFRESH_MS = 2_000;

export type SigningKeyStatus = 'published' | 'active' | 'retired';

export interface SigningKeyView {
  kid: string;
  algorithm: string;
  status: SigningKeyStatus;
  createdAt: Date;
  activatesAt: Date;
  /** When a newer key took over signing; null while published or active. */
  retiredAt: Date | null;
}

/** A public signing key in RFC 7517 form. */
export interface PublicSigningJwk {
  kty: string;
  crv: string;
  x: string;
  kid: string;
  alg: string;
  use: 'sig';
}

/** Public keys as served at /.well-known/jwks.json. */
export interface JsonWebKeySet {
  keys: PublicSigningJwk[];
}

/**
 * The hub's signing keys, stored in the database so all nodes share them and they survive restarts.
 * A key's life: `published` (in the JWKS, not signing yet) until `activatesAt`, then `active` (signs)
 * until a newer key activates, then `retired` (still in the JWKS so its tokens and receipts verify).
 * Status follows from time, so every node switches to a new key at the same instant without a job.
 */
export interface KeySet {
  jwks(): Promise<JsonWebKeySet>;
  list(): Promise<SigningKeyView[]>;
  /** Creates a key that starts signing after the publish delay (or at once: tests and emergencies). */
  rotate(options?: { activateNow?: boolean }): Promise<SigningKeyView>;
  /** The key that signs now. */
  currentSigningKey(): Promise<{ kid: string; privateKey: CryptoKey; publicJwk: PublicSigningJwk }>;
  /** The public key for a kid of any published, active or retired key; throws for an unknown kid. */
  verificationKey(kid: string | undefined): Promise<CryptoKey>;
  /** A compact JWS of `payload` with the current key (e.g. deposit receipts). */
  signJws(payload: Record<string, unknown>, options: { typ: string }): Promise<string>;
  /** Verifies a JWS this hub signed (with any of its keys) and returns its payload. */
  verifyJws(jws: string, options: { typ: string }): Promise<{ payload: Record<string, unknown>; kid: string }>;
  /** Re-reads the key table (other nodes' rotations); normally done every 30 s on use. */
  refresh(): Promise<void>;
}

interface CachedKey {
  row: SigningKey;
  publicKey: CryptoKey;
  privateKey?: Promise<CryptoKey>;
}

export class UnknownSigningKeyError extends Error {
  constructor(kid: string | undefined) {
    super(kid === undefined ? 'The token names no key (kid)' : `No signing key "${kid}"`);
    this.name = 'UnknownSigningKeyError';
  }
}

export interface KeySetOptions {
  db: Database;
  hubSecret: string;
  /** How long a new key is published before it signs (see config.auth.keyPublishDelaySeconds). */
  publishDelaySeconds: number;
  now?: () => Date;
}

function publicView(jwk: JWK, kid: string): PublicSigningJwk {
  return { kty: jwk.kty ?? 'OKP', crv: jwk.crv ?? 'Ed25519', x: jwk.x ?? '', kid, alg: SIGNING_ALGORITHM, use: 'sig' };
}

/** Opens the key set; creates the first key (active at once) when the table is empty. */
export async function createKeySet(options: KeySetOptions): Promise<KeySet> {
  const { db, publishDelaySeconds } = options;
  const now = options.now ?? (() => new Date());
  const encryptionKey = deriveEncryptionKey(options.hubSecret);
  let cache: CachedKey[] = [];
  let loadedAt = 0;
  let loading: Promise<void> | undefined;

  const load = async (): Promise<void> => {
    const rows = await db.fork().find(SigningKeyEntity, {}, { orderBy: { activatesAt: 'asc', createdAt: 'asc', kid: 'asc' } });
    const previous = new Map(cache.map((entry) => [entry.row.kid, entry]));
    cache = await Promise.all(
      rows.map(async (row) => {
        const known = previous.get(row.kid);
        return known ? { ...known, row } : { row, publicKey: (await importJWK(publicView(row.publicJwk, row.kid), SIGNING_ALGORITHM)) as CryptoKey };
      }),
    );
    loadedAt = Date.now();
  };
  const reload = (): Promise<void> => {
    loading ??= load().finally(() => {
      loading = undefined;
    });
    return loading;
  };
  const fresh = async (): Promise<CachedKey[]> => {
    if (Date.now() - loadedAt > KEY_REFRESH_INTERVAL_MS) await reload();
    return cache;
  };

  const privateKeyOf = (entry: CachedKey): Promise<CryptoKey> => {
    entry.privateKey ??= (async () => {
      let jwk: JWK;
      try {
        jwk = JSON.parse(decrypt(encryptionKey, entry.row.privateJwkCiphertext, entry.row.kid)) as JWK;
      } catch {
        throw new Error(
          `Cannot decrypt signing key ${entry.row.kid}: the hub secret differs from the one that encrypted it (set the same HUB_SECRET on every node, or keep DATA_DIR/hub-secret)`,
        );
      }
      return (await importJWK(jwk, SIGNING_ALGORITHM)) as CryptoKey;
    })();
    entry.privateKey.catch(() => {
      entry.privateKey = undefined;
    });
    return entry.privateKey;
  };

  const statusAt = (keys: CachedKey[], at: Date): SigningKeyView[] => {
    const activeIndex = keys.findLastIndex((entry) => entry.row.activatesAt.getTime() <= at.getTime());
    return keys.map((entry, index) => {
      const status: SigningKeyStatus = index > activeIndex ? 'published' : index === activeIndex ? 'active' : 'retired';
      return {
        kid: entry.row.kid,
        algorithm: entry.row.algorithm,
        status,
        createdAt: entry.row.createdAt,
        activatesAt: entry.row.activatesAt,
        retiredAt: status === 'retired' ? (keys[index + 1]?.row.activatesAt ?? null) : null,
      };
    });
  };

  const current = async (): Promise<CachedKey> => {
    const keys = await fresh();
    const at = now().getTime();
    const entry = keys.findLast((candidate) => candidate.row.activatesAt.getTime() <= at);
    if (!entry) throw new Error('No active signing key: run `npm run cli -- keys rotate --activate-now`');
    return entry;
  };

  const insertKey = async (activatesAt: Date): Promise<SigningKey> => {
    const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALGORITHM, { crv: 'Ed25519', extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALGORITHM };
    const em = db.fork();
    const row = em.create(SigningKeyEntity, {
      kid,
      algorithm: SIGNING_ALGORITHM,
      publicJwk: publicView(publicJwk, kid),
      privateJwkCiphertext: encrypt(encryptionKey, JSON.stringify(privateJwk), kid),
      activatesAt,
      createdAt: now(),
    });
    await em.persistAndFlush(row);
    return row;
  };

  const keySet: KeySet = {
    async jwks() {
      return { keys: (await fresh()).map((entry) => publicView(entry.row.publicJwk, entry.row.kid)) };
    },
    async list() {
      return statusAt(await fresh(), now());
    },
    async rotate(rotateOptions = {}) {
      await reload();
      const at = now().getTime();
      // Activating now must still come after the key signing now (same millisecond), so that the new key is the one that signs.
      const signing = cache.findLast((entry) => entry.row.activatesAt.getTime() <= at)?.row.activatesAt.getTime() ?? 0;
      const activatesAt = new Date(rotateOptions.activateNow ? Math.max(at, signing + 1) : at + publishDelaySeconds * 1000);
      const row = await insertKey(activatesAt);
      await reload();
      const view = statusAt(cache, now()).find((key) => key.kid === row.kid);
      if (!view) throw new Error(`Signing key ${row.kid} vanished after rotation`);
      return view;
    },
    async currentSigningKey() {
      const entry = await current();
      return { kid: entry.row.kid, privateKey: await privateKeyOf(entry), publicJwk: publicView(entry.row.publicJwk, entry.row.kid) };
    },
    async verificationKey(kid) {
      if (kid === undefined) throw new UnknownSigningKeyError(kid);
      let entry = (await fresh()).find((candidate) => candidate.row.kid === kid);
      if (!entry && Date.now() - loadedAt > UNKNOWN_KID_REFRESH_MS) {
        await reload();
        entry = cache.find((candidate) => candidate.row.kid === kid);
      }
      if (!entry) throw new UnknownSigningKeyError(kid);
      return entry.publicKey;
    },
    async signJws(payload, signOptions) {
      const { kid, privateKey } = await keySet.currentSigningKey();
      return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: SIGNING_ALGORITHM, kid, typ: signOptions.typ }).sign(privateKey);
    },
    async verifyJws(jws, verifyOptions) {
      const { payload, protectedHeader } = await compactVerify(jws, (header) => keySet.verificationKey(header.kid), { algorithms: [SIGNING_ALGORITHM] });
      if (protectedHeader.typ !== verifyOptions.typ) throw new Error(`Unexpected JWS type "${protectedHeader.typ ?? ''}"`);
      return { payload: JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>, kid: protectedHeader.kid ?? '' };
    },
    refresh: reload,
  };

  await reload();
  if (cache.length === 0) {
    await insertKey(now());
    await reload();
  }
  // Fail at start, not at the first login, when the hub secret cannot open the signing key.
  await privateKeyOf(await current());
  return keySet;
}
