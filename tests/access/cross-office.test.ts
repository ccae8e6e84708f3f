import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { call, clientToken, createSecretClient, OPERATOR_ENV, seedOffice, type SeededOffice } from '../support/access.js';
import { biblio, depositOk, multipart, putBiblio, SAMPLE_PDF, seedDepositWorld, type DepositWorld } from '../support/deposits.js';
import { buildPdf } from '../support/pdf.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

/**
 * Every operation of openapi/openapi.json, replayed by the administrator, an examiner and an API client of office A
 * (JP) against office B's (EP) resources: B's office code, its unpublished application, documents A may not see
 * (restricted to another office, withdrawn, of the unpublished application), B's branch, user, client, family and
 * package ids. None may succeed, none may return B's data, and none may change B's data. A few operations are
 * public or act only on the caller by design; they may answer 2xx, are listed below with the reason, and are still
 * checked for B's data and B's state.
 */
const MAY_SUCCEED: Record<string, string> = {
  getOpenApiDocument: 'the API description: no office data',
  getHealth: 'liveness: no office data',
  getReadiness: 'readiness of the dependencies: no office data',
  getMetrics: 'process metrics: no office data',
  getJwks: 'the hub’s public keys',
  listOffices: 'the office registry (codes, names, roles, status) is public',
  getOffice: 'the office registry is public',
  getOfficeCoverage: 'public counts of what an office shares, by design',
  normalizeNumber: 'a pure function of the input',
  getMe: 'the caller itself',
  listDocumentCodes: 'the hub-wide vocabulary of document codes',
  searchApplications: 'searches only what the caller may see (checked: none of B’s hidden data comes back)',
  listPackages: 'the caller’s own packages',
  ingestApplications: 'the office is in each line, not the path: the stream is acknowledged and every line of another office refused (checked: B unchanged)',
  createPackage: 'a bulk deposit for the caller’s own office (the office is not in the path); the job refuses what is not its own (checked: B unchanged)',
  logout: 'ending a session that does not exist is a no-op',
};

/** The words and values of B's that must never reach A. */
const MARKER = 'zanzibar';

interface Operation {
  operationId: string;
  requestBody?: { content: Record<string, unknown> };
}

describeEachProfile('no operation lets one office act on or read another office’s resources', (profile) => {
  let hub: TestHub;
  const errorLog: string[] = [];
  let world: DepositWorld;
  let kr: SeededOffice;
  const b: Record<string, string> = {};
  const bDocuments: string[] = [];
  const secrets: string[] = [];
  let operations: { method: string; route: string; operation: Operation }[];
  let callers: { label: string; token: string }[];

  /** Everything of B that A's requests could change, as one comparable value. */
  async function stateOfB(): Promise<string> {
    const connection = hub.app.db.fork().getConnection();
    const rows = await Promise.all([
      connection.execute(`select "code", "name", "provider_mode", "accessing", "public_access", "status" from "office" where "code" = 'EP'`),
      connection.execute(`select "id", "application_number", "published", "titles", "applicants", "updated_at" from "application" where "office_code" = 'EP' order by "id"`),
      connection.execute(`select "id", "status", "visibility", "allowed_offices", "version", "updated_at" from "document" where "office_code" = 'EP' order by "id"`),
      connection.execute(`select c."id", c."position" from "citation" c join "application" a on a."id" = c."application_id" where a."office_code" = 'EP' order by c."id"`),
      connection.execute(`select "id", "name" from "branch" where "office_code" = 'EP' order by "id"`),
      connection.execute(`select "id", "status", "password_hash", "branch_id" from "account" where "office_code" = 'EP' order by "id"`),
      connection.execute(`select "id", "status", "branch_id" from "api_client" where "office_code" = 'EP' order by "id"`),
    ]);
    return JSON.stringify(rows);
  }

  beforeAll(async () => {
    // The hub's error log is kept, so that a 5xx below names its cause (the answer only quotes a request id).
    hub = await startTestHub(profile, OPERATOR_ENV, { logger: { level: 'error', stream: { write: (line: string) => void errorLog.push(line) } } });
    world = await seedDepositWorld(hub.app);
    // B is EP, with branches, people and a client of its own, and dossiers A may not see.
    const ep = await seedOffice(hub.app, world.operator, { code: 'EP', branches: 1 });
    kr = world.kr;
    const branchName = await call(hub.app, 'PATCH', `/v1/offices/EP/branches/${ep.branches[0]?.id ?? ''}`, { token: ep.admin.token, body: { name: `Branch ${MARKER}` } });
    expect(branchName.statusCode, branchName.body).toBe(200);
    const epClient = await createSecretClient(hub.app, ep.admin.token, 'EP', ep.branches[0]?.id ?? '', `Client ${MARKER}`);
    const epClientToken = await clientToken(hub.app, epClient.id, epClient.secret);
    const epExaminer = ep.examiners[0]?.token ?? '';
    // The unpublished application is B's alone; the published one is shared with A (its record), not its documents.
    const secretBiblio = (published: boolean) =>
      biblio({
        titles: [{ languageCode: 'en', text: published ? 'Shared turbine' : `Secret ${MARKER} turbine` }],
        applicants: [{ name: published ? 'Open Industries' : `${MARKER} Industries` }],
        // Apart: the unpublished application's families have no member A may see.
        priorityClaims: [{ officeCode: 'EP', number: published ? 'EP 19000002' : 'EP 19000001', date: '2019-01-01' }],
        publications: published ? [{ number: 'EP 3999999 A1', date: '2021-01-01' }] : [],
        published,
      });
    expect((await putBiblio(hub.app, epExaminer, 'EP', 'EP 20000001', secretBiblio(false))).statusCode).toBe(201);
    expect((await putBiblio(hub.app, epClientToken, 'EP', 'EP 20000002', secretBiblio(true))).statusCode).toBe(201);
    const deposit = async (number: string, metadata: Record<string, unknown>) => {
      const file = buildPdf([[`${MARKER} ${randomUUID()}`]]);
      const deposited = await depositOk(hub.app, 'EP', number, {
        token: epExaminer,
        file,
        metadata: { documentCode: 'searchReport', documentDate: '2023-01-02', direction: 'outgoing', languageCode: 'en', title: `Report ${MARKER}`, ...metadata },
      });
      secrets.push(deposited.document.sha256);
      return deposited.document.id;
    };
    bDocuments.push(await deposit('20000001', { visibility: 'public' }));
    bDocuments.push(await deposit('20000002', { visibility: 'restricted', allowedOffices: ['KR'] }));
    const withdrawn = await deposit('20000002', {});
    expect((await call(hub.app, 'PATCH', `/v1/documents/${withdrawn}`, { token: epExaminer, body: { status: 'withdrawn' } })).statusCode).toBe(200);
    bDocuments.push(withdrawn);
    const citations = await call(hub.app, 'PUT', '/v1/applications/EP/20000001/citations', {
      token: epExaminer,
      body: { citations: [{ type: 'npl', text: `${MARKER} handbook`, categories: ['X'], documentId: bDocuments[0] }] },
    });
    expect(citations.statusCode, citations.body).toBe(200);

    const connection = hub.app.db.fork().getConnection();
    const [application] = await connection.execute<Record<string, string | null>[]>(`select a.*, f."simple_family_id" from "application" a left join "application_family" f on f."application_id" = a."id" where a."office_code" = 'EP' and a."application_number" = '20000001'`);
    expect(application?.simple_family_id, 'the application has its families').toEqual(expect.any(String));
    // A package of B's, where the hub takes packages.
    const submitted = await hub.app.inject({
      method: 'POST',
      url: '/v1/packages',
      headers: { authorization: `Bearer ${epExaminer}`, 'content-type': 'application/zip' },
      payload: Buffer.from('PK\u0005\u0006'.padEnd(22, '\u0000'), 'latin1'),
    });
    const pkg = submitted.statusCode === 202 ? submitted.json<{ id: string }>() : undefined;
    Object.assign(b, {
      officeCode: 'EP',
      applicationNumber: 'EP 20000001',
      branchId: ep.branches[0]?.id ?? '',
      userId: ep.examiners[0]?.id ?? '',
      username: ep.examiners[0]?.username ?? '',
      ownToken: epExaminer,
      clientId: epClient.id,
      familyId: application?.simple_family_id ?? randomUUID(),
      packageId: pkg?.id ?? randomUUID(),
    });
    // The unpublished application's number, too: no answer may name it (except one whose URL does).
    secrets.push(MARKER, '20000001', String(application?.id), ep.admin.username, ep.examiners[0]?.username ?? MARKER, ...bDocuments, ep.admin.id, epClient.id, ep.branches[0]?.id ?? MARKER);

    const document = JSON.parse(await readFile(path.resolve(import.meta.dirname, '../../openapi/openapi.json'), 'utf8')) as { paths: Record<string, Record<string, Operation>> };
    operations = Object.entries(document.paths).flatMap(([route, methods]) => Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), route, operation })));
    const jp = world.jp;
    callers = [
      { label: 'JP office administrator', token: jp.admin.token },
      { label: 'JP examiner', token: jp.examiners[0]?.token ?? '' },
      { label: 'JP API client', token: jp.client.token },
    ];
  });
  afterAll(async () => {
    await hub?.close();
  });

  /** The secrets of B an answer contains, as whole values; those the request itself names are not counted. */
  function revealed(body: string, requested: string): string[] {
    const text = body.toLowerCase();
    const asked = decodeURIComponent(requested).toLowerCase();
    return secrets.filter((secret) => {
      const needle = secret.toLowerCase();
      if (asked.includes(needle)) return false;
      // Whole values only (a metric's digits may contain a number by chance).
      return new RegExp(`(^|[^0-9a-z.])${needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^0-9a-z])`).test(text);
    });
  }

  /** A minimal, valid-looking request body for each operation, so that the access checks are what refuses it. */
  function bodyOf(operationId: string, operation: Operation): Pick<InjectOptions, 'payload' | 'headers'> {
    const json = (payload: unknown) => ({ payload: payload as InjectOptions['payload'], headers: { 'content-type': 'application/json' } });
    const upload = () => {
      const body = multipart([
        { name: 'metadata', value: JSON.stringify({ documentCode: 'searchReport', documentDate: '2023-01-02', direction: 'outgoing', languageCode: 'en', title: 'Replayed' }), contentType: 'application/json' },
        { name: 'file', value: SAMPLE_PDF, filename: 'replayed.pdf', contentType: 'application/pdf' },
      ]);
      return { payload: body.payload, headers: { 'content-type': body.contentType } };
    };
    switch (operationId) {
      case 'createOffice':
        return json({ code: 'ZZ', name: 'Replayed', roles: ['accessing'], publicAccess: false });
      case 'updateOffice':
        return json({ publicAccess: true, status: 'suspended' });
      case 'login':
        return json({ username: b.username, password: 'not the password' });
      case 'refreshSession':
      case 'logout':
        return json({ refreshToken: 'not-a-refresh-token-of-anyone' });
      case 'requestClientToken':
        return { payload: `grant_type=client_credentials&client_id=${b.clientId}&client_secret=wrong`, headers: { 'content-type': 'application/x-www-form-urlencoded' } };
      case 'setupOperator':
        return json({ setupToken: 'not-a-setup-token', username: 'intruder', password: 'a long enough password' });
      case 'setPasswordWithToken':
        return json({ passwordToken: 'not-a-password-token', newPassword: 'a long enough password' });
      case 'changeOwnPassword':
        return json({ currentPassword: 'not the password', newPassword: 'a long enough password' });
      case 'createBranch':
      case 'updateBranch':
        return json({ name: 'Replayed branch' });
      case 'createUser':
        return json({ username: 'replayed-user', role: 'examiner', branchId: b.branchId, password: 'a long enough password' });
      case 'updateUser':
        return json({ status: 'disabled' });
      case 'resetUserPassword':
        return json({ password: 'a long enough password' });
      case 'createClient':
        return json({ name: 'Replayed client', branchId: b.branchId, authMethod: 'client_secret_basic' });
      case 'rotateClientCredentials':
        return json({});
      case 'rotateSigningKey':
        return json({ activateNow: true });
      case 'updateDocument':
        return json({ visibility: 'public', status: 'withdrawn', reason: 'replayed' });
      case 'putApplication':
        return json(biblio({ titles: [{ languageCode: 'en', text: 'Overwritten' }] }));
      case 'putCitations':
        return json({ citations: [] });
      case 'createDocumentCode':
        return json({ code: 'replayedCode', label: 'Replayed' });
      case 'depositDocument':
      case 'depositDocumentVersion':
        return upload();
      case 'ingestApplications':
        return {
          payload: `${JSON.stringify({ ...biblio({ titles: [{ languageCode: 'en', text: 'Overwritten' }] }), officeCode: 'EP', applicationNumber: '20000001' })}\n`,
          headers: { 'content-type': 'application/x-ndjson' },
        };
      case 'createPackage':
        return { payload: Buffer.from('PK\u0005\u0006'.padEnd(22, '\u0000'), 'latin1'), headers: { 'content-type': 'application/zip' } };
      default:
        return operation.requestBody ? json({}) : {};
    }
  }

  /** The query strings each operation is probed with: B's hidden things where the operation searches. */
  function queriesOf(operationId: string): string[] {
    switch (operationId) {
      case 'searchApplications':
        return [`?number=${encodeURIComponent(b.applicationNumber ?? '')}`, `?q=${MARKER}`, `?officeCode=EP&limit=200`, '?documentCode=searchReport&limit=200'];
      case 'normalizeNumber':
        return [`?number=${encodeURIComponent(b.applicationNumber ?? '')}`];
      case 'listApplicationDocuments':
        return ['', '?limit=200'];
      default:
        return [''];
    }
  }

  /** The URLs of an operation with B's ids in every path parameter (documents: each one A may not see). */
  function urlsOf(route: string): string[] {
    const names = [...route.matchAll(/\{(\w+)\}/g)].map((match) => match[1] ?? '');
    let urls = [route];
    for (const name of names) {
      const values = name === 'documentId' ? bDocuments : [b[name] ?? randomUUID()];
      urls = urls.flatMap((url) => values.map((value) => url.replace(`{${name}}`, encodeURIComponent(value))));
    }
    return urls;
  }

  it('refuses every operation on B’s resources, returns none of B’s data and changes nothing of B', async () => {
    expect(operations.length).toBeGreaterThan(40);
    const unknownParameters = operations.flatMap(({ route }) => [...route.matchAll(/\{(\w+)\}/g)].map((match) => match[1] ?? '')).filter((name) => name !== 'documentId' && b[name] === undefined);
    expect(unknownParameters, 'path parameters without a value of B: add one above').toEqual([]);
    const before = await stateOfB();
    const succeeded = new Set<string>();
    let checked = 0;
    for (const { method, route, operation } of operations) {
      const { operationId } = operation;
      for (const url of urlsOf(route)) {
        for (const query of queriesOf(operationId)) {
          for (const caller of callers) {
            const { payload, headers } = bodyOf(operationId, operation);
            const response: LightMyRequestResponse = await hub.app.inject({
              method: method as InjectOptions['method'],
              url: `${url}${query}`,
              headers: { authorization: `Bearer ${caller.token}`, ...headers },
              ...(payload !== undefined ? { payload } : {}),
            });
            const where = `${caller.label}: ${method} ${url}${query} (${operationId}) → ${response.statusCode} ${response.body.slice(0, 300)}`;
            const ok = response.statusCode >= 200 && response.statusCode < 300;
            if (ok) succeeded.add(operationId);
            if (ok && !(operationId in MAY_SUCCEED)) expect.fail(`succeeded: ${where}`);
            expect(response.statusCode, `${where}\n${errorLog.filter((line) => line.includes(response.headers['x-request-id'] as string)).join('')}`).toBeLessThan(500);
            expect(revealed(response.body, `${url}${query}`), where).toEqual([]);
            checked += 1;
          }
        }
      }
    }
    // Writes acknowledged in bulk are processed by jobs: let them finish before comparing.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await stateOfB()).toBe(before);
    expect(checked).toBeGreaterThan(150);
    // The allow-list stays honest: every entry names an operation of the document.
    const documented = new Set(operations.map(({ operation }) => operation.operationId));
    expect(Object.keys(MAY_SUCCEED).filter((operationId) => !documented.has(operationId))).toEqual([]);
    expect([...succeeded].filter((operationId) => !(operationId in MAY_SUCCEED))).toEqual([]);
    // The probe finds B's data where it is legitimately shown: B itself reading its hidden application and documents.
    const own = await call(hub.app, 'GET', '/v1/applications/EP/20000001', { token: b.ownToken });
    expect(own.statusCode).toBe(200);
    expect(revealed(own.body, '/v1/applications/EP/20000001')).toEqual(expect.arrayContaining([MARKER]));
    for (const id of bDocuments) {
      const document = await call(hub.app, 'GET', `/v1/documents/${id}`, { token: b.ownToken });
      expect(revealed(document.body, '/v1/documents')).toEqual(expect.arrayContaining([MARKER, id]));
    }
    // And a third office allowed on the restricted document still may not see the unpublished application.
    expect((await call(hub.app, 'GET', '/v1/applications/EP/20000001/documents', { token: kr.admin.token })).statusCode).toBe(404);
  }, 120_000);
});
