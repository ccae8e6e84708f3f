import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRule, isOperationId, PERMISSIONS, renderPermissionsMarkdown, requireAccess, requireDepositor, type OperationId } from '../../src/access/permissions.js';
import { REQUEST_PRINCIPAL_KINDS, systemPrincipal, type Principal, type RequestPrincipalKind } from '../../src/access/principal.js';
import { call, clientToken, createSecretClient, OPERATOR_ENV, operatorToken, seedOffice } from '../support/access.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

const anonymous: Principal = { kind: 'anonymous' };
const operator: Principal = { kind: 'operator', userId: randomUUID() };
const admin: Principal = { kind: 'officeAdmin', userId: randomUUID(), officeCode: 'EP' };
const examiner: Principal = { kind: 'examiner', userId: randomUUID(), officeCode: 'EP', branchId: 'branch-1' };
const client: Principal = { kind: 'client', clientId: randomUUID(), officeCode: 'EP', branchId: 'branch-2' };

const refusal = (work: () => unknown): { status: number; errorCode: string } | null => {
  try {
    work();
    return null;
  } catch (error) {
    const { status, errorCode } = error as { status: number; errorCode: string };
    return { status, errorCode };
  }
};

describe('requireAccess (unit)', () => {
  it('lets anyone call a public operation', () => {
    for (const principal of [anonymous, operator, admin, examiner, client]) expect(refusal(() => requireAccess(principal, 'listOffices'))).toBeNull();
  });

  it('asks anonymous callers of a protected operation to authenticate (401), and refuses other kinds (403)', () => {
    expect(refusal(() => requireAccess(anonymous, 'createOffice'))).toEqual({ status: 401, errorCode: 'AUTHENTICATION_REQUIRED' });
    for (const principal of [admin, examiner, client]) expect(refusal(() => requireAccess(principal, 'createOffice'))).toEqual({ status: 403, errorCode: 'OPERATION_NOT_PERMITTED' });
    expect(refusal(() => requireAccess(operator, 'createOffice'))).toBeNull();
  });

  it('limits an office administrator to its own office (403 elsewhere) and lets the operator act on any', () => {
    expect(refusal(() => requireAccess(admin, 'createBranch', { officeCode: 'ep' }))).toBeNull();
    expect(refusal(() => requireAccess(admin, 'createBranch', { officeCode: 'CN' }))).toEqual({ status: 403, errorCode: 'OTHER_OFFICE_FORBIDDEN' });
    expect(refusal(() => requireAccess(operator, 'createBranch', { officeCode: 'CN' }))).toBeNull();
    // An examiner calling an administrator operation on its own office is refused too.
    expect(refusal(() => requireAccess(examiner, 'createBranch', { officeCode: 'EP' }))).toEqual({ status: 403, errorCode: 'OPERATION_NOT_PERMITTED' });
  });

  it('treats the command line as allowed everywhere', () => {
    for (const operationId of Object.keys(PERMISSIONS) as OperationId[]) expect(refusal(() => requireAccess(systemPrincipal(), operationId, { officeCode: 'EP' }))).toBeNull();
  });

  it('throws a programming error (500, not a silent pass) when a scoped operation is checked without its office', () => {
    expect(() => requireAccess(admin, 'createBranch')).toThrow(/without the office/);
  });
});

describe('requireDepositor (unit)', () => {
  it('refuses the office administrator (master account) with 403 DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT, and the operator likewise', () => {
    for (const principal of [admin, operator]) {
      expect(refusal(() => requireDepositor(principal, { officeCode: 'EP', officeProviding: true }))).toEqual({ status: 403, errorCode: 'DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT' });
    }
  });

  it('admits an examiner or a client of the providing office, and returns it for attribution', () => {
    expect(requireDepositor(examiner, { officeCode: 'EP', officeProviding: true })).toBe(examiner);
    expect(requireDepositor(client, { officeCode: 'EP', officeProviding: true })).toBe(client);
  });

  it('refuses anonymous callers, another office, and an office without the providing role', () => {
    expect(refusal(() => requireDepositor(anonymous, { officeCode: 'EP', officeProviding: true }))).toEqual({ status: 401, errorCode: 'AUTHENTICATION_REQUIRED' });
    expect(refusal(() => requireDepositor(examiner, { officeCode: 'CN', officeProviding: true }))).toEqual({ status: 403, errorCode: 'OTHER_OFFICE_FORBIDDEN' });
    expect(refusal(() => requireDepositor(client, { officeCode: 'EP', officeProviding: false }))).toEqual({ status: 403, errorCode: 'OFFICE_NOT_PROVIDING' });
  });
});

describe('branch-scoped grants (unit)', () => {
  it('hide another branch’s resources as 404, while the office administrator sees every branch', () => {
    // No HTTP operation is branch-scoped yet (deposit history and inboxes will be): check such a rule directly.
    const rule = { grants: { officeAdmin: 'ownBranch', examiner: 'ownBranch', client: 'ownBranch' } } as const;
    const check = (principal: Principal, branchId: string) => refusal(() => checkRule(rule, 'listBranchThings', principal, { officeCode: 'EP', branchId }));
    expect(check(examiner, 'branch-1')).toBeNull();
    expect(check(examiner, 'branch-2')).toEqual({ status: 404, errorCode: 'NOT_FOUND' });
    expect(check(client, 'branch-2')).toBeNull();
    expect(check(client, 'branch-1')).toEqual({ status: 404, errorCode: 'NOT_FOUND' });
    expect(check(admin, 'branch-1')).toBeNull();
    expect(check(admin, 'branch-2')).toBeNull();
    expect(refusal(() => checkRule(rule, 'listBranchThings', { ...examiner, officeCode: 'CN' }, { officeCode: 'EP', branchId: 'branch-1' }))).toEqual({ status: 403, errorCode: 'OTHER_OFFICE_FORBIDDEN' });
  });
});

describe('docs/permissions.md', () => {
  it('is the rendering of the matrix (run `npm run docs:permissions` after changing it)', async () => {
    const committed = await readFile(path.resolve(import.meta.dirname, '../../docs/permissions.md'), 'utf8');
    expect(committed).toBe(renderPermissionsMarkdown());
  });
});

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string }[];
}

describeEachProfile('the permission matrix covers the API', (profile) => {
  let hub: TestHub;
  let operations: { method: string; route: string; operation: Operation }[];
  const tokens: Partial<Record<RequestPrincipalKind, string>> = {};

  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    const document = hub.app.swagger() as { paths: Record<string, Record<string, Operation>> };
    operations = Object.entries(document.paths).flatMap(([route, methods]) => Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), route, operation })));
    tokens.operator = await operatorToken(hub.app);
    const office = await seedOffice(hub.app, tokens.operator, { code: 'NL', branches: 1 });
    await seedOffice(hub.app, tokens.operator, { code: 'BE', branches: 1 });
    tokens.officeAdmin = office.admin.token;
    tokens.examiner = office.examiners[0]?.token ?? '';
    const apiClient = await createSecretClient(hub.app, office.admin.token, 'NL', office.branches[0]?.id ?? '');
    tokens.client = await clientToken(hub.app, apiClient.id, apiClient.secret);
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('has a rule for every operation of the OpenAPI document, and a route for every rule not marked planned', () => {
    const documented = operations.map(({ operation }) => operation.operationId ?? '');
    const missing = documented.filter((operationId) => !isOperationId(operationId));
    expect(missing, 'operations without a row in src/access/permissions.ts').toEqual([]);
    const unrouted = (Object.keys(PERMISSIONS) as OperationId[]).filter((operationId) => !PERMISSIONS[operationId].planned && !documented.includes(operationId));
    expect(unrouted, 'rules without a route (mark them planned: true)').toEqual([]);
    expect(documented).toContain('depositDocument');
  });

  it('documents each operation’s security requirement as the matrix says', () => {
    for (const { method, route, operation } of operations) {
      const rule = PERMISSIONS[operation.operationId as OperationId];
      const where = `${method} ${route}`;
      if (operation.operationId === 'requestClientToken') expect(operation.security, where).toEqual([{ clientSecretBasic: [] }, {}]);
      else if (rule.grants.anonymous) expect(operation.security, where).toEqual([]);
      else expect(operation.security, where).toEqual([{ bearerAuth: [] }]);
    }
  });

  const url = (route: string, officeCode: string) => route.replaceAll('{officeCode}', officeCode).replaceAll(/\{\w+Id\}/g, () => randomUUID());

  it('refuses every principal kind the matrix leaves out of an operation: 401 anonymous, 403 others', async () => {
    let checked = 0;
    for (const { method, route, operation } of operations) {
      const operationId = operation.operationId as OperationId;
      for (const kind of REQUEST_PRINCIPAL_KINDS) {
        if (PERMISSIONS[operationId].grants[kind] !== undefined) continue;
        const token = kind === 'anonymous' ? undefined : tokens[kind];
        const response = await call(hub.app, method as 'GET', url(route, 'NL'), { token, ...(method === 'GET' || method === 'DELETE' ? {} : { body: {} }) });
        const refusal = PERMISSIONS[operationId].depositor && (kind === 'officeAdmin' || kind === 'operator') ? 'DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT' : 'OPERATION_NOT_PERMITTED';
        const expected = kind === 'anonymous' ? { status: 401, errorCode: 'AUTHENTICATION_REQUIRED' } : { status: 403, errorCode: refusal };
        expect({ status: response.statusCode, errorCode: response.json<{ errorCode: string }>().errorCode }, `${kind} on ${method} ${route}`).toEqual(expected);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('refuses an office-scoped principal on another office’s path with 403, before reading the body', async () => {
    let checked = 0;
    for (const { method, route, operation } of operations) {
      if (!route.includes('{officeCode}')) continue;
      const rule = PERMISSIONS[operation.operationId as OperationId];
      for (const kind of REQUEST_PRINCIPAL_KINDS) {
        const grant = rule.grants[kind];
        if (grant !== 'ownOffice' && grant !== 'ownBranch') continue;
        const response = await call(hub.app, method as 'GET', url(route, 'BE'), { token: tokens[kind], ...(method === 'GET' || method === 'DELETE' ? {} : { body: {} }) });
        expect({ status: response.statusCode, errorCode: response.json<{ errorCode: string }>().errorCode }, `${kind} on ${method} ${route}`).toEqual({ status: 403, errorCode: 'OTHER_OFFICE_FORBIDDEN' });
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(15);
  });
});
