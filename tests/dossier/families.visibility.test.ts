import { afterAll, beforeAll, expect, it } from 'vitest';
import { call, expectProblem, OPERATOR_ENV, seedOffice } from '../support/access.js';
import { biblio, depositOk, METADATA, putBiblio, SAMPLE_PDF, seedDepositWorld, upload, type DepositWorld } from '../support/deposits.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

interface Member {
  officeCode: string;
  applicationNumber: string;
  documents: { total: number; byCode: { documentCode: string; count: number }[]; hasSearchReport: boolean; hasExaminationReport: boolean };
}
interface Family {
  id: string;
  members: Member[];
}
interface TimelineEvent {
  type: 'filing' | 'publication' | 'document';
  date: string;
  officeCode: string;
  applicationNumber: string;
  document?: { id: string; title: string };
}
interface Matrix {
  citingOffices: string[];
  rows: {
    cited: { type: string; officeCode?: string; number?: string; text?: string };
    dossier: { officeCode: string; applicationNumber: string } | null;
    byOffice: { officeCode: string; categories: string[]; claims: string[]; citedBy: { documentId: string | null }[] }[];
  }[];
}

/**
 * Family reads never reveal what the visibility rule hides (DESIGN §3): documents of every visibility and state,
 * deposited by two offices on published and unpublished members, read by the providing offices, an accessing
 * office, an office without the accessing role, and anonymous callers. The hub's own single-document and
 * single-application reads are the oracle: what GET /v1/documents/{id} answers 404 for must not be counted, listed
 * in the timeline, named in the citation matrix, or have its title appear anywhere.
 */
describeEachProfile('families: timeline, citations and counts under the visibility rule', (profile) => {
  let hub: TestHub;
  let world: DepositWorld;
  let extendedId: string;
  /** Every document deposited: id → { title, application, superseded }. */
  const documents = new Map<string, { title: string; code: string; office: string; number: string; superseded: boolean }>();
  const readers: Record<string, string | undefined> = {};
  const applications: [string, string][] = [
    ['US', '16800001'],
    ['JP', '2019800001'],
    ['US', '17800001'],
    ['JP', '2019800002'],
  ];

  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    world = await seedDepositWorld(hub.app);
    // US consents to public access; CA provides but does not access.
    expect((await call(hub.app, 'PATCH', '/v1/offices/US', { token: world.operator, body: { publicAccess: true } })).statusCode).toBe(200);
    const ca = await seedOffice(hub.app, world.operator, { code: 'CA', roles: ['providing'], branches: 1 });
    Object.assign(readers, {
      US: world.us.examiners[1]?.token,
      JP: world.jp.examiners[0]?.token,
      KR: world.kr.examiners[0]?.token,
      CA: ca.examiners[0]?.token,
      anonymous: undefined,
    });

    const us = world.us.client.token;
    const jp = world.jp.client.token;
    const claim = [{ officeCode: 'US', number: '16/800,001', date: '2020-01-02' }];
    const put = async (token: string, office: string, number: string, body: Record<string, unknown>) => {
      const response = await putBiblio(hub.app, token, office, number, biblio(body));
      expect(response.statusCode, response.body).toBe(201);
      return response.json<{ extendedFamilyId: string }>();
    };
    const a = await put(us, 'US', '16/800,001', { priorityClaims: [], publications: [{ number: 'US 2022/0800001 A1', date: '2022-06-01' }] });
    extendedId = a.extendedFamilyId;
    await put(jp, 'JP', 'JP 2019-800001', { priorityClaims: claim, publications: [] });
    await put(us, 'US', '17/800,001', { priorityClaims: claim, publications: [{ number: 'US 2023/0800001 A1', date: '2023-06-01' }], published: false });
    await put(jp, 'JP', 'JP 2019-800002', { priorityClaims: claim, publications: [], published: false });

    const deposit = async (token: string, office: string, number: string, documentCode: string, title: string, extra: Record<string, unknown> = {}) => {
      const { document } = await depositOk(hub.app, office, number, { token, file: SAMPLE_PDF, metadata: { ...METADATA, documentCode, title, ...extra } });
      documents.set(document.id, { title, code: documentCode, office, number, superseded: false });
      return document.id;
    };
    await deposit(us, 'US', '16800001', 'searchReport', 'A public search report', { visibility: 'public', documentDate: '2021-05-01' });
    await deposit(us, 'US', '16800001', 'examinationReport', 'A examination report for offices', { documentDate: '2021-09-01' });
    const forJp = await deposit(us, 'US', '16800001', 'officeAction', 'A office action restricted to JP', { visibility: 'restricted', allowedOffices: ['JP'], documentDate: '2022-01-01' });
    const forKr = await deposit(us, 'US', '16800001', 'claims', 'A claims restricted to KR', { visibility: 'restricted', allowedOffices: ['KR'], documentDate: '2022-02-01' });
    const withdrawn = await deposit(us, 'US', '16800001', 'writtenOpinion', 'A written opinion later withdrawn', { documentDate: '2021-05-02' });
    expect((await call(hub.app, 'PATCH', `/v1/documents/${withdrawn}`, { token: us, body: { status: 'withdrawn', reason: 'filed in error' } })).statusCode).toBe(200);
    const corrected = await deposit(us, 'US', '16800001', 'description', 'A description first version', { visibility: 'public', documentDate: '2021-03-04' });
    const version = await upload(hub.app, `/v1/documents/${corrected}/versions`, { token: us, file: SAMPLE_PDF, metadata: { title: 'A description corrected version' } });
    expect(version.statusCode, version.body).toBe(201);
    const v2 = version.json<{ document: { id: string } }>().document.id;
    documents.get(corrected)!.superseded = true;
    documents.set(v2, { title: 'A description corrected version', code: 'description', office: 'US', number: '16800001', superseded: false });
    await deposit(jp, 'JP', '2019800001', 'searchReport', 'B search report for offices', { documentDate: '2021-07-01' });
    await deposit(jp, 'JP', '2019800001', 'other', 'B public document without consent', { visibility: 'public', documentDate: '2021-08-01' });
    await deposit(us, 'US', '17800001', 'searchReport', 'C unpublished search report', { visibility: 'public', documentDate: '2021-10-01' });
    await deposit(jp, 'JP', '2019800002', 'examinationReport', 'D unpublished examination report', { visibility: 'public', documentDate: '2021-11-01' });

    const citations = async (token: string, office: string, number: string, list: Record<string, unknown>[]) => {
      const response = await call(hub.app, 'PUT', `/v1/applications/${office}/${number}/citations`, { token, body: { citations: list } });
      expect(response.statusCode, response.body).toBe(200);
    };
    await citations(us, 'US', '16800001', [
      { type: 'patent', officeCode: 'EP', number: 'EP 3456789 A1', categories: ['X'], claims: '1-3' },
      { type: 'patent', officeCode: 'EP', number: 'EP 3456789', kindCode: 'B1', categories: ['Y'], claims: '9', documentId: forJp },
      { type: 'npl', text: 'A secret paper cited in the KR-only claims', categories: ['A'], documentId: forKr },
    ]);
    await citations(jp, 'JP', '2019800001', [
      { type: 'patent', officeCode: 'EP', number: 'EP3456789A1', categories: ['Y'], claims: '5' },
      { type: 'patent', officeCode: 'US', number: 'US 2022/0800001 A1', categories: ['X'] },
      { type: 'patent', officeCode: 'US', number: 'US 2023/0800001 A1', categories: ['A'] },
    ]);
    await citations(us, 'US', '17800001', [{ type: 'patent', officeCode: 'GB', number: 'GB 2590123 A', categories: ['X'], passages: 'a passage only US may read' }]);
  });
  afterAll(async () => {
    await hub?.close();
  });

  /** The oracle: the documents and applications the reader may see, as the hub's single reads answer. */
  async function oracle(token: string | undefined) {
    const visibleDocuments = new Set<string>();
    for (const id of documents.keys()) {
      const response = await call(hub.app, 'GET', `/v1/documents/${id}`, { token });
      expect([200, 404], id).toContain(response.statusCode);
      if (response.statusCode === 200) visibleDocuments.add(id);
    }
    const visibleApplications = new Set<string>();
    for (const [office, number] of applications) {
      const response = await call(hub.app, 'GET', `/v1/applications/${office}/${number}`, { token });
      expect([200, 404]).toContain(response.statusCode);
      if (response.statusCode === 200) visibleApplications.add(`${office}:${number}`);
    }
    return { visibleDocuments, visibleApplications };
  }
  const hiddenTitles = (visible: Set<string>) => [...documents].filter(([id]) => !visible.has(id)).map(([, document]) => document.title);

  for (const readerName of ['US', 'JP', 'KR', 'CA', 'anonymous']) {
    it(`shows ${readerName} only the members, documents and citations it may see`, async () => {
      const token = readers[readerName];
      const { visibleDocuments, visibleApplications } = await oracle(token);
      const current = [...documents].filter(([id, document]) => visibleDocuments.has(id) && !document.superseded);

      // The family: members are the applications the reader may see; counts only count visible current documents.
      const familyResponse = await call(hub.app, 'GET', `/v1/families/${extendedId}`, { token });
      expect(familyResponse.statusCode, familyResponse.body).toBe(200);
      const family = familyResponse.json<Family>();
      expect(family.members.map((member) => `${member.officeCode}:${member.applicationNumber}`).sort()).toEqual([...visibleApplications].sort());
      for (const member of family.members) {
        const expected = new Map<string, number>();
        for (const [, document] of current) {
          if (document.office === member.officeCode && document.number === member.applicationNumber) expected.set(document.code, (expected.get(document.code) ?? 0) + 1);
        }
        expect(Object.fromEntries(member.documents.byCode.map(({ documentCode, count }) => [documentCode, count])), `${readerName} counts of ${member.applicationNumber}`).toEqual(
          Object.fromEntries(expected),
        );
        expect(member.documents.total).toBe([...expected.values()].reduce((sum, count) => sum + count, 0));
        expect(member.documents.hasSearchReport).toBe(expected.has('searchReport'));
        expect(member.documents.hasExaminationReport).toBe(expected.has('examinationReport') || expected.has('officeAction'));
      }

      // The timeline, page by page: exactly the visible current documents of visible members, in date order.
      const events: TimelineEvent[] = [];
      const bodies: string[] = [familyResponse.body];
      let cursor: string | undefined;
      do {
        const response = await call(hub.app, 'GET', `/v1/families/${extendedId}/timeline?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token });
        expect(response.statusCode, response.body).toBe(200);
        bodies.push(response.body);
        const page = response.json<{ items: TimelineEvent[]; nextCursor?: string }>();
        events.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      expect(events.map((event) => event.date)).toEqual(events.map((event) => event.date).sort());
      expect(events.filter((event) => event.type === 'document').map((event) => event.document!.id).sort()).toEqual(current.map(([id]) => id).sort());
      expect(new Set(events.filter((event) => event.type === 'filing').map((event) => `${event.officeCode}:${event.applicationNumber}`))).toEqual(visibleApplications);
      const newestFirst = await call(hub.app, 'GET', `/v1/families/${extendedId}/timeline?limit=200&sort=date:desc`, { token });
      expect(newestFirst.json<{ items: TimelineEvent[] }>().items.map((event) => event.date)).toEqual(events.map((event) => event.date).reverse());

      // The citation matrix: citations of members whose citations the reader may read, none attached to a hidden document.
      const matrixResponse = await call(hub.app, 'GET', `/v1/families/${extendedId}/citations`, { token });
      if (readerName === 'anonymous') {
        expectProblem(matrixResponse, 401, 'AUTHENTICATION_REQUIRED');
      } else {
        expect(matrixResponse.statusCode, matrixResponse.body).toBe(200);
        bodies.push(matrixResponse.body);
        const matrix = matrixResponse.json<Matrix>();
        for (const row of matrix.rows) {
          for (const cell of row.byOffice) for (const by of cell.citedBy) if (by.documentId !== null) expect(visibleDocuments.has(by.documentId)).toBe(true);
          if (row.dossier) expect(visibleApplications.has(`${row.dossier.officeCode}:${row.dossier.applicationNumber}`), JSON.stringify(row.dossier)).toBe(true);
        }
        // Per-application citation lists (GET …/citations) are the oracle for what each member contributes.
        let expectedCitations = 0;
        for (const [office, number] of applications) {
          const response = await call(hub.app, 'GET', `/v1/applications/${office}/${number}/citations`, { token });
          if (response.statusCode === 200) expectedCitations += response.json<{ citations: unknown[] }>().citations.length;
        }
        expect(matrix.rows.reduce((sum, row) => sum + row.byOffice.reduce((n, cell) => n + cell.citedBy.length, 0), 0)).toBe(expectedCitations);
      }

      // No title of a hidden document appears anywhere.
      for (const title of hiddenTitles(visibleDocuments)) for (const body of bodies) expect(body, `${readerName} sees "${title}"`).not.toContain(title);
    });
  }

  it('consolidates the citations: each cited document against each citing office, with categories, claims and dossier links', async () => {
    const jp = await call(hub.app, 'GET', `/v1/families/${extendedId}/citations`, { token: readers.JP });
    const matrix = jp.json<Matrix>();
    expect(matrix.citingOffices).toEqual(['JP', 'US']);
    const ep = matrix.rows.find((row) => row.cited.officeCode === 'EP');
    expect(ep).toMatchObject({ cited: { type: 'patent', officeCode: 'EP', number: '3456789', kindCodes: ['A1', 'B1'] }, dossier: null });
    expect(ep?.byOffice.map(({ officeCode, categories, claims }) => ({ officeCode, categories, claims }))).toEqual([
      { officeCode: 'JP', categories: ['Y'], claims: ['5'] },
      { officeCode: 'US', categories: ['X', 'Y'], claims: ['1-3', '9'] },
    ]);
    // A cited publication of a member links to its dossier; that of an unpublished application does not, for JP.
    const own = matrix.rows.find((row) => row.cited.number === '20220800001');
    expect(own?.dossier).toMatchObject({ officeCode: 'US', applicationNumber: '16800001', href: '/v1/applications/US/16800001' });
    expect(matrix.rows.find((row) => row.cited.number === '20230800001')?.dossier).toBeNull();
    expect(matrix.rows.some((row) => row.cited.officeCode === 'GB')).toBe(false);
    // KR does not see the JP-restricted document, so neither the Y category nor claim 9 it carries; it sees the NPL of its own restricted document.
    const kr = (await call(hub.app, 'GET', `/v1/families/${extendedId}/citations`, { token: readers.KR })).json<Matrix>();
    expect(kr.rows.find((row) => row.cited.officeCode === 'EP')?.byOffice.find((cell) => cell.officeCode === 'US')).toMatchObject({ categories: ['X'], claims: ['1-3'] });
    expect(kr.rows.some((row) => row.cited.type === 'npl')).toBe(true);
    // The provider sees its unpublished member's citation and the link to its unpublished dossier.
    const us = (await call(hub.app, 'GET', `/v1/families/${extendedId}/citations`, { token: readers.US })).json<Matrix>();
    expect(us.rows.some((row) => row.cited.officeCode === 'GB')).toBe(true);
    expect(us.rows.find((row) => row.cited.number === '20230800001')?.dossier).toMatchObject({ officeCode: 'US', applicationNumber: '17800001' });
    // An office without the accessing role reads no other office's citations.
    expect((await call(hub.app, 'GET', `/v1/families/${extendedId}/citations`, { token: readers.CA })).json<Matrix>().rows).toEqual([]);
  });

  it('shows anonymous callers only the member with a public document of a consenting office', async () => {
    const family = (await call(hub.app, 'GET', `/v1/families/${extendedId}`)).json<Family>();
    expect(family.members).toEqual([
      expect.objectContaining({
        officeCode: 'US',
        applicationNumber: '16800001',
        documents: { total: 2, byCode: [{ documentCode: 'description', count: 1 }, { documentCode: 'searchReport', count: 1 }], hasSearchReport: true, hasExaminationReport: false },
      }),
    ]);
  });

  it('refuses a cursor it did not issue', async () => {
    expectProblem(await call(hub.app, 'GET', `/v1/families/${extendedId}/timeline?cursor=bogus`, { token: readers.JP }), 400, 'INVALID_CURSOR');
  });
});
