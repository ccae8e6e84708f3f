import { afterAll, beforeAll, expect, it } from 'vitest';
import { call, expectProblem, OPERATOR_ENV, seedOffice } from '../support/access.js';
import { biblio, depositState, putBiblio, seedDepositWorld, type DepositWorld } from '../support/deposits.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

interface ApplicationView {
  id: string;
  officeCode: string;
  applicationNumber: string;
  applicationNumberRaw: string;
  numberNormalized: boolean;
  ipc: string[];
  cpc: string[];
  priorityClaims: { officeCode: string; number: string; numberRaw: string; normalized: boolean; date: string }[];
  publications: { officeCode: string; number: string; kindCode: string; date: string }[];
  published: boolean;
  familyId: string | null;
  titles: { languageCode: string; text: string }[];
}

describeEachProfile('bibliographic data: PUT /v1/applications/{officeCode}/{applicationNumber}', (profile) => {
  let hub: TestHub;
  let world: DepositWorld;
  let examiner: string;
  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    world = await seedDepositWorld(hub.app);
    examiner = world.us.examiners[0]?.token ?? '';
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('creates the application (201) with its number normalised and the raw form kept, then replaces the record (200)', async () => {
    const created = await putBiblio(hub.app, examiner, 'US', 'US 16/555,001');
    expect(created.statusCode, created.body).toBe(201);
    const view = created.json<ApplicationView>();
    expect(view).toMatchObject({
      officeCode: 'US',
      applicationNumber: '16555001',
      applicationNumberRaw: 'US 16/555,001',
      numberNormalized: true,
      ipc: ['H04L 9/32'],
      cpc: ['H04L 9/3247'],
      priorityClaims: [{ officeCode: 'US', number: '63123456', numberRaw: '63/123,456', normalized: true, date: '2020-03-05' }],
      publications: [{ officeCode: 'US', number: '20220123456', kindCode: 'A1', date: '2022-09-08' }],
      published: true,
      familyId: null,
    });

    // Another spelling of the same number is the same application; the record is replaced as a whole.
    const replaced = await putBiblio(
      hub.app,
      world.us.client.token,
      'us',
      '16555001',
      biblio({ priorityClaims: [], publications: [], published: false, familyId: 'FAM-7', titles: [{ languageCode: 'en', text: 'Renamed widget' }] }),
    );
    expect(replaced.statusCode, replaced.body).toBe(200);
    expect(replaced.json<ApplicationView>()).toMatchObject({ id: view.id, applicationNumberRaw: '16555001', priorityClaims: [], publications: [], published: false, familyId: 'FAM-7', titles: [{ languageCode: 'en', text: 'Renamed widget' }] });
    const connection = hub.app.db.fork().getConnection();
    expect(await connection.execute('select count(*)::int as n from "application" where "application_number" = ?', ['16555001'])).toEqual([{ n: 1 }]);
    expect(await connection.execute('select count(*)::int as n from "priority_claim" where "application_id" = ?', [view.id])).toEqual([{ n: 0 }]);
  });

  it('stores priority claims in their own table: normalised where the hub has rules, kept as written (flagged) where not', async () => {
    const response = await putBiblio(
      hub.app,
      examiner,
      'US',
      '16555002',
      biblio({
        priorityClaims: [
          { officeCode: 'de', number: 'DE 10 2020 123 456.7', date: '2020-01-02' },
          { officeCode: 'EP', number: 'EP 20150367.9', date: '2020-02-03' },
          { officeCode: 'CN', number: 'CN 202010001234.5', date: '2020-02-04' },
        ],
        publications: [
          { number: 'US 11,234,567 B2', date: '2022-01-04' },
          { number: 'WO 2021/123456', kindCode: 'a1', officeCode: 'WO', date: '2021-06-24' },
        ],
      }),
    );
    expect(response.statusCode, response.body).toBe(201);
    const view = response.json<ApplicationView>();
    expect(view.priorityClaims).toEqual([
      { officeCode: 'DE', number: '1020201234567', numberRaw: 'DE 10 2020 123 456.7', normalized: false, date: '2020-01-02' },
      { officeCode: 'EP', number: '20150367', numberRaw: 'EP 20150367.9', normalized: true, date: '2020-02-03' },
      { officeCode: 'CN', number: '202010001234.5', numberRaw: 'CN 202010001234.5', normalized: true, date: '2020-02-04' },
    ]);
    expect(view.publications.map(({ officeCode, number, kindCode }) => `${officeCode} ${number} ${kindCode}`)).toEqual(['US 11234567 B2', 'WO 2021123456 A1']);
    // Families read priority claims by (office_code, number).
    const rows = await hub.app.db.fork().getConnection().execute('select "application_id" from "priority_claim" where "office_code" = ? and "number" = ?', ['DE', '1020201234567']);
    expect(rows).toEqual([{ application_id: view.id }]);
  });

  it('normalises the numbers of each office’s own spelling (JP)', async () => {
    const response = await putBiblio(hub.app, world.jp.examiners[0]?.token ?? '', 'JP', '特願2010-001234', biblio({ priorityClaims: [], publications: [{ number: 'JP 2011-123456 A', date: '2011-06-30' }] }));
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json<ApplicationView>()).toMatchObject({ officeCode: 'JP', applicationNumber: '2010001234', publications: [{ number: '2011123456', kindCode: 'A' }] });
  });

  it('takes numbers with slashes in the path, percent-encoded (WO: PCT/CN2023/123456)', async () => {
    const wo = await seedOffice(hub.app, world.operator, { code: 'WO', branches: 1 });
    const response = await putBiblio(hub.app, wo.examiners[0]?.token ?? '', 'WO', 'PCT/CN2023/123456', biblio({ priorityClaims: [], publications: [] }));
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json<ApplicationView>()).toMatchObject({ officeCode: 'WO', applicationNumber: 'CN2023123456', applicationNumberRaw: 'PCT/CN2023/123456' });
  });

  it('makes concurrent first writes of one application one row', async () => {
    const responses = await Promise.all([0, 1, 2].map(() => putBiblio(hub.app, examiner, 'US', '16555003')));
    expect(responses.map((response) => response.statusCode).sort()).toEqual([200, 200, 201]);
    expect(new Set(responses.map((response) => response.json<ApplicationView>().id)).size).toBe(1);
  });

  const invalid: [string, Record<string, unknown>, number, string, string][] = [
    ['an impossible filing date', { filingDate: '2021-02-30' }, 400, 'VALIDATION_FAILED', '/body/filingDate'],
    ['a language code that is not ISO 639-1', { titles: [{ languageCode: 'eng', text: 'Widget' }] }, 400, 'VALIDATION_FAILED', '/body/titles/0/languageCode'],
    ['no title', { titles: [] }, 400, 'VALIDATION_FAILED', '/body/titles'],
    ['a malformed IPC symbol', { ipc: ['H04L 9/32', 'H04L'] }, 400, 'VALIDATION_FAILED', '/body/ipc/1'],
    ['a malformed CPC symbol', { cpc: ['Z01B 1/00'] }, 400, 'VALIDATION_FAILED', '/body/cpc/0'],
    ['a priority claim with a bad date', { priorityClaims: [{ officeCode: 'US', number: '63/123,456', date: '2020-13-01' }] }, 400, 'VALIDATION_FAILED', '/body/priorityClaims/0/date'],
    ['a priority claim without a number', { priorityClaims: [{ officeCode: 'US', date: '2020-01-01' }] }, 400, 'VALIDATION_FAILED', '/body/priorityClaims/0/number'],
    ['published as a string', { published: 'yes' }, 400, 'VALIDATION_FAILED', '/body/published'],
    ['an unknown field', { colour: 'blue' }, 400, 'VALIDATION_FAILED', '/body/colour'],
    ['a priority later than the filing date', { priorityClaims: [{ officeCode: 'US', number: '63/123,456', date: '2021-03-05' }] }, 422, 'INVALID_BIBLIOGRAPHIC_DATA', '/body/priorityClaims/0/date'],
    ['a priority number of unrecognised shape', { priorityClaims: [{ officeCode: 'EP', number: 'EP 12', date: '2020-01-01' }] }, 422, 'INVALID_BIBLIOGRAPHIC_DATA', '/body/priorityClaims/0/number'],
    ['a priority office that is not ST.3', { priorityClaims: [{ officeCode: 'QQ', number: '123', date: '2020-01-01' }] }, 422, 'INVALID_BIBLIOGRAPHIC_DATA', '/body/priorityClaims/0/officeCode'],
    ['a publication without kind code', { publications: [{ number: 'US 2022/0123456', date: '2022-01-01' }] }, 422, 'INVALID_BIBLIOGRAPHIC_DATA', '/body/publications/0/kindCode'],
    ['a publication whose kind codes disagree', { publications: [{ number: 'US 2022/0123456 A1', kindCode: 'B2', date: '2022-01-01' }] }, 422, 'INVALID_BIBLIOGRAPHIC_DATA', '/body/publications/0/kindCode'],
    ['two titles in one language', { titles: [{ languageCode: 'en', text: 'A' }, { languageCode: 'en', text: 'B' }] }, 422, 'INVALID_BIBLIOGRAPHIC_DATA', '/body/titles/1/languageCode'],
    ['an applicant country that is not ST.3', { applicants: [{ name: 'Acme', countryCode: 'QQ' }] }, 422, 'INVALID_BIBLIOGRAPHIC_DATA', '/body/applicants/0/countryCode'],
  ];

  it.each(invalid)('refuses %s, naming the field, and changes nothing', async (_what, overrides, status, errorCode, field) => {
    // Both on an application that exists (nothing replaced) and on a new one (nothing created).
    for (const number of ['16555001', '16555099']) {
      const before = await depositState(hub.app);
      const response = await putBiblio(hub.app, examiner, 'US', number, biblio(overrides));
      const problem = expectProblem(response, status, errorCode);
      expect((problem.errors as { field: string }[]).map((error) => error.field)).toContain(field);
      expect(await depositState(hub.app)).toEqual(before);
    }
  });

  it('refuses a path number of no known shape with 422 naming the expected forms', async () => {
    const before = await depositState(hub.app);
    const problem = expectProblem(await putBiblio(hub.app, examiner, 'US', 'ABC-12'), 422, 'UNRECOGNISED_NUMBER');
    expect(problem.detail).toMatch(/expected/);
    expect(problem.expected).toEqual(expect.arrayContaining([expect.stringMatching(/^US /)]));
    expectProblem(await putBiblio(hub.app, examiner, 'US', 'EP 16000312.7'), 422, 'OFFICE_MISMATCH');
    expect(await depositState(hub.app)).toEqual(before);
  });

  it('lets only examiners and clients of the providing office write', async () => {
    const before = await depositState(hub.app);
    expectProblem(await putBiblio(hub.app, world.jp.examiners[0]?.token ?? '', 'US', '16555001'), 403, 'OTHER_OFFICE_FORBIDDEN');
    expectProblem(await putBiblio(hub.app, world.jp.client.token, 'US', '16555001'), 403, 'OTHER_OFFICE_FORBIDDEN');
    expectProblem(await putBiblio(hub.app, world.us.admin.token, 'US', '16555001'), 403, 'DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT');
    expectProblem(await putBiblio(hub.app, world.operator, 'US', '16555001'), 403, 'DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT');
    expectProblem(await call(hub.app, 'PUT', '/v1/applications/US/16555001', { body: biblio() }), 401, 'AUTHENTICATION_REQUIRED');
    // An accessing-only office provides nothing.
    expectProblem(await putBiblio(hub.app, world.kr.examiners[0]?.token ?? '', 'KR', '10-2020-0012345'), 403, 'OFFICE_NOT_PROVIDING');
    expect(await depositState(hub.app)).toEqual(before);
  });
});
