import { afterAll, beforeAll, expect, it } from 'vitest';
import { call, expectProblem, OPERATOR_ENV } from '../support/access.js';
import { biblio, depositOk, depositState, putBiblio, SAMPLE_PDF, seedDepositWorld, type DepositWorld } from '../support/deposits.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

interface CitationView {
  type: string;
  officeCode?: string;
  number?: string;
  numberRaw?: string;
  numberNormalized?: boolean;
  kindCode?: string;
  text?: string;
  categories: string[];
  claims?: string;
  passages?: string;
  documentId: string | null;
  citedApplication?: { officeCode: string; applicationNumber: string };
}

const URL = '/v1/applications/US/17300001/citations';

describeEachProfile('citations: PUT and GET /v1/applications/{officeCode}/{applicationNumber}/citations', (profile) => {
  let hub: TestHub;
  let world: DepositWorld;
  let us: string;
  let report: string;
  let restrictedReport: string;
  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    world = await seedDepositWorld(hub.app);
    us = world.us.examiners[0]?.token ?? '';
    expect((await putBiblio(hub.app, us, 'US', '17300001')).statusCode).toBe(201);
    expect((await putBiblio(hub.app, us, 'US', '17300002', biblio({ published: false }))).statusCode).toBe(201);
    // A JP dossier the hub holds, to which a citation of its publication links.
    const jp = world.jp.examiners[0]?.token ?? '';
    expect((await putBiblio(hub.app, jp, 'JP', '2010-001234', biblio({ priorityClaims: [], publications: [{ number: 'JP 2011-123456 A', date: '2011-06-30' }] }))).statusCode).toBe(201);
    report = (await depositOk(hub.app, 'US', '17300001', { token: us, file: SAMPLE_PDF })).document.id;
    restrictedReport = (await depositOk(hub.app, 'US', '17300001', { token: us, file: SAMPLE_PDF, metadata: { documentCode: 'searchReport', documentDate: '2023-01-02', direction: 'outgoing', languageCode: 'en', title: 'Restricted', visibility: 'restricted', allowedOffices: ['JP'] } })).document.id;
  });
  afterAll(async () => {
    await hub?.close();
  });

  const citations = () => [
    { type: 'patent', officeCode: 'US', number: 'US 2019/0001234', kindCode: 'A1', categories: ['X'], claims: '1-5, 8', passages: 'paragraphs [0012]-[0020]; figure 3', documentId: report },
    { type: 'patent', officeCode: 'jp', number: 'JP 2011-123456 A', categories: ['Y', 'A'] },
    { type: 'patent', officeCode: 'DE', number: 'DE 10 2015 012 345 A1', categories: ['A'] },
    { type: 'npl', text: 'SMITH J., "Sprockets revisited", J. Mech. 12 (2019) 34-56', categories: ['A'], documentId: restrictedReport },
  ];
  const put = (body: unknown, token = us, url = URL) => call(hub.app, 'PUT', url, { token, body });

  it('replaces the list, normalising patent numbers where the hub has rules, and links cited dossiers it holds', async () => {
    const response = await put({ citations: citations() });
    expect(response.statusCode, response.body).toBe(200);
    const list = response.json<{ officeCode: string; applicationNumber: string; citations: CitationView[] }>();
    expect(list).toMatchObject({ officeCode: 'US', applicationNumber: '17300001' });
    expect(list.citations).toEqual([
      { type: 'patent', officeCode: 'US', number: '20190001234', numberRaw: 'US 2019/0001234', numberNormalized: true, kindCode: 'A1', categories: ['X'], claims: '1-5, 8', passages: 'paragraphs [0012]-[0020]; figure 3', documentId: report },
      { type: 'patent', officeCode: 'JP', number: '2011123456', numberRaw: 'JP 2011-123456 A', numberNormalized: true, kindCode: 'A', categories: ['Y', 'A'], documentId: null, citedApplication: { officeCode: 'JP', applicationNumber: '2010001234' } },
      { type: 'patent', officeCode: 'DE', number: '102015012345', numberRaw: 'DE 10 2015 012 345 A1', numberNormalized: false, kindCode: 'A1', categories: ['A'], documentId: null },
      { type: 'npl', text: 'SMITH J., "Sprockets revisited", J. Mech. 12 (2019) 34-56', categories: ['A'], documentId: restrictedReport },
    ]);
    const again = await put({ citations: citations().slice(0, 1) });
    expect(again.json<{ citations: CitationView[] }>().citations).toHaveLength(1);
    expect((await put({ citations: citations() })).statusCode).toBe(200);
  });

  it('shows the citations to those who may see the application, leaving out those attached to documents they may not see', async () => {
    const readers: [string | undefined, number][] = [
      [us, 4],
      [world.us.admin.token, 4],
      [world.jp.examiners[0]?.token, 4],
      // KR may not see the document restricted to JP: the citation it makes is left out.
      [world.kr.examiners[0]?.token, 3],
    ];
    for (const [token, count] of readers) {
      const response = await call(hub.app, 'GET', URL, { token });
      expect(response.statusCode, response.body).toBe(200);
      const shown = response.json<{ citations: CitationView[] }>().citations;
      expect(shown).toHaveLength(count);
      if (count === 3) expect(shown.map((citation) => citation.documentId)).not.toContain(restrictedReport);
    }
    // Another office does not see the citations of an unpublished application: it does not exist for them.
    expect((await put({ citations: citations().slice(1, 3) }, us, '/v1/applications/US/17300002/citations')).statusCode).toBe(200);
    expect((await call(hub.app, 'GET', '/v1/applications/US/17300002/citations', { token: us })).statusCode).toBe(200);
    expectProblem(await call(hub.app, 'GET', '/v1/applications/US/17300002/citations', { token: world.jp.examiners[0]?.token }), 404, 'APPLICATION_NOT_FOUND');
    expectProblem(await call(hub.app, 'GET', '/v1/applications/US/17399999/citations', { token: us }), 404, 'APPLICATION_NOT_FOUND');
    expectProblem(await call(hub.app, 'GET', URL), 401, 'AUTHENTICATION_REQUIRED');
    expectProblem(await call(hub.app, 'GET', URL, { token: world.operator }), 403, 'OPERATION_NOT_PERMITTED');
  });

  it('links a cited dossier only when the reader may see it', async () => {
    // Unpublish the JP application: the US examiner no longer sees it, so no link.
    const jp = world.jp.examiners[0]?.token ?? '';
    expect((await putBiblio(hub.app, jp, 'JP', '2010-001234', biblio({ priorityClaims: [], published: false, publications: [{ number: 'JP 2011-123456 A', date: '2011-06-30' }] }))).statusCode).toBe(200);
    try {
      const forUs = (await call(hub.app, 'GET', URL, { token: us })).json<{ citations: CitationView[] }>().citations;
      expect(forUs[1]?.citedApplication).toBeUndefined();
      const forJp = (await call(hub.app, 'GET', URL, { token: jp })).json<{ citations: CitationView[] }>().citations;
      expect(forJp[1]?.citedApplication).toEqual({ officeCode: 'JP', applicationNumber: '2010001234' });
    } finally {
      await putBiblio(hub.app, jp, 'JP', '2010-001234', biblio({ priorityClaims: [], publications: [{ number: 'JP 2011-123456 A', date: '2011-06-30' }] }));
    }
  });

  const invalid: [string, unknown, number, string, string?][] = [
    ['a non-patent citation without text', { citations: [{ type: 'npl', categories: ['A'] }] }, 400, 'VALIDATION_FAILED', '/body/citations/0/text'],
    ['a non-patent citation with a number', { citations: [{ type: 'npl', text: 'x', number: '1', categories: ['A'] }] }, 400, 'VALIDATION_FAILED', '/body/citations/0/number'],
    ['a patent citation without a number', { citations: [{ type: 'patent', officeCode: 'US', categories: ['X'] }] }, 400, 'VALIDATION_FAILED', '/body/citations/0/number'],
    ['an unknown category', { citations: [{ type: 'npl', text: 'x', categories: ['Z'] }] }, 400, 'VALIDATION_FAILED', '/body/citations/0/categories/0'],
    ['no category', { citations: [{ type: 'npl', text: 'x', categories: [] }] }, 400, 'VALIDATION_FAILED', '/body/citations/0/categories'],
    ['an unknown type', { citations: [{ type: 'book', text: 'x', categories: ['A'] }] }, 400, 'VALIDATION_FAILED', '/body/citations/0/type'],
    ['a number of no known shape', { citations: [{ type: 'patent', officeCode: 'EP', number: 'EP 12', categories: ['X'] }] }, 422, 'INVALID_CITATIONS', '/body/citations/0/number'],
    ['kind codes that disagree', { citations: [{ type: 'patent', officeCode: 'US', number: 'US 2019/0001234 A1', kindCode: 'B2', categories: ['X'] }] }, 422, 'INVALID_CITATIONS', '/body/citations/0/kindCode'],
    ['an office that is not ST.3', { citations: [{ type: 'patent', officeCode: 'QQ', number: '123', categories: ['X'] }] }, 422, 'INVALID_CITATIONS', '/body/citations/0/officeCode'],
    ['a document of another application', { citations: [{ type: 'npl', text: 'x', categories: ['A'], documentId: '01890000-0000-7000-8000-000000000000' }] }, 422, 'INVALID_CITATIONS', '/body/citations/0/documentId'],
    ['no list', {}, 400, 'VALIDATION_FAILED', '/body/citations'],
  ];

  it.each(invalid)('refuses %s, naming the field, and changes nothing', async (_what, body, status, errorCode, field) => {
    const before = await depositState(hub.app);
    const listed = (await call(hub.app, 'GET', URL, { token: us })).body;
    const problem = expectProblem(await put(body), status, errorCode);
    if (field !== undefined) expect((problem.errors as { field: string }[]).map((error) => error.field)).toContain(field);
    expect(await depositState(hub.app)).toEqual(before);
    expect((await call(hub.app, 'GET', URL, { token: us })).body).toBe(listed);
  });

  it('lets only examiners and clients of the providing office replace them', async () => {
    const before = await depositState(hub.app);
    expectProblem(await put({ citations: [] }, world.us.admin.token), 403, 'DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT');
    expectProblem(await put({ citations: [] }, world.jp.client.token), 403, 'OTHER_OFFICE_FORBIDDEN');
    expectProblem(await put({ citations: [] }, us, '/v1/applications/US/17399999/citations'), 404, 'APPLICATION_NOT_FOUND');
    expect(await depositState(hub.app)).toEqual(before);
    expect((await put({ citations: citations() }, world.us.client.token)).statusCode).toBe(200);
  });
});
