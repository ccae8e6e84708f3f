import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAuditLog } from '../../src/access/audit.js';
import { createOfficeService } from '../../src/access/index.js';
import type { CreateOfficeInput, UpdateOfficeInput } from '../../src/access/office.schemas.js';
import { systemPrincipal } from '../../src/access/principal.js';
import type { Environment } from '../../src/platform/config.js';
import { describeEachProfile, provisionProfile, startHub, startTestHub, type TestHub } from '../support/hub.js';

const root = path.resolve(import.meta.dirname, '../..');

/** Runs the CLI as an operator would, against the hub's configuration. */
async function cli(env: Environment, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}

describeEachProfile('office registry', (profile) => {
  let hub: TestHub;
  /** The office service as the command line uses it (HTTP writes are covered by office-admin.test.ts). */
  const offices = () => {
    const em = hub.app.db.fork();
    const service = createOfficeService({ em, audit: createAuditLog({ em, context: { ip: null, requestId: null } }) });
    return {
      create: (input: CreateOfficeInput) => service.create(systemPrincipal(), input),
      update: (code: string, input: UpdateOfficeInput) => service.update(systemPrincipal(), code, input),
    };
  };
  const listAll = async () => (await hub.app.inject({ method: 'GET', url: '/v1/offices?limit=200' })).json<{ items: { code: string }[] }>().items;

  beforeAll(async () => {
    hub = await startTestHub(profile);
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('starts with an empty registry', async () => {
    const response = await hub.app.inject({ method: 'GET', url: '/v1/offices' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.json()).toEqual({ items: [] });
  });

  it('lists offices with their public fields, in code order, page by page', async () => {
    await offices().create({ code: 'ep', name: 'European Patent Office', roles: ['providing', 'accessing'], providerMode: 'repository', publicAccess: true });
    await offices().create({ code: 'CN', name: 'CNIPA', roles: ['providing', 'accessing'], providerMode: 'webService', webServiceUrl: 'https://ws.cnipa.example/dossier', publicAccess: false });
    await offices().create({ code: 'KR', name: 'KIPO', roles: ['accessing'], publicAccess: false, status: 'suspended' });

    const first = await hub.app.inject({ method: 'GET', url: '/v1/offices?limit=2' });
    expect(first.statusCode).toBe(200);
    const page1 = first.json<{ items: unknown[]; nextCursor?: string }>();
    expect(page1.items).toEqual([
      { code: 'CN', name: 'CNIPA', roles: ['providing', 'accessing'], providerMode: 'webService', publicAccess: false, status: 'active' },
      { code: 'EP', name: 'European Patent Office', roles: ['providing', 'accessing'], providerMode: 'repository', publicAccess: true, status: 'active' },
    ]);
    expect(page1.nextCursor).toEqual(expect.any(String));
    // The web-service address is operator business, not public.
    expect(JSON.stringify(page1)).not.toContain('ws.cnipa.example');

    const second = await hub.app.inject({ method: 'GET', url: `/v1/offices?limit=2&cursor=${page1.nextCursor ?? ''}` });
    expect(second.json()).toEqual({ items: [{ code: 'KR', name: 'KIPO', roles: ['accessing'], providerMode: null, publicAccess: false, status: 'suspended' }] });
  });

  it('gets one office by code, in any letter case', async () => {
    const response = await hub.app.inject({ method: 'GET', url: '/v1/offices/ep' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ code: 'EP', name: 'European Patent Office' });
  });

  it('answers 404 with a problem document for an unknown office', async () => {
    const response = await hub.app.inject({ method: 'GET', url: '/v1/offices/JP' });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ status: 404, errorCode: 'OFFICE_NOT_FOUND', title: 'Not Found', instance: '/v1/offices/JP', requestId: response.headers['x-request-id'] });
  });

  it.each([
    ['limit=0', '/querystring/limit'],
    ['limit=201', '/querystring/limit'],
    ['limit=ten', '/querystring/limit'],
    ['limit=1.5', '/querystring/limit'],
    ['cursor=', '/querystring/cursor'],
  ])('refuses the malformed query %s with 400 naming the field', async (query, field) => {
    const response = await hub.app.inject({ method: 'GET', url: `/v1/offices?${query}` });
    expect(response.statusCode).toBe(400);
    const problem = response.json<{ errorCode: string; errors: { field: string }[] }>();
    expect(problem.errorCode).toBe('VALIDATION_FAILED');
    expect(problem.errors.map((error) => error.field)).toContain(field);
  });

  it('refuses a cursor it did not issue', async () => {
    const response = await hub.app.inject({ method: 'GET', url: '/v1/offices?cursor=bm90LWEtY3Vyc29y' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ errorCode: 'INVALID_CURSOR' });
  });

  it('refuses an unknown ST.3 code with 422 naming it, and stores nothing', async () => {
    const before = await listAll();
    await expect(offices().create({ code: 'ZZ', name: 'Nowhere', roles: [], publicAccess: false })).rejects.toMatchObject({
      status: 422,
      errorCode: 'UNKNOWN_OFFICE_CODE',
      detail: expect.stringContaining('"ZZ"'),
    });
    expect(await listAll()).toEqual(before);
  });

  it('refuses a second office with an existing code with 409, leaving the first unchanged', async () => {
    await expect(offices().create({ code: 'EP', name: 'Impostor', roles: [], publicAccess: false })).rejects.toMatchObject({ status: 409, errorCode: 'OFFICE_EXISTS' });
    expect((await hub.app.inject({ method: 'GET', url: '/v1/offices/EP' })).json()).toMatchObject({ name: 'European Patent Office' });
  });

  it('refuses inconsistent provider settings with 422', async () => {
    await expect(offices().create({ code: 'JP', name: 'JPO', roles: ['providing'], publicAccess: false })).rejects.toMatchObject({ status: 422, errorCode: 'PROVIDER_MODE_REQUIRED' });
    await expect(offices().create({ code: 'JP', name: 'JPO', roles: ['providing'], providerMode: 'webService', publicAccess: false })).rejects.toMatchObject({ status: 422, errorCode: 'WEB_SERVICE_URL_REQUIRED' });
    await expect(offices().update('KR', { providerMode: 'repository' })).rejects.toMatchObject({ status: 422, errorCode: 'PROVIDER_MODE_WITHOUT_ROLE' });
    expect((await listAll()).map((office) => office.code)).toEqual(['CN', 'EP', 'KR']);
  });

  it('updates roles, status and consent, and clears the mode when the providing role goes', async () => {
    const updated = await offices().update('cn', { roles: ['accessing'], publicAccess: true, status: 'suspended' });
    expect(updated).toEqual({ code: 'CN', name: 'CNIPA', roles: ['accessing'], providerMode: null, publicAccess: true, status: 'suspended' });
    await expect(offices().update('JP', { status: 'active' })).rejects.toMatchObject({ status: 404, errorCode: 'OFFICE_NOT_FOUND' });
  });
});

describeEachProfile('office command line', (profile) => {
  it('adds and updates offices with clear errors and exit codes, and the hub serves them', { timeout: 90_000 }, async () => {
    // The embedded database admits one process at a time, so the CLI runs first and the hub opens the same files after.
    const provisioned = await provisionProfile(profile, { embeddedOnDisk: true });
    try {
      const run = (args: string[]) => cli(provisioned.env, args);
      const added = await run(['offices', 'add', 'AU', '--name', 'IP Australia', '--roles', 'providing,accessing', '--provider-mode', 'repository', '--public-access']);
      expect(added.stderr).toBe('');
      expect(added.code).toBe(0);
      expect(added.stdout).toContain('Added office AU');

      const updated = await run(['offices', 'update', 'au', '--status', 'suspended', '--public-access', 'false']);
      expect(updated.code).toBe(0);

      const unknown = await run(['offices', 'add', 'QQ', '--name', 'Nowhere']);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('"QQ" is not a WIPO ST.3 office code');

      const duplicate = await run(['offices', 'add', 'AU', '--name', 'Again']);
      expect(duplicate.code).toBe(1);
      expect(duplicate.stderr).toContain('OFFICE_EXISTS');

      const badStatus = await run(['offices', 'update', 'AU', '--status', 'closed']);
      expect(badStatus.code).toBe(2);
      expect(badStatus.stderr).toContain('/status');

      const listed = await run(['offices', 'list']);
      expect(listed.stdout).toMatch(/^AU {2}suspended/m);

      const { app } = await startHub(provisioned.env, provisioned.pglite);
      try {
        const response = await app.inject({ method: 'GET', url: '/v1/offices' });
        expect(response.json()).toEqual({
          items: [{ code: 'AU', name: 'IP Australia', roles: ['providing', 'accessing'], providerMode: 'repository', publicAccess: false, status: 'suspended' }],
        });
      } finally {
        await app.close();
      }
    } finally {
      await provisioned.release();
    }
  });
});
