import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentDisposition, ifNoneMatchHits, ifRangeAllows, parseRange } from '../../src/dossier/http-download.js';
import { call, expectProblem, OPERATOR_ENV } from '../support/access.js';
import { biblio, depositOk, putBiblio, SAMPLE_PDF, SAMPLE_XML, seedDepositWorld, type DepositWorld } from '../support/deposits.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('HTTP download helpers (unit)', () => {
  it('reads one byte range against the size, ignoring what RFC 9110 lets a server ignore', () => {
    expect(parseRange(undefined, 100)).toEqual({ kind: 'whole' });
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'range', start: 0, end: 9 });
    expect(parseRange('bytes=90-200', 100)).toEqual({ kind: 'range', start: 90, end: 99 });
    expect(parseRange('bytes=95-', 100)).toEqual({ kind: 'range', start: 95, end: 99 });
    expect(parseRange('bytes=-5', 100)).toEqual({ kind: 'range', start: 95, end: 99 });
    expect(parseRange('bytes=-500', 100)).toEqual({ kind: 'range', start: 0, end: 99 });
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 100)).toEqual({ kind: 'unsatisfiable' });
    for (const ignored of ['bytes=5-1', 'items=0-1', 'bytes=0-1,5-6', 'bytes=abc', 'bytes=-']) expect(parseRange(ignored, 100), ignored).toEqual({ kind: 'whole' });
  });

  it('names the download after the title: a safe ASCII filename and the UTF-8 filename*', () => {
    expect(contentDisposition('Search report', 'application/pdf', 'x')).toBe(`attachment; filename="Search report.pdf"; filename*=UTF-8''Search%20report.pdf`);
    const header = contentDisposition('Rapport d’été "final" / v2\r\n', 'application/xml', 'x');
    const ascii = /filename="([^"]*)"/.exec(header)?.[1] ?? '';
    expect(ascii).toMatch(/^[A-Za-z0-9 ._-]+\.xml$/);
    expect(ascii).toBe('Rapport d_ete _final_ v2.xml');
    expect(decodeURIComponent(/filename\*=UTF-8''(.*)$/.exec(header)?.[1] ?? '')).toBe('Rapport d’été "final" v2.xml');
    expect(contentDisposition('特許調査報告', 'application/pdf', 'document-1')).toMatch(/^attachment; filename="document-1\.pdf"; filename\*=UTF-8''%E7%89%B9/);
  });
});

describe('HTTP download edge cases (unit)', () => {
  it('ranges: the first byte, a range that is the whole object, an empty object, huge numbers', () => {
    expect(parseRange('bytes=0-', 100)).toEqual({ kind: 'range', start: 0, end: 99 });
    expect(parseRange('bytes=99-99', 100)).toEqual({ kind: 'range', start: 99, end: 99 });
    expect(parseRange('BYTES = 1 - 2', 100)).toEqual({ kind: 'whole' });
    expect(parseRange('bytes= 1 - 2', 100)).toEqual({ kind: 'range', start: 1, end: 2 });
    expect(parseRange('bytes=0-0', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-1', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=9999999999999999-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-9999999999999999', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-9999999999', 100)).toEqual({ kind: 'range', start: 0, end: 99 });
  });

  it('entity tags: weak comparison for If-None-Match, strong (or a date) for If-Range', () => {
    const etag = '"abc"';
    expect(ifNoneMatchHits('W/"abc"', etag)).toBe(true);
    expect(ifNoneMatchHits('"abd", "abe"', etag)).toBe(false);
    expect(ifNoneMatchHits('', etag)).toBe(false);
    expect(ifRangeAllows('W/"abc"', etag, new Date())).toBe(false);
    expect(ifRangeAllows('"abc"', etag, new Date())).toBe(true);
    const modified = new Date('2024-05-06T07:08:09.500Z');
    expect(ifRangeAllows(modified.toUTCString(), etag, modified)).toBe(true);
    expect(ifRangeAllows(new Date('2024-05-06T07:08:08Z').toUTCString(), etag, modified)).toBe(false);
    expect(ifRangeAllows('not a date', etag, modified)).toBe(false);
  });

  it('file names: long titles are cut, empty or unprintable ones fall back, unknown types get .bin, RFC 5987 escapes', () => {
    const long = contentDisposition('x'.repeat(300), 'application/pdf', 'fallback');
    expect(/filename="(x+)\.pdf"/.exec(long)?.[1]?.length).toBe(100);
    expect(contentDisposition('   ', 'application/pdf', 'document-1')).toBe(`attachment; filename="document-1.pdf"; filename*=UTF-8''document-1.pdf`);
    expect(contentDisposition('\u0000\u0007', 'image/png', 'document-2')).toMatch(/^attachment; filename="document-2\.png"/);
    expect(contentDisposition('Report', 'application/x-unknown', 'x')).toMatch(/filename="Report\.bin"/);
    const escaped = contentDisposition("100% l'été (v2)*", 'application/pdf', 'x');
    expect(escaped).toContain(`filename*=UTF-8''100%25%20l%27%C3%A9t%C3%A9%20%28v2%29%2A.pdf`);
    expect(/filename="([^"]*)"/.exec(escaped)?.[1]).toBe('100_ l_ete _v2.pdf');
    // Nothing outside printable ASCII ever reaches the header.
    for (const title of ['a"b', 'a\\b', 'line\r\nSet-Cookie: x=1', '\u202eexe.pdf', '😀 emoji', '..', '../../etc/passwd']) {
      const header = contentDisposition(title, 'application/pdf', 'fallback');
      expect(header, title).toMatch(/^[\x20-\x7e]+$/);
      expect(/filename="([^"]*)"/.exec(header)?.[1], title).toMatch(/^[A-Za-z0-9 ._-]+\.pdf$/);
      expect(header, title).not.toMatch(/filename="[^"]*[/\\]/);
    }
  });
});

describeEachProfile('reading documents: GET /v1/documents/{id} and …/content', (profile) => {
  let hub: TestHub;
  let world: DepositWorld;
  let us: string;
  const docs: Record<string, string> = {};
  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    world = await seedDepositWorld(hub.app);
    us = world.us.examiners[0]?.token ?? '';
    expect((await putBiblio(hub.app, us, 'US', '17200001')).statusCode).toBe(201);
    expect((await putBiblio(hub.app, us, 'US', '17200002', biblio({ published: false }))).statusCode).toBe(201);
    const deposit = async (number: string, metadata: Record<string, unknown>, file = SAMPLE_PDF, contentType = 'application/pdf') =>
      (await depositOk(hub.app, 'US', number, { token: us, file, contentType, metadata: { documentCode: 'searchReport', documentDate: '2023-01-02', direction: 'outgoing', languageCode: 'en', title: 'Search report', ...metadata } })).document.id;
    docs.offices = await deposit('17200001', { title: 'Rapport d’été "final"' });
    docs.public = await deposit('17200001', { visibility: 'public' }, SAMPLE_XML, 'application/xml');
    docs.restricted = await deposit('17200001', { visibility: 'restricted', allowedOffices: ['JP'] });
    docs.withdrawn = await deposit('17200001', {});
    docs.unpublished = await deposit('17200002', { visibility: 'public' });
    expect((await call(hub.app, 'PATCH', `/v1/documents/${docs.withdrawn}`, { token: us, body: { status: 'withdrawn' } })).statusCode).toBe(200);
  });
  afterAll(async () => {
    await hub?.close();
  });

  const get = (id: string, token?: string, headers: Record<string, string> = {}) => call(hub.app, 'GET', `/v1/documents/${id}`, { token, headers });
  const content = (id: string, token?: string, headers: Record<string, string> = {}) => call(hub.app, 'GET', `/v1/documents/${id}/content`, { token, headers });
  /** 404 exactly as for an id that does not exist (same problem, apart from the request). */
  const expectHidden = (response: LightMyRequestResponse, id: string): void => {
    const problem = expectProblem(response, 404, 'DOCUMENT_NOT_FOUND');
    expect(problem.detail).toBe(`No document ${id}`);
  };

  it('shows the providing office every document, in every branch and state, with who deposited it', async () => {
    for (const token of [us, world.us.examiners[1]?.token, world.us.client.token, world.us.admin.token]) {
      for (const id of Object.values(docs)) {
        const response = await get(id, token);
        expect(response.statusCode, response.body).toBe(200);
        expect(response.json()).toHaveProperty('depositedBy');
        expect((await content(id, token)).statusCode).toBe(200);
      }
    }
  });

  it('shows other offices what the visibility rule lets them see, and 404 otherwise, as for an unknown id', async () => {
    const jp = world.jp.examiners[0]?.token;
    const kr = world.kr.examiners[0]?.token;
    const visible = await get(docs.offices ?? '', jp);
    expect(visible.statusCode).toBe(200);
    expect(visible.json()).not.toHaveProperty('depositedBy');
    expect(visible.json()).not.toHaveProperty('allowedOffices');
    expect((await get(docs.restricted ?? '', jp)).statusCode).toBe(200);
    expect((await get(docs.offices ?? '', kr)).statusCode).toBe(200);
    const unknown = '01890000-0000-7000-8000-000000000000';
    for (const [id, token] of [
      [docs.restricted, kr],
      [docs.unpublished, jp],
      [docs.withdrawn, jp],
      [unknown, jp],
    ] as const) {
      expectHidden(await get(id ?? '', token), id ?? '');
      expectHidden(await content(id ?? '', token), id ?? '');
    }
    // Public documents need the provider's consent for anonymous readers; the operator is no office.
    expectHidden(await get(docs.public ?? ''), docs.public ?? '');
    expectHidden(await get(docs.public ?? '', world.operator), docs.public ?? '');
    expect((await call(hub.app, 'PATCH', '/v1/offices/US', { token: world.operator, body: { publicAccess: true } })).statusCode).toBe(200);
    try {
      expect((await get(docs.public ?? '')).statusCode).toBe(200);
      expect((await content(docs.public ?? '')).body).toBe(SAMPLE_XML.toString('utf8'));
      expectHidden(await get(docs.offices ?? ''), docs.offices ?? '');
      expectHidden(await get(docs.unpublished ?? ''), docs.unpublished ?? '');
    } finally {
      await call(hub.app, 'PATCH', '/v1/offices/US', { token: world.operator, body: { publicAccess: false } });
    }
    // A suspended provider's documents disappear for others.
    expect((await call(hub.app, 'PATCH', '/v1/offices/US', { token: world.operator, body: { status: 'suspended' } })).statusCode).toBe(200);
    try {
      expectHidden(await get(docs.offices ?? '', jp), docs.offices ?? '');
    } finally {
      await call(hub.app, 'PATCH', '/v1/offices/US', { token: world.operator, body: { status: 'active' } });
    }
    expectProblem(await get('not-a-uuid', jp), 400, 'VALIDATION_FAILED');
  });

  it('streams the content with its type, length, ETag and a safe file name', async () => {
    const response = await content(docs.offices ?? '', world.jp.examiners[0]?.token);
    expect(response.statusCode).toBe(200);
    expect(response.rawPayload).toEqual(SAMPLE_PDF);
    expect(response.headers).toMatchObject({
      'content-type': 'application/pdf',
      'content-length': String(SAMPLE_PDF.length),
      etag: `"${sha256(SAMPLE_PDF)}"`,
      'accept-ranges': 'bytes',
      'x-content-type-options': 'nosniff',
    });
    const disposition = String(response.headers['content-disposition']);
    expect(disposition).toMatch(/^attachment; filename="[A-Za-z0-9 ._-]+\.pdf"; filename\*=UTF-8''/);
    expect(decodeURIComponent(/filename\*=UTF-8''(.*)$/.exec(disposition)?.[1] ?? '')).toBe('Rapport d’été "final".pdf');
    const xml = await content(docs.public ?? '', us);
    expect(xml.headers['content-type']).toBe('application/xml');
    expect(xml.headers['content-disposition']).toMatch(/filename="Search report\.xml"/);
  });

  it('answers If-None-Match with 304, and serves one byte range (206) or says 416', async () => {
    const id = docs.offices ?? '';
    const etag = `"${sha256(SAMPLE_PDF)}"`;
    const size = SAMPLE_PDF.length;
    for (const match of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const notModified = await content(id, us, { 'if-none-match': match });
      expect(notModified.statusCode, match).toBe(304);
      expect(notModified.rawPayload.length).toBe(0);
      expect(notModified.headers.etag).toBe(etag);
    }
    expect((await content(id, us, { 'if-none-match': '"other"' })).statusCode).toBe(200);

    const ranges: [string, number, number][] = [
      ['bytes=0-9', 0, 9],
      ['bytes=0-0', 0, 0],
      [`bytes=${size - 5}-`, size - 5, size - 1],
      ['bytes=-7', size - 7, size - 1],
      [`bytes=10-${size + 100}`, 10, size - 1],
    ];
    for (const [header, start, end] of ranges) {
      const partial = await content(id, us, { range: header });
      expect(partial.statusCode, header).toBe(206);
      expect(partial.rawPayload, header).toEqual(SAMPLE_PDF.subarray(start, end + 1));
      expect(partial.headers['content-range'], header).toBe(`bytes ${start}-${end}/${size}`);
      expect(partial.headers['content-length'], header).toBe(String(end - start + 1));
      expect(partial.headers['content-type']).toBe('application/pdf');
    }
    for (const header of [`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`, 'bytes=-0']) {
      const refused = expectProblem(await content(id, us, { range: header }), 416, 'RANGE_NOT_SATISFIABLE');
      expect(refused.size).toBe(size);
    }
    expect((await content(id, us, { range: `bytes=${size}-` })).headers['content-range']).toBe(`bytes */${size}`);
    // Several ranges, another unit or a malformed header: the whole document.
    for (const header of ['bytes=0-1,4-5', 'pages=1-2', 'bytes=x-y']) {
      const whole = await content(id, us, { range: header });
      expect(whole.statusCode, header).toBe(200);
      expect(whole.rawPayload).toEqual(SAMPLE_PDF);
    }
    // If-Range: the range only while the tag still matches.
    expect((await content(id, us, { range: 'bytes=0-9', 'if-range': etag })).statusCode).toBe(206);
    expect((await content(id, us, { range: 'bytes=0-9', 'if-range': '"stale"' })).statusCode).toBe(200);
  });

  it('handles conditional and partial requests together: If-None-Match before Range, If-Range by date, tags on every answer', async () => {
    const id = docs.offices ?? '';
    const etag = `"${sha256(SAMPLE_PDF)}"`;
    const size = SAMPLE_PDF.length;
    // A cached copy wins over a range: 304, no body.
    const cached = await content(id, us, { range: 'bytes=0-9', 'if-none-match': etag });
    expect(cached.statusCode).toBe(304);
    expect(cached.rawPayload.length).toBe(0);
    // The ETag, Accept-Ranges and Last-Modified come with 206; a 416 gives the size.
    const partial = await content(id, us, { range: 'bytes=0-' });
    expect(partial.statusCode).toBe(206);
    expect(partial.headers).toMatchObject({ etag, 'accept-ranges': 'bytes', 'content-range': `bytes 0-${size - 1}/${size}`, 'content-length': String(size) });
    expect(partial.headers['last-modified']).toBeTruthy();
    expect(partial.headers['content-disposition']).toMatch(/^attachment; filename=/);
    const refused = await content(id, us, { range: `bytes=${size}-${size}` });
    expect(refused.statusCode).toBe(416);
    expect(refused.headers).toMatchObject({ 'accept-ranges': 'bytes', 'content-range': `bytes */${size}` });
    // If-Range with the Last-Modified date: the range while unchanged; an older date gets the whole document.
    const lastModified = String(partial.headers['last-modified']);
    expect((await content(id, us, { range: 'bytes=5-9', 'if-range': lastModified })).statusCode).toBe(206);
    expect((await content(id, us, { range: 'bytes=5-9', 'if-range': new Date(Date.parse(lastModified) - 60_000).toUTCString() })).statusCode).toBe(200);
    // A weak tag never satisfies If-Range.
    expect((await content(id, us, { range: 'bytes=5-9', 'if-range': `W/${etag}` })).statusCode).toBe(200);
    // HEAD with a Range: the 206 headers, no bytes.
    const head = await hub.app.inject({ method: 'HEAD', url: `/v1/documents/${id}/content`, headers: { authorization: `Bearer ${us}`, range: 'bytes=0-9' } });
    expect(head.statusCode).toBe(206);
    expect(head.headers['content-length']).toBe('10');
    expect(head.rawPayload.length).toBe(0);
    // Hidden documents answer 404 before any condition is looked at: a matching tag or a range reveals nothing.
    const jp = world.jp.examiners[0]?.token;
    for (const headers of [{ 'if-none-match': '*' }, { range: 'bytes=0-0' }, { range: 'bytes=999999999-' }] as Record<string, string>[]) {
      expectHidden(await content(docs.unpublished ?? '', jp, headers), docs.unpublished ?? '');
    }
  });

  it('answers HEAD with the headers and no body', async () => {
    const response = await hub.app.inject({ method: 'HEAD', url: `/v1/documents/${docs.offices ?? ''}/content`, headers: { authorization: `Bearer ${us}` } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-length']).toBe(String(SAMPLE_PDF.length));
    expect(response.rawPayload.length).toBe(0);
  });
});
