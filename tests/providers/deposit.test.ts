import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LightMyRequestResponse } from 'fastify';
import { compactVerify, createLocalJWKSet, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FilesystemBlobStore } from '../../src/platform/storage/index.js';
import { call, expectProblem, OPERATOR_ENV } from '../support/access.js';
import {
  biblio,
  depositOk,
  depositState,
  depositUrl,
  jwksOf,
  METADATA,
  multipart,
  putBiblio,
  SAMPLE_JPEG,
  SAMPLE_PDF,
  SAMPLE_PNG,
  SAMPLE_TIFF,
  SAMPLE_XML,
  SAMPLE_ZIP,
  seedDepositWorld,
  upload,
  type Deposited,
  type DepositWorld,
} from '../support/deposits.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const NUMBER = '17123456';
const URL = depositUrl('US', NUMBER);

interface Change {
  action: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  reason: string | null;
  actor: { kind: string; id: string | null; branchId: string | null };
}

describeEachProfile('document deposits', (profile) => {
  let hub: TestHub;
  let world: DepositWorld;
  let examiner: string;
  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    world = await seedDepositWorld(hub.app);
    examiner = world.us.examiners[0]?.token ?? '';
    expect((await putBiblio(hub.app, examiner, 'US', NUMBER)).statusCode).toBe(201);
    expect((await putBiblio(hub.app, examiner, 'US', '17000001', biblio({ published: false }))).statusCode).toBe(201);
  });
  afterAll(async () => {
    await hub?.close();
  });

  const readBlob = async (key: string): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of await hub.app.storage.get(key)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const rowOf = async (id: string) =>
    (await hub.app.db.fork().getConnection().execute<{ storage_key: string; sha256: string; byte_size: string | number; status: string }[]>('select * from "document" where "id" = ?', [id]))[0];
  const changesOf = async (id: string, token = examiner): Promise<Change[]> => {
    const response = await call(hub.app, 'GET', `/v1/documents/${id}/changes`, { token });
    expect(response.statusCode, response.body).toBe(200);
    return response.json<{ items: Change[] }>().items;
  };

  describe('accepted uploads', () => {
    it('takes a multipart upload: 201 with the document and its receipt, bytes stored under documents/<office>/<yyyy>/<mm>/<id>', async () => {
      const response = await upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, metadata: { ...METADATA, pageCount: 2 } });
      expect(response.statusCode, response.body).toBe(201);
      const { document, receipt } = response.json<Deposited>();
      expect(response.headers.location).toBe(`/v1/documents/${document.id}`);
      expect(document).toMatchObject({
        officeCode: 'US',
        applicationNumber: NUMBER,
        documentCode: 'searchReport',
        documentDate: '2023-01-02',
        direction: 'outgoing',
        languageCode: 'en',
        title: 'Search report',
        pageCount: 2,
        mediaType: 'application/pdf',
        byteSize: SAMPLE_PDF.length,
        sha256: sha256(SAMPLE_PDF),
        visibility: 'offices',
        allowedOffices: [],
        status: 'active',
        version: 1,
        supersedesId: null,
        depositedBy: { kind: 'examiner', id: world.us.examiners[0]?.id, branchId: world.us.branches[0]?.id },
      });
      expect(receipt.split('.')).toHaveLength(3);
      const row = await rowOf(document.id);
      const now = new Date();
      expect(row?.storage_key).toBe(`documents/US/${now.getUTCFullYear()}/${String(now.getUTCMonth() + 1).padStart(2, '0')}/${document.id}`);
      expect(await readBlob(row?.storage_key ?? '')).toEqual(SAMPLE_PDF);
      expect((await changesOf(document.id)).map((change) => change.action)).toEqual(['deposited']);
    });

    it('takes the raw variant with the metadata in headers (title percent-encoded UTF-8 or RFC 8187)', async () => {
      const title = 'Rapport de recherche – été 2023';
      const response = await hub.app.inject({
        method: 'POST',
        url: URL,
        headers: {
          authorization: `Bearer ${world.us.client.token}`,
          'content-type': 'application/pdf',
          'document-code': 'writtenOpinion',
          'document-date': '2023-02-03',
          'document-direction': 'outgoing',
          'document-language': 'fr',
          'document-title': `UTF-8''${encodeURIComponent(title)}`,
          'page-count': '7',
          'document-visibility': 'restricted',
          'document-allowed-offices': 'jp, kr',
        },
        payload: SAMPLE_PDF,
      });
      expect(response.statusCode, response.body).toBe(201);
      expect(response.json<Deposited>().document).toMatchObject({
        title,
        documentCode: 'writtenOpinion',
        languageCode: 'fr',
        pageCount: 7,
        visibility: 'restricted',
        allowedOffices: ['JP', 'KR'],
        depositedBy: { kind: 'client', id: world.us.client.id, branchId: world.us.branches[0]?.id },
      });
      const plain = await upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, variant: 'raw', metadata: { ...METADATA, title: 'Søknad № 1' } });
      expect(plain.statusCode, plain.body).toBe(201);
      expect(plain.json<Deposited>().document.title).toBe('Søknad № 1');
    });

    it.each([
      ['XML', SAMPLE_XML, 'text/xml; charset=utf-8', 'application/xml'],
      ['XML (structured syntax)', SAMPLE_XML, 'application/st96+xml', 'application/xml'],
      ['PNG', SAMPLE_PNG, 'image/png', 'image/png'],
      ['JPEG', SAMPLE_JPEG, 'image/jpg', 'image/jpeg'],
      ['TIFF', SAMPLE_TIFF, 'image/tiff', 'image/tiff'],
    ])('accepts %s (declared as the 3rd value), stored as its canonical type', async (_name, file, declared, stored) => {
      for (const variant of ['multipart', 'raw'] as const) {
        const { document } = await depositOk(hub.app, 'US', NUMBER, { token: examiner, file, contentType: declared, variant });
        expect(document.mediaType).toBe(stored);
        expect(document.sha256).toBe(sha256(file));
      }
    });

    it('issues a receipt that verifies against /.well-known/jwks.json and states what was accepted', async () => {
      const { document, receipt } = await depositOk(hub.app, 'US', NUMBER, { token: world.us.client.token, file: SAMPLE_XML, contentType: 'application/xml' });
      const { payload, protectedHeader } = await compactVerify(receipt, createLocalJWKSet(await jwksOf(hub.app)), { algorithms: ['EdDSA'] });
      expect(protectedHeader.typ).toBe('dossier-receipt+jws');
      expect(decodeProtectedHeader(receipt).kid).toBeTruthy();
      const claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
      expect(claims).toEqual({
        iss: hub.config.auth.issuer,
        iat: expect.any(Number),
        documentId: document.id,
        officeCode: 'US',
        applicationNumber: NUMBER,
        documentCode: 'searchReport',
        version: 1,
        sha256: sha256(SAMPLE_XML),
        byteSize: SAMPLE_XML.length,
        mediaType: 'application/xml',
        receivedAt: document.receivedAt,
        depositor: { kind: 'client', id: world.us.client.id, branchId: world.us.branches[0]?.id },
      });
      // A tampered receipt does not verify.
      const [head, body, signature] = receipt.split('.');
      const forged = Buffer.from(JSON.stringify({ ...claims, byteSize: 1 })).toString('base64url');
      await expect(compactVerify(`${head}.${forged}.${signature}`, createLocalJWKSet(await jwksOf(hub.app)))).rejects.toThrow();
      expect(body).toBeTruthy();

      // The depositing branch (and the office administrator) can fetch it again; others cannot.
      for (const token of [world.us.client.token, examiner, world.us.admin.token]) {
        const again = await call(hub.app, 'GET', `/v1/documents/${document.id}/receipt`, { token });
        expect(again.statusCode, again.body).toBe(200);
        expect(again.json<{ receipt: string; payload: Record<string, unknown> }>()).toMatchObject({ receipt, payload: claims });
      }
      expectProblem(await call(hub.app, 'GET', `/v1/documents/${document.id}/receipt`, { token: world.us.examiners[1]?.token }), 404, 'RECEIPT_NOT_FOUND');
      expectProblem(await call(hub.app, 'GET', `/v1/documents/${document.id}/receipt`, { token: world.jp.examiners[0]?.token }), 403, 'OTHER_OFFICE_FORBIDDEN');
      expectProblem(await call(hub.app, 'GET', `/v1/documents/${document.id}/receipt`, { token: world.kr.examiners[0]?.token }), 403, 'OTHER_OFFICE_FORBIDDEN');
    });
  });

  describe('refused uploads: a problem document, and nothing stored', () => {
    const refusals: [string, () => Promise<LightMyRequestResponse>, number, string, string?][] = [
      ['bytes other than declared', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PNG, contentType: 'application/pdf' }), 415, 'MEDIA_TYPE_MISMATCH'],
      ['bytes other than declared (raw)', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, contentType: 'image/png', variant: 'raw' }), 415, 'MEDIA_TYPE_MISMATCH'],
      ['a declared type the hub does not take', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_ZIP, contentType: 'application/zip' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['a file part with no declared type', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, contentType: 'application/octet-stream' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['a raw body of a type the hub does not take', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_ZIP, contentType: 'application/zip', variant: 'raw' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['a raw text body', () => upload(hub.app, URL, { token: examiner, file: Buffer.from('hello'), contentType: 'text/plain', variant: 'raw' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['bytes of no known type', () => upload(hub.app, URL, { token: examiner, file: Buffer.from('just some text, not a PDF'), contentType: 'application/pdf' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['an empty document', () => upload(hub.app, URL, { token: examiner, file: Buffer.alloc(0), contentType: 'application/pdf' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [
        'the metadata after the file',
        () => {
          const body = multipart([
            { name: 'file', value: SAMPLE_PDF, filename: 'a.pdf', contentType: 'application/pdf' },
            { name: 'metadata', value: JSON.stringify(METADATA), contentType: 'application/json' },
          ]);
          return hub.app.inject({ method: 'POST', url: URL, headers: { authorization: `Bearer ${examiner}`, 'content-type': body.contentType }, payload: body.payload });
        },
        400,
        'METADATA_MUST_PRECEDE_FILE',
        '/multipart/metadata',
      ],
      [
        'no metadata',
        () => {
          const body = multipart([{ name: 'file', value: SAMPLE_PDF, filename: 'a.pdf', contentType: 'application/pdf' }]);
          return hub.app.inject({ method: 'POST', url: URL, headers: { authorization: `Bearer ${examiner}`, 'content-type': body.contentType }, payload: body.payload });
        },
        400,
        'METADATA_REQUIRED',
        '/multipart/metadata',
      ],
      [
        'no file',
        () => {
          const body = multipart([{ name: 'metadata', value: JSON.stringify(METADATA) }]);
          return hub.app.inject({ method: 'POST', url: URL, headers: { authorization: `Bearer ${examiner}`, 'content-type': body.contentType }, payload: body.payload });
        },
        400,
        'FILE_REQUIRED',
        '/multipart/file',
      ],
      [
        'a file sent as a plain field',
        () => {
          const body = multipart([
            { name: 'metadata', value: JSON.stringify(METADATA) },
            { name: 'file', value: '%PDF-1.4 not really', contentType: 'application/pdf' },
          ]);
          return hub.app.inject({ method: 'POST', url: URL, headers: { authorization: `Bearer ${examiner}`, 'content-type': body.contentType }, payload: body.payload });
        },
        400,
        'FILE_REQUIRED',
        '/multipart/file',
      ],
      [
        'a part of another name',
        () => {
          const body = multipart([
            { name: 'meta', value: JSON.stringify(METADATA) },
            { name: 'file', value: SAMPLE_PDF, filename: 'a.pdf', contentType: 'application/pdf' },
          ]);
          return hub.app.inject({ method: 'POST', url: URL, headers: { authorization: `Bearer ${examiner}`, 'content-type': body.contentType }, payload: body.payload });
        },
        400,
        'VALIDATION_FAILED',
        '/multipart/meta',
      ],
      ...(['text/plain', 'application/json'] as const).map(
        (type): [string, () => Promise<LightMyRequestResponse>, number, string, string] => [
          `malformed metadata JSON (sent as ${type})`,
          () => {
            const body = multipart([
              { name: 'metadata', value: '{"documentCode": "searchReport",', contentType: type },
              { name: 'file', value: SAMPLE_PDF, filename: 'a.pdf', contentType: 'application/pdf' },
            ]);
            return hub.app.inject({ method: 'POST', url: URL, headers: { authorization: `Bearer ${examiner}`, 'content-type': body.contentType }, payload: body.payload });
          },
          400,
          'MALFORMED_METADATA',
          '/multipart/metadata',
        ],
      ),
      ['metadata that is not an object', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, metadata: ['x'] as unknown as Record<string, unknown> }), 400, 'VALIDATION_FAILED', '/metadata'],
      ['an impossible document date', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, metadata: { ...METADATA, documentDate: '2023-02-29' } }), 400, 'VALIDATION_FAILED', '/metadata/documentDate'],
      ['a language that is not ISO 639-1', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, metadata: { ...METADATA, languageCode: 'english' } }), 400, 'VALIDATION_FAILED', '/metadata/languageCode'],
      ['an unknown direction', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, metadata: { ...METADATA, direction: 'sideways' } }), 400, 'VALIDATION_FAILED', '/metadata/direction'],
      ['no title', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, metadata: { ...METADATA, title: undefined } }), 400, 'VALIDATION_FAILED', '/metadata/title'],
      ['an unknown metadata field', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, metadata: { ...METADATA, colour: 'red' } }), 400, 'VALIDATION_FAILED', '/metadata/colour'],
      ['a bad page count (raw)', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, variant: 'raw', metadata: { ...METADATA, pageCount: 'many' } }), 400, 'VALIDATION_FAILED', '/headers/page-count'],
      ['a bad date header (raw)', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, variant: 'raw', metadata: { ...METADATA, documentDate: '02/01/2023' } }), 400, 'VALIDATION_FAILED', '/headers/document-date'],
      ['no document code header (raw)', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, variant: 'raw', metadata: { ...METADATA, documentCode: undefined } }), 400, 'VALIDATION_FAILED', '/headers/document-code'],
      [
        'a title header that is not percent-encoded UTF-8 (raw)',
        () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, variant: 'raw', headers: { 'document-title': '%E9t%E9' } }),
        400,
        'VALIDATION_FAILED',
        '/headers/document-title',
      ],
      ['an unknown document code', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, metadata: { ...METADATA, documentCode: 'poem' } }), 422, 'UNKNOWN_DOCUMENT_CODE', '/metadata/documentCode'],
      [
        'allowed offices without restricted visibility',
        () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, metadata: { ...METADATA, visibility: 'offices', allowedOffices: ['JP'] } }),
        422,
        'INVALID_DOCUMENT_METADATA',
        '/metadata/allowedOffices',
      ],
      [
        'an allowed office that is not ST.3',
        () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, metadata: { ...METADATA, visibility: 'restricted', allowedOffices: ['JP', 'QQ'] } }),
        422,
        'INVALID_DOCUMENT_METADATA',
        '/metadata/allowedOffices/1',
      ],
      ['an Idempotency-Key over 200 characters', () => upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, idempotencyKey: 'k'.repeat(201) }), 400, 'VALIDATION_FAILED', '/headers/idempotency-key'],
      ['an application the hub does not hold', () => upload(hub.app, depositUrl('US', '17999999'), { token: examiner, file: SAMPLE_PDF }), 404, 'APPLICATION_NOT_FOUND'],
      ['an application number of no known shape', () => upload(hub.app, depositUrl('US', 'ABC-1'), { token: examiner, file: SAMPLE_PDF }), 422, 'UNRECOGNISED_NUMBER'],
      ['an office administrator', () => upload(hub.app, URL, { token: world.us.admin.token, file: SAMPLE_PDF }), 403, 'DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT'],
      ['the operator', () => upload(hub.app, URL, { token: world.operator, file: SAMPLE_PDF }), 403, 'DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT'],
      ['another office', () => upload(hub.app, URL, { token: world.jp.client.token, file: SAMPLE_PDF }), 403, 'OTHER_OFFICE_FORBIDDEN'],
      ['an office that does not provide', () => upload(hub.app, depositUrl('KR', '10-2020-0012345'), { token: world.kr.examiners[0]?.token, file: SAMPLE_PDF }), 403, 'OFFICE_NOT_PROVIDING'],
      ['an anonymous caller', () => upload(hub.app, URL, { token: undefined, file: SAMPLE_PDF }), 401, 'AUTHENTICATION_REQUIRED'],
    ];

    it.each(refusals)('refuses %s', async (_what, send, status, errorCode, field) => {
      const before = await depositState(hub.app);
      const problem = expectProblem(await send(), status, errorCode);
      if (field !== undefined) expect((problem.errors as { field: string }[] | undefined)?.map((error) => error.field), JSON.stringify(problem)).toContain(field);
      expect(await depositState(hub.app)).toEqual(before);
    });

    it('lists the allowed codes when the document code is unknown', async () => {
      const problem = expectProblem(await upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, metadata: { ...METADATA, documentCode: 'poem' } }), 422, 'UNKNOWN_DOCUMENT_CODE');
      expect(problem.allowed).toEqual(expect.arrayContaining(['searchReport', 'writtenOpinion', 'examinationReport', 'officeAction', 'claims', 'priorityDocument', 'other']));
    });

    it('deletes the blob when the deposit cannot be recorded', async () => {
      const keys = hub.app.signingKeys;
      const original = keys.signJws;
      keys.signJws = () => Promise.reject(new Error('signing unavailable'));
      try {
        const before = await depositState(hub.app);
        const response = await upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF });
        expect(response.statusCode).toBe(500);
        expect(await depositState(hub.app)).toEqual(before);
      } finally {
        keys.signJws = original;
      }
    });
  });

  describe('Idempotency-Key', () => {
    it('returns the same document and receipt for a retry of the same request, storing nothing more', async () => {
      const first = await upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, idempotencyKey: 'retry-1' });
      expect(first.statusCode).toBe(201);
      const before = await depositState(hub.app);
      // The same request again, and the same request as a raw upload: one deposit.
      for (const variant of ['multipart', 'raw'] as const) {
        const again = await upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, idempotencyKey: 'retry-1', variant });
        expect(again.statusCode, again.body).toBe(201);
        expect(again.headers['idempotent-replayed']).toBe('true');
        expect(again.json<Deposited>()).toEqual(first.json<Deposited>());
      }
      expect(await depositState(hub.app)).toEqual(before);
    });

    it('refuses the key with other content or other metadata (409), storing nothing', async () => {
      await depositOk(hub.app, 'US', NUMBER, { token: examiner, file: SAMPLE_PDF, idempotencyKey: 'retry-2' });
      const before = await depositState(hub.app);
      expectProblem(await upload(hub.app, URL, { token: examiner, file: SAMPLE_XML, contentType: 'application/xml', idempotencyKey: 'retry-2' }), 409, 'IDEMPOTENCY_KEY_REUSED');
      expectProblem(await upload(hub.app, URL, { token: examiner, file: Buffer.concat([SAMPLE_PDF, Buffer.from('\n')]), idempotencyKey: 'retry-2' }), 409, 'IDEMPOTENCY_KEY_REUSED');
      expectProblem(await upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, metadata: { ...METADATA, title: 'Other' }, idempotencyKey: 'retry-2' }), 409, 'IDEMPOTENCY_KEY_REUSED');
      // Another branch of the office is another depositor.
      expectProblem(await upload(hub.app, URL, { token: world.us.examiners[1]?.token, file: SAMPLE_PDF, idempotencyKey: 'retry-2' }), 409, 'IDEMPOTENCY_KEY_REUSED');
      expect(await depositState(hub.app)).toEqual(before);
    });

    it('makes concurrent duplicates one document', async () => {
      const before = await depositState(hub.app);
      // Hold every upload at the store until all have passed the idempotency pre-check: the unique key decides.
      const store = hub.app.storage;
      const original = store.put.bind(store);
      let waiting = 0;
      let release: () => void = () => undefined;
      const allThere = new Promise<void>((resolve) => {
        release = resolve;
      });
      store.put = async (...args) => {
        waiting += 1;
        if (waiting === 4) release();
        await allThere;
        return original(...args);
      };
      let responses: LightMyRequestResponse[];
      try {
        responses = await Promise.all([0, 1, 2, 3].map(() => upload(hub.app, URL, { token: examiner, file: SAMPLE_PNG, contentType: 'image/png', idempotencyKey: 'race-1' })));
      } finally {
        store.put = original;
      }
      expect(waiting).toBe(4);
      for (const response of responses) expect(response.statusCode, response.body).toBe(201);
      const bodies = responses.map((response) => response.json<Deposited>());
      expect(new Set(bodies.map((body) => body.document.id)).size).toBe(1);
      expect(new Set(bodies.map((body) => body.receipt)).size).toBe(1);
      const after = await depositState(hub.app);
      expect(after.tables.document).toBe((before.tables.document ?? 0) + 1);
      expect(after.blobs.length).toBe(before.blobs.length + 1);
    });
  });

  describe('corrections, changes and withdrawal', () => {
    it('makes a correction version 2, superseding version 1, with the change history of both', async () => {
      const { document: first } = await depositOk(hub.app, 'US', NUMBER, { token: examiner, file: SAMPLE_PDF, metadata: { ...METADATA, pageCount: 2 } });
      const corrected = await upload(hub.app, `/v1/documents/${first.id}/versions`, {
        token: world.us.examiners[1]?.token,
        file: SAMPLE_XML,
        contentType: 'application/xml',
        metadata: { title: 'Search report (corrected)', reason: 'Wrong citation category' },
      });
      expect(corrected.statusCode, corrected.body).toBe(201);
      const second = corrected.json<Deposited>().document;
      expect(second).toMatchObject({ version: 2, supersedesId: first.id, status: 'active', title: 'Search report (corrected)', documentCode: 'searchReport', pageCount: 2, mediaType: 'application/xml' });
      const old = await call(hub.app, 'GET', `/v1/documents/${first.id}`, { token: examiner });
      expect(old.json()).toMatchObject({ status: 'superseded', supersededById: second.id });

      expect(await changesOf(first.id)).toMatchObject([
        { action: 'deposited', actor: { kind: 'examiner', id: world.us.examiners[0]?.id } },
        { action: 'superseded', before: { status: 'active' }, after: { status: 'superseded', supersededById: second.id }, reason: 'Wrong citation category', actor: { id: world.us.examiners[1]?.id } },
      ]);
      expect(await changesOf(second.id)).toMatchObject([{ action: 'deposited', before: { documentId: first.id, version: 1 }, reason: 'Wrong citation category' }]);

      // A superseded version is history: it is neither corrected again nor changed.
      const before = await depositState(hub.app);
      expectProblem(await upload(hub.app, `/v1/documents/${first.id}/versions`, { token: examiner, file: SAMPLE_PDF, metadata: {} }), 409, 'DOCUMENT_SUPERSEDED');
      expectProblem(await call(hub.app, 'PATCH', `/v1/documents/${first.id}`, { token: examiner, body: { status: 'withdrawn' } }), 409, 'DOCUMENT_SUPERSEDED');
      expect(await depositState(hub.app)).toEqual(before);

      // The raw variant corrects too.
      const third = await hub.app.inject({
        method: 'POST',
        url: `/v1/documents/${second.id}/versions`,
        headers: { authorization: `Bearer ${world.us.client.token}`, 'content-type': 'application/pdf', 'document-change-reason': encodeURIComponent('Page 2 was missing') },
        payload: SAMPLE_PDF,
      });
      expect(third.statusCode, third.body).toBe(201);
      expect(third.json<Deposited>().document).toMatchObject({ version: 3, supersedesId: second.id, mediaType: 'application/pdf', title: 'Search report (corrected)' });
    });

    it('lets only the providing office’s examiners and clients correct', async () => {
      const { document } = await depositOk(hub.app, 'US', NUMBER, { token: examiner, file: SAMPLE_PDF });
      const { document: hidden } = await depositOk(hub.app, 'US', '17000001', { token: examiner, file: SAMPLE_PDF });
      const before = await depositState(hub.app);
      const version = (id: string, token: string | undefined) => upload(hub.app, `/v1/documents/${id}/versions`, { token, file: SAMPLE_PDF, metadata: {} });
      expectProblem(await version(document.id, world.us.admin.token), 403, 'DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT');
      expectProblem(await version(document.id, world.jp.examiners[0]?.token), 403, 'OTHER_OFFICE_FORBIDDEN');
      // A document of an unpublished application does not exist for other offices.
      expectProblem(await version(hidden.id, world.jp.examiners[0]?.token), 404, 'DOCUMENT_NOT_FOUND');
      expectProblem(await version('01890000-0000-7000-8000-000000000000', examiner), 404, 'DOCUMENT_NOT_FOUND');
      expectProblem(await upload(hub.app, `/v1/documents/${document.id}/versions`, { token: examiner, file: SAMPLE_PDF, metadata: { languageCode: 'EN' } }), 400, 'VALIDATION_FAILED');
      expect(await depositState(hub.app)).toEqual(before);
    });

    it('changes visibility and allowed offices, withdraws and reinstates, recording who, when and what', async () => {
      const { document } = await depositOk(hub.app, 'US', NUMBER, { token: examiner, file: SAMPLE_PDF });
      const patch = (body: Record<string, unknown>, token = examiner) => call(hub.app, 'PATCH', `/v1/documents/${document.id}`, { token, body });

      const restricted = await patch({ visibility: 'restricted', allowedOffices: ['jp'] });
      expect(restricted.statusCode, restricted.body).toBe(200);
      expect(restricted.json()).toMatchObject({ visibility: 'restricted', allowedOffices: ['JP'] });
      const withdrawn = await patch({ status: 'withdrawn', reason: 'Filed in the wrong dossier' }, world.us.client.token);
      expect(withdrawn.json()).toMatchObject({ status: 'withdrawn' });
      // The office administrator may act on its office's documents too.
      expect((await patch({ status: 'active' }, world.us.admin.token)).json()).toMatchObject({ status: 'active' });
      // Leaving `restricted` clears the allowed offices.
      expect((await patch({ visibility: 'offices' })).json()).toMatchObject({ visibility: 'offices', allowedOffices: [] });
      // Nothing to change: no change recorded.
      expect((await patch({ visibility: 'offices' })).statusCode).toBe(200);

      const changes = await changesOf(document.id, world.us.examiners[1]?.token);
      expect(changes).toMatchObject([
        { action: 'deposited' },
        { action: 'updated', before: { visibility: 'offices', allowedOffices: [] }, after: { visibility: 'restricted', allowedOffices: ['JP'] }, actor: { kind: 'examiner', id: world.us.examiners[0]?.id } },
        { action: 'withdrawn', before: { status: 'active' }, after: { status: 'withdrawn' }, reason: 'Filed in the wrong dossier', actor: { kind: 'client', id: world.us.client.id } },
        { action: 'reinstated', after: { status: 'active' }, actor: { kind: 'officeAdmin', id: world.us.admin.id, branchId: null } },
        { action: 'updated', before: { visibility: 'restricted', allowedOffices: ['JP'] }, after: { visibility: 'offices', allowedOffices: [] } },
      ]);
      const page = await call(hub.app, 'GET', `/v1/documents/${document.id}/changes?limit=2`, { token: examiner });
      const { items, nextCursor } = page.json<{ items: Change[]; nextCursor?: string }>();
      expect(items).toHaveLength(2);
      const rest = await call(hub.app, 'GET', `/v1/documents/${document.id}/changes?limit=10&cursor=${nextCursor ?? ''}`, { token: examiner });
      expect(rest.json<{ items: Change[] }>().items).toHaveLength(3);
    });

    it('refuses bad changes and other offices, changing nothing', async () => {
      const { document } = await depositOk(hub.app, 'US', NUMBER, { token: examiner, file: SAMPLE_PDF });
      const { document: hidden } = await depositOk(hub.app, 'US', '17000001', { token: examiner, file: SAMPLE_PDF });
      const patch = (id: string, body: Record<string, unknown>, token: string | undefined = examiner) => call(hub.app, 'PATCH', `/v1/documents/${id}`, { token, body });
      const before = await depositState(hub.app);
      const cases: [Promise<LightMyRequestResponse>, number, string][] = [
        [patch(document.id, {}), 400, 'VALIDATION_FAILED'],
        [patch(document.id, { status: 'superseded' }), 400, 'VALIDATION_FAILED'],
        [patch(document.id, { visibility: 'everyone' }), 400, 'VALIDATION_FAILED'],
        [patch(document.id, { allowedOffices: ['JP'] }), 422, 'INVALID_DOCUMENT_METADATA'],
        [patch(document.id, { visibility: 'restricted', allowedOffices: ['Q1'] }), 400, 'VALIDATION_FAILED'],
        [patch(document.id, { visibility: 'restricted', allowedOffices: ['QQ'] }), 422, 'INVALID_DOCUMENT_METADATA'],
        [patch(document.id, { status: 'withdrawn' }, world.jp.examiners[0]?.token), 403, 'OTHER_OFFICE_FORBIDDEN'],
        [patch(hidden.id, { status: 'withdrawn' }, world.jp.examiners[0]?.token), 404, 'DOCUMENT_NOT_FOUND'],
        [patch(document.id, { status: 'withdrawn' }, world.operator), 403, 'OPERATION_NOT_PERMITTED'],
        [call(hub.app, 'PATCH', `/v1/documents/${document.id}`, { body: { status: 'withdrawn' } }), 401, 'AUTHENTICATION_REQUIRED'],
        [call(hub.app, 'GET', `/v1/documents/${hidden.id}/changes`, { token: world.jp.examiners[0]?.token }), 404, 'DOCUMENT_NOT_FOUND'],
        [call(hub.app, 'GET', `/v1/documents/${document.id}/changes`, { token: world.jp.examiners[0]?.token }), 403, 'OTHER_OFFICE_FORBIDDEN'],
      ];
      for (const [response, status, errorCode] of cases) expectProblem(await response, status, errorCode);
      expect(await depositState(hub.app)).toEqual(before);
    });
  });

  describe('document codes', () => {
    it('lists the vocabulary to anyone signed in, and lets the operator extend it', async () => {
      const list = await call(hub.app, 'GET', '/v1/document-codes?limit=200', { token: world.jp.client.token });
      expect(list.statusCode).toBe(200);
      expect(list.json<{ items: { code: string; builtIn: boolean }[] }>().items).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'searchReport', builtIn: true })]));
      expectProblem(await call(hub.app, 'GET', '/v1/document-codes'), 401, 'AUTHENTICATION_REQUIRED');

      expectProblem(await upload(hub.app, URL, { token: examiner, file: SAMPLE_PDF, metadata: { ...METADATA, documentCode: 'translation' } }), 422, 'UNKNOWN_DOCUMENT_CODE');
      const created = await call(hub.app, 'POST', '/v1/document-codes', { token: world.operator, body: { code: 'translation', label: 'Translation', description: 'A translation of a document' } });
      expect(created.statusCode, created.body).toBe(201);
      expect(created.json()).toMatchObject({ code: 'translation', builtIn: false });
      await depositOk(hub.app, 'US', NUMBER, { token: examiner, file: SAMPLE_PDF, metadata: { ...METADATA, documentCode: 'translation' } });

      expectProblem(await call(hub.app, 'POST', '/v1/document-codes', { token: world.operator, body: { code: 'translation', label: 'Again' } }), 409, 'DOCUMENT_CODE_EXISTS');
      expectProblem(await call(hub.app, 'POST', '/v1/document-codes', { token: world.operator, body: { code: 'Bad Code', label: 'x' } }), 400, 'VALIDATION_FAILED');
      expectProblem(await call(hub.app, 'POST', '/v1/document-codes', { token: examiner, body: { code: 'other2', label: 'x' } }), 403, 'OPERATION_NOT_PERMITTED');
    });
  });

  describe('streaming over HTTP', () => {
    let port: number;
    beforeAll(async () => {
      await hub.app.listen({ port: 0, host: '127.0.0.1' });
      port = (hub.app.server.address() as AddressInfo).port;
    });

    /** Sends `head`, then `body` chunk by chunk; resolves with the status and parsed body. */
    const send = (headers: Record<string, string | number>, parts: Buffer[]): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const request = http.request({ host: '127.0.0.1', port, method: 'POST', path: URL, headers }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        });
        request.on('error', reject);
        void (async () => {
          for (const part of parts) {
            for (let offset = 0; offset < part.length; offset += 256 * 1024) {
              if (!request.write(part.subarray(offset, offset + 256 * 1024))) await new Promise((drained) => request.once('drain', drained));
            }
          }
          request.end();
        })();
      });

    const download = (id: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; sha256: string; bytes: Buffer | null }> =>
      new Promise((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: `/v1/documents/${id}/content`, headers: { authorization: `Bearer ${examiner}`, ...headers } }, (response) => {
            const hash = createHash('sha256');
            const kept: Buffer[] = [];
            let size = 0;
            response.on('data', (chunk: Buffer) => {
              hash.update(chunk);
              size += chunk.length;
              if (size <= 1024 * 1024) kept.push(chunk);
            });
            response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, sha256: hash.digest('hex'), bytes: size <= 1024 * 1024 ? Buffer.concat(kept) : null }));
          })
          .on('error', reject);
      });

    it('round-trips a document larger than the S3 part size with the right SHA-256, in both variants', async () => {
      const big = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(12 * 1024 * 1024)]);
      const digest = sha256(big);
      const raw = await send(
        { authorization: `Bearer ${examiner}`, 'content-type': 'application/pdf', 'content-length': big.length, 'document-code': 'description', 'document-date': '2023-03-04', 'document-direction': 'incoming', 'document-language': 'en', 'document-title': 'Description' },
        [big],
      );
      const form = multipart([
        { name: 'metadata', value: JSON.stringify(METADATA), contentType: 'application/json' },
        { name: 'file', value: big, filename: 'big.pdf', contentType: 'application/pdf' },
      ]);
      const viaMultipart = await send({ authorization: `Bearer ${examiner}`, 'content-type': form.contentType, 'content-length': form.payload.length }, [form.payload]);
      for (const result of [raw, viaMultipart]) {
        expect(result.status, result.body).toBe(201);
        const { document } = JSON.parse(result.body) as Deposited;
        expect(document).toMatchObject({ byteSize: big.length, sha256: digest });
        const whole = await download(document.id);
        expect(whole).toMatchObject({ status: 200, sha256: digest });
        expect(whole.headers['content-length']).toBe(String(big.length));
        // A range across the first part boundary (5 MiB) of the S3 profile.
        const start = 5 * 1024 * 1024 - 10;
        const range = await download(document.id, { range: `bytes=${start}-${start + 19}` });
        expect(range.status).toBe(206);
        expect(range.headers['content-range']).toBe(`bytes ${start}-${start + 19}/${big.length}`);
        expect(range.bytes).toEqual(big.subarray(start, start + 20));
      }
    });

    it('stores nothing from an upload the client abandons midway', async () => {
      const store = hub.app.storage;
      const original = store.put.bind(store);
      const puts: Promise<unknown>[] = [];
      store.put = (...args) => {
        const attempt = original(...args);
        puts.push(attempt.then(() => 'stored', (error: unknown) => error));
        return attempt;
      };
      try {
        const declared = 8 * 1024 * 1024;
        const content = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(declared)]);
        const form = multipart([
          { name: 'metadata', value: JSON.stringify(METADATA), contentType: 'application/json' },
          { name: 'file', value: content, filename: 'big.pdf', contentType: 'application/pdf' },
        ]);
        const fileStart = form.payload.indexOf('%PDF-1.7');
        const variants: { headers: Record<string, string | number>; sent: Buffer }[] = [
          {
            headers: { 'content-type': 'application/pdf', 'content-length': content.length, 'document-code': 'claims', 'document-date': '2023-03-04', 'document-direction': 'incoming', 'document-language': 'en', 'document-title': 'Claims' },
            sent: content.subarray(0, 6 * 1024 * 1024),
          },
          { headers: { 'content-type': form.contentType, 'content-length': form.payload.length }, sent: form.payload.subarray(0, fileStart + 6 * 1024 * 1024) },
        ];
        for (const [index, variant] of variants.entries()) {
          const before = await depositState(hub.app);
          const request = http.request({ host: '127.0.0.1', port, method: 'POST', path: URL, headers: { authorization: `Bearer ${examiner}`, ...variant.headers } });
          request.on('error', () => undefined);
          try {
            request.write(variant.sent);
            // Wait until the hub is streaming into the store, then cut the connection.
            for (let waited = 0; puts.length <= index && waited < 10_000; waited += 20) await sleep(20);
            expect(puts.length).toBe(index + 1);
            await sleep(50);
          } finally {
            request.destroy();
          }
          const outcome = await puts[index];
          expect(outcome).toMatchObject({ errorCode: 'UPLOAD_INCOMPLETE' });
          expect(await depositState(hub.app)).toEqual(before);
          if (store.driver === 'filesystem') expect(await readdir(path.join((store as FilesystemBlobStore).root, '.tmp'))).toEqual([]);
        }
      } finally {
        store.put = original;
      }
    });
  });

  describe('limits and interrupted uploads', () => {
    let small: TestHub;
    let smallWorld: DepositWorld;
    const LIMIT = 4096;
    beforeAll(async () => {
      small = await startTestHub(profile, { ...OPERATOR_ENV, UPLOAD_LIMIT_BYTES: String(LIMIT) });
      smallWorld = await seedDepositWorld(small.app);
      expect((await putBiblio(small.app, smallWorld.us.client.token, 'US', NUMBER)).statusCode).toBe(201);
    });
    afterAll(async () => {
      await small?.close();
    });
    const pdfOf = (size: number): Buffer => Buffer.concat([SAMPLE_PDF, Buffer.alloc(size - SAMPLE_PDF.length, 0x20)]);
    const tempFiles = async (): Promise<string[]> => (small.app.storage.driver === 'filesystem' ? readdir(path.join((small.app.storage as FilesystemBlobStore).root, '.tmp')) : []);

    it('refuses a document over UPLOAD_LIMIT_BYTES with 413, in both variants, storing nothing', async () => {
      const before = await depositState(small.app);
      for (const variant of ['multipart', 'raw'] as const) {
        const problem = expectProblem(await upload(small.app, URL, { token: smallWorld.us.client.token, file: pdfOf(LIMIT + 1), variant }), 413, 'DOCUMENT_TOO_LARGE');
        expect(problem.limit).toBe(LIMIT);
      }
      expect(await depositState(small.app)).toEqual(before);
      expect(await tempFiles()).toEqual([]);

      // Over a real connection the client gets the 413 while it is still sending.
      await small.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (small.app.server.address() as AddressInfo).port;
      const big = pdfOf(2 * 1024 * 1024);
      const form = multipart([
        { name: 'metadata', value: JSON.stringify(METADATA), contentType: 'application/json' },
        { name: 'file', value: big, filename: 'big.pdf', contentType: 'application/pdf' },
      ]);
      const overHttp: [Record<string, string | number>, Buffer][] = [
        [{ 'content-type': 'application/pdf', 'content-length': big.length, 'document-code': 'claims', 'document-date': '2023-03-04', 'document-direction': 'incoming', 'document-language': 'en', 'document-title': 'Claims' }, big],
        [{ 'content-type': form.contentType, 'content-length': form.payload.length }, form.payload],
      ];
      for (const [headers, whole] of overHttp) {
        const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const request = http.request({ host: '127.0.0.1', port, method: 'POST', path: URL, headers: { authorization: `Bearer ${smallWorld.us.client.token}`, ...headers } }, (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          });
          request.on('error', reject);
          // A client that sends its whole body without waiting for an early answer, as most do.
          void (async () => {
            for (let offset = 0; offset < whole.length; offset += 64 * 1024) {
              if (!request.write(whole.subarray(offset, offset + 64 * 1024))) await new Promise((drained) => request.once('drain', drained));
            }
            request.end();
          })();
        });
        expect(answer.status).toBe(413);
        expect(JSON.parse(answer.body)).toMatchObject({ errorCode: 'DOCUMENT_TOO_LARGE', limit: LIMIT });
        expect(await depositState(small.app)).toEqual(before);
        expect(await tempFiles()).toEqual([]);
      }

      // The limit itself is allowed.
      for (const variant of ['multipart', 'raw'] as const) {
        const { document } = await depositOk(small.app, 'US', NUMBER, { token: smallWorld.us.client.token, file: pdfOf(LIMIT), variant });
        expect(document.byteSize).toBe(LIMIT);
      }
    });
  });
});
