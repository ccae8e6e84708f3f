import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPasswordHasher, DEFAULT_PASSWORD_HASH_COST } from '../../src/access/passwords.js';

describe('password hashing (scrypt)', () => {
  const cheap = createPasswordHasher({ cost: 2 ** 10 });

  it('defaults to a secure cost: N = 2^15, r = 8', async () => {
    expect(DEFAULT_PASSWORD_HASH_COST).toBe(2 ** 15);
    const hasher = createPasswordHasher();
    expect(hasher.cost).toBe(2 ** 15);
    const stored = await hasher.hash('a secure default password');
    expect(stored).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[\w-]{22}\$[\w-]{43}$/);
    expect(await hasher.verify('a secure default password', stored)).toBe(true);
  });

  it('accepts only powers of two from 2^10 to 2^20', () => {
    for (const cost of [2 ** 9, 1000, 2 ** 21, 0]) expect(() => createPasswordHasher({ cost })).toThrow(RangeError);
  });

  it('verifies the right password and refuses any other, with a fresh salt per hash', async () => {
    const first = await cheap.hash('correct horse battery staple');
    const second = await cheap.hash('correct horse battery staple');
    expect(first).not.toBe(second);
    expect(await cheap.verify('correct horse battery staple', first)).toBe(true);
    expect(await cheap.verify('correct horse battery stapler', first)).toBe(false);
    expect(await cheap.verify('', first)).toBe(false);
  });

  it('treats Unicode compositions alike (NFC)', async () => {
    const stored = await cheap.hash('caf\u00e9 au lait, please');
    expect(await cheap.verify('cafe\u0301 au lait, please', stored)).toBe(true);
  });

  it('refuses without throwing when there is no hash (unknown user) or a malformed one, still spending a hash', async () => {
    expect(await cheap.verify('anything', null)).toBe(false);
    expect(await cheap.verify('anything', 'plain text')).toBe(false);
    expect(await cheap.verify('anything', '$scrypt$ln=30,r=8,p=1$AAAA$AAAA')).toBe(false);
  });

  it('verifies hashes made with another cost, and says when they need upgrading', async () => {
    const weak = await cheap.hash('an older hash here');
    const strong = createPasswordHasher({ cost: 2 ** 11 });
    expect(await strong.verify('an older hash here', weak)).toBe(true);
    expect(strong.needsRehash(weak)).toBe(true);
    expect(strong.needsRehash(await strong.hash('a current hash here'))).toBe(false);
  });

  it('round-trips arbitrary passwords', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 64 }), async (password) => {
        expect(await cheap.verify(password, await cheap.hash(password))).toBe(true);
      }),
      { numRuns: 25 },
    );
  });
});
