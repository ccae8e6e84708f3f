import { stat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SigningKeyEntity } from '../../src/access/signing-key.entity.js';
import { createKeySet, type JsonWebKeySet } from '../../src/access/signing-keys.js';
import { call, expectProblem, OPERATOR_ENV, operatorToken, seedOffice, type SeededOffice } from '../support/access.js';
import { describeEachProfile, startHub, startTestHub, type TestHub } from '../support/hub.js';

describeEachProfile('signing keys: persistence, rotation and the JWKS', (profile) => {
  let hub: TestHub;
  let operator: string;
  let fr: SeededOffice;

  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    operator = await operatorToken(hub.app);
    fr = await seedOffice(hub.app, operator, { code: 'FR', branches: 1 });
  });
  afterAll(async () => {
    await hub?.close();
  });

  const jwks = async () => {
    const response = await call(hub.app, 'GET', '/.well-known/jwks.json');
    expect(response.statusCode).toBe(200);
    return { body: response.json<JsonWebKeySet>(), cacheControl: response.headers['cache-control'] };
  };
  const kidOf = (token: string) => decodeProtectedHeader(token).kid;
  const keyList = async () =>
    (await call(hub.app, 'GET', '/v1/signing-keys', { token: operator })).json<{ items: { kid: string; status: string; retiredAt: string | null }[] }>().items;
  const freshOperatorToken = () => operatorToken(hub.app);

  it('publishes Ed25519 public keys only, cacheable for a while', async () => {
    const { body, cacheControl } = await jwks();
    expect(cacheControl).toBe('public, max-age=300');
    expect(body.keys.length).toBeGreaterThanOrEqual(1);
    for (const key of body.keys) {
      expect(key).toEqual({ kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: expect.any(String), alg: 'EdDSA', use: 'sig' });
    }
    // Third parties verify hub tokens with the JWKS alone.
    const { payload } = await jwtVerify(operator, createLocalJWKSet(body), { issuer: hub.config.auth.issuer, audience: 'dossier-exchange', typ: 'at+jwt', algorithms: ['EdDSA'] });
    expect(payload.sub).toMatch(/^account:/);
  });

  it('keeps private keys encrypted at rest under the hub secret (DATA_DIR/hub-secret, mode 0600)', async () => {
    const rows = await hub.app.db.fork().find(SigningKeyEntity, {});
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.privateJwkCiphertext).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(row.privateJwkCiphertext).not.toContain('"d"');
      expect(JSON.stringify(row.publicJwk)).not.toContain('"d"');
    }
    const file = path.join(hub.config.dataDir, 'hub-secret');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, 'utf8')).trim().length).toBeGreaterThanOrEqual(32);
  });

  it('refuses to open the keys with another hub secret, naming the cause', async () => {
    await expect(createKeySet({ db: hub.app.db, hubSecret: 'a completely different hub secret value', publishDelaySeconds: 900 })).rejects.toThrow(/hub secret differs/);
  });

  it('signs and verifies JWS (for receipts) with the same keys, pinning the type', async () => {
    const jws = await hub.app.signingKeys.signJws({ documentId: 'd-1', sha256: 'abc' }, { typ: 'dx-receipt+jws' });
    expect(decodeProtectedHeader(jws)).toMatchObject({ alg: 'EdDSA', typ: 'dx-receipt+jws', kid: kidOf(operator) });
    expect(await hub.app.signingKeys.verifyJws(jws, { typ: 'dx-receipt+jws' })).toEqual({ payload: { documentId: 'd-1', sha256: 'abc' }, kid: kidOf(operator) });
    await expect(hub.app.signingKeys.verifyJws(jws, { typ: 'other+jws' })).rejects.toThrow();
    const [header, , signature] = jws.split('.');
    await expect(hub.app.signingKeys.verifyJws(`${header}.${Buffer.from('{"documentId":"d-2"}').toString('base64url')}.${signature}`, { typ: 'dx-receipt+jws' })).rejects.toThrow();
  });

  it('keeps its keys across a restart: tokens issued before still verify, with the same kid', async () => {
    const before = (await jwks()).body;
    const examinerToken = fr.examiners[0]?.token ?? '';
    await hub.restart();
    expect((await jwks()).body).toEqual(before);
    expect((await call(hub.app, 'GET', '/v1/me', { token: examinerToken })).statusCode).toBe(200);
    expect((await call(hub.app, 'GET', '/v1/me', { token: operator })).statusCode).toBe(200);
    expect(kidOf(await freshOperatorToken())).toBe(kidOf(operator));
  });

  describe('rotation', () => {
    it('publishes the new key in the JWKS before it signs anything', async () => {
      const signing = kidOf(await freshOperatorToken());
      const response = await call(hub.app, 'POST', '/v1/signing-keys', { token: operator, body: {} });
      expect(response.statusCode).toBe(201);
      const created = response.json<{ kid: string; status: string; activatesAt: string }>();
      expect(created.status).toBe('published');
      expect(new Date(created.activatesAt).getTime()).toBeGreaterThan(Date.now() + 800_000);
      expect((await jwks()).body.keys.map((key) => key.kid)).toEqual(expect.arrayContaining([signing, created.kid]));
      // Still signing with the old key, on this node and after a restart.
      expect(kidOf(await freshOperatorToken())).toBe(signing);
      await hub.restart();
      expect(kidOf(await freshOperatorToken())).toBe(signing);
      expect(await keyList()).toEqual(
        expect.arrayContaining([expect.objectContaining({ kid: signing, status: 'active' }), expect.objectContaining({ kid: created.kid, status: 'published' })]),
      );
    });

    it('activates the published key once the publish delay has passed, and retires the old one', async () => {
      const old = kidOf(await freshOperatorToken());
      const oldToken = await freshOperatorToken();
      const published = (await keyList()).find((key) => key.status === 'published');
      if (!published) throw new Error('no published key');
      // Let the delay pass.
      await hub.app.db.fork().nativeUpdate(SigningKeyEntity, { kid: published.kid }, { activatesAt: new Date() });
      await hub.app.signingKeys.refresh();
      const newToken = await freshOperatorToken();
      expect(kidOf(newToken)).toBe(published.kid);
      // The retired key still verifies what it signed, and stays in the JWKS.
      expect((await call(hub.app, 'GET', '/v1/me', { token: oldToken })).statusCode).toBe(200);
      expect((await jwks()).body.keys.map((key) => key.kid)).toContain(old);
      const listed = await keyList();
      expect(listed.find((key) => key.kid === old)).toMatchObject({ status: 'retired', retiredAt: expect.any(String) });
      expect(listed.find((key) => key.kid === published.kid)).toMatchObject({ status: 'active', retiredAt: null });
      operator = newToken;
    });

    it('activates at once when asked (emergencies), and the retired key’s tokens and receipts still verify', async () => {
      const oldToken = await freshOperatorToken();
      const oldReceipt = await hub.app.signingKeys.signJws({ n: 1 }, { typ: 'dx-receipt+jws' });
      const response = await call(hub.app, 'POST', '/v1/signing-keys', { token: operator, body: { activateNow: true } });
      expect(response.statusCode).toBe(201);
      const created = response.json<{ kid: string; status: string }>();
      expect(created.status).toBe('active');
      expect(kidOf(await freshOperatorToken())).toBe(created.kid);
      expect((await call(hub.app, 'GET', '/v1/me', { token: oldToken })).statusCode).toBe(200);
      expect((await hub.app.signingKeys.verifyJws(oldReceipt, { typ: 'dx-receipt+jws' })).payload).toEqual({ n: 1 });
      expect((await jwks()).body.keys.length).toBeGreaterThanOrEqual(3);
    });

    it('is the operator’s: others get 403, anonymous 401, and nothing rotates', async () => {
      const before = await keyList();
      expectProblem(await call(hub.app, 'POST', '/v1/signing-keys', { token: fr.admin.token, body: {} }), 403, 'OPERATION_NOT_PERMITTED');
      expectProblem(await call(hub.app, 'POST', '/v1/signing-keys', { body: {} }), 401, 'AUTHENTICATION_REQUIRED');
      expectProblem(await call(hub.app, 'GET', '/v1/signing-keys', { token: fr.examiners[0]?.token ?? '' }), 403, 'OPERATION_NOT_PERMITTED');
      expect(await keyList()).toEqual(before);
    });

    it('is audited', async () => {
      const events = (await call(hub.app, 'GET', '/v1/audit-events?type=keys.rotated', { token: operator })).json<{ items: { type: string; actor: { kind: string } }[] }>().items;
      expect(events).toHaveLength(2);
      expect(events[0]).toMatchObject({ type: 'keys.rotated', actor: { kind: 'operator' } });
    });
  });

  // Several nodes exist only on the services profile: the embedded database admits one process.
  it.runIf(profile === 'services')('shares keys between nodes: another node verifies this node’s tokens and learns of rotations', async () => {
    const other = await startHub(hub.env);
    try {
      expect((await call(other.app, 'GET', '/v1/me', { token: operator })).statusCode).toBe(200);
      const rotated = (await call(hub.app, 'POST', '/v1/signing-keys', { token: operator, body: { activateNow: true } })).json<{ kid: string }>();
      const token = await freshOperatorToken();
      expect(kidOf(token)).toBe(rotated.kid);
      // The other node has not read the key table since it started; a kid it does not know makes it look again
      // (at most every 2 s, so that junk kids cannot hammer the database).
      await new Promise((resolve) => setTimeout(resolve, 2100));
      expect((await call(other.app, 'GET', '/v1/me', { token })).statusCode).toBe(200);
      await other.app.signingKeys.refresh();
      expect((await call(other.app, 'GET', '/.well-known/jwks.json')).json<JsonWebKeySet>().keys.map((key) => key.kid)).toContain(rotated.kid);
      expect(kidOf((await call(other.app, 'POST', '/v1/auth/login', { body: { username: 'hub-operator', password: 'correct horse battery staple' } })).json<{ accessToken: string }>().accessToken)).toBe(rotated.kid);
    } finally {
      await other.app.close();
    }
  });
});
