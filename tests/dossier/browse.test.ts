import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { numberCandidates } from '../../src/dossier/search.service.js';
import { call, expectProblem, OPERATOR_ENV } from '../support/access.js';
import { biblio, depositOk, putBiblio, SAMPLE_PDF, SAMPLE_XML, seedDepositWorld, type DepositWorld } from '../support/deposits.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

interface Summary {
  officeCode: string;
  applicationNumber: string;
  displayNumber: string;
  filingDate: string;
  titles: { languageCode: string; text: string }[];
  applicants: { name: string }[];
  published: boolean;
  updatedAt: string;
}
interface Page<T> {
  items: T[];
  nextCursor?: string;
}
interface DocumentSummary {
  id: string;
  documentCode: string;
  documentDate: string;
  direction: string;
  languageCode: string;
  title: string;
  mediaType: string;
  byteSize: number;
  sha256: string;
  visibility: string;
  status: string;
  version: number;
}

describe('number candidates (unit)', () => {
  it('reads a number every way it may be meant: application and publication, across offices', () => {
    expect(numberCandidates('JP 2010-001234')).toEqual({ applications: [{ officeCode: 'JP', number: '2010001234' }], publications: [{ officeCode: 'JP', number: '2010001234' }] });
    expect(numberCandidates('US 2022/0123456 A1')).toEqual({ applications: [], publications: [{ officeCode: 'US', number: '20220123456' }] });
    expect(numberCandidates('17123456', 'US').applications).toEqual([{ officeCode: 'US', number: '17123456' }]);
    expect(numberCandidates('PCT/CN2023/123456')).toEqual({ applications: [{ officeCode: 'WO', number: 'CN2023123456' }], publications: [] });
    // An office without number rules: the plain canonical form, as deposits keep it.
    expect(numberCandidates('DE 10 2020 123 456.7').applications).toEqual([{ officeCode: 'DE', number: '1020201234567' }]);
    expect(() => numberCandidates('not a number')).toThrow(/expected/);
    expect(() => numberCandidates('17123456')).toThrow(/which office/);
  });
});

describeEachProfile('browsing: search, application records and dossier lists', (profile) => {
  let hub: TestHub;
  let world: DepositWorld;
  let us: string;
  let jp: string;
  let kr: string;
  const docs: Record<string, string> = {};

  const get = (url: string, token?: string): Promise<LightMyRequestResponse> => call(hub.app, 'GET', url, { token });
  const search = async (query: Record<string, string>, token?: string): Promise<Page<Summary>> => {
    const response = await get(`/v1/applications?${new URLSearchParams(query).toString()}`, token);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<Page<Summary>>();
  };
  const keys = (page: Page<Summary>): string[] => page.items.map((item) => `${item.officeCode} ${item.applicationNumber}`);
  const deposit = async (office: 'US' | 'JP', number: string, metadata: Record<string, unknown>, file = SAMPLE_PDF, contentType = 'application/pdf'): Promise<string> => {
    const token = office === 'US' ? us : jp;
    return (
      await depositOk(hub.app, office, number, {
        token,
        file,
        contentType,
        metadata: { documentCode: 'searchReport', documentDate: '2023-01-02', direction: 'outgoing', languageCode: 'en', title: 'Search report', ...metadata },
      })
    ).document.id;
  };

  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    world = await seedDepositWorld(hub.app);
    us = world.us.examiners[0]?.token ?? '';
    jp = world.jp.examiners[0]?.token ?? '';
    kr = world.kr.examiners[0]?.token ?? '';
    const put = async (token: string, office: string, number: string, overrides: Record<string, unknown>) => {
      const response = await putBiblio(hub.app, token, office, number, biblio({ priorityClaims: [], publications: [], ipc: [], cpc: [], ...overrides }));
      expect(response.statusCode, response.body).toBe(201);
    };
    await put(us, 'US', 'US 17/123,456', {
      filingDate: '2021-03-04',
      titles: [{ languageCode: 'en', text: 'Widget with a sprocket' }],
      applicants: [{ name: 'Acme Corp.' }],
      ipc: ['H04L 9/32'],
      cpc: ['H04L 9/3247'],
      publications: [
        { number: 'US 2022/0123456 A1', date: '2022-09-08' },
        { number: 'WO 2021/123456', kindCode: 'A1', officeCode: 'WO', date: '2021-06-24' },
      ],
    });
    await put(us, 'US', '17123457', { filingDate: '2020-05-06', titles: [{ languageCode: 'en', text: 'Gearbox lubrication' }], applicants: [{ name: 'Zenith Motors' }], ipc: ['F16H 57/04'], cpc: [] });
    await put(us, 'US', '17123458', { filingDate: '2022-07-08', titles: [{ languageCode: 'en', text: 'Secret sprocket, unpublished' }], applicants: [{ name: 'Hidden Labs' }], published: false });
    await put(jp, 'JP', '特願2010-001234', {
      filingDate: '2010-01-15',
      titles: [
        { languageCode: 'ja', text: '歯車装置' },
        { languageCode: 'en', text: 'Gear device with sprocket' },
      ],
      applicants: [{ name: 'Kabushiki Kaisha Haguruma' }],
      ipc: ['F16H 1/28'],
      publications: [{ number: 'JP 2011-123456 A', date: '2011-07-01' }],
    });
    // Enough applications to page through.
    for (let index = 0; index < 9; index += 1) {
      await put(us, 'US', `1650000${index}`, { filingDate: `2019-0${(index % 3) + 1}-1${index}`, titles: [{ languageCode: 'en', text: `Pager item ${index}` }], applicants: [{ name: 'Pager Inc.' }] });
    }

    docs.report = await deposit('US', '17123456', { documentCode: 'searchReport', documentDate: '2022-01-10', direction: 'outgoing', title: 'Search report' });
    docs.opinion = await deposit('US', '17123456', { documentCode: 'writtenOpinion', documentDate: '2022-01-10', direction: 'outgoing', title: 'Written opinion' }, SAMPLE_XML, 'application/xml');
    docs.claims = await deposit('US', '17123456', { documentCode: 'claims', documentDate: '2021-03-04', direction: 'incoming', title: 'Claims as filed' });
    docs.reply = await deposit('US', '17123456', { documentCode: 'applicantReply', documentDate: '2022-06-30', direction: 'incoming', title: 'Reply' });
    docs.internal = await deposit('US', '17123456', { documentCode: 'other', documentDate: '2022-02-01', direction: 'internal', title: 'Internal note', visibility: 'restricted', allowedOffices: ['JP'] });
    docs.public = await deposit('US', '17123457', { documentCode: 'grant', documentDate: '2023-05-05', direction: 'outgoing', title: 'Grant', visibility: 'public' });
    docs.hidden = await deposit('US', '17123458', { documentCode: 'searchReport', documentDate: '2023-02-02', title: 'Report of the unpublished application', visibility: 'public' });
    docs.jp = await deposit('JP', '2010-001234', { documentCode: 'officeAction', documentDate: '2011-01-01', direction: 'outgoing', title: 'Notice of reasons for refusal', languageCode: 'ja' });
  });
  afterAll(async () => {
    await hub?.close();
  });

  describe('number lookup', () => {
    it('finds an application by any spelling of its application number, and by its publication numbers, across offices', async () => {
      for (const number of ['US 17/123,456', 'US17123456', 'us 17/123456', 'US 2022/0123456 A1', 'US20220123456A1', 'US 2022/0123456', 'WO 2021/123456 A1', 'WO2021123456']) {
        expect(keys(await search({ number }, jp)), number).toEqual(['US 17123456']);
      }
      expect(keys(await search({ number: '17123456', officeCode: 'us' }, jp))).toEqual(['US 17123456']);
      for (const number of ['JP 2010-001234', '特願2010-001234', '特願平22-001234', '平成22年特許願第001234号', 'JP 2011-123456 A', '特開2011-123456', 'JP2011-123456']) {
        expect(keys(await search({ number }, us)), number).toEqual(['JP 2010001234']);
      }
      expect((await search({ number: 'US 99/999,999' }, jp)).items).toEqual([]);
    });

    it('refuses a number of no accepted shape with 422 naming the expected forms', async () => {
      const problem = expectProblem(await get('/v1/applications?number=banana', jp), 422, 'UNRECOGNISED_NUMBER');
      expect(problem.expected).toEqual(expect.arrayContaining([expect.stringContaining('CN')]));
      expectProblem(await get('/v1/applications?number=17123456', jp), 422, 'UNRECOGNISED_NUMBER');
      expectProblem(await get(`/v1/applications?number=${encodeURIComponent('JP 2010-001234')}&officeCode=US`, jp), 422, 'OFFICE_MISMATCH');
    });
  });

  describe('full text', () => {
    it('matches words of titles (any language) and of applicant names', async () => {
      expect(keys(await search({ q: 'sprocket' }, kr)).sort()).toEqual(['JP 2010001234', 'US 17123456']);
      expect(keys(await search({ q: 'ACME' }, kr))).toEqual(['US 17123456']);
      expect(keys(await search({ q: '"Zenith Motors"' }, kr))).toEqual(['US 17123457']);
      expect(keys(await search({ q: '歯車装置' }, kr))).toEqual(['JP 2010001234']);
      expect(keys(await search({ q: 'sprocket -gear' }, kr))).toEqual(['US 17123456']);
      expect(keys(await search({ q: 'sprocket', officeCode: 'JP' }, kr))).toEqual(['JP 2010001234']);
      expect((await search({ q: 'nonexistentword' }, kr)).items).toEqual([]);
    });

    it('combines number and q', async () => {
      expect(keys(await search({ number: 'US 17/123,456', q: 'widget' }, kr))).toEqual(['US 17123456']);
      expect((await search({ number: 'US 17/123,456', q: 'gearbox' }, kr)).items).toEqual([]);
    });
  });

  describe('filters and sorting', () => {
    it('filters by office, filing date range, IPC and CPC prefixes, and a document code the caller may see', async () => {
      expect(keys(await search({ officeCode: 'JP' }, kr))).toEqual(['JP 2010001234']);
      expect(keys(await search({ filedFrom: '2020-01-01', filedTo: '2021-12-31' }, kr)).sort()).toEqual(['US 17123456', 'US 17123457']);
      expect(keys(await search({ ipc: 'F16H' }, kr)).sort()).toEqual(['JP 2010001234', 'US 17123457']);
      expect(keys(await search({ ipc: 'F16H 57/' }, kr))).toEqual(['US 17123457']);
      expect(keys(await search({ ipc: 'f16h57/04' }, kr))).toEqual(['US 17123457']);
      expect(keys(await search({ cpc: 'H04L9/32' }, kr))).toEqual(['US 17123456']);
      expect(keys(await search({ documentCode: 'grant' }, kr))).toEqual(['US 17123457']);
      expect(keys(await search({ documentCode: 'officeAction' }, kr))).toEqual(['JP 2010001234']);
      // The restricted note is JP's to see, not KR's: it makes its application a hit for JP only.
      expect(keys(await search({ documentCode: 'other' }, jp))).toEqual(['US 17123456']);
      expect((await search({ documentCode: 'other' }, kr)).items).toEqual([]);
      expectProblem(await get('/v1/applications?filedFrom=2022-01-01&filedTo=2021-01-01', kr), 422, 'INVALID_DATE_RANGE');
      expectProblem(await get('/v1/applications?filedFrom=2022-02-30', kr), 400, 'VALIDATION_FAILED');
      expectProblem(await get('/v1/applications?ipc=%25', kr), 400, 'VALIDATION_FAILED');
      expectProblem(await get('/v1/applications?sort=title:asc', kr), 400, 'VALIDATION_FAILED');
    });

    it('sorts by each whitelisted field both ways and pages through everything without duplicates or gaps', async () => {
      const everything = keys(await search({ limit: '200' }, kr));
      expect(everything.length).toBe(12);
      expect(everything).not.toContain('US 17123458');
      for (const sort of ['filingDate:desc', 'filingDate:asc', 'applicationNumber:asc', 'applicationNumber:desc', 'updatedAt:desc', 'updatedAt:asc']) {
        const seen: Summary[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await search({ sort, limit: '5', ...(cursor ? { cursor } : {}) }, kr);
          expect(page.items.length).toBeLessThanOrEqual(5);
          seen.push(...page.items);
          cursor = page.nextCursor;
          pages += 1;
        } while (cursor !== undefined && pages < 10);
        const order = seen.map((item) => `${item.officeCode} ${item.applicationNumber}`);
        expect(new Set(order).size, sort).toBe(order.length);
        expect([...order].sort(), sort).toEqual([...everything].sort());
        expect(pages, sort).toBe(3);
        const [field, direction] = sort.split(':') as ['filingDate' | 'applicationNumber' | 'updatedAt', string];
        const values = seen.map((item) => item[field]);
        const sorted = [...values].sort();
        expect(values, sort).toEqual(direction === 'asc' ? sorted : sorted.reverse());
      }
    });

    it('refuses a cursor it did not issue, or one of another sort, with 400', async () => {
      const first = await search({ sort: 'filingDate:desc', limit: '2' }, kr);
      expectProblem(await get(`/v1/applications?sort=updatedAt:desc&cursor=${first.nextCursor ?? ''}`, kr), 400, 'INVALID_CURSOR');
      expectProblem(await get('/v1/applications?cursor=not-a-cursor', kr), 400, 'INVALID_CURSOR');
      const forged = Buffer.from(JSON.stringify(['filingDate:desc', '2021-02-30', '01890000-0000-7000-8000-000000000000'])).toString('base64url');
      expectProblem(await get(`/v1/applications?cursor=${forged}`, kr), 400, 'INVALID_CURSOR');
      expectProblem(await get('/v1/applications?limit=201', kr), 400, 'VALIDATION_FAILED');
      expectProblem(await get('/v1/applications?limit=0', kr), 400, 'VALIDATION_FAILED');
    });
  });

  describe('one application', () => {
    it('gives bibliographic data, publications, priorities, and the dossier and citations as the caller sees them', async () => {
      const response = await get(`/v1/applications/US/${encodeURIComponent('US 17/123,456')}`, kr);
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toMatchObject({
        officeCode: 'US',
        applicationNumber: '17123456',
        displayNumber: 'US 17/123,456',
        filingDate: '2021-03-04',
        applicants: [{ name: 'Acme Corp.' }],
        publications: [
          { officeCode: 'US', number: '20220123456', kindCode: 'A1', date: '2022-09-08' },
          { officeCode: 'WO', number: '2021123456', kindCode: 'A1', date: '2021-06-24' },
        ],
        priorityClaims: [],
        published: true,
        // KR may not see the note restricted to JP.
        documents: { count: 4, latestDocumentDate: '2022-06-30' },
        citations: { total: 0, patent: 0, nonPatent: 0, byCategory: {} },
      });
      expect((await get('/v1/applications/US/17123456', jp)).json()).toMatchObject({ documents: { count: 5 } });
      expect((await get('/v1/applications/US/17123456', us)).json()).toMatchObject({ documents: { count: 5 } });
    });

    it('counts citations without those attached to a document the caller may not see', async () => {
      const put = await call(hub.app, 'PUT', '/v1/applications/US/17123456/citations', {
        token: us,
        body: {
          citations: [
            { type: 'patent', officeCode: 'JP', number: 'JP 2011-123456 A', categories: ['X', 'Y'], documentId: docs.report },
            { type: 'npl', text: 'A textbook', categories: ['A'] },
            { type: 'patent', officeCode: 'EP', number: 'EP 3456789 A1', categories: ['X'], documentId: docs.internal },
          ],
        },
      });
      expect(put.statusCode, put.body).toBe(200);
      expect((await get('/v1/applications/US/17123456', kr)).json()).toMatchObject({ citations: { total: 2, patent: 1, nonPatent: 1, byCategory: { X: 1, Y: 1, A: 1 } } });
      expect((await get('/v1/applications/US/17123456', jp)).json()).toMatchObject({ citations: { total: 3, patent: 2, byCategory: { X: 2 } } });
    });

    it('shows anonymous callers only applications with a public document of a consenting office, without citations', async () => {
      const hidden = (response: LightMyRequestResponse) => expectProblem(response, 404, 'APPLICATION_NOT_FOUND');
      hidden(await get('/v1/applications/US/17123457'));
      expect((await search({ q: 'gearbox' })).items).toEqual([]);
      expect((await call(hub.app, 'PATCH', '/v1/offices/US', { token: world.operator, body: { publicAccess: true } })).statusCode).toBe(200);
      try {
        const response = await get('/v1/applications/US/17123457');
        expect(response.statusCode, response.body).toBe(200);
        expect(response.json()).toMatchObject({ documents: { count: 1 }, citations: null });
        expect(keys(await search({ q: 'gearbox' }))).toEqual(['US 17123457']);
        expect(keys(await search({}, world.operator))).toEqual(['US 17123457']);
        const list = await get('/v1/applications/US/17123457/documents');
        expect(list.json<Page<DocumentSummary>>().items.map((item) => item.id)).toEqual([docs.public]);
        hidden(await get('/v1/applications/US/17123456'));
        hidden(await get('/v1/applications/US/17123456/documents'));
      } finally {
        await call(hub.app, 'PATCH', '/v1/offices/US', { token: world.operator, body: { publicAccess: false } });
      }
    });
  });

  describe('an unpublished application', () => {
    const unknown = '17999999';
    it('is invisible to other offices: 404 exactly as for an unknown number, absent from search and counts', async () => {
      for (const token of [jp, kr, world.jp.admin.token, world.jp.client.token, world.operator, undefined]) {
        for (const suffix of ['', '/documents']) {
          const hidden = expectProblem(await get(`/v1/applications/US/17123458${suffix}`, token), 404, 'APPLICATION_NOT_FOUND');
          const absent = expectProblem(await get(`/v1/applications/US/${unknown}${suffix}`, token), 404, 'APPLICATION_NOT_FOUND');
          expect(hidden.detail.replace('17123458', unknown).replace('123,458', '999,999')).toBe(absent.detail);
        }
        expect((await search({ number: 'US 17/123,458' }, token)).items).toEqual([]);
        expect((await search({ q: 'unpublished' }, token)).items).toEqual([]);
        expect(keys(await search({ q: 'sprocket' }, token))).not.toContain('US 17123458');
        expectProblem(await get(`/v1/documents/${docs.hidden ?? ''}`, token), 404, 'DOCUMENT_NOT_FOUND');
      }
      const coverage = (await get('/v1/offices/US/coverage')).json<{ applications: { total: number }; documents: { total: number } }>();
      expect(coverage.applications.total).toBe(11);
    });

    it('stays visible to its own office, in search and in its dossier', async () => {
      expect(keys(await search({ number: 'US 17/123,458' }, us))).toEqual(['US 17123458']);
      expect(keys(await search({ q: 'unpublished' }, world.us.client.token))).toEqual(['US 17123458']);
      const record = await get('/v1/applications/US/17123458', world.us.admin.token);
      expect(record.json()).toMatchObject({ published: false, documents: { count: 1 } });
      expect((await get('/v1/applications/US/17123458/documents', us)).json<Page<DocumentSummary>>().items.map((item) => item.id)).toEqual([docs.hidden]);
    });
  });

  describe('the dossier list', () => {
    const list = async (query: Record<string, string>, token: string | undefined, number = '17123456', office = 'US'): Promise<Page<DocumentSummary>> => {
      const response = await get(`/v1/applications/${office}/${number}/documents?${new URLSearchParams(query).toString()}`, token);
      expect(response.statusCode, response.body).toBe(200);
      return response.json<Page<DocumentSummary>>();
    };
    const ids = (page: Page<DocumentSummary>) => page.items.map((item) => item.id);

    it('lists the documents the caller may see, newest first (the id breaks ties), with their summary fields', async () => {
      const page = await list({}, jp);
      // Same date: the later id (deposited later) first.
      expect(ids(page)).toEqual([docs.reply, docs.internal, docs.opinion, docs.report, docs.claims]);
      expect(page.nextCursor).toBeUndefined();
      expect(page.items[2]).toEqual({
        id: docs.opinion,
        documentCode: 'writtenOpinion',
        documentDate: '2022-01-10',
        direction: 'outgoing',
        languageCode: 'en',
        title: 'Written opinion',
        pageCount: null,
        mediaType: 'application/xml',
        byteSize: SAMPLE_XML.length,
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        visibility: 'offices',
        status: 'active',
        version: 1,
      });
      expect(ids(await list({}, kr))).toEqual([docs.reply, docs.opinion, docs.report, docs.claims]);
      expect(ids(await list({ sort: 'documentDate:asc' }, kr))).toEqual([docs.claims, docs.report, docs.opinion, docs.reply]);
      expect(ids(await list({ direction: 'incoming' }, us, '2010-001234', 'JP'))).toEqual([]);
      expect(ids(await list({}, us, '2010-001234', 'JP'))).toEqual([docs.jp]);
    });

    it('filters by document code, direction and date, and accepts any spelling of the number', async () => {
      expect(ids(await list({ documentCode: 'writtenOpinion' }, kr))).toEqual([docs.opinion]);
      expect(ids(await list({ direction: 'incoming' }, kr))).toEqual([docs.reply, docs.claims]);
      expect(ids(await list({ direction: 'internal' }, kr))).toEqual([]);
      expect(ids(await list({ direction: 'internal' }, jp))).toEqual([docs.internal]);
      expect(ids(await list({ from: '2022-01-10', to: '2022-02-01' }, jp))).toEqual([docs.internal, docs.opinion, docs.report]);
      expect(ids(await list({}, kr, encodeURIComponent('US 17/123,456')))).toEqual([docs.reply, docs.opinion, docs.report, docs.claims]);
      expectProblem(await get('/v1/applications/US/17123456/documents?direction=sideways', kr), 400, 'VALIDATION_FAILED');
    });

    it('pages with keyset cursors without duplicates or gaps, both ways', async () => {
      for (const sort of ['documentDate:desc', 'documentDate:asc']) {
        const all = ids(await list({ sort }, jp));
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await list({ sort, limit: '2', ...(cursor ? { cursor } : {}) }, jp);
          seen.push(...ids(page));
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        expect(seen).toEqual(all);
      }
      const first = await list({ limit: '2' }, jp);
      expectProblem(await get(`/v1/applications/US/17123456/documents?sort=documentDate:asc&cursor=${first.nextCursor ?? ''}`, jp), 400, 'INVALID_CURSOR');
    });

    it('leaves withdrawn and superseded documents to the providing office', async () => {
      const withdrawn = await deposit('US', '17123457', { documentCode: 'other', documentDate: '2023-06-06', title: 'To be withdrawn' });
      expect((await call(hub.app, 'PATCH', `/v1/documents/${withdrawn}`, { token: us, body: { status: 'withdrawn' } })).statusCode).toBe(200);
      expect(ids(await list({}, kr, '17123457'))).toEqual([docs.public]);
      expect(ids(await list({}, us, '17123457'))).toEqual([withdrawn, docs.public]);
      expect((await list({}, us, '17123457')).items[0]?.status).toBe('withdrawn');
      expect((await get('/v1/applications/US/17123457', kr)).json()).toMatchObject({ documents: { count: 1 } });
    });
  });
});
