import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { deflateRawSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import { compactVerify, createLocalJWKSet } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Environment } from '../../src/platform/config.js';
import { uuidv7 } from '../../src/platform/ids.js';
import { PackageEntity } from '../../src/providers/package.entity.js';
import { processPackage, type PackageJobDeps } from '../../src/providers/package.job.js';
import { call, expectProblem, OPERATOR_ENV } from '../support/access.js';
import { biblio, blobKeys, countRows, jwksOf, putBiblio, SAMPLE_PDF, SAMPLE_XML, seedDepositWorld, type DepositWorld } from '../support/deposits.js';
import { describeEachProfile, startHub, startTestHub, type TestHub } from '../support/hub.js';
import { buildPdf } from '../support/pdf.js';
import { buildZip, UNIX_SYMLINK, unixAttributes, type ZipWriterEntry } from '../support/zip-writer.js';

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Small caps, so that the hostile cases stay cheap: 8 MiB per document, 60 entries, 16 MiB uncompressed, 24 MiB zips. */
const LIMITS_ENV: Environment = {
  UPLOAD_LIMIT_BYTES: String(8 * MiB),
  PACKAGE_MAX_ENTRIES: '60',
  PACKAGE_MAX_UNCOMPRESSED_BYTES: String(16 * MiB),
  PACKAGE_LIMIT_BYTES: String(24 * MiB),
};

interface EntryResult {
  kind: string;
  reference: string;
  status: string;
  field?: string;
  documentId?: string;
  receipt?: string;
  sha256?: string;
  replayed?: boolean;
  created?: boolean;
  errorCode?: string;
  detail?: string;
  errors?: { field: string; message: string }[];
}
interface PackageBody {
  id: string;
  officeCode: string;
  branchId: string;
  submittedBy: { kind: string; id: string; branchId: string };
  status: string;
  progress: { done: number; total: number };
  byteSize: number;
  sha256: string;
  error: { errorCode: string; detail: string; errors?: { field: string; message: string }[] } | null;
  results: EntryResult[];
  startedAt: string | null;
  finishedAt: string | null;
}

const FINAL = ['completed', 'failed', 'refused'];

/** A PDF whose bytes are unique (its text names `label`). */
const pdfOf = (label: string): Buffer => buildPdf([[`Package document ${label}`, randomBytes(8).toString('hex')]]);

function documentItem(applicationNumber: string, path: string, title: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    applicationNumber,
    path,
    mediaType: 'application/pdf',
    metadata: { documentCode: 'searchReport', documentDate: '2023-01-02', direction: 'outgoing', languageCode: 'en', title },
    ...overrides,
  };
}

const manifestEntry = (manifest: unknown): ZipWriterEntry => ({ name: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) });

describeEachProfile('bulk deposit packages: POST /v1/packages', (profile) => {
  let hub: TestHub;
  let world: DepositWorld;
  let client: string;
  /** An application every hostile-case package deposits into. */
  const BASE = '17499999';

  beforeAll(async () => {
    hub = await startTestHub(profile, { ...OPERATOR_ENV, ...LIMITS_ENV });
    world = await seedDepositWorld(hub.app);
    client = world.us.client.token;
    expect((await putBiblio(hub.app, client, 'US', BASE)).statusCode).toBe(201);
  });
  afterAll(async () => {
    await hub?.close();
  });

  /** POST /v1/packages as the US client, or with this token (null: anonymous). */
  const submit = (zip: Buffer, token: string | null = client, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    call(hub.app, 'POST', '/v1/packages', { token: token ?? undefined, body: zip, headers: { 'content-type': 'application/zip', ...headers } });

  const getPackage = (id: string, token = client): Promise<LightMyRequestResponse> => call(hub.app, 'GET', `/v1/packages/${id}`, { token });

  const zipKey = (id: string): string => `packages/US/${id}.zip`;

  async function waitForFinal(id: string): Promise<PackageBody> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const response = await getPackage(id);
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json<PackageBody>();
      // The job writes the final status, then deletes the zip: a poller can see the one before the other.
      if (FINAL.includes(body.status) && (await hub.app.storage.stat(zipKey(id))) === null) return body;
      if (Date.now() > deadline) throw new Error(`package ${id} is still ${body.status}, or its zip is still stored`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async function processed(zip: Buffer): Promise<PackageBody> {
    const response = await submit(zip);
    expect(response.statusCode, response.body).toBe(202);
    const accepted = response.json<PackageBody>();
    expect(response.headers.location).toBe(`/v1/packages/${accepted.id}`);
    return waitForFinal(accepted.id);
  }

  /** The document rows and blobs, to compare before and after a package. */
  async function storedState(): Promise<{ documents: number; applications: number; blobs: string[]; packageBlobs: string[] }> {
    const packageBlobs: string[] = [];
    for await (const blob of hub.app.storage.list('packages/')) packageBlobs.push(blob.key);
    return { documents: await countRows(hub.app, 'document'), applications: await countRows(hub.app, 'application'), blobs: await blobKeys(hub.app), packageBlobs };
  }

  const documentRow = async (id: string) =>
    (await hub.app.db.fork().getConnection().execute<{ id: string; title: string; storage_key: string; sha256: string }[]>('select "id", "title", "storage_key", "sha256" from "document" where "id" = ?', [id]))[0];
  const rowsTitled = async (title: string): Promise<number> =>
    Number((await hub.app.db.fork().getConnection().execute<{ count: string | number }[]>('select count(*) as count from "document" where "title" = ?', [title]))[0]?.count ?? 0);

  async function download(id: string, token = client): Promise<Buffer> {
    const response = await call(hub.app, 'GET', `/v1/documents/${id}/content`, { token });
    expect(response.statusCode, response.body).toBe(200);
    return response.rawPayload;
  }

  it('deposits a valid package: applications, PDF and XML documents (streamed from the zip, with receipts that verify) and citations', async () => {
    const claims = pdfOf('claims');
    const manifest = {
      applications: [
        { applicationNumber: '17400001', ...biblio() },
        { officeCode: 'US', applicationNumber: 'US 17/400,002', ...biblio({ titles: [{ languageCode: 'en', text: 'Second application' }], priorityClaims: [] }) },
      ],
      documents: [
        documentItem('17400001', 'US17400001/search-report.pdf', 'Search report of 17400001'),
        documentItem('17400001', 'US17400001/opinion.xml', 'Written opinion of 17400001', {
          mediaType: 'application/xml',
          metadata: { documentCode: 'writtenOpinion', documentDate: '2023-01-03', direction: 'outgoing', languageCode: 'en', title: 'Written opinion of 17400001', visibility: 'public' },
        }),
        documentItem('17400002', 'US17400002/claims.pdf', 'Claims of 17400002', {
          metadata: { documentCode: 'claims', documentDate: '2022-05-06', direction: 'incoming', languageCode: 'en', title: 'Claims of 17400002', visibility: 'restricted', allowedOffices: ['JP'], pageCount: 1 },
        }),
      ],
      citations: [
        {
          applicationNumber: '17400001',
          citations: [
            { type: 'patent', officeCode: 'US', number: '2019/0001234', kindCode: 'A1', categories: ['X'], claims: '1-3', documentPath: 'US17400001/search-report.pdf' },
            { type: 'npl', text: 'Smith, Sprockets, 2019', categories: ['A'] },
          ],
        },
        { applicationNumber: '17400002', citations: [{ type: 'npl', text: 'Jones, Widgets, 2020', categories: ['Y'] }] },
      ],
    };
    const files: Record<string, Buffer> = {
      'US17400001/search-report.pdf': SAMPLE_PDF,
      'US17400001/opinion.xml': SAMPLE_XML,
      'US17400002/claims.pdf': claims,
    };
    const zip = buildZip([
      manifestEntry(manifest),
      { name: 'US17400001/', data: Buffer.alloc(0), method: 'store' },
      { name: 'US17400001/search-report.pdf', data: SAMPLE_PDF, method: 'store' },
      { name: 'US17400001/opinion.xml', data: SAMPLE_XML },
      { name: 'US17400002/claims.pdf', data: claims },
    ]);
    const before = await storedState();

    const response = await submit(zip);
    expect(response.statusCode, response.body).toBe(202);
    const accepted = response.json<PackageBody>();
    expect(accepted).toMatchObject({
      officeCode: 'US',
      branchId: world.us.branches[0]?.id,
      submittedBy: { kind: 'client', id: world.us.client.id, branchId: world.us.branches[0]?.id },
      status: 'queued',
      byteSize: zip.length,
      sha256: sha256(zip),
      error: null,
      results: [],
    });

    const done = await waitForFinal(accepted.id);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(done.progress).toEqual({ done: 7, total: 7 });
    expect(done.finishedAt).not.toBeNull();
    expect(done.results.map((result) => [result.kind, result.reference, result.status])).toEqual([
      ['application', '17400001', 'accepted'],
      ['application', 'US 17/400,002', 'accepted'],
      ['document', 'US17400001/search-report.pdf', 'accepted'],
      ['document', 'US17400001/opinion.xml', 'accepted'],
      ['document', 'US17400002/claims.pdf', 'accepted'],
      ['citations', '17400001', 'accepted'],
      ['citations', '17400002', 'accepted'],
    ]);
    expect(done.results.filter((result) => result.kind === 'application').map((result) => result.created)).toEqual([true, true]);

    // Every document is in the hub with the zip entry's exact bytes, and its receipt verifies and states them.
    const jwks = createLocalJWKSet(await jwksOf(hub.app));
    for (const result of done.results.filter((entry) => entry.kind === 'document')) {
      const bytes = files[result.reference] as Buffer;
      const document = await call(hub.app, 'GET', `/v1/documents/${result.documentId ?? ''}`, { token: client });
      expect(document.statusCode, document.body).toBe(200);
      expect(document.json()).toMatchObject({ sha256: sha256(bytes), byteSize: bytes.length, depositedBy: { kind: 'client', id: world.us.client.id } });
      expect(sha256(await download(result.documentId ?? ''))).toBe(sha256(bytes));
      expect(result.sha256).toBe(sha256(bytes));
      const { payload } = await compactVerify(result.receipt ?? '', jwks, { algorithms: ['EdDSA'] });
      expect(JSON.parse(new TextDecoder().decode(payload))).toMatchObject({ documentId: result.documentId, officeCode: 'US', sha256: sha256(bytes), byteSize: bytes.length });
    }
    const opinion = done.results.find((result) => result.reference === 'US17400001/opinion.xml');
    expect((await call(hub.app, 'GET', `/v1/documents/${opinion?.documentId ?? ''}`, { token: client })).json()).toMatchObject({ mediaType: 'application/xml', visibility: 'public', documentCode: 'writtenOpinion' });

    // The citation that named a document of the package by its path is attached to it.
    const searchReport = done.results.find((result) => result.reference === 'US17400001/search-report.pdf');
    const citations = await call(hub.app, 'GET', '/v1/applications/US/17400001/citations', { token: client });
    expect(citations.statusCode, citations.body).toBe(200);
    expect(citations.json<{ citations: { type: string; documentId: string | null }[] }>().citations).toEqual([
      expect.objectContaining({ type: 'patent', documentId: searchReport?.documentId }),
      expect.objectContaining({ type: 'npl', documentId: null }),
    ]);
    const second = await call(hub.app, 'GET', `/v1/applications/US/${encodeURIComponent('17400002')}/citations`, { token: client });
    expect(second.json<{ citations: unknown[] }>().citations).toHaveLength(1);

    const after = await storedState();
    expect(after.documents - before.documents).toBe(3);
    expect(after.applications - before.applications).toBe(2);
    expect(after.blobs.length - before.blobs.length).toBe(3);
    // The zip is deleted once the package is finished.
    expect(await hub.app.storage.stat(zipKey(accepted.id))).toBeNull();

    // A retried job (e.g. after a crash in the middle) deposits nothing twice: the same documents, replayed.
    await hub.app.storage.put(zipKey(accepted.id), Readable.from([zip]));
    await hub.app.db.fork().nativeUpdate(PackageEntity, { id: accepted.id }, { status: 'processing' });
    const deps: PackageJobDeps = {
      db: hub.app.db,
      storage: hub.app.storage,
      keys: hub.app.signingKeys,
      jobs: hub.app.jobs,
      settings: { uploadLimitBytes: 8 * MiB, issuer: hub.config.auth.issuer, maxEntries: 60, maxUncompressedBytes: 16 * MiB },
      log: hub.app.log,
    };
    expect(await processPackage(deps, { packageId: accepted.id }, { attempt: 2 })).toMatchObject({ status: 'completed', done: 7, total: 7 });
    const retried = await waitForFinal(accepted.id);
    const documents = (body: PackageBody) => body.results.filter((result) => result.kind === 'document');
    expect(documents(retried).map((result) => [result.documentId, result.receipt, result.replayed])).toEqual(documents(done).map((result) => [result.documentId, result.receipt, true]));
    expect((await storedState()).documents).toBe(after.documents);
    expect((await storedState()).blobs).toEqual(after.blobs);
    expect(await hub.app.storage.stat(zipKey(accepted.id))).toBeNull();
  });

  it('fails an entry on an unexpected error and retries the package, depositing nothing twice; after the last attempt it is failed', async () => {
    const files = ['one', 'two', 'three'].map((name) => ({ name: `${name}.pdf`, data: pdfOf(`retry ${name}`) }));
    const zip = buildZip([manifestEntry({ documents: files.map((file) => documentItem(BASE, file.name, `Retry ${file.name}`)) }), ...files]);
    // A package recorded as POST /v1/packages does, but not enqueued: the test runs the job itself.
    const insert = async (): Promise<string> => {
      const id = uuidv7();
      await hub.app.storage.put(zipKey(id), Readable.from([zip]));
      const em = hub.app.db.fork();
      em.create(PackageEntity, {
        id,
        officeCode: 'US',
        branchId: world.us.branches[0]?.id ?? '',
        submitterKind: 'client',
        submitterId: world.us.client.id,
        status: 'queued',
        storageKey: zipKey(id),
        byteSize: zip.length,
        sha256: sha256(zip),
        idempotencyKey: null,
        results: [],
        error: null,
        startedAt: null,
        finishedAt: null,
      });
      await em.flush();
      return id;
    };
    /** The job's dependencies; with `failing`, the store refuses every document write (a storage outage). */
    const deps = (failing: boolean): PackageJobDeps => ({
      db: hub.app.db,
      storage: {
        ...hub.app.storage,
        put: (key, body, options) => (failing && key.startsWith('documents/') ? Promise.reject(new Error('store hiccup')) : hub.app.storage.put(key, body, options)),
      },
      keys: hub.app.signingKeys,
      jobs: hub.app.jobs,
      settings: { uploadLimitBytes: 8 * MiB, issuer: hub.config.auth.issuer, maxEntries: 60, maxUncompressedBytes: 16 * MiB },
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    const before = await storedState();

    // Attempt 1 of 3: the store fails every document. The package waits for its retry.
    const id = await insert();
    await expect(processPackage(deps(true), { packageId: id }, { attempt: 1, attempts: 3 })).rejects.toThrow(/3 entries of the package failed/);
    let body = (await getPackage(id)).json<PackageBody>();
    expect(body).toMatchObject({ status: 'queued', error: { errorCode: 'PACKAGE_PROCESSING_FAILED' }, progress: { done: 3, total: 3 } });
    expect(body.results.map((result) => [result.status, result.errorCode])).toEqual([
      ['failed', 'ENTRY_FAILED'],
      ['failed', 'ENTRY_FAILED'],
      ['failed', 'ENTRY_FAILED'],
    ]);
    expect(await hub.app.storage.stat(zipKey(id))).not.toBeNull();

    // Attempt 2: the store is back.
    expect(await processPackage(deps(false), { packageId: id }, { attempt: 2, attempts: 3 })).toMatchObject({ status: 'completed', done: 3, total: 3 });
    body = (await getPackage(id)).json<PackageBody>();
    expect(body).toMatchObject({ status: 'completed', error: null });
    expect(body.results.map((result) => result.status)).toEqual(['accepted', 'accepted', 'accepted']);
    expect((await storedState()).documents - before.documents).toBe(3);
    // Run again (a duplicate delivery): a finished package is left as it is.
    expect(await processPackage(deps(false), { packageId: id }, { attempt: 3, attempts: 3 })).toMatchObject({ status: 'completed' });
    expect((await storedState()).documents - before.documents).toBe(3);

    // A package whose last attempt fails is failed, and its zip is deleted.
    const doomed = await insert();
    await expect(processPackage(deps(true), { packageId: doomed }, { attempt: 3, attempts: 3 })).rejects.toThrow();
    expect((await getPackage(doomed)).json<PackageBody>()).toMatchObject({ status: 'failed', error: { errorCode: 'PACKAGE_PROCESSING_FAILED' }, finishedAt: expect.any(String) });
    expect(await hub.app.storage.stat(zipKey(doomed))).toBeNull();
    const after = await storedState();
    expect(after.documents - before.documents).toBe(3);
    expect(after.blobs.length - before.blobs.length).toBe(3);
  });

  // ------------------------------------------------------------------------------------------------ hostile entries

  const zeros = (bytes: number): Buffer => Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(bytes)]);

  interface HostileCase {
    /** The offending zip entries. */
    entries: () => ZipWriterEntry[];
    /** The path the manifest gives for the offending document (null: the manifest does not list it). */
    path: string | null;
    /** How the result of the offending entry looks. */
    expected: { kind: 'document' | 'entry'; reference: string; errorCode: string };
  }

  const hostile: Record<string, HostileCase> = {
    'path traversal': {
      entries: () => [{ name: '../evil.pdf', data: pdfOf('traversal') }],
      path: '../evil.pdf',
      expected: { kind: 'document', reference: '../evil.pdf', errorCode: 'ZIP_PATH_TRAVERSAL' },
    },
    'an absolute path': {
      entries: () => [{ name: '/etc/evil.pdf', data: pdfOf('absolute') }],
      path: '/etc/evil.pdf',
      expected: { kind: 'document', reference: '/etc/evil.pdf', errorCode: 'ZIP_ABSOLUTE_PATH' },
    },
    'a symlink': {
      entries: () => [{ name: 'link.pdf', data: Buffer.from('/etc/passwd'), method: 'store', externalAttributes: unixAttributes(UNIX_SYMLINK) }],
      path: 'link.pdf',
      expected: { kind: 'document', reference: 'link.pdf', errorCode: 'ZIP_SYMLINK' },
    },
    'a zip bomb (compression ratio)': {
      entries: () => [{ name: 'bomb.pdf', data: zeros(6 * MiB) }],
      path: 'bomb.pdf',
      expected: { kind: 'document', reference: 'bomb.pdf', errorCode: 'ZIP_COMPRESSION_RATIO' },
    },
    'an entry above the document size cap': {
      entries: () => [{ name: 'big.pdf', data: zeros(9 * MiB) }],
      path: 'big.pdf',
      expected: { kind: 'document', reference: 'big.pdf', errorCode: 'ZIP_ENTRY_TOO_LARGE' },
    },
    'a header that lies about the size': {
      // 64 KiB declared (below the ratio threshold), 2 MiB inflated: cut off while streaming.
      entries: () => [{ name: 'liar.pdf', raw: deflateRawSync(zeros(2 * MiB)), uncompressedSize: 64 * 1024, crc32: 0 }],
      path: 'liar.pdf',
      expected: { kind: 'document', reference: 'liar.pdf', errorCode: 'ZIP_ENTRY_SIZE_MISMATCH' },
    },
    'a wrong CRC-32': {
      entries: () => [{ name: 'tampered.pdf', data: pdfOf('tampered'), crc32: 0xdeadbeef }],
      path: 'tampered.pdf',
      expected: { kind: 'document', reference: 'tampered.pdf', errorCode: 'ZIP_CRC_MISMATCH' },
    },
    'duplicate names': {
      entries: () => [
        { name: 'dup.pdf', data: pdfOf('first') },
        { name: 'DUP.pdf', data: pdfOf('second') },
      ],
      path: 'dup.pdf',
      expected: { kind: 'document', reference: 'dup.pdf', errorCode: 'ZIP_DUPLICATE_NAME' },
    },
    'an entry the manifest does not list': {
      entries: () => [{ name: 'stowaway.pdf', data: pdfOf('stowaway') }],
      path: null,
      expected: { kind: 'entry', reference: 'stowaway.pdf', errorCode: 'NOT_IN_MANIFEST' },
    },
    'a manifest document missing from the zip': {
      entries: () => [],
      path: 'missing.pdf',
      expected: { kind: 'document', reference: 'missing.pdf', errorCode: 'MISSING_FROM_ZIP' },
    },
  };

  it.each(Object.keys(hostile))('refuses %s on its own: the others are deposited, nothing of the offending entry is stored', async (name) => {
    const testCase = hostile[name] as HostileCase;
    const tag = randomBytes(4).toString('hex');
    const good = pdfOf(`good ${tag}`);
    const badTitle = `Hostile ${tag}`;
    const documents = [documentItem(BASE, 'good.pdf', `Good ${tag}`), ...(testCase.path !== null ? [documentItem(BASE, testCase.path, badTitle)] : [])];
    const zip = buildZip([manifestEntry({ documents }), { name: 'good.pdf', data: good }, ...testCase.entries()]);
    const before = await storedState();

    const done = await processed(zip);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    const goodResult = done.results.find((result) => result.reference === 'good.pdf');
    expect(goodResult).toMatchObject({ kind: 'document', status: 'accepted', sha256: sha256(good) });
    const offending = done.results.filter((result) => result.reference === testCase.expected.reference);
    expect(offending.length, JSON.stringify(done.results)).toBeGreaterThanOrEqual(1);
    for (const result of offending) expect(result).toMatchObject({ ...testCase.expected, status: 'refused', detail: expect.any(String) });
    expect(offending.every((result) => result.documentId === undefined && result.receipt === undefined)).toBe(true);
    expect(done.progress.done).toBe(done.progress.total);

    // Exactly one document more (the good one), one blob more (its bytes), and no row of the offending entry.
    const after = await storedState();
    expect(after.documents - before.documents).toBe(1);
    expect(await rowsTitled(badTitle)).toBe(0);
    const added = after.blobs.filter((key) => !before.blobs.includes(key));
    expect(added).toEqual([(await documentRow(goodResult?.documentId ?? ''))?.storage_key]);
    expect(sha256(await download(goodResult?.documentId ?? ''))).toBe(sha256(good));
    expect(after.packageBlobs).toEqual(before.packageBlobs);
  });

  // ------------------------------------------------------------------------------------------------ whole-package refusals

  const refusedWholly = async (zip: Buffer, errorCode: string): Promise<PackageBody> => {
    const before = await storedState();
    const done = await processed(zip);
    expect(done.status, JSON.stringify(done)).toBe('refused');
    expect(done.error).toMatchObject({ errorCode, detail: expect.any(String) });
    expect(done.results).toEqual([]);
    expect(await storedState()).toEqual(before);
    return done;
  };

  it('refuses the whole package when it is not a zip, and stores nothing', async () => {
    await refusedWholly(SAMPLE_PDF, 'PACKAGE_NOT_A_ZIP');
    await refusedWholly(Buffer.alloc(0), 'PACKAGE_NOT_A_ZIP');
  });

  it('refuses the whole package when it has too many entries (PACKAGE_MAX_ENTRIES), and stores nothing', async () => {
    const entries: ZipWriterEntry[] = Array.from({ length: 60 }, (_, index) => ({ name: `doc-${index}.pdf`, data: pdfOf(`many ${index}`) }));
    const manifest = { applications: [{ applicationNumber: '17400010', ...biblio() }], documents: entries.map((entry) => documentItem(BASE, String(entry.name), `Many ${String(entry.name)}`)) };
    await refusedWholly(buildZip([manifestEntry(manifest), ...entries]), 'PACKAGE_TOO_MANY_ENTRIES');
  });

  it('refuses the whole package when its entries expand beyond PACKAGE_MAX_UNCOMPRESSED_BYTES, and stores nothing', async () => {
    const entries: ZipWriterEntry[] = [0, 1, 2].map((index) => ({ name: `part-${index}.pdf`, data: Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(6 * MiB)]), method: 'store' }));
    const manifest = { documents: entries.map((entry) => documentItem(BASE, String(entry.name), `Part ${String(entry.name)}`)) };
    await refusedWholly(buildZip([manifestEntry(manifest), ...entries]), 'PACKAGE_TOO_LARGE');
  });

  it('refuses the whole package for a bad manifest, naming the field, and stores nothing', async () => {
    const good = pdfOf('manifest');
    const manifest = {
      applications: [{ applicationNumber: '17400020', ...biblio() }],
      documents: [{ ...documentItem(BASE, 'a.pdf', 'A'), metadata: { documentCode: 'searchReport', documentDate: '2023-13-45', direction: 'outgoing', languageCode: 'en' } }],
    };
    const done = await refusedWholly(buildZip([manifestEntry(manifest), { name: 'a.pdf', data: good }]), 'MANIFEST_INVALID');
    expect(done.error?.errors).toEqual(
      expect.arrayContaining([
        { field: '/manifest/documents/0/metadata/title', message: 'is required' },
        expect.objectContaining({ field: '/manifest/documents/0/metadata/documentDate' }),
      ]),
    );
    // Two documents at one path, a citation naming a path the manifest does not have, an unknown member.
    const twice = { documents: [documentItem(BASE, 'a.pdf', 'A'), documentItem(BASE, 'a.pdf', 'B')], citations: [{ applicationNumber: BASE, citations: [{ type: 'npl', text: 'X', categories: ['A'], documentPath: 'nope.pdf' }] }], extra: 1 };
    const again = await refusedWholly(buildZip([manifestEntry(twice), { name: 'a.pdf', data: good }]), 'MANIFEST_INVALID');
    expect(again.error?.errors?.map((problem) => problem.field)).toEqual(['/manifest/extra']);
    const content = { documents: twice.documents, citations: twice.citations };
    const third = await refusedWholly(buildZip([manifestEntry(content), { name: 'a.pdf', data: good }]), 'MANIFEST_INVALID');
    expect(third.error?.errors?.map((problem) => problem.field)).toEqual(['/manifest/documents/1/path', '/manifest/citations/0/citations/0/documentPath']);
    await refusedWholly(buildZip([{ name: 'manifest.json', data: Buffer.from('{"documents": [') }]), 'MANIFEST_INVALID_JSON');
    await refusedWholly(buildZip([{ name: 'a.pdf', data: good }]), 'MANIFEST_MISSING');
  });

  it('refuses entries the deposit checks refuse, naming the manifest field, and deposits the rest', async () => {
    const good = pdfOf('checks');
    const manifest = {
      applications: [
        { officeCode: 'JP', applicationNumber: '2010-001234', ...biblio() },
        { applicationNumber: '17400030', ...biblio({ priorityClaims: [{ officeCode: 'US', number: '63/123,456', date: '2029-01-01' }] }) },
        { applicationNumber: '17400031', ...biblio() },
      ],
      documents: [
        documentItem('17400031', 'ok.pdf', 'OK'),
        documentItem('17400099', 'orphan.pdf', 'Orphan'),
        documentItem('17400031', 'mismatch.pdf', 'Mismatch', { mediaType: 'application/xml' }),
      ],
    };
    const zip = buildZip([manifestEntry(manifest), { name: 'ok.pdf', data: good }, { name: 'orphan.pdf', data: pdfOf('orphan') }, { name: 'mismatch.pdf', data: pdfOf('mismatch') }]);
    const before = await storedState();
    const done = await processed(zip);
    expect(done.status).toBe('completed');
    const byReference = Object.fromEntries(done.results.map((result) => [result.reference, result]));
    expect(byReference['2010-001234']).toMatchObject({ status: 'refused', errorCode: 'OTHER_OFFICE_FORBIDDEN', field: '/manifest/applications/0' });
    expect(byReference['17400030']).toMatchObject({ status: 'refused', errorCode: 'INVALID_BIBLIOGRAPHIC_DATA', errors: [expect.objectContaining({ field: '/manifest/applications/1/priorityClaims/0/date' })] });
    expect(byReference['17400031']).toMatchObject({ status: 'accepted', created: true });
    expect(byReference['ok.pdf']).toMatchObject({ status: 'accepted' });
    expect(byReference['orphan.pdf']).toMatchObject({ status: 'refused', errorCode: 'APPLICATION_NOT_FOUND' });
    expect(byReference['mismatch.pdf']).toMatchObject({ status: 'refused', errorCode: 'MEDIA_TYPE_MISMATCH' });
    const after = await storedState();
    expect(after.documents - before.documents).toBe(1);
    expect(after.blobs.length - before.blobs.length).toBe(1);
    expect(after.applications - before.applications).toBe(1);
  });

  // ------------------------------------------------------------------------------------------------ who may

  it('is for examiners and API clients of a providing office: an administrator or the operator gets 403, anonymous 401; nothing is stored', async () => {
    const zip = buildZip([manifestEntry({ documents: [] })]);
    const before = await storedState();
    expectProblem(await submit(zip, world.us.admin.token), 403, 'DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT');
    expectProblem(await submit(zip, world.operator), 403, 'DEPOSIT_REQUIRES_EXAMINER_OR_CLIENT');
    expectProblem(await submit(zip, null), 401, 'AUTHENTICATION_REQUIRED');
    expectProblem(await submit(zip, world.kr.examiners[0]?.token ?? ''), 403, 'OFFICE_NOT_PROVIDING');
    expect(await storedState()).toEqual(before);
    // An examiner may.
    const response = await submit(zip, world.us.examiners[0]?.token ?? '');
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json<PackageBody>().submittedBy).toEqual({ kind: 'examiner', id: world.us.examiners[0]?.id, branchId: world.us.branches[0]?.id });
    expect((await waitForFinal(response.json<PackageBody>().id)).status).toBe('completed');
  });

  it('shows a package to its branch and the office administrator only: another office or branch gets 404', async () => {
    const done = await processed(buildZip([manifestEntry({ documents: [] })]));
    expect(done.status).toBe('completed');
    expect((await getPackage(done.id, world.us.examiners[0]?.token)).statusCode).toBe(200);
    expect((await getPackage(done.id, world.us.admin.token)).statusCode).toBe(200);
    expectProblem(await getPackage(done.id, world.jp.client.token), 404, 'PACKAGE_NOT_FOUND');
    expectProblem(await getPackage(done.id, world.jp.admin.token), 404, 'PACKAGE_NOT_FOUND');
    expectProblem(await getPackage(done.id, world.us.examiners[1]?.token), 404, 'PACKAGE_NOT_FOUND');
    expectProblem(await getPackage('01890a5d-ac96-774b-bcce-b302099a8057'), 404, 'PACKAGE_NOT_FOUND');
    expectProblem(await getPackage(done.id, world.operator), 403, 'OPERATION_NOT_PERMITTED');

    // Lists: the branch's packages, newest first; the administrator's list has every branch's; the other branch's has none of them.
    const list = async (token: string | undefined, query = ''): Promise<{ items: { id: string; status: string }[]; nextCursor?: string }> => {
      const response = await call(hub.app, 'GET', `/v1/packages${query}`, { token });
      expect(response.statusCode, response.body).toBe(200);
      return response.json();
    };
    const mine = await list(client, '?limit=200');
    expect(mine.items[0]?.id).toBe(done.id);
    expect(mine.items).not.toHaveProperty('0.results');
    expect((await list(world.us.admin.token, '?limit=200')).items.map((item) => item.id)).toEqual(expect.arrayContaining(mine.items.map((item) => item.id)));
    expect((await list(world.us.examiners[1]?.token)).items).toEqual([]);
    expect((await list(world.jp.client.token)).items).toEqual([]);
    const page = await list(client, '?limit=1&status=completed');
    expect(page.items).toHaveLength(1);
    const next = await list(client, `?limit=1&status=completed&cursor=${page.nextCursor ?? ''}`);
    expect(next.items[0]?.id).not.toBe(page.items[0]?.id);
    expect((await list(client, '?limit=200&sort=createdAt:asc')).items.map((item) => item.id)).toEqual(mine.items.map((item) => item.id).reverse());
  });

  // ------------------------------------------------------------------------------------------------ the upload

  it('takes an Idempotency-Key: the same zip again is the same package, another zip with the key is 409', async () => {
    const zip = buildZip([manifestEntry({ documents: [] })]);
    const key = `package-key-${randomBytes(4).toString('hex')}`;
    const first = await submit(zip, client, { 'idempotency-key': key });
    expect(first.statusCode, first.body).toBe(202);
    await waitForFinal(first.json<PackageBody>().id);
    const again = await submit(zip, client, { 'idempotency-key': key });
    expect(again.statusCode, again.body).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json<PackageBody>().id).toBe(first.json<PackageBody>().id);
    const before = await storedState();
    expectProblem(await submit(buildZip([manifestEntry({ applications: [] })]), client, { 'idempotency-key': key }), 409, 'IDEMPOTENCY_KEY_REUSED');
    expect((await storedState()).packageBlobs).toEqual(before.packageBlobs);
  });

  it('refuses a package above PACKAGE_LIMIT_BYTES (413) and other media types (415), storing nothing', async () => {
    const before = await storedState();
    expectProblem(await submit(Buffer.alloc(24 * MiB + 1)), 413, 'PACKAGE_TOO_LARGE');
    expectProblem(await call(hub.app, 'POST', '/v1/packages', { token: client, body: { documents: [] } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectProblem(await call(hub.app, 'POST', '/v1/packages', { token: client, body: SAMPLE_PDF, headers: { 'content-type': 'application/pdf' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await storedState()).toEqual(before);
  });

  it('shows its progress while it is processed', async () => {
    const count = 30;
    const files: ZipWriterEntry[] = Array.from({ length: count }, (_, index) => ({
      name: `progress/${index}.pdf`,
      data: Buffer.concat([pdfOf(`progress ${index}`), randomBytes(150_000)]),
      method: 'store',
    }));
    const zip = buildZip([manifestEntry({ documents: files.map((file) => documentItem(BASE, String(file.name), `Progress ${String(file.name)}`)) }), ...files]);
    const response = await submit(zip);
    expect(response.statusCode, response.body).toBe(202);
    const id = response.json<PackageBody>().id;
    const seen: { status: string; done: number; total: number }[] = [];
    for (;;) {
      const body = (await getPackage(id)).json<PackageBody>();
      seen.push({ status: body.status, ...body.progress });
      if (FINAL.includes(body.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const last = seen.at(-1);
    expect(last).toEqual({ status: 'completed', done: count, total: count });
    const midway = seen.filter((entry) => entry.status === 'processing' && entry.total === count && entry.done > 0 && entry.done < count);
    expect(midway.length, JSON.stringify(seen)).toBeGreaterThan(0);
    // Progress only moves forward.
    const dones = seen.filter((entry) => entry.status === 'processing').map((entry) => entry.done);
    expect(dones).toEqual([...dones].sort((a, b) => a - b));
  });
});

describeEachProfile('bulk deposit packages across a restart', (profile) => {
  let hub: TestHub;
  afterAll(async () => {
    await hub?.close();
  });

  it('processes a package that a process which runs no jobs (or stopped) left queued, once a process that runs jobs starts', async () => {
    hub = await startTestHub(profile, { ...OPERATOR_ENV, ...LIMITS_ENV }, { runJobs: false });
    const world = await seedDepositWorld(hub.app);
    const token = world.us.client.token;
    expect((await putBiblio(hub.app, token, 'US', '17450001')).statusCode).toBe(201);
    const bytes = pdfOf('resumed');
    const zip = buildZip([manifestEntry({ documents: [documentItem('17450001', 'resumed.pdf', 'Resumed')] }), { name: 'resumed.pdf', data: bytes }]);
    const response = await call(hub.app, 'POST', '/v1/packages', { token, body: zip, headers: { 'content-type': 'application/zip' } });
    expect(response.statusCode, response.body).toBe(202);
    const id = response.json<PackageBody>().id;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await call(hub.app, 'GET', `/v1/packages/${id}`, { token })).json<PackageBody>().status).toBe('queued');

    // The same state, now with a process that runs jobs (embedded: the in-process queue starts empty and resumes it).
    await hub.app.close();
    hub.app = (await startHub(hub.env, hub.pglite, { runJobs: true })).app;
    const deadline = Date.now() + 30_000;
    let body: PackageBody;
    do {
      await new Promise((resolve) => setTimeout(resolve, 50));
      body = (await call(hub.app, 'GET', `/v1/packages/${id}`, { token })).json<PackageBody>();
    } while (!FINAL.includes(body.status) && Date.now() < deadline);
    expect(body.status, JSON.stringify(body)).toBe('completed');
    expect(body.results).toEqual([expect.objectContaining({ kind: 'document', reference: 'resumed.pdf', status: 'accepted', sha256: sha256(bytes) })]);
  });
});
