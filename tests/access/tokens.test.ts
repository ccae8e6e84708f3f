import { randomUUID } from 'node:crypto';
import { base64url, decodeJwt, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, clientToken, createSecretClient, expectProblem, login, OPERATOR, OPERATOR_ENV, operatorToken, seedOffice, type SeededOffice } from '../support/access.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

/**
 * Every way a bearer token can be bad is refused with 401 (or 403 for a suspended office) and a problem
 * document, never served as anonymous, and the refused request changes nothing.
 */
describeEachProfile('bearer tokens: verification and immediate revocation', (profile) => {
  let hub: TestHub;
  let operator: string;
  let claims: JWTPayload;
  let gb: SeededOffice;

  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    operator = await operatorToken(hub.app);
    claims = decodeJwt(operator);
    gb = await seedOffice(hub.app, operator, { code: 'GB', branches: 1 });
  });
  afterAll(async () => {
    await hub?.close();
  });

  const b64 = (value: unknown): string => base64url.encode(JSON.stringify(value));

  /** A token signed with the hub's real current key, with these claims and header members changed. */
  async function forge(options: { claims?: JWTPayload; header?: Record<string, unknown>; key?: CryptoKey | Uint8Array } = {}): Promise<string> {
    const { kid, privateKey } = await hub.app.signingKeys.currentSigningKey();
    const now = Math.floor(Date.now() / 1000);
    const payload: JWTPayload = { iss: hub.config.auth.issuer, aud: 'dossier-exchange', sub: claims.sub, sid: claims.sid, iat: now, exp: now + 600, jti: randomUUID(), ...options.claims };
    return new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt', ...options.header }).sign(options.key ?? privateKey);
  }

  const offices = async () => (await call(hub.app, 'GET', '/v1/offices?limit=200')).json<{ items: { code: string }[] }>().items.map((office) => office.code);

  /** The token is refused on a read and on a write, and the write leaves the registry as it was. */
  async function expectRefused(token: string, status: number, errorCode: string): Promise<void> {
    expectProblem(await call(hub.app, 'GET', '/v1/me', { token }), status, errorCode);
    const before = await offices();
    expectProblem(await call(hub.app, 'POST', '/v1/offices', { token, body: { code: 'JP', name: 'JPO', roles: ['accessing'] } }), status, errorCode);
    expect(await offices()).toEqual(before);
    // Public routes do not fall back to anonymous either.
    expectProblem(await call(hub.app, 'GET', '/v1/offices', { token }), status, errorCode);
  }

  it('accepts a well-formed token signed with the current key (the forger below is faithful)', async () => {
    expect((await call(hub.app, 'GET', '/v1/me', { token: await forge() })).json()).toMatchObject({ kind: 'operator' });
  });

  it('refuses alg "none"', async () => {
    const { kid } = await hub.app.signingKeys.currentSigningKey();
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${b64({ ...claims, iat: now, exp: now + 600 })}.`;
    await expectRefused(unsigned, 401, 'INVALID_TOKEN');
  });

  it('refuses HS256 signed with the public key as the secret', async () => {
    const { publicJwk } = await hub.app.signingKeys.currentSigningKey();
    const secrets = [base64url.decode(publicJwk.x), new TextEncoder().encode(JSON.stringify(publicJwk))];
    for (const secret of secrets) {
      await expectRefused(await forge({ header: { alg: 'HS256' }, key: secret }), 401, 'INVALID_TOKEN');
    }
  });

  it.each([
    ['a wrong audience', { aud: 'another-service' }],
    ['a wrong issuer', { iss: 'https://evil.example' }],
  ])('refuses %s, even signed with the real key', async (_name, changed) => {
    const problem = expectProblem(await call(hub.app, 'GET', '/v1/me', { token: await forge({ claims: changed }) }), 401, 'INVALID_TOKEN');
    expect(problem.detail).toMatch(/audience|issued by/);
    await expectRefused(await forge({ claims: changed }), 401, 'INVALID_TOKEN');
  });

  it('refuses a wrong typ (e.g. a plain JWT or a receipt), even signed with the real key', async () => {
    await expectRefused(await forge({ header: { typ: 'JWT' } }), 401, 'INVALID_TOKEN');
    await expectRefused(await forge({ header: { typ: undefined } }), 401, 'INVALID_TOKEN');
    // A JWS the hub signed for another purpose is not an access token.
    const receipt = await hub.app.signingKeys.signJws({ ...claims, exp: Math.floor(Date.now() / 1000) + 600 }, { typ: 'dx-receipt+jws' });
    await expectRefused(receipt, 401, 'INVALID_TOKEN');
  });

  it('refuses an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(await forge({ claims: { iat: now - 1000, exp: now - 60 } }), 401, 'TOKEN_EXPIRED');
  });

  it('refuses a token from its exp on, though it was accepted (and remembered as verified) before', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await forge({ claims: { iat: now, exp: now + 2 } });
    expect((await call(hub.app, 'GET', '/v1/me', { token })).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, (now + 2) * 1000 - Date.now() + 50));
    await expectRefused(token, 401, 'TOKEN_EXPIRED');
  });

  it('refuses a token whose nbf is in the future', async () => {
    await expectRefused(await forge({ claims: { nbf: Math.floor(Date.now() / 1000) + 300 } }), 401, 'INVALID_TOKEN');
  });

  it('refuses an unknown kid, a missing kid, and a foreign key posing as the hub’s kid', async () => {
    const foreign = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    await expectRefused(await forge({ header: { kid: 'not-a-hub-key' }, key: foreign.privateKey }), 401, 'INVALID_TOKEN');
    await expectRefused(await forge({ header: { kid: undefined } }), 401, 'INVALID_TOKEN');
    await expectRefused(await forge({ key: foreign.privateKey }), 401, 'INVALID_TOKEN');
  });

  it('refuses a tampered payload', async () => {
    const examinerToken = gb.examiners[0]?.token ?? '';
    const [header, payload, signature] = examinerToken.split('.');
    const elevated = { ...decodeJwt(examinerToken), sub: claims.sub };
    await expectRefused(`${header}.${b64(elevated)}.${signature}`, 401, 'INVALID_TOKEN');
    await expectRefused(`${header}.${payload}.${signature?.slice(0, -4)}AAAA`, 401, 'INVALID_TOKEN');
  });

  it('refuses garbage, a missing token, another scheme, and a subject that does not exist', async () => {
    await expectRefused('not.a.jwt', 401, 'INVALID_TOKEN');
    await expectRefused('abc', 401, 'INVALID_TOKEN');
    await expectRefused(await forge({ claims: { sub: `account:${randomUUID()}` } }), 401, 'INVALID_TOKEN');
    await expectRefused(await forge({ claims: { sub: 'operator' } }), 401, 'INVALID_TOKEN');
    expectProblem(await call(hub.app, 'GET', '/v1/me', { headers: { authorization: 'Bearer' } }), 401, 'UNSUPPORTED_AUTHORIZATION');
    expectProblem(await call(hub.app, 'GET', '/v1/me', { headers: { authorization: `Basic ${Buffer.from(`${OPERATOR.username}:${OPERATOR.password}`).toString('base64')}` } }), 401, 'UNSUPPORTED_AUTHORIZATION');
    const response = await call(hub.app, 'GET', '/v1/me', { token: 'abc' });
    expect(response.headers['www-authenticate']).toBe('Bearer');
  });

  describe('revocation takes effect on the next request, not at expiry', () => {
    it('a disabled user', async () => {
      const examiner = gb.examiners[0];
      if (!examiner) throw new Error('seed');
      expect((await call(hub.app, 'GET', '/v1/me', { token: examiner.token })).statusCode).toBe(200);
      await call(hub.app, 'PATCH', `/v1/offices/GB/users/${examiner.id}`, { token: gb.admin.token, body: { status: 'disabled' } });
      await expectRefused(examiner.token, 401, 'ACCOUNT_DISABLED');
      await call(hub.app, 'PATCH', `/v1/offices/GB/users/${examiner.id}`, { token: gb.admin.token, body: { status: 'active' } });
      // Re-enabled: the old sessions stay ended, a new login works.
      examiner.token = (await login(hub.app, examiner.username, examiner.password)).accessToken;
      expect((await call(hub.app, 'GET', '/v1/me', { token: examiner.token })).statusCode).toBe(200);
    });

    it('a revoked client', async () => {
      const client = await createSecretClient(hub.app, gb.admin.token, 'GB', gb.branches[0]?.id ?? '');
      const token = await clientToken(hub.app, client.id, client.secret);
      expect((await call(hub.app, 'GET', '/v1/me', { token })).json()).toMatchObject({ kind: 'client', client: { id: client.id } });
      expect((await call(hub.app, 'POST', `/v1/offices/GB/clients/${client.id}/revoke`, { token: gb.admin.token })).statusCode).toBe(200);
      await expectRefused(token, 401, 'CLIENT_REVOKED');
    });

    it('a suspended office, for its people and its clients, until it is reactivated', async () => {
      const client = await createSecretClient(hub.app, gb.admin.token, 'GB', gb.branches[0]?.id ?? '', 'Second uploader');
      const token = await clientToken(hub.app, client.id, client.secret);
      expect((await call(hub.app, 'PATCH', '/v1/offices/GB', { token: operator, body: { status: 'suspended' } })).statusCode).toBe(200);
      await expectRefused(gb.admin.token, 403, 'OFFICE_SUSPENDED');
      await expectRefused(token, 403, 'OFFICE_SUSPENDED');
      expectProblem(await call(hub.app, 'GET', '/v1/me', { token: gb.examiners[0]?.token ?? '' }), 403, 'OFFICE_SUSPENDED');
      expect((await call(hub.app, 'PATCH', '/v1/offices/GB', { token: operator, body: { status: 'active' } })).statusCode).toBe(200);
      expect((await call(hub.app, 'GET', '/v1/me', { token: gb.admin.token })).statusCode).toBe(200);
      expect((await call(hub.app, 'GET', '/v1/me', { token })).statusCode).toBe(200);
    });

    it('a password reset ends the account’s sessions', async () => {
      const examiner = gb.examiners[0];
      if (!examiner) throw new Error('seed');
      const reset = await call(hub.app, 'POST', `/v1/offices/GB/users/${examiner.id}/password-reset`, { token: gb.admin.token, body: { password: 'brand new password!' } });
      expect(reset.statusCode).toBe(200);
      await expectRefused(examiner.token, 401, 'SESSION_ENDED');
      examiner.password = 'brand new password!';
      examiner.token = (await login(hub.app, examiner.username, examiner.password)).accessToken;
    });
  });
});
