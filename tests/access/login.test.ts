import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountEntity } from '../../src/access/account.entity.js';
import { call, expectProblem, login, OPERATOR, OPERATOR_ENV, operatorToken, seedOffice, type SeededOffice, type Tokens } from '../support/access.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

describeEachProfile('people: login, sessions and passwords', (profile) => {
  let hub: TestHub;
  let operator: string;
  let ep: SeededOffice;

  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    operator = await operatorToken(hub.app);
    ep = await seedOffice(hub.app, operator, { code: 'EP' });
  });
  afterAll(async () => {
    await hub?.close();
  });

  const me = (token: string) => call(hub.app, 'GET', '/v1/me', { token });
  const lockedUntil = async (username: string) => (await hub.app.db.fork().findOneOrFail(AccountEntity, { username })).lockedUntil;
  const unlock = async (username: string) => {
    await hub.app.db.fork().nativeUpdate(AccountEntity, { username }, { lockedUntil: null, failedLoginCount: 0 });
  };

  describe('login', () => {
    it('signs a person in with a short-lived EdDSA access token and a refresh token, not cached', async () => {
      const response = await call(hub.app, 'POST', '/v1/auth/login', { body: { username: OPERATOR.username, password: OPERATOR.password } });
      expect(response.statusCode).toBe(200);
      expect(response.headers['cache-control']).toBe('no-store');
      const tokens = response.json<Tokens & { tokenType: string; refreshTokenExpiresIn: number }>();
      expect(tokens).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, refreshTokenExpiresIn: 1_209_600 });
      expect(decodeProtectedHeader(tokens.accessToken)).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt', kid: expect.any(String) });
      const payload = decodeJwt(tokens.accessToken);
      expect(payload).toMatchObject({ iss: hub.config.auth.issuer, aud: 'dossier-exchange', sub: expect.stringMatching(/^account:/), jti: expect.any(String) });
      expect(Number(payload.exp) - Number(payload.iat)).toBe(900);
    });

    it('accepts the username in any letter case', async () => {
      await login(hub.app, OPERATOR.username.toUpperCase(), OPERATOR.password);
    });

    it('answers an unknown user exactly like a wrong password', async () => {
      const wrong = await call(hub.app, 'POST', '/v1/auth/login', { body: { username: ep.examiners[0]?.username, password: 'not the password at all' }, ip: '10.1.0.1' });
      const unknown = await call(hub.app, 'POST', '/v1/auth/login', { body: { username: 'nobody-here', password: 'not the password at all' }, ip: '10.1.0.2' });
      const strip = (body: string) => {
        const { requestId: _requestId, ...rest } = JSON.parse(body) as Record<string, unknown>;
        return rest;
      };
      expectProblem(wrong, 401, 'INVALID_CREDENTIALS');
      expectProblem(unknown, 401, 'INVALID_CREDENTIALS');
      expect(strip(unknown.body)).toEqual(strip(wrong.body));
      expect(unknown.headers['www-authenticate']).toBe(wrong.headers['www-authenticate']);
      await unlock(ep.examiners[0]?.username ?? '');
    });

    it('refuses malformed input with 400 and no token', async () => {
      expectProblem(await call(hub.app, 'POST', '/v1/auth/login', { body: { username: 'x' } }), 400, 'VALIDATION_FAILED');
      expectProblem(await call(hub.app, 'POST', '/v1/auth/login', { body: { username: 'x', password: 'y', extra: 1 } }), 400, 'VALIDATION_FAILED');
    });

    it('locks an account after repeated failures with a growing wait, even for the right password, and tells unknown users the same', async () => {
      const victim = ep.examiners[1];
      if (!victim) throw new Error('seed');
      for (let attempt = 1; attempt <= 5; attempt += 1) {
        expectProblem(await call(hub.app, 'POST', '/v1/auth/login', { body: { username: victim.username, password: `guess ${attempt}` }, ip: `10.2.0.${attempt}` }), 401, 'INVALID_CREDENTIALS');
      }
      const lockedResponse = await call(hub.app, 'POST', '/v1/auth/login', { body: { username: victim.username, password: victim.password }, ip: '10.2.0.9' });
      expectProblem(lockedResponse, 429, 'ACCOUNT_LOCKED');
      const wait = Number(lockedResponse.headers['retry-after']);
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(30);
      const firstLock = await lockedUntil(victim.username);
      expect(firstLock).not.toBeNull();

      // The lock runs out; one more failure locks for twice as long (backoff).
      await hub.app.db.fork().nativeUpdate(AccountEntity, { username: victim.username }, { lockedUntil: new Date(Date.now() - 1000) });
      expectProblem(await call(hub.app, 'POST', '/v1/auth/login', { body: { username: victim.username, password: 'guess 6' }, ip: '10.2.0.6' }), 401, 'INVALID_CREDENTIALS');
      const second = await call(hub.app, 'POST', '/v1/auth/login', { body: { username: victim.username, password: 'guess 7' }, ip: '10.2.0.7' });
      expectProblem(second, 429, 'ACCOUNT_LOCKED');
      expect(Number(second.headers['retry-after'])).toBeGreaterThan(30);
      expect(Number(second.headers['retry-after'])).toBeLessThanOrEqual(60);

      // An unknown username locks the same way, so a lock does not reveal an account.
      for (let attempt = 1; attempt <= 5; attempt += 1) {
        expectProblem(await call(hub.app, 'POST', '/v1/auth/login', { body: { username: 'ghost-user', password: `guess ${attempt}` }, ip: `10.3.0.${attempt}` }), 401, 'INVALID_CREDENTIALS');
      }
      expectProblem(await call(hub.app, 'POST', '/v1/auth/login', { body: { username: 'ghost-user', password: 'guess 6' }, ip: '10.3.0.9' }), 429, 'ACCOUNT_LOCKED');

      // After the lock the right password works and clears the count.
      await hub.app.db.fork().nativeUpdate(AccountEntity, { username: victim.username }, { lockedUntil: new Date(Date.now() - 1000) });
      await login(hub.app, victim.username, victim.password, '10.2.0.10');
      expect(await hub.app.db.fork().findOneOrFail(AccountEntity, { username: victim.username })).toMatchObject({ failedLoginCount: 0, lockedUntil: null });
    });

    it('limits failed attempts per address, whatever the account', async () => {
      const ip = '10.9.9.9';
      for (let attempt = 1; attempt <= 30; attempt += 1) {
        expectProblem(await call(hub.app, 'POST', '/v1/auth/login', { body: { username: `someone-${attempt}`, password: 'wrong password' }, ip }), 401, 'INVALID_CREDENTIALS');
      }
      const limited = await call(hub.app, 'POST', '/v1/auth/login', { body: { username: OPERATOR.username, password: OPERATOR.password }, ip });
      expectProblem(limited, 429, 'TOO_MANY_ATTEMPTS');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // Another address is not affected.
      await login(hub.app, OPERATOR.username, OPERATOR.password, '10.9.9.10');
    });

    it('refuses a disabled account and an account of a suspended office, after a correct password', async () => {
      const examiner = ep.examiners[0];
      if (!examiner) throw new Error('seed');
      await call(hub.app, 'PATCH', `/v1/offices/EP/users/${examiner.id}`, { token: ep.admin.token, body: { status: 'disabled' } });
      expectProblem(await call(hub.app, 'POST', '/v1/auth/login', { body: { username: examiner.username, password: examiner.password } }), 403, 'ACCOUNT_DISABLED');
      expectProblem(await call(hub.app, 'POST', '/v1/auth/login', { body: { username: examiner.username, password: 'wrong password!' } }), 401, 'INVALID_CREDENTIALS');
      await call(hub.app, 'PATCH', `/v1/offices/EP/users/${examiner.id}`, { token: ep.admin.token, body: { status: 'active' } });

      await call(hub.app, 'PATCH', '/v1/offices/EP', { token: operator, body: { status: 'suspended' } });
      expectProblem(await call(hub.app, 'POST', '/v1/auth/login', { body: { username: examiner.username, password: examiner.password } }), 403, 'OFFICE_SUSPENDED');
      await call(hub.app, 'PATCH', '/v1/offices/EP', { token: operator, body: { status: 'active' } });
      examiner.token = (await login(hub.app, examiner.username, examiner.password)).accessToken;
    });
  });

  describe('sessions (refresh-token rotation)', () => {
    it('rotates: each refresh returns a new pair and the old refresh token is spent', async () => {
      const first = await login(hub.app, ep.admin.username, ep.admin.password);
      const refreshed = await call(hub.app, 'POST', '/v1/auth/refresh', { body: { refreshToken: first.refreshToken } });
      expect(refreshed.statusCode).toBe(200);
      expect(refreshed.headers['cache-control']).toBe('no-store');
      const second = refreshed.json<Tokens>();
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect((await me(second.accessToken)).statusCode).toBe(200);
      const third = await call(hub.app, 'POST', '/v1/auth/refresh', { body: { refreshToken: second.refreshToken } });
      expect(third.statusCode).toBe(200);
    });

    it('ends the whole session when a spent refresh token comes back (theft detection)', async () => {
      const first = await login(hub.app, ep.admin.username, ep.admin.password);
      const second = (await call(hub.app, 'POST', '/v1/auth/refresh', { body: { refreshToken: first.refreshToken } })).json<Tokens>();
      expectProblem(await call(hub.app, 'POST', '/v1/auth/refresh', { body: { refreshToken: first.refreshToken } }), 401, 'REFRESH_TOKEN_REUSED');
      // The legitimate holder's newer tokens die with the session.
      expectProblem(await call(hub.app, 'POST', '/v1/auth/refresh', { body: { refreshToken: second.refreshToken } }), 401, 'INVALID_REFRESH_TOKEN');
      expectProblem(await me(second.accessToken), 401, 'SESSION_ENDED');
      // Other sessions of the same person go on.
      expect((await me(ep.admin.token)).statusCode).toBe(200);
    });

    it('refuses an unknown refresh token', async () => {
      expectProblem(await call(hub.app, 'POST', '/v1/auth/refresh', { body: { refreshToken: 'made-up-token' } }), 401, 'INVALID_REFRESH_TOKEN');
    });

    it('logs out: the refresh token and the session’s access tokens stop working at once', async () => {
      const tokens = await login(hub.app, ep.admin.username, ep.admin.password);
      expect((await me(tokens.accessToken)).statusCode).toBe(200);
      const response = await call(hub.app, 'POST', '/v1/auth/logout', { body: { refreshToken: tokens.refreshToken } });
      expect(response.statusCode).toBe(204);
      expectProblem(await me(tokens.accessToken), 401, 'SESSION_ENDED');
      expectProblem(await call(hub.app, 'POST', '/v1/auth/refresh', { body: { refreshToken: tokens.refreshToken } }), 401, 'INVALID_REFRESH_TOKEN');
      // Logging out twice, or with an unknown token, is harmless.
      expect((await call(hub.app, 'POST', '/v1/auth/logout', { body: { refreshToken: tokens.refreshToken } })).statusCode).toBe(204);
      expect((await call(hub.app, 'POST', '/v1/auth/logout', { body: { refreshToken: 'unknown' } })).statusCode).toBe(204);
    });

    it('will not refresh for a disabled account', async () => {
      const examiner = ep.examiners[1];
      if (!examiner) throw new Error('seed');
      const tokens = await login(hub.app, examiner.username, examiner.password);
      await call(hub.app, 'PATCH', `/v1/offices/EP/users/${examiner.id}`, { token: ep.admin.token, body: { status: 'disabled' } });
      expect((await call(hub.app, 'POST', '/v1/auth/refresh', { body: { refreshToken: tokens.refreshToken } })).statusCode).toBe(401);
      await call(hub.app, 'PATCH', `/v1/offices/EP/users/${examiner.id}`, { token: ep.admin.token, body: { status: 'active' } });
      examiner.token = (await login(hub.app, examiner.username, examiner.password)).accessToken;
    });
  });

  describe('GET /v1/me', () => {
    it('describes the operator', async () => {
      const response = await me(operator);
      expect(response.statusCode).toBe(200);
      const body = response.json<{ kind: string; user: { username: string; role: string }; office: unknown; branch: unknown; client: unknown; permissions: { operationId: string; scope: string }[] }>();
      expect(body).toMatchObject({ kind: 'operator', user: { username: OPERATOR.username, role: 'operator' }, office: null, branch: null, client: null });
      expect(body.permissions).toContainEqual({ operationId: 'createOffice', scope: 'any' });
      expect(body.permissions.map((permission) => permission.operationId)).not.toContain('depositDocument');
    });

    it('describes an office administrator: its office, no branch, office-scoped permissions, no deposits', async () => {
      const body = (await me(ep.admin.token)).json<{ kind: string; office: { code: string }; branch: unknown; permissions: { operationId: string; scope: string }[] }>();
      expect(body).toMatchObject({ kind: 'officeAdmin', office: { code: 'EP' }, branch: null });
      expect(body.permissions).toContainEqual({ operationId: 'createUser', scope: 'ownOffice' });
      expect(body.permissions.map((permission) => permission.operationId)).not.toContain('depositDocument');
      expect(body.permissions.map((permission) => permission.operationId)).not.toContain('createOffice');
    });

    it('describes an examiner: office, branch, and the deposit permission of a providing office', async () => {
      const examiner = ep.examiners[0];
      const body = (await me(examiner?.token ?? '')).json<{ kind: string; user: { id: string }; office: { code: string }; branch: { id: string }; permissions: { operationId: string; scope: string }[] }>();
      expect(body).toMatchObject({ kind: 'examiner', user: { id: examiner?.id }, office: { code: 'EP' }, branch: { id: ep.branches[0]?.id } });
      expect(body.permissions).toContainEqual({ operationId: 'depositDocument', scope: 'ownOffice' });
      expect(body.permissions.map((permission) => permission.operationId)).not.toContain('createUser');
    });

    it('needs a token', async () => {
      expectProblem(await call(hub.app, 'GET', '/v1/me'), 401, 'AUTHENTICATION_REQUIRED');
    });
  });

  describe('passwords', () => {
    it('changes one’s own password: old sessions end, a new one starts, the old password stops working', async () => {
      const person = { username: `${ep.admin.username.split('-')[0]}-changer`, password: 'first password here' };
      const created = await call(hub.app, 'POST', '/v1/offices/EP/users', { token: ep.admin.token, body: { ...person, branchId: ep.branches[0]?.id } });
      expect(created.statusCode).toBe(201);
      const before = await login(hub.app, person.username, person.password);
      expectProblem(
        await call(hub.app, 'POST', '/v1/me/password', { token: before.accessToken, body: { currentPassword: 'not my password', newPassword: 'second password here' } }),
        403,
        'WRONG_CURRENT_PASSWORD',
      );
      const changed = await call(hub.app, 'POST', '/v1/me/password', { token: before.accessToken, body: { currentPassword: person.password, newPassword: 'second password here' } });
      expect(changed.statusCode).toBe(200);
      expectProblem(await me(before.accessToken), 401, 'SESSION_ENDED');
      expect((await me(changed.json<Tokens>().accessToken)).statusCode).toBe(200);
      expectProblem(await call(hub.app, 'POST', '/v1/auth/login', { body: person }), 401, 'INVALID_CREDENTIALS');
      await login(hub.app, person.username, 'second password here');
    });

    it('accepts an invitation token once, then the person logs in', async () => {
      const created = await call(hub.app, 'POST', '/v1/offices/EP/users', { token: ep.admin.token, body: { username: 'invited-examiner', branchId: ep.branches[1]?.id } });
      expect(created.statusCode).toBe(201);
      const { user, passwordToken, passwordTokenExpiresAt } = created.json<{ user: { passwordSet: boolean }; passwordToken: string; passwordTokenExpiresAt: string }>();
      expect(user.passwordSet).toBe(false);
      expect(new Date(passwordTokenExpiresAt).getTime()).toBeGreaterThan(Date.now() + 6 * 24 * 3600 * 1000);
      // No password yet: login fails like any wrong password.
      expectProblem(await call(hub.app, 'POST', '/v1/auth/login', { body: { username: 'invited-examiner', password: 'anything at all' } }), 401, 'INVALID_CREDENTIALS');
      expect((await call(hub.app, 'POST', '/v1/auth/password', { body: { passwordToken, newPassword: 'my chosen password' } })).statusCode).toBe(204);
      expectProblem(await call(hub.app, 'POST', '/v1/auth/password', { body: { passwordToken, newPassword: 'another password here' } }), 401, 'INVALID_PASSWORD_TOKEN');
      await login(hub.app, 'invited-examiner', 'my chosen password');
    });

    it('refuses a wrong or expired password token and a too short password', async () => {
      expectProblem(await call(hub.app, 'POST', '/v1/auth/password', { body: { passwordToken: 'made-up', newPassword: 'long enough password' } }), 401, 'INVALID_PASSWORD_TOKEN');
      expectProblem(await call(hub.app, 'POST', '/v1/auth/password', { body: { passwordToken: 'made-up', newPassword: 'short' } }), 400, 'VALIDATION_FAILED');
      const created = await call(hub.app, 'POST', '/v1/offices/EP/users', { token: ep.admin.token, body: { username: 'late-examiner', branchId: ep.branches[1]?.id } });
      const { passwordToken } = created.json<{ passwordToken: string }>();
      await hub.app.db.fork().nativeUpdate(AccountEntity, { username: 'late-examiner' }, { pendingTokenExpiresAt: new Date(Date.now() - 1000) });
      expectProblem(await call(hub.app, 'POST', '/v1/auth/password', { body: { passwordToken, newPassword: 'long enough password' } }), 401, 'INVALID_PASSWORD_TOKEN');
    });

    it('stores scrypt hashes, never the password', async () => {
      const account = await hub.app.db.fork().findOneOrFail(AccountEntity, { username: OPERATOR.username });
      expect(account.passwordHash).toMatch(/^\$scrypt\$ln=\d+,r=8,p=1\$/);
      expect(account.passwordHash).not.toContain(OPERATOR.password);
    });
  });
});
