import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decrypt, deriveEncryptionKey, encrypt, loadHubSecret } from '../../src/access/secrets.js';
import { isUuid, uuidv7 } from '../../src/platform/ids.js';

describe('hub secret and key encryption', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('uses HUB_SECRET when set, else generates DATA_DIR/hub-secret (0600) once and reuses it', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'dx-secret-'));
    dirs.push(dataDir);
    expect(await loadHubSecret({ hubSecret: 'x'.repeat(40), dataDir })).toEqual({ secret: 'x'.repeat(40), source: 'environment' });
    const first = await loadHubSecret({ hubSecret: undefined, dataDir: path.join(dataDir, 'nested') });
    expect(first.source).toBe('generated');
    expect(first.secret.length).toBeGreaterThanOrEqual(32);
    const file = path.join(dataDir, 'nested', 'hub-secret');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, 'utf8')).trim()).toBe(first.secret);
    expect(await loadHubSecret({ hubSecret: undefined, dataDir: path.join(dataDir, 'nested') })).toEqual({ secret: first.secret, source: 'file' });
    // Two processes starting together agree on one secret.
    const racing = await Promise.all([1, 2, 3].map(() => loadHubSecret({ hubSecret: undefined, dataDir: path.join(dataDir, 'race') })));
    expect(new Set(racing.map((result) => result.secret)).size).toBe(1);
  });

  it('encrypts with AES-256-GCM bound to its context: another key, context or a flipped bit fails', () => {
    const key = deriveEncryptionKey('the hub secret for this test, long enough');
    const sealed = encrypt(key, '{"d":"private"}', 'kid-1');
    expect(sealed).not.toContain('private');
    expect(decrypt(key, sealed, 'kid-1')).toBe('{"d":"private"}');
    expect(encrypt(key, '{"d":"private"}', 'kid-1')).not.toBe(sealed);
    expect(() => decrypt(deriveEncryptionKey('another hub secret, also long enough'), sealed, 'kid-1')).toThrow();
    expect(() => decrypt(key, sealed, 'kid-2')).toThrow();
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3] ?? '', 'base64url');
    body[0] = (body[0] ?? 0) ^ 1;
    expect(() => decrypt(key, [parts[0], parts[1], parts[2], body.toString('base64url')].join('.'), 'kid-1')).toThrow();
  });

  it('makes UUIDv7 ids that sort by creation time', () => {
    const ids = Array.from({ length: 2000 }, () => uuidv7());
    expect(ids.every(isUuid)).toBe(true);
    expect(ids.every((id) => id[14] === '7' && '89ab'.includes(id[19] ?? ''))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
