import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { generateKeyPair, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, clientToken, createSecretClient, expectProblem, login, OPERATOR_ENV, operatorToken, seedOffice, tokenRequest, basic, type SeededOffice } from '../support/access.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

interface Listed<T> {
  items: T[];
  nextCursor?: string;
}

describeEachProfile('office administration: offices, branches, users, clients', (profile) => {
  let hub: TestHub;
  let operator: string;
  /** Office A (the caller's) and office B (another one). */
  let ep: SeededOffice;
  let cn: SeededOffice;

  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    operator = await operatorToken(hub.app);
    ep = await seedOffice(hub.app, operator, { code: 'EP' });
    cn = await seedOffice(hub.app, operator, { code: 'CN' });
  });
  afterAll(async () => {
    await hub?.close();
  });

  const list = async <T>(url: string, token = operator): Promise<T[]> => {
    const response = await call(hub.app, 'GET', url, { token });
    expect(response.statusCode, response.body).toBe(200);
    return response.json<Listed<T>>().items;
  };
  const examiner = (office: SeededOffice, index = 0) => {
    const person = office.examiners[index];
    if (!person) throw new Error('seed');
    return person;
  };

  describe('offices (operator)', () => {
    it('admits an office over HTTP and changes its roles, provider mode, consent and status', async () => {
      const created = await call(hub.app, 'POST', '/v1/offices', { token: operator, body: { code: 'kr', name: 'KIPO', roles: ['accessing'] } });
      expect(created.statusCode).toBe(201);
      expect(created.json()).toEqual({ code: 'KR', name: 'KIPO', roles: ['accessing'], providerMode: null, publicAccess: false, status: 'active' });
      const updated = await call(hub.app, 'PATCH', '/v1/offices/KR', { token: operator, body: { roles: ['providing', 'accessing'], providerMode: 'repository', publicAccess: true } });
      expect(updated.json()).toEqual({ code: 'KR', name: 'KIPO', roles: ['providing', 'accessing'], providerMode: 'repository', publicAccess: true, status: 'active' });
      expect((await call(hub.app, 'GET', '/v1/offices/KR')).json()).toEqual(updated.json());
    });

    it('refuses bad offices with 400/409/422 and stores nothing', async () => {
      const before = await list<{ code: string }>('/v1/offices');
      expectProblem(await call(hub.app, 'POST', '/v1/offices', { token: operator, body: { code: 'ZZ', name: 'Nowhere' } }), 422, 'UNKNOWN_OFFICE_CODE');
      expectProblem(await call(hub.app, 'POST', '/v1/offices', { token: operator, body: { code: 'EP', name: 'Again' } }), 409, 'OFFICE_EXISTS');
      expectProblem(await call(hub.app, 'POST', '/v1/offices', { token: operator, body: { code: 'JP', name: 'JPO', roles: ['providing'] } }), 422, 'PROVIDER_MODE_REQUIRED');
      expectProblem(await call(hub.app, 'POST', '/v1/offices', { token: operator, body: { code: 'JP' } }), 400, 'VALIDATION_FAILED');
      expectProblem(await call(hub.app, 'PATCH', '/v1/offices/JP', { token: operator, body: { status: 'suspended' } }), 404, 'OFFICE_NOT_FOUND');
      expect(await list('/v1/offices')).toEqual(before);
    });

    it('is for the operator only: administrators and examiners get 403, anonymous 401, nothing changes', async () => {
      const before = await list<{ code: string }>('/v1/offices');
      for (const token of [ep.admin.token, examiner(ep).token]) {
        expectProblem(await call(hub.app, 'POST', '/v1/offices', { token, body: { code: 'JP', name: 'JPO' } }), 403, 'OPERATION_NOT_PERMITTED');
        expectProblem(await call(hub.app, 'PATCH', '/v1/offices/EP', { token, body: { publicAccess: true } }), 403, 'OPERATION_NOT_PERMITTED');
      }
      expectProblem(await call(hub.app, 'POST', '/v1/offices', { body: { code: 'JP', name: 'JPO' } }), 401, 'AUTHENTICATION_REQUIRED');
      expectProblem(await call(hub.app, 'PATCH', '/v1/offices/EP', { body: { publicAccess: true } }), 401, 'AUTHENTICATION_REQUIRED');
      expect(await list('/v1/offices')).toEqual(before);
    });
  });

  describe('branches', () => {
    it('are created, listed by name page by page, renamed and read by the office administrator', async () => {
      const created = await call(hub.app, 'POST', '/v1/offices/EP/branches', { token: ep.admin.token, body: { name: '  Munich  ' } });
      expect(created.statusCode).toBe(201);
      const branch = created.json<{ id: string; name: string; officeCode: string }>();
      expect(branch).toMatchObject({ name: 'Munich', officeCode: 'EP' });
      const renamed = await call(hub.app, 'PATCH', `/v1/offices/EP/branches/${branch.id}`, { token: ep.admin.token, body: { name: 'Munich DG1' } });
      expect(renamed.json()).toMatchObject({ id: branch.id, name: 'Munich DG1' });
      expect((await call(hub.app, 'GET', `/v1/offices/ep/branches/${branch.id}`, { token: ep.admin.token })).json()).toMatchObject({ name: 'Munich DG1' });

      const first = (await call(hub.app, 'GET', '/v1/offices/EP/branches?limit=2', { token: ep.admin.token })).json<Listed<{ name: string }>>();
      expect(first.items.map((item) => item.name)).toEqual(['Branch 1', 'Branch 2']);
      const second = (await call(hub.app, 'GET', `/v1/offices/EP/branches?limit=2&cursor=${first.nextCursor ?? ''}`, { token: ep.admin.token })).json<Listed<{ name: string }>>();
      expect(second.items.map((item) => item.name)).toEqual(['Munich DG1']);
      expect(second.nextCursor).toBeUndefined();
    });

    it('refuses a duplicate name with 409', async () => {
      const before = await list('/v1/offices/EP/branches', ep.admin.token);
      expectProblem(await call(hub.app, 'POST', '/v1/offices/EP/branches', { token: ep.admin.token, body: { name: 'Branch 1' } }), 409, 'BRANCH_NAME_TAKEN');
      const munich = (before as { id: string; name: string }[]).find((item) => item.name === 'Munich DG1');
      expectProblem(await call(hub.app, 'PATCH', `/v1/offices/EP/branches/${munich?.id ?? ''}`, { token: ep.admin.token, body: { name: 'Branch 2' } }), 409, 'BRANCH_NAME_TAKEN');
      expectProblem(await call(hub.app, 'POST', '/v1/offices/EP/branches', { token: ep.admin.token, body: { name: '' } }), 400, 'VALIDATION_FAILED');
      expect(await list('/v1/offices/EP/branches', ep.admin.token)).toEqual(before);
    });

    it('deletes only an empty branch; revoked clients do not keep it alive', async () => {
      const branch = (await call(hub.app, 'POST', '/v1/offices/EP/branches', { token: ep.admin.token, body: { name: 'Short-lived' } })).json<{ id: string }>();
      const client = await createSecretClient(hub.app, ep.admin.token, 'EP', branch.id, 'Temporary client');
      expectProblem(await call(hub.app, 'DELETE', `/v1/offices/EP/branches/${branch.id}`, { token: ep.admin.token }), 409, 'BRANCH_NOT_EMPTY');
      await call(hub.app, 'POST', `/v1/offices/EP/clients/${client.id}/revoke`, { token: ep.admin.token });
      const person = await call(hub.app, 'POST', '/v1/offices/EP/users', { token: ep.admin.token, body: { username: 'short-lived-examiner', password: 'a long enough password', branchId: branch.id } });
      expectProblem(await call(hub.app, 'DELETE', `/v1/offices/EP/branches/${branch.id}`, { token: ep.admin.token }), 409, 'BRANCH_NOT_EMPTY');
      expect((await call(hub.app, 'GET', `/v1/offices/EP/branches/${branch.id}`, { token: ep.admin.token })).statusCode).toBe(200);
      // Move the examiner out: now it is empty.
      await call(hub.app, 'PATCH', `/v1/offices/EP/users/${person.json<{ user: { id: string } }>().user.id}`, { token: ep.admin.token, body: { branchId: ep.branches[0]?.id } });
      expect((await call(hub.app, 'DELETE', `/v1/offices/EP/branches/${branch.id}`, { token: ep.admin.token })).statusCode).toBe(204);
      expectProblem(await call(hub.app, 'GET', `/v1/offices/EP/branches/${branch.id}`, { token: ep.admin.token }), 404, 'BRANCH_NOT_FOUND');
      expect((await call(hub.app, 'GET', `/v1/offices/EP/clients/${client.id}`, { token: ep.admin.token })).json()).toMatchObject({ status: 'revoked', branchId: null });
    });

    it('an administrator of office A cannot act on office B (403), and nothing changes there', async () => {
      const before = await list('/v1/offices/CN/branches');
      const cnBranch = cn.branches[0]?.id ?? '';
      expectProblem(await call(hub.app, 'GET', '/v1/offices/CN/branches', { token: ep.admin.token }), 403, 'OTHER_OFFICE_FORBIDDEN');
      expectProblem(await call(hub.app, 'POST', '/v1/offices/CN/branches', { token: ep.admin.token, body: { name: 'Implant' } }), 403, 'OTHER_OFFICE_FORBIDDEN');
      expectProblem(await call(hub.app, 'PATCH', `/v1/offices/CN/branches/${cnBranch}`, { token: ep.admin.token, body: { name: 'Hijacked' } }), 403, 'OTHER_OFFICE_FORBIDDEN');
      expectProblem(await call(hub.app, 'DELETE', `/v1/offices/CN/branches/${cnBranch}`, { token: ep.admin.token }), 403, 'OTHER_OFFICE_FORBIDDEN');
      // Nor through its own office's path: another office's branch does not exist there.
      expectProblem(await call(hub.app, 'GET', `/v1/offices/EP/branches/${cnBranch}`, { token: ep.admin.token }), 404, 'BRANCH_NOT_FOUND');
      expectProblem(await call(hub.app, 'DELETE', `/v1/offices/EP/branches/${cnBranch}`, { token: ep.admin.token }), 404, 'BRANCH_NOT_FOUND');
      expect(await list('/v1/offices/CN/branches')).toEqual(before);
    });

    it('an examiner cannot call administrator operations, even on its own office (403)', async () => {
      const before = await list('/v1/offices/EP/branches');
      expectProblem(await call(hub.app, 'POST', '/v1/offices/EP/branches', { token: examiner(ep).token, body: { name: 'Rogue' } }), 403, 'OPERATION_NOT_PERMITTED');
      expectProblem(await call(hub.app, 'GET', '/v1/offices/EP/branches', { token: examiner(ep).token }), 403, 'OPERATION_NOT_PERMITTED');
      expectProblem(await call(hub.app, 'DELETE', `/v1/offices/EP/branches/${ep.branches[0]?.id ?? ''}`, { token: examiner(ep).token }), 403, 'OPERATION_NOT_PERMITTED');
      expect(await list('/v1/offices/EP/branches')).toEqual(before);
    });

    it('the operator manages any office’s branches; malformed ids get 400', async () => {
      const created = await call(hub.app, 'POST', '/v1/offices/CN/branches', { token: operator, body: { name: 'Beijing' } });
      expect(created.statusCode).toBe(201);
      expectProblem(await call(hub.app, 'GET', '/v1/offices/CN/branches/not-a-uuid', { token: operator }), 400, 'VALIDATION_FAILED');
      expectProblem(await call(hub.app, 'GET', '/v1/offices/JP/branches', { token: operator }), 404, 'OFFICE_NOT_FOUND');
    });
  });

  describe('users', () => {
    it('creates an examiner with an initial password who can log in at once, and lists accounts by username', async () => {
      const created = await call(hub.app, 'POST', '/v1/offices/EP/users', {
        token: ep.admin.token,
        body: { username: 'Alice.Examiner', displayName: 'Alice', password: 'alice’s long password', branchId: ep.branches[0]?.id },
      });
      expect(created.statusCode).toBe(201);
      const { user, passwordToken } = created.json<{ user: Record<string, unknown>; passwordToken?: string }>();
      expect(passwordToken).toBeUndefined();
      expect(user).toMatchObject({ username: 'alice.examiner', displayName: 'Alice', role: 'examiner', officeCode: 'EP', branchId: ep.branches[0]?.id, status: 'active', passwordSet: true, locked: false });
      await login(hub.app, 'alice.examiner', 'alice’s long password');
      const usernames = (await list<{ username: string }>('/v1/offices/EP/users?limit=200', ep.admin.token)).map((item) => item.username);
      expect(usernames).toEqual([...usernames].sort());
      expect(usernames).toContain('alice.examiner');
      expect(usernames).toContain(ep.admin.username);
      expect(usernames.some((name) => name.startsWith('cn'))).toBe(false);
    });

    it('refuses bad accounts with 409/422/400 and creates nothing', async () => {
      const before = await list('/v1/offices/EP/users?limit=200', ep.admin.token);
      const post = (body: Record<string, unknown>) => call(hub.app, 'POST', '/v1/offices/EP/users', { token: ep.admin.token, body });
      expectProblem(await post({ username: 'ALICE.examiner', password: 'another long password', branchId: ep.branches[0]?.id }), 409, 'USERNAME_TAKEN');
      expectProblem(await post({ username: cn.admin.username, password: 'another long password', branchId: ep.branches[0]?.id }), 409, 'USERNAME_TAKEN');
      expectProblem(await post({ username: 'bob', password: 'another long password' }), 422, 'BRANCH_REQUIRED');
      expectProblem(await post({ username: 'bob', password: 'another long password', branchId: cn.branches[0]?.id }), 422, 'UNKNOWN_BRANCH');
      expectProblem(await post({ username: 'bob', password: 'password with bob inside', branchId: ep.branches[0]?.id }), 422, 'WEAK_PASSWORD');
      expectProblem(await post({ username: 'bob', password: 'short', branchId: ep.branches[0]?.id }), 400, 'VALIDATION_FAILED');
      expectProblem(await post({ username: 'b o b', password: 'another long password', branchId: ep.branches[0]?.id }), 400, 'VALIDATION_FAILED');
      expectProblem(await post({ username: 'bob', role: 'operator', password: 'another long password' }), 400, 'VALIDATION_FAILED');
      expect(await list('/v1/offices/EP/users?limit=200', ep.admin.token)).toEqual(before);
    });

    it('only the operator creates an office administrator, one per office', async () => {
      const before = await list('/v1/offices/EP/users?limit=200', ep.admin.token);
      expectProblem(
        await call(hub.app, 'POST', '/v1/offices/EP/users', { token: ep.admin.token, body: { username: 'second-admin', role: 'officeAdmin', password: 'a long enough password' } }),
        403,
        'ADMINISTRATOR_CREATED_BY_OPERATOR',
      );
      expectProblem(
        await call(hub.app, 'POST', '/v1/offices/EP/users', { token: operator, body: { username: 'second-admin', role: 'officeAdmin', password: 'a long enough password' } }),
        409,
        'OFFICE_ADMINISTRATOR_EXISTS',
      );
      expectProblem(
        await call(hub.app, 'POST', '/v1/offices/KR/users', { token: operator, body: { username: 'kr-admin', role: 'officeAdmin', branchId: ep.branches[0]?.id, password: 'a long enough password' } }),
        422,
        'ADMINISTRATOR_HAS_NO_BRANCH',
      );
      expect(await list('/v1/offices/EP/users?limit=200', ep.admin.token)).toEqual(before);
    });

    it('moves an examiner to another branch, effective on its next request with the same token', async () => {
      const person = examiner(ep, 0);
      const moved = await call(hub.app, 'PATCH', `/v1/offices/EP/users/${person.id}`, { token: ep.admin.token, body: { branchId: ep.branches[1]?.id } });
      expect(moved.json()).toMatchObject({ branchId: ep.branches[1]?.id });
      expect((await call(hub.app, 'GET', '/v1/me', { token: person.token })).json()).toMatchObject({ branch: { id: ep.branches[1]?.id } });
      await call(hub.app, 'PATCH', `/v1/offices/EP/users/${person.id}`, { token: ep.admin.token, body: { branchId: ep.branches[0]?.id } });
      expectProblem(await call(hub.app, 'PATCH', `/v1/offices/EP/users/${person.id}`, { token: ep.admin.token, body: { branchId: cn.branches[0]?.id } }), 422, 'UNKNOWN_BRANCH');
      expectProblem(await call(hub.app, 'PATCH', `/v1/offices/EP/users/${ep.admin.id}`, { token: ep.admin.token, body: { branchId: ep.branches[0]?.id } }), 422, 'ADMINISTRATOR_HAS_NO_BRANCH');
      expectProblem(await call(hub.app, 'PATCH', `/v1/offices/EP/users/${person.id}`, { token: ep.admin.token, body: {} }), 400, 'VALIDATION_FAILED');
    });

    it('an administrator cannot disable itself', async () => {
      expectProblem(await call(hub.app, 'PATCH', `/v1/offices/EP/users/${ep.admin.id}`, { token: ep.admin.token, body: { status: 'disabled' } }), 422, 'CANNOT_DISABLE_SELF');
      expect((await call(hub.app, 'GET', '/v1/me', { token: ep.admin.token })).statusCode).toBe(200);
    });

    it('resets a password with a one-time token: the old password stops working, the account unlocks', async () => {
      const person = examiner(ep, 1);
      const reset = await call(hub.app, 'POST', `/v1/offices/EP/users/${person.id}/password-reset`, { token: ep.admin.token, body: {} });
      expect(reset.statusCode).toBe(200);
      const { user, passwordToken } = reset.json<{ user: { passwordSet: boolean }; passwordToken: string }>();
      expect(user.passwordSet).toBe(false);
      expectProblem(await call(hub.app, 'POST', '/v1/auth/login', { body: { username: person.username, password: person.password } }), 401, 'INVALID_CREDENTIALS');
      expect((await call(hub.app, 'POST', '/v1/auth/password', { body: { passwordToken, newPassword: 'a reset password here' } })).statusCode).toBe(204);
      person.password = 'a reset password here';
      person.token = (await login(hub.app, person.username, person.password)).accessToken;
    });

    it('an administrator of office A cannot manage office B’s people (403), nor reach them through its own path (404)', async () => {
      const before = await list('/v1/offices/CN/users?limit=200');
      const cnExaminer = examiner(cn, 0);
      expectProblem(await call(hub.app, 'GET', '/v1/offices/CN/users', { token: ep.admin.token }), 403, 'OTHER_OFFICE_FORBIDDEN');
      expectProblem(await call(hub.app, 'POST', '/v1/offices/CN/users', { token: ep.admin.token, body: { username: 'mole', password: 'a long enough password', branchId: cn.branches[0]?.id } }), 403, 'OTHER_OFFICE_FORBIDDEN');
      expectProblem(await call(hub.app, 'PATCH', `/v1/offices/CN/users/${cnExaminer.id}`, { token: ep.admin.token, body: { status: 'disabled' } }), 403, 'OTHER_OFFICE_FORBIDDEN');
      expectProblem(await call(hub.app, 'POST', `/v1/offices/CN/users/${cnExaminer.id}/password-reset`, { token: ep.admin.token, body: { password: 'taken over password' } }), 403, 'OTHER_OFFICE_FORBIDDEN');
      expectProblem(await call(hub.app, 'PATCH', `/v1/offices/EP/users/${cnExaminer.id}`, { token: ep.admin.token, body: { status: 'disabled' } }), 404, 'USER_NOT_FOUND');
      expectProblem(await call(hub.app, 'POST', `/v1/offices/EP/users/${cnExaminer.id}/password-reset`, { token: ep.admin.token, body: {} }), 404, 'USER_NOT_FOUND');
      expect(await list('/v1/offices/CN/users?limit=200')).toEqual(before);
      expect((await call(hub.app, 'GET', '/v1/me', { token: cnExaminer.token })).statusCode).toBe(200);
      await login(hub.app, cnExaminer.username, cnExaminer.password);
    });

    it('an examiner cannot call administrator operations on people (403)', async () => {
      const before = await list('/v1/offices/EP/users?limit=200');
      const person = examiner(ep, 0);
      expectProblem(await call(hub.app, 'GET', '/v1/offices/EP/users', { token: person.token }), 403, 'OPERATION_NOT_PERMITTED');
      expectProblem(await call(hub.app, 'POST', '/v1/offices/EP/users', { token: person.token, body: { username: 'sock-puppet', password: 'a long enough password', branchId: ep.branches[0]?.id } }), 403, 'OPERATION_NOT_PERMITTED');
      expectProblem(await call(hub.app, 'POST', `/v1/offices/EP/users/${examiner(ep, 1).id}/password-reset`, { token: person.token, body: {} }), 403, 'OPERATION_NOT_PERMITTED');
      expect(await list('/v1/offices/EP/users?limit=200')).toEqual(before);
    });
  });

  describe('API clients', () => {
    it('creates a secret client (secret shown once), which gets tokens; lists and reads it without the secret', async () => {
      const created = await call(hub.app, 'POST', '/v1/offices/EP/clients', { token: ep.admin.token, body: { name: 'EPO bulk feed', branchId: ep.branches[0]?.id } });
      expect(created.statusCode).toBe(201);
      const { client, clientSecret } = created.json<{ client: { id: string }; clientSecret: string }>();
      expect(clientSecret).toMatch(/^dxs_[\w-]{43}$/);
      expect(client).toMatchObject({ officeCode: 'EP', branchId: ep.branches[0]?.id, name: 'EPO bulk feed', authMethod: 'client_secret_basic', status: 'active', publicJwk: null });
      const read = await call(hub.app, 'GET', `/v1/offices/EP/clients/${client.id}`, { token: ep.admin.token });
      expect(read.body).not.toContain(clientSecret);
      expect((await list<{ id: string }>('/v1/offices/EP/clients', ep.admin.token)).map((item) => item.id)).toContain(client.id);
      await clientToken(hub.app, client.id, clientSecret);
    });

    it('creates a private_key_jwt client from a public JWK, and refuses private or weak keys', async () => {
      const before = await list('/v1/offices/EP/clients', ep.admin.token);
      const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
      const post = (body: Record<string, unknown>) => call(hub.app, 'POST', '/v1/offices/EP/clients', { token: ep.admin.token, body: { name: 'Signed client', branchId: ep.branches[0]?.id, authMethod: 'private_key_jwt', ...body } });
      expectProblem(await post({}), 422, 'PUBLIC_JWK_REQUIRED');
      expectProblem(await post({ publicJwk: await exportJWK(privateKey) }), 400, 'VALIDATION_FAILED');
      const weakRsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
      expectProblem(await post({ publicJwk: weakRsa }), 422, 'INVALID_PUBLIC_JWK');
      expectProblem(await post({ publicJwk: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' } }), 422, 'INVALID_PUBLIC_JWK');
      expectProblem(
        await call(hub.app, 'POST', '/v1/offices/EP/clients', { token: ep.admin.token, body: { name: 'Mixed', branchId: ep.branches[0]?.id, publicJwk: await exportJWK(publicKey) } }),
        422,
        'PUBLIC_JWK_NOT_EXPECTED',
      );
      expect(await list('/v1/offices/EP/clients', ep.admin.token)).toEqual(before);
      const created = await post({ publicJwk: await exportJWK(publicKey) });
      expect(created.statusCode).toBe(201);
      expect(created.json<{ clientSecret?: string; client: { publicJwk: { kty: string } } }>()).toMatchObject({ client: { authMethod: 'private_key_jwt', publicJwk: { kty: 'EC', crv: 'P-256' } } });
      expect(created.json<{ clientSecret?: string }>().clientSecret).toBeUndefined();
    });

    it('belongs to a providing office, in one of its branches', async () => {
      const accessingOnly = await seedOffice(hub.app, operator, { code: 'SE', roles: ['accessing'], branches: 1 });
      expectProblem(await call(hub.app, 'POST', '/v1/offices/SE/clients', { token: accessingOnly.admin.token, body: { name: 'No', branchId: accessingOnly.branches[0]?.id } }), 422, 'OFFICE_NOT_PROVIDING');
      expectProblem(await call(hub.app, 'POST', '/v1/offices/EP/clients', { token: ep.admin.token, body: { name: 'No', branchId: cn.branches[0]?.id } }), 422, 'UNKNOWN_BRANCH');
      expect(await list('/v1/offices/SE/clients', accessingOnly.admin.token)).toEqual([]);
    });

    it('rotates a secret: the old one stops working at once, the new one works', async () => {
      const client = await createSecretClient(hub.app, ep.admin.token, 'EP', ep.branches[1]?.id ?? '', 'Rotating client');
      const rotated = await call(hub.app, 'POST', `/v1/offices/EP/clients/${client.id}/credentials`, { token: ep.admin.token, body: {} });
      expect(rotated.statusCode).toBe(200);
      const { clientSecret, client: view } = rotated.json<{ clientSecret: string; client: { credentialsRotatedAt: string | null } }>();
      expect(clientSecret).not.toBe(client.secret);
      expect(view.credentialsRotatedAt).not.toBeNull();
      expectProblem(await tokenRequest(hub.app, { grant_type: 'client_credentials' }, basic(client.id, client.secret)), 401, 'INVALID_CLIENT');
      await clientToken(hub.app, client.id, clientSecret);
    });

    it('revokes a client for good: no tokens, no rotation', async () => {
      const client = await createSecretClient(hub.app, ep.admin.token, 'EP', ep.branches[1]?.id ?? '', 'Doomed client');
      const revoked = await call(hub.app, 'POST', `/v1/offices/EP/clients/${client.id}/revoke`, { token: ep.admin.token });
      expect(revoked.json()).toMatchObject({ status: 'revoked', revokedAt: expect.any(String) });
      expectProblem(await tokenRequest(hub.app, { grant_type: 'client_credentials' }, basic(client.id, client.secret)), 401, 'INVALID_CLIENT');
      expectProblem(await call(hub.app, 'POST', `/v1/offices/EP/clients/${client.id}/credentials`, { token: ep.admin.token, body: {} }), 409, 'CLIENT_REVOKED');
    });

    it('an administrator of office A cannot manage office B’s clients (403/404); an examiner cannot manage clients (403)', async () => {
      const cnClient = await createSecretClient(hub.app, cn.admin.token, 'CN', cn.branches[0]?.id ?? '', 'CNIPA feed');
      const before = await list('/v1/offices/CN/clients');
      expectProblem(await call(hub.app, 'GET', '/v1/offices/CN/clients', { token: ep.admin.token }), 403, 'OTHER_OFFICE_FORBIDDEN');
      expectProblem(await call(hub.app, 'POST', '/v1/offices/CN/clients', { token: ep.admin.token, body: { name: 'Mole', branchId: cn.branches[0]?.id } }), 403, 'OTHER_OFFICE_FORBIDDEN');
      expectProblem(await call(hub.app, 'POST', `/v1/offices/CN/clients/${cnClient.id}/credentials`, { token: ep.admin.token, body: {} }), 403, 'OTHER_OFFICE_FORBIDDEN');
      expectProblem(await call(hub.app, 'POST', `/v1/offices/CN/clients/${cnClient.id}/revoke`, { token: ep.admin.token }), 403, 'OTHER_OFFICE_FORBIDDEN');
      expectProblem(await call(hub.app, 'POST', `/v1/offices/EP/clients/${cnClient.id}/revoke`, { token: ep.admin.token }), 404, 'CLIENT_NOT_FOUND');
      expectProblem(await call(hub.app, 'GET', `/v1/offices/EP/clients/${randomUUID()}`, { token: ep.admin.token }), 404, 'CLIENT_NOT_FOUND');
      expectProblem(await call(hub.app, 'POST', '/v1/offices/EP/clients', { token: examiner(ep).token, body: { name: 'Rogue', branchId: ep.branches[0]?.id } }), 403, 'OPERATION_NOT_PERMITTED');
      expectProblem(await call(hub.app, 'POST', `/v1/offices/EP/clients/${cnClient.id}/revoke`, { token: examiner(ep).token }), 403, 'OPERATION_NOT_PERMITTED');
      expect(await list('/v1/offices/CN/clients')).toEqual(before);
      await clientToken(hub.app, cnClient.id, cnClient.secret);
    });

    it('a client cannot call administrator operations (403)', async () => {
      const client = await createSecretClient(hub.app, ep.admin.token, 'EP', ep.branches[0]?.id ?? '', 'Curious client');
      const token = await clientToken(hub.app, client.id, client.secret);
      expectProblem(await call(hub.app, 'GET', '/v1/offices/EP/clients', { token }), 403, 'OPERATION_NOT_PERMITTED');
      expectProblem(await call(hub.app, 'POST', '/v1/offices/EP/users', { token, body: { username: 'bot-made', password: 'a long enough password', branchId: ep.branches[0]?.id } }), 403, 'OPERATION_NOT_PERMITTED');
      expectProblem(await call(hub.app, 'POST', '/v1/me/password', { token, body: { currentPassword: 'x', newPassword: 'a long enough password' } }), 403, 'OPERATION_NOT_PERMITTED');
    });
  });
});
