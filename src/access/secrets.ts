import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** 256 random bits, base64url: refresh tokens, client secrets, invitation and setup tokens. */
export function randomToken(prefix = ''): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** SHA-256 in hex. Enough for high-entropy random tokens (passwords use scrypt). */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Compares two strings in time independent of where they differ (hashes of equal length). */
export function constantTimeEqual(left: string, right: string): boolean {
  const a = Buffer.from(left, 'utf8');
  const b = Buffer.from(right, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export const HUB_SECRET_FILE = 'hub-secret';

/**
 * The hub secret: HUB_SECRET when set, otherwise `<dataDir>/hub-secret`, generated (32 random bytes,
 * mode 0600) on first start and reused after. Every node of a deployment must share it: with several
 * nodes set HUB_SECRET.
 */
export async function loadHubSecret(options: { hubSecret: string | undefined; dataDir: string }): Promise<{ secret: string; source: 'environment' | 'file' | 'generated' }> {
  if (options.hubSecret !== undefined) return { secret: options.hubSecret, source: 'environment' };
  const file = path.join(options.dataDir, HUB_SECRET_FILE);
  const read = async (): Promise<string | undefined> => {
    try {
      const content = (await readFile(file, 'utf8')).trim();
      if (content.length < 32) throw new Error(`${file} holds fewer than 32 characters: delete it only if no signing key was made with it, or set HUB_SECRET`);
      return content;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };
  const existing = await read();
  if (existing !== undefined) return { secret: existing, source: 'file' };
  await mkdir(options.dataDir, { recursive: true });
  const generated = randomBytes(32).toString('base64url');
  try {
    await writeFile(file, `${generated}\n`, { mode: 0o600, flag: 'wx' });
    return { secret: generated, source: 'generated' };
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const raced = await read();
    if (raced === undefined) throw error;
    return { secret: raced, source: 'file' };
  }
}

/** The AES-256 key that wraps signing keys, derived from the hub secret with HKDF-SHA-256. */
export function deriveEncryptionKey(hubSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(hubSecret, 'utf8'), 'dossier-exchange', 'signing-key-encryption/v1', 32));
}

/** `v1.<iv>.<tag>.<ciphertext>` (base64url), AES-256-GCM with `associatedData` bound in (e.g. the key id). */
export function encrypt(key: Buffer, plaintext: string, associatedData: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
}

/** Throws when the key is not the one that encrypted (another hub secret) or the data was altered. */
export function decrypt(key: Buffer, sealed: string, associatedData: string): string {
  const [version, iv, tag, ciphertext] = sealed.split('.');
  if (version !== 'v1' || iv === undefined || tag === undefined || ciphertext === undefined) throw new Error('Unknown ciphertext format');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(associatedData, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}
