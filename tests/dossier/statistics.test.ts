import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AccessEventRecorder } from '../../src/dossier/access-events.js';
import { call, expectProblem, OPERATOR_ENV } from '../support/access.js';
import { biblio, countRows, depositOk, putBiblio, SAMPLE_PDF, seedDepositWorld, type DepositWorld } from '../support/deposits.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

interface Statistics {
  officeCode: string;
  from: string;
  to: string;
  accessedByOthers: { month: string; readerOffice: string | null; documentCode: string; views: number; downloads: number }[];
  accessedFromOthers: { month: string; providerOffice: string; documentCode: string; views: number; downloads: number }[];
}

const thisMonth = (): string => new Date().toISOString().slice(0, 7);

describe('the access-event recorder (unit)', () => {
  it('buffers, writes in multi-row batches of at most batchSize, and keeps events while the database refuses them', async () => {
    const statements: { sql: string; params: unknown[] }[] = [];
    let failing = true;
    const db = {
      fork: () =>
        ({
          getConnection: () => ({
            execute: async (sql: string, params: unknown[]) => {
              if (failing) throw new Error('database down');
              statements.push({ sql, params });
              return [];
            },
          }),
        }) as never,
    };
    const log = { warn: vi.fn(), error: vi.fn() };
    const recorder = new AccessEventRecorder({ db, log, batchSize: 3, flushIntervalMs: 60_000, maxBuffered: 5 });
    const reader = { kind: 'examiner', userId: 'u', officeCode: 'JP', branchId: 'b' } as const;
    const document = { id: 'd', officeCode: 'US', documentCode: 'searchReport' };
    recorder.record(reader, document, 'view');
    recorder.record(reader, document, 'download');
    expect(recorder.pending).toBe(2);
    await recorder.flush();
    expect(log.warn).toHaveBeenCalled();
    expect(recorder.pending).toBe(2);
    for (let index = 0; index < 6; index += 1) recorder.record(reader, document, 'view');
    await recorder.flush();
    // Beyond maxBuffered the oldest are dropped, and said so.
    expect(recorder.pending).toBe(5);
    expect(log.error).toHaveBeenCalled();
    failing = false;
    await recorder.close();
    expect(recorder.pending).toBe(0);
    expect(statements.map((statement) => statement.params.length / 10)).toEqual([3, 2]);
    expect(statements[0]?.sql).toMatch(/^insert into "access_event" .* values \(.*\), \(.*\), \(.*\)$/);
    // Closed: nothing more is taken.
    recorder.record(reader, document, 'view');
    expect(recorder.pending).toBe(0);
  });
});

describeEachProfile('access events, statistics and coverage', (profile) => {
  let hub: TestHub;
  let world: DepositWorld;
  const docs: Record<string, string> = {};

  const get = (url: string, token?: string, headers: Record<string, string> = {}) => call(hub.app, 'GET', url, { token, headers });
  const statistics = async (office: string, token: string, query = ''): Promise<Statistics> => {
    const response = await get(`/v1/offices/${office}/statistics${query}`, token);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<Statistics>();
  };

  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    world = await seedDepositWorld(hub.app);
    const us = world.us.examiners[0]?.token ?? '';
    const jp = world.jp.examiners[0]?.token ?? '';
    expect((await putBiblio(hub.app, us, 'US', '17400001', biblio({ filingDate: '2021-03-04' }))).statusCode).toBe(201);
    expect((await putBiblio(hub.app, us, 'US', '17400002', biblio({ filingDate: '2022-05-06', publications: [] }))).statusCode).toBe(201);
    expect((await putBiblio(hub.app, us, 'US', '17400003', biblio({ filingDate: '2022-05-06', publications: [], published: false }))).statusCode).toBe(201);
    expect((await putBiblio(hub.app, jp, 'JP', '2010-001234', biblio({ priorityClaims: [], publications: [] }))).statusCode).toBe(201);
    const deposit = async (token: string, office: string, number: string, metadata: Record<string, unknown>) =>
      (await depositOk(hub.app, office, number, { token, file: SAMPLE_PDF, metadata: { documentDate: '2023-01-02', direction: 'outgoing', languageCode: 'en', title: 'Doc', ...metadata } })).document.id;
    docs.report = await deposit(us, 'US', '17400001', { documentCode: 'searchReport', documentDate: '2022-01-02' });
    docs.grant = await deposit(us, 'US', '17400001', { documentCode: 'grant', documentDate: '2023-03-04', visibility: 'public' });
    docs.restricted = await deposit(us, 'US', '17400002', { documentCode: 'searchReport', documentDate: '2023-01-01', visibility: 'restricted', allowedOffices: ['JP'] });
    docs.withdrawn = await deposit(us, 'US', '17400002', { documentCode: 'claims', documentDate: '2023-01-01' });
    docs.unpublished = await deposit(us, 'US', '17400003', { documentCode: 'claims', documentDate: '2023-01-01' });
    docs.jp = await deposit(jp, 'JP', '2010-001234', { documentCode: 'officeAction' });
    expect((await call(hub.app, 'PATCH', `/v1/documents/${docs.withdrawn}`, { token: us, body: { status: 'withdrawn' } })).statusCode).toBe(200);
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('records a view per metadata read and a download per 200 or 206 (not 304, 416, HEAD or a refusal), without waiting', async () => {
    const jp = world.jp.examiners[0]?.token ?? '';
    const kr = world.kr.examiners[0]?.token ?? '';
    const us = world.us.examiners[1]?.token ?? '';
    const report = docs.report ?? '';
    const before = await countRows(hub.app, 'access_event');
    expect((await get(`/v1/documents/${report}`, jp)).statusCode).toBe(200);
    expect((await get(`/v1/documents/${report}`, world.jp.client.token)).statusCode).toBe(200);
    expect((await get(`/v1/documents/${report}/content`, jp)).statusCode).toBe(200);
    const etag = String((await get(`/v1/documents/${report}`, jp)).json<{ sha256: string }>().sha256);
    expect((await get(`/v1/documents/${report}/content`, jp, { 'if-none-match': `"${etag}"` })).statusCode).toBe(304);
    expect((await get(`/v1/documents/${report}/content`, kr, { range: 'bytes=0-9' })).statusCode).toBe(206);
    expect((await get(`/v1/documents/${report}/content`, kr, { range: 'bytes=999999-' })).statusCode).toBe(416);
    expect((await hub.app.inject({ method: 'HEAD', url: `/v1/documents/${report}/content`, headers: { authorization: `Bearer ${kr}` } })).statusCode).toBe(200);
    expect((await get(`/v1/documents/${docs.restricted ?? ''}`, kr)).statusCode).toBe(404);
    // The provider reading its own documents is recorded, but not counted in statistics.
    expect((await get(`/v1/documents/${report}`, us)).statusCode).toBe(200);
    expect((await get(`/v1/documents/${docs.jp ?? ''}/content`, us)).statusCode).toBe(200);
    expect((await call(hub.app, 'PATCH', '/v1/offices/US', { token: world.operator, body: { publicAccess: true } })).statusCode).toBe(200);
    expect((await get(`/v1/documents/${docs.grant ?? ''}`)).statusCode).toBe(200);
    expect((await call(hub.app, 'PATCH', '/v1/offices/US', { token: world.operator, body: { publicAccess: false } })).statusCode).toBe(200);

    // Reads only buffer their events (the timer writes them every second); a flush writes the rest at once.
    expect((await countRows(hub.app, 'access_event')) - before + hub.app.accessEvents.pending).toBe(8);
    await hub.app.accessEvents.flush();
    expect(hub.app.accessEvents.pending).toBe(0);
    expect((await countRows(hub.app, 'access_event')) - before).toBe(8);
    const [row] = await hub.app.db
      .fork()
      .getConnection()
      .execute<{ provider_office: string; reader_office: string; reader_branch: string; principal_kind: string; principal_id: string; action: string; document_code: string }[]>(
        `select * from "access_event" where "document_id" = ? and "principal_kind" = 'client'`,
        [report],
      );
    expect(row).toMatchObject({
      provider_office: 'US',
      reader_office: 'JP',
      reader_branch: world.jp.branches[0]?.id,
      principal_kind: 'client',
      principal_id: world.jp.client.id,
      action: 'view',
      document_code: 'searchReport',
    });
  });

  it('aggregates by month, office and document code, both ways, for the office administrator and the operator', async () => {
    const month = thisMonth();
    // One older event, as if recorded in March 2024.
    hub.app.accessEvents.record({ kind: 'examiner', userId: world.jp.examiners[0]?.id ?? '', officeCode: 'JP', branchId: world.jp.branches[0]?.id ?? '' }, { id: docs.grant ?? '', officeCode: 'US', documentCode: 'grant' }, 'download', new Date('2024-03-15T12:00:00Z'));
    await hub.app.accessEvents.flush();

    const us = await statistics('US', world.us.admin.token);
    expect(us.to).toBe(month);
    expect(us.accessedByOthers).toEqual([
      { month, readerOffice: null, documentCode: 'grant', views: 1, downloads: 0 },
      { month, readerOffice: 'JP', documentCode: 'searchReport', views: 3, downloads: 1 },
      { month, readerOffice: 'KR', documentCode: 'searchReport', views: 0, downloads: 1 },
    ]);
    expect(us.accessedFromOthers).toEqual([{ month, providerOffice: 'JP', documentCode: 'officeAction', views: 0, downloads: 1 }]);

    const jp = await statistics('jp', world.operator);
    expect(jp.accessedByOthers).toEqual([{ month, readerOffice: 'US', documentCode: 'officeAction', views: 0, downloads: 1 }]);
    expect(jp.accessedFromOthers).toEqual([{ month, providerOffice: 'US', documentCode: 'searchReport', views: 3, downloads: 1 }]);

    const older = await statistics('US', world.us.admin.token, '?from=2024-01&to=2024-12');
    expect(older).toMatchObject({ from: '2024-01', to: '2024-12', accessedByOthers: [{ month: '2024-03', readerOffice: 'JP', documentCode: 'grant', views: 0, downloads: 1 }], accessedFromOthers: [] });
    expect((await statistics('KR', world.kr.admin.token)).accessedFromOthers).toEqual([{ month, providerOffice: 'US', documentCode: 'searchReport', views: 0, downloads: 1 }]);
  });

  it('is for the operator and the office’s own administrator only', async () => {
    expectProblem(await get('/v1/offices/US/statistics'), 401, 'AUTHENTICATION_REQUIRED');
    expectProblem(await get('/v1/offices/US/statistics', world.us.examiners[0]?.token), 403, 'OPERATION_NOT_PERMITTED');
    expectProblem(await get('/v1/offices/US/statistics', world.us.client.token), 403, 'OPERATION_NOT_PERMITTED');
    expectProblem(await get('/v1/offices/US/statistics', world.jp.admin.token), 403, 'OTHER_OFFICE_FORBIDDEN');
    expectProblem(await get('/v1/offices/XX/statistics', world.operator), 404, 'OFFICE_NOT_FOUND');
    expectProblem(await get('/v1/offices/US/statistics?from=2024-05&to=2024-01', world.operator), 422, 'INVALID_MONTH_RANGE');
    expectProblem(await get('/v1/offices/US/statistics?from=2000-01&to=2024-01', world.operator), 422, 'INVALID_MONTH_RANGE');
    expectProblem(await get('/v1/offices/US/statistics?from=2024-13', world.operator), 400, 'VALIDATION_FAILED');
  });

  it('writes what is still buffered when the app closes', async () => {
    const before = await countRows(hub.app, 'access_event');
    // Recorded (as a read would) an instant before the app closes: only the close can write it.
    hub.app.accessEvents.record({ kind: 'anonymous' }, { id: docs.grant ?? '', officeCode: 'US', documentCode: 'grant' }, 'view');
    expect(hub.app.accessEvents.pending).toBe(1);
    await hub.restart();
    expect((await countRows(hub.app, 'access_event')) - before).toBe(1);
  });

  it('publishes coverage: published applications of an active office by year, and documents shared with every accessing office by code and year', async () => {
    const response = await get('/v1/offices/us/coverage');
    expect(response.statusCode, response.body).toBe(200);
    // Not counted: the unpublished application and its document, the withdrawn document, the restricted one.
    expect(response.json()).toEqual({
      officeCode: 'US',
      applications: { total: 2, byYear: [{ year: 2021, count: 1 }, { year: 2022, count: 1 }] },
      documents: {
        total: 2,
        byCode: [
          { documentCode: 'grant', year: 2023, count: 1 },
          { documentCode: 'searchReport', year: 2022, count: 1 },
        ],
      },
    });
    expect((await get('/v1/offices/KR/coverage', world.jp.examiners[0]?.token)).json()).toEqual({ officeCode: 'KR', applications: { total: 0, byYear: [] }, documents: { total: 0, byCode: [] } });
    expectProblem(await get('/v1/offices/XX/coverage'), 404, 'OFFICE_NOT_FOUND');
    // A suspended office shares nothing.
    expect((await call(hub.app, 'PATCH', '/v1/offices/US', { token: world.operator, body: { status: 'suspended' } })).statusCode).toBe(200);
    try {
      expect((await get('/v1/offices/US/coverage')).json()).toMatchObject({ applications: { total: 0 }, documents: { total: 0 } });
    } finally {
      await call(hub.app, 'PATCH', '/v1/offices/US', { token: world.operator, body: { status: 'active' } });
    }
  });
});
