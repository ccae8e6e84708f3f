import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, call, createSecretClient, expectProblem, OPERATOR_ENV, operatorToken, seedOffice, tokenRequest, type SeededOffice } from '../support/access.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

describeEachProfile('API clients: OAuth 2.0 client credentials', (profile) => {
  let hub: TestHub;
  let operator: string;
  let au: SeededOffice;
  let secretClient: { id: string; secret: string };
  /** A private_key_jwt client with an Ed25519 key. */
  let keyClient: { id: string; privateKey: CryptoKey };

  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    operator = await operatorToken(hub.app);
    au = await seedOffice(hub.app, operator, { code: 'AU', branches: 2 });
    secretClient = await createSecretClient(hub.app, au.admin.token, 'AU', au.branches[1]?.id ?? '');
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const created = await call(hub.app, 'POST', '/v1/offices/AU/clients', {
      token: au.admin.token,
      body: { name: 'Signed feed', branchId: au.branches[0]?.id, authMethod: 'private_key_jwt', publicJwk: await exportJWK(publicKey) },
    });
    expect(created.statusCode).toBe(201);
    keyClient = { id: created.json<{ client: { id: string } }>().client.id, privateKey };
  });
  afterAll(async () => {
    await hub?.close();
  });

  const tokenEndpoint = () => `${hub.config.auth.issuer}/v1/auth/token`;

  /** A client assertion (RFC 7523) for `clientId`, with claims and header changed as given. */
  async function assertion(options: { clientId?: string; key?: CryptoKey; alg?: string; claims?: JWTPayload } = {}): Promise<string> {
    const clientId = options.clientId ?? keyClient.id;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: clientId, sub: clientId, aud: tokenEndpoint(), jti: randomUUID(), iat: now, exp: now + 120, ...options.claims })
      .setProtectedHeader({ alg: options.alg ?? 'EdDSA' })
      .sign(options.key ?? keyClient.privateKey);
  }
  const withAssertion = (jwt: string, extra: Record<string, string> = {}, ip?: string) =>
    tokenRequest(hub.app, { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: jwt, ...extra }, undefined, ip);

  describe('client_secret_basic', () => {
    it('issues a short-lived access token (OAuth response, not cached) that acts as the client in its branch', async () => {
      const response = await tokenRequest(hub.app, { grant_type: 'client_credentials' }, basic(secretClient.id, secretClient.secret));
      expect(response.statusCode).toBe(200);
      expect(response.headers['cache-control']).toBe('no-store');
      const body = response.json<{ access_token: string; token_type: string; expires_in: number }>();
      expect(body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 900 });
      const me = (await call(hub.app, 'GET', '/v1/me', { token: body.access_token })).json<Record<string, unknown>>();
      expect(me).toMatchObject({ kind: 'client', user: null, client: { id: secretClient.id, authMethod: 'client_secret_basic' }, office: { code: 'AU' }, branch: { id: au.branches[1]?.id } });
      expect(me.permissions).toContainEqual({ operationId: 'depositDocument', scope: 'ownOffice' });
    });

    it('accepts a JSON body too', async () => {
      const response = await call(hub.app, 'POST', '/v1/auth/token', { body: { grant_type: 'client_credentials' }, headers: { authorization: basic(secretClient.id, secretClient.secret) } });
      expect(response.statusCode).toBe(200);
    });

    it('refuses a wrong secret and an unknown client with the same 401 invalid_client', async () => {
      const wrong = await tokenRequest(hub.app, { grant_type: 'client_credentials' }, basic(secretClient.id, `${secretClient.secret}x`));
      const unknown = await tokenRequest(hub.app, { grant_type: 'client_credentials' }, basic(randomUUID(), secretClient.secret));
      const notUuid = await tokenRequest(hub.app, { grant_type: 'client_credentials' }, basic('some-client', 'secret'));
      for (const response of [wrong, unknown, notUuid]) {
        const problem = expectProblem(response, 401, 'INVALID_CLIENT');
        expect(problem.error).toBe('invalid_client');
        expect(response.headers['www-authenticate']).toMatch(/^Basic /);
      }
      expect(wrong.json<{ detail: string }>().detail).toBe(unknown.json<{ detail: string }>().detail);
    });

    it('refuses the wrong method for the client: a key client cannot use a secret, a secret client cannot sign', async () => {
      expectProblem(await tokenRequest(hub.app, { grant_type: 'client_credentials' }, basic(keyClient.id, 'anything')), 401, 'INVALID_CLIENT');
      expectProblem(await withAssertion(await assertion({ clientId: secretClient.id })), 401, 'INVALID_CLIENT');
    });

    it('refuses requests without client authentication, with another grant, or with two methods', async () => {
      expectProblem(await tokenRequest(hub.app, { grant_type: 'client_credentials' }), 401, 'CLIENT_AUTHENTICATION_REQUIRED');
      const grant = expectProblem(await tokenRequest(hub.app, { grant_type: 'password', username: 'a', password: 'b' }, basic(secretClient.id, secretClient.secret)), 400, 'UNSUPPORTED_GRANT_TYPE');
      expect(grant.error).toBe('unsupported_grant_type');
      expectProblem(await tokenRequest(hub.app, {}, basic(secretClient.id, secretClient.secret)), 400, 'VALIDATION_FAILED');
      expectProblem(
        await tokenRequest(hub.app, { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: await assertion() }, basic(secretClient.id, secretClient.secret)),
        400,
        'MULTIPLE_CLIENT_AUTHENTICATIONS',
      );
      expectProblem(await tokenRequest(hub.app, { grant_type: 'client_credentials' }, 'Basic !!!'), 401, 'INVALID_CLIENT');
    });
  });

  describe('private_key_jwt (RFC 7523)', () => {
    it('issues a token for an assertion signed with the registered key', async () => {
      const response = await withAssertion(await assertion());
      expect(response.statusCode, response.body).toBe(200);
      const token = response.json<{ access_token: string }>().access_token;
      expect((await call(hub.app, 'GET', '/v1/me', { token })).json()).toMatchObject({ kind: 'client', client: { id: keyClient.id, authMethod: 'private_key_jwt' }, branch: { id: au.branches[0]?.id } });
    });

    it('accepts the issuer as audience, and an ES256 key', async () => {
      expect((await withAssertion(await assertion({ claims: { aud: hub.config.auth.issuer } }))).statusCode).toBe(200);
      const { publicKey, privateKey } = await generateKeyPair('ES256');
      const created = await call(hub.app, 'POST', '/v1/offices/AU/clients', {
        token: au.admin.token,
        body: { name: 'P-256 feed', branchId: au.branches[0]?.id, authMethod: 'private_key_jwt', publicJwk: await exportJWK(publicKey) },
      });
      const clientId = created.json<{ client: { id: string } }>().client.id;
      expect((await withAssertion(await assertion({ clientId, key: privateKey, alg: 'ES256' }), { client_id: clientId })).statusCode).toBe(200);
    });

    it('refuses a replayed assertion (same jti), even before it expires', async () => {
      const jwt = await assertion();
      expect((await withAssertion(jwt)).statusCode).toBe(200);
      const problem = expectProblem(await withAssertion(jwt), 401, 'CLIENT_ASSERTION_REPLAYED');
      expect(problem.error).toBe('invalid_client');
      // Another jti works.
      expect((await withAssertion(await assertion())).statusCode).toBe(200);
    });

    it.each([
      ['a wrong audience', { aud: 'https://other.example/token' }],
      ['an expired assertion', { iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 }],
      ['an assertion living too long', { exp: Math.floor(Date.now() / 1000) + 3600 }],
      ['no jti', { jti: undefined }],
      ['an issuer that is not the subject', { sub: randomUUID() }],
      ['an unknown client', { iss: randomUUID(), sub: undefined }],
    ])('refuses %s', async (_name, claims) => {
      const fixed: JWTPayload = { ...claims };
      if ('sub' in claims && claims.sub === undefined) fixed.sub = claims.iss;
      const problem = expectProblem(await withAssertion(await assertion({ claims: fixed })), 401, 'INVALID_CLIENT');
      expect(problem.error).toBe('invalid_client');
    });

    it('refuses an assertion signed with another key, or with a pinned-out algorithm', async () => {
      const other = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      expectProblem(await withAssertion(await assertion({ key: other.privateKey })), 401, 'INVALID_CLIENT');
      const hmac = new TextEncoder().encode('a shared secret guessed by the attacker');
      expectProblem(await withAssertion(await assertion({ alg: 'HS256', key: hmac as unknown as CryptoKey })), 401, 'INVALID_CLIENT');
      expectProblem(await withAssertion('not-a-jwt'), 401, 'INVALID_CLIENT');
      expectProblem(await withAssertion(await assertion(), { client_id: secretClient.id }), 401, 'INVALID_CLIENT');
      expectProblem(await withAssertion(await assertion(), { client_assertion_type: 'urn:other' }), 400, 'UNSUPPORTED_ASSERTION_TYPE');
    });

    it('rotating the key makes the old key useless at once', async () => {
      const next = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const rotated = await call(hub.app, 'POST', `/v1/offices/AU/clients/${keyClient.id}/credentials`, { token: au.admin.token, body: { publicJwk: await exportJWK(next.publicKey) } });
      expect(rotated.statusCode).toBe(200);
      expectProblem(await withAssertion(await assertion()), 401, 'INVALID_CLIENT');
      keyClient.privateKey = next.privateKey;
      expect((await withAssertion(await assertion())).statusCode).toBe(200);
      expectProblem(await call(hub.app, 'POST', `/v1/offices/AU/clients/${keyClient.id}/credentials`, { token: au.admin.token, body: {} }), 422, 'PUBLIC_JWK_REQUIRED');
    });
  });

  describe('refusals that depend on the client’s state', () => {
    it('a suspended office gets no tokens (403)', async () => {
      await call(hub.app, 'PATCH', '/v1/offices/AU', { token: operator, body: { status: 'suspended' } });
      try {
        expectProblem(await tokenRequest(hub.app, { grant_type: 'client_credentials' }, basic(secretClient.id, secretClient.secret)), 403, 'OFFICE_SUSPENDED');
        expectProblem(await withAssertion(await assertion()), 403, 'OFFICE_SUSPENDED');
      } finally {
        await call(hub.app, 'PATCH', '/v1/offices/AU', { token: operator, body: { status: 'active' } });
      }
    });

    it('limits failed client authentications per address', async () => {
      const ip = '10.77.0.1';
      for (let attempt = 0; attempt < 30; attempt += 1) {
        expectProblem(await tokenRequest(hub.app, { grant_type: 'client_credentials' }, basic(secretClient.id, `guess-${attempt}`), ip), 401, 'INVALID_CLIENT');
      }
      const limited = await tokenRequest(hub.app, { grant_type: 'client_credentials' }, basic(secretClient.id, secretClient.secret), ip);
      expectProblem(limited, 429, 'TOO_MANY_ATTEMPTS');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect((await tokenRequest(hub.app, { grant_type: 'client_credentials' }, basic(secretClient.id, secretClient.secret), '10.77.0.2')).statusCode).toBe(200);
    });

    it('records token issuance and failures in the office’s audit log', async () => {
      const events = (await call(hub.app, 'GET', '/v1/offices/AU/audit-events?limit=200', { token: au.admin.token })).json<{ items: { type: string; outcome: string; target: { id: string } | null; details: Record<string, unknown> }[] }>().items;
      expect(events).toContainEqual(expect.objectContaining({ type: 'auth.token.issued', outcome: 'success', target: { type: 'client', id: secretClient.id }, details: { authMethod: 'client_secret_basic' } }));
      expect(events).toContainEqual(expect.objectContaining({ type: 'auth.token.issued', target: { type: 'client', id: keyClient.id }, details: { authMethod: 'private_key_jwt' } }));
      expect(events).toContainEqual(expect.objectContaining({ type: 'auth.token.failed', outcome: 'failure', details: expect.objectContaining({ reason: 'wrong_secret' }) }));
      expect(events).toContainEqual(expect.objectContaining({ type: 'auth.token.failed', details: expect.objectContaining({ reason: 'assertion_replayed' }) }));
    });
  });
});
