import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { UnprocessableError } from '../platform/errors.js';

/** scrypt N (CPU/memory cost). 2^15 with r = 8 uses 32 MiB and ~100 ms per hash: the secure default. */
export const DEFAULT_PASSWORD_HASH_COST = 2 ** 15;
/** The lowest cost the hasher accepts; only tests use it (see `AccessModuleOptions.passwordHashCost`). */
export const MIN_PASSWORD_HASH_COST = 2 ** 10;
const MAX_COST = 2 ** 20;
const BLOCK_SIZE = 8;
const PARALLELIZATION = 1;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

/** The password rules (the HTTP schemas check the length too): 12 to 1024 characters, not containing the username. */
export function checkPasswordPolicy(username: string, password: string): void {
  if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    throw new UnprocessableError('WEAK_PASSWORD', `A password has ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`);
  }
  if (password.toLowerCase().includes(username.toLowerCase())) throw new UnprocessableError('WEAK_PASSWORD', 'The password must not contain the username');
}

function derive(password: string, salt: Buffer, options: ScryptOptions, keyLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

const isPowerOfTwo = (value: number): boolean => Number.isInteger(value) && value > 1 && (value & (value - 1)) === 0;

interface Parsed {
  cost: number;
  blockSize: number;
  parallelization: number;
  salt: Buffer;
  hash: Buffer;
}

/** `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (base64url), a PHC-style string carrying its own parameters. */
function parse(stored: string): Parsed | null {
  const match = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored);
  if (!match) return null;
  const cost = 2 ** Number(match[1]);
  const blockSize = Number(match[2]);
  const parallelization = Number(match[3]);
  if (cost < MIN_PASSWORD_HASH_COST || cost > MAX_COST || blockSize < 1 || blockSize > 32 || parallelization < 1 || parallelization > 16) return null;
  return { cost, blockSize, parallelization, salt: Buffer.from(match[4] ?? '', 'base64url'), hash: Buffer.from(match[5] ?? '', 'base64url') };
}

export interface PasswordHasher {
  readonly cost: number;
  hash(password: string): Promise<string>;
  /**
   * Constant-time check. With `stored` null (unknown user, or no password yet) it still spends one
   * hash on a dummy, so the answer takes as long as for a wrong password.
   */
  verify(password: string, stored: string | null): Promise<boolean>;
  /** True when the stored hash was made with weaker parameters than this hasher's. */
  needsRehash(stored: string): boolean;
}

/** Password hashing with node:crypto scrypt. `cost` is N, a power of two from 2^10 (tests only) to 2^20. */
export function createPasswordHasher(options: { cost?: number } = {}): PasswordHasher {
  const cost = options.cost ?? DEFAULT_PASSWORD_HASH_COST;
  if (!isPowerOfTwo(cost) || cost < MIN_PASSWORD_HASH_COST || cost > MAX_COST) {
    throw new RangeError(`scrypt cost must be a power of two from 2^10 to 2^20, not ${cost}`);
  }
  const scryptOptions = (n: number, r: number, p: number): ScryptOptions => ({ N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 });
  let dummy: Promise<string> | undefined;

  const hash = async (password: string): Promise<string> => {
    const salt = randomBytes(SALT_LENGTH);
    const key = await derive(password, salt, scryptOptions(cost, BLOCK_SIZE, PARALLELIZATION), KEY_LENGTH);
    return `$scrypt$ln=${Math.log2(cost)},r=${BLOCK_SIZE},p=${PARALLELIZATION}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  };

  return {
    cost,
    hash,
    async verify(password, stored) {
      const parsed = stored === null ? null : parse(stored);
      if (parsed === null) {
        dummy ??= hash('dummy password for unknown accounts');
        const fallback = parse(await dummy);
        if (fallback) await derive(password, fallback.salt, scryptOptions(fallback.cost, fallback.blockSize, fallback.parallelization), fallback.hash.length);
        return false;
      }
      const key = await derive(password, parsed.salt, scryptOptions(parsed.cost, parsed.blockSize, parsed.parallelization), parsed.hash.length);
      return key.length === parsed.hash.length && timingSafeEqual(key, parsed.hash);
    },
    needsRehash(stored) {
      const parsed = parse(stored);
      return parsed === null || parsed.cost < cost || parsed.blockSize < BLOCK_SIZE;
    },
  };
}
