import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Principal } from '../../src/access/principal.js';
import { canSeeApplicationRecord, canSeeDocument, type DocumentStatus, type DocumentVisibility, type VisibilityFacts } from '../../src/access/visibility.js';
import { ApplicationEntity } from '../../src/dossier/application.entity.js';
import { DocumentEntity, type DocumentDirection } from '../../src/dossier/document.entity.js';
import { normalizeNumber } from '../../src/dossier/numbers/normalize.js';
import { uuidv7 } from '../../src/platform/ids.js';
import { call, clientToken, createSecretClient, OPERATOR_ENV, operatorToken, seedOffice } from '../support/access.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';

/**
 * The visibility rule through the HTTP API, on generated worlds: offices with every combination of roles, status and
 * public-access consent; applications published or not; documents of every visibility, status and direction; and
 * principals of every kind. For each principal, search (all, full text, by number, by document code), the
 * application record and its document count, the dossier list, document metadata and downloads, and the public
 * coverage counts must agree exactly with `canSeeDocument` and `canSeeApplicationRecord` — no leak in any
 * direction, through hits, counts or error codes (what is hidden answers exactly as what does not exist).
 *
 * Deterministic: FC_SEED (default below) fixes the worlds; a failure prints the seed and the world.
 */
const SEED = Number(process.env.FC_SEED ?? 20_250_611);
const RUNS = Number(process.env.FC_RUNS ?? 25);

const OFFICES = ['US', 'EP', 'JP', 'KR'] as const;
type Code = (typeof OFFICES)[number];
const KINDS = ['officeAdmin', 'examiner', 'client'] as const;
const CODES = ['searchReport', 'claims', 'officeAction'] as const;
const MARKER = 'quokka';
const MAX_DOCUMENTS = 12;

interface OfficeFacts {
  providing: boolean;
  accessing: boolean;
  publicAccess: boolean;
  status: 'active' | 'suspended';
}
interface DocumentSpec {
  visibility: DocumentVisibility;
  allowedOffices: Code[];
  status: DocumentStatus;
  direction: DocumentDirection;
  documentCode: (typeof CODES)[number];
  day: number;
}
interface ApplicationSpec {
  office: Code;
  published: boolean;
  marked: boolean;
  documents: DocumentSpec[];
}
interface World {
  offices: Record<Code, OfficeFacts>;
  applications: ApplicationSpec[];
  readers: Record<Code, (typeof KINDS)[number]>;
  documentCode: (typeof CODES)[number];
}

const officeArb = fc.record({
  providing: fc.boolean(),
  accessing: fc.boolean(),
  publicAccess: fc.boolean(),
  status: fc.constantFrom('active' as const, 'active' as const, 'suspended' as const),
});
const documentArb = fc.record({
  visibility: fc.constantFrom<DocumentVisibility>('public', 'offices', 'restricted'),
  allowedOffices: fc.subarray([...OFFICES]),
  status: fc.constantFrom<DocumentStatus>('active', 'active', 'withdrawn', 'superseded'),
  direction: fc.constantFrom<DocumentDirection>('incoming', 'outgoing', 'internal'),
  documentCode: fc.constantFrom(...CODES),
  day: fc.integer({ min: 1, max: 28 }),
});
const worldArb: fc.Arbitrary<World> = fc.record({
  offices: fc.record({ US: officeArb, EP: officeArb, JP: officeArb, KR: officeArb }),
  applications: fc
    .array(fc.record({ office: fc.constantFrom(...OFFICES), published: fc.boolean(), marked: fc.boolean(), documents: fc.array(documentArb, { maxLength: 3 }) }), { minLength: 1, maxLength: 4 })
    .filter((applications) => applications.reduce((sum, application) => sum + application.documents.length, 0) <= MAX_DOCUMENTS),
  readers: fc.record({ US: fc.constantFrom(...KINDS), EP: fc.constantFrom(...KINDS), JP: fc.constantFrom(...KINDS), KR: fc.constantFrom(...KINDS) }),
  documentCode: fc.constantFrom(...CODES),
});

/** A number of each office in its normal form, from a serial: `US 17/000,001`, `EP 20000001`, `JP 2020-000001`, `KR 10-2020-0000001`. */
function numberOf(office: Code, serial: number): { raw: string; number: string; display: string } {
  const digits = String(serial).padStart(6, '0');
  const raw = { US: `US 17/${digits.slice(0, 3)},${digits.slice(3)}`, EP: `EP 20${digits}`, JP: `JP 2020-${digits}`, KR: `KR 10-2020-0${digits}` }[office];
  const normal = normalizeNumber(raw, { kind: 'application' });
  return { raw, number: normal.number, display: normal.display };
}

interface Reader {
  label: string;
  principal: Principal;
  token: string | undefined;
  office: Code | null;
}

describeEachProfile('the visibility rule through the HTTP API (property)', (profile) => {
  let hub: TestHub;
  let operator: string;
  const people: Record<Code, Record<(typeof KINDS)[number], { principal: Principal; token: string }>> = {} as never;
  const blobs: { key: string; bytes: Buffer; sha256: string }[] = [];
  let serial = 0;

  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    operator = await operatorToken(hub.app);
    for (const code of OFFICES) {
      const office = await seedOffice(hub.app, operator, { code, branches: 1 });
      const branchId = office.branches[0]?.id ?? '';
      const apiClient = await createSecretClient(hub.app, office.admin.token, code, branchId);
      const examiner = office.examiners[0];
      if (!examiner) throw new Error('no examiner');
      people[code] = {
        officeAdmin: { principal: { kind: 'officeAdmin', userId: office.admin.id, officeCode: code }, token: office.admin.token },
        examiner: { principal: { kind: 'examiner', userId: examiner.id, officeCode: code, branchId }, token: examiner.token },
        client: { principal: { kind: 'client', clientId: apiClient.id, officeCode: code, branchId }, token: await clientToken(hub.app, apiClient.id, apiClient.secret) },
      };
    }
    // The bytes every generated document points at (a run's documents are deleted before the next run's).
    for (let index = 0; index < MAX_DOCUMENTS; index += 1) {
      const bytes = Buffer.from(`%PDF-1.4\n% property document ${index}\n%%EOF\n`);
      const key = `documents/property/${index}.pdf`;
      await hub.app.storage.put(key, Readable.from([bytes]));
      blobs.push({ key, bytes, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
  });
  afterAll(async () => {
    await hub?.close();
  });

  /** Replaces the previous world: office facts through the API (as the operator sets them), dossiers written directly. */
  async function install(world: World) {
    const em = hub.app.db.fork();
    await em.getConnection().execute('delete from "document"');
    await em.getConnection().execute('delete from "application"');
    for (const code of OFFICES) {
      const facts = world.offices[code];
      const roles = [...(facts.providing ? ['providing'] : []), ...(facts.accessing ? ['accessing'] : [])];
      const response = await call(hub.app, 'PATCH', `/v1/offices/${code}`, {
        token: operator,
        body: { roles, providerMode: facts.providing ? 'repository' : null, publicAccess: facts.publicAccess, status: facts.status },
      });
      expect(response.statusCode, response.body).toBe(200);
    }
    let blob = 0;
    const applications = world.applications.map((spec) => {
      const number = numberOf(spec.office, ++serial);
      const id = uuidv7();
      const documents = spec.documents.map((document) => ({ ...document, id: uuidv7(), blob: blobs[blob++] as (typeof blobs)[number] }));
      return { ...spec, ...number, id, documents };
    });
    const now = new Date();
    await em.insertMany(
      ApplicationEntity,
      applications.map((application) => ({
        id: application.id,
        officeCode: application.office,
        applicationNumber: application.number,
        applicationNumberRaw: application.raw,
        displayNumber: application.display,
        filingDate: '2020-01-01',
        titles: [{ languageCode: 'en', text: application.marked ? `Device ${MARKER} ${application.number}` : `Device ${application.number}` }],
        applicants: [{ name: 'Property Applicant' }],
        inventors: [],
        published: application.published,
        createdAt: now,
        updatedAt: now,
      })),
    );
    const documents = applications.flatMap((application) =>
      application.documents.map((document) => ({
        id: document.id,
        applicationId: application.id,
        officeCode: application.office,
        documentCode: document.documentCode,
        documentDate: `2022-03-${String(document.day).padStart(2, '0')}`,
        direction: document.direction,
        languageCode: 'en',
        title: `Document ${document.id}`,
        mediaType: 'application/pdf',
        byteSize: document.blob.bytes.length,
        sha256: document.blob.sha256,
        storageKey: `${document.blob.key}`,
        visibility: document.visibility,
        allowedOffices: document.visibility === 'restricted' ? document.allowedOffices : [],
        status: document.status,
        depositorKind: 'examiner' as const,
        depositorId: uuidv7(),
        depositorBranchId: uuidv7(),
        receipt: 'property-test',
        receivedAt: now,
        createdAt: now,
        updatedAt: now,
      })),
    );
    if (documents.length > 0) await em.insertMany(DocumentEntity, documents);
    return applications;
  }

  it('list, search, get, download and counts agree exactly with the rule, for every principal', async () => {
    let runs = 0;
    try {
      await fc.assert(
        fc.asyncProperty(worldArb, async (world) => {
          runs += 1;
          const applications = await install(world);
          const readers: Reader[] = [
            { label: 'anonymous', principal: { kind: 'anonymous' }, token: undefined, office: null },
            { label: 'operator', principal: { kind: 'operator', userId: 'operator' }, token: operator, office: null },
            ...OFFICES.map((code) => {
              const person = people[code][world.readers[code]];
              return { label: `${world.readers[code]} of ${code}`, principal: person.principal, token: person.token, office: code };
            }),
          ];

          for (const reader of readers) {
            const get = (url: string): Promise<LightMyRequestResponse> => call(hub.app, 'GET', url, { token: reader.token });
            const where = `${reader.label} in ${JSON.stringify(world)}`;
            const readerOffice: VisibilityFacts['principalOffice'] =
              reader.office === null ? null : { code: reader.office, status: world.offices[reader.office].status, accessing: world.offices[reader.office].accessing };

            // A principal of a suspended office is refused as a whole, the same way whatever it asks for.
            if (reader.office !== null && world.offices[reader.office].status === 'suspended') {
              for (const url of ['/v1/applications', ...applications.map((application) => `/v1/applications/${application.office}/${application.number}/documents`)]) {
                const response = await get(url);
                expect({ status: response.statusCode, errorCode: response.json<{ errorCode: string }>().errorCode }, where).toEqual({ status: 403, errorCode: 'OFFICE_SUSPENDED' });
              }
              continue;
            }

            const facts = (application: (typeof applications)[number], document: (typeof applications)[number]['documents'][number]): VisibilityFacts => ({
              document: { officeCode: application.office, visibility: document.visibility, allowedOffices: document.visibility === 'restricted' ? document.allowedOffices : [], status: document.status },
              application: { published: application.published },
              providingOffice: { status: world.offices[application.office].status, publicAccess: world.offices[application.office].publicAccess },
              principalOffice: readerOffice,
            });
            const visibleDocuments = (application: (typeof applications)[number]) => application.documents.filter((document) => canSeeDocument(reader.principal, facts(application, document)));
            const applicationVisible = (application: (typeof applications)[number]) =>
              canSeeApplicationRecord(reader.principal, {
                officeCode: application.office,
                application: { published: application.published },
                providingOffice: { status: world.offices[application.office].status, publicAccess: world.offices[application.office].publicAccess },
                principalOffice: readerOffice,
                hasVisibleDocument: visibleDocuments(application).length > 0,
              });
            const key = (item: { officeCode: string; applicationNumber: string }) => `${item.officeCode} ${item.applicationNumber}`;
            const expectedKeys = (filter: (application: (typeof applications)[number]) => boolean) =>
              applications
                .filter((application) => applicationVisible(application) && filter(application))
                .map((application) => `${application.office} ${application.number}`)
                .sort();
            const hits = async (query: string): Promise<string[]> => {
              const response = await get(`/v1/applications?limit=200${query}`);
              expect(response.statusCode, `${query} ${response.body} ${where}`).toBe(200);
              return response.json<{ items: { officeCode: string; applicationNumber: string }[] }>().items.map(key).sort();
            };

            // Search: everything, full text, a document code (only visible documents count), each number.
            expect(await hits(''), where).toEqual(expectedKeys(() => true));
            expect(await hits(`&q=${MARKER}`), where).toEqual(expectedKeys((application) => application.marked));
            expect(await hits(`&documentCode=${world.documentCode}`), where).toEqual(
              expectedKeys((application) => visibleDocuments(application).some((document) => document.documentCode === world.documentCode)),
            );

            for (const application of applications) {
              const visible = applicationVisible(application);
              const shown = visibleDocuments(application);
              expect(await hits(`&number=${encodeURIComponent(application.raw)}`), where).toEqual(visible ? [`${application.office} ${application.number}`] : []);

              const record = await get(`/v1/applications/${application.office}/${encodeURIComponent(application.raw)}`);
              const list = await get(`/v1/applications/${application.office}/${application.number}/documents?limit=200`);
              if (visible) {
                expect(record.statusCode, `${record.body} ${where}`).toBe(200);
                expect(record.json<{ documents: { count: number } }>().documents.count, where).toBe(shown.length);
                expect(list.statusCode, where).toBe(200);
                const expectedOrder = [...shown].sort((a, b) => b.day - a.day || (a.id < b.id ? 1 : -1)).map((document) => document.id);
                expect(list.json<{ items: { id: string }[] }>().items.map((item) => item.id), where).toEqual(expectedOrder);
              } else {
                // Exactly what an application that does not exist answers.
                for (const response of [record, list]) {
                  expect({ status: response.statusCode, body: response.json<{ errorCode: string; detail: string }>() }, where).toMatchObject({
                    status: 404,
                    body: { errorCode: 'APPLICATION_NOT_FOUND', detail: `No application ${application.display} of office ${application.office}` },
                  });
                }
              }

              for (const document of application.documents) {
                const seen = shown.includes(document);
                const metadata = await get(`/v1/documents/${document.id}`);
                const content = await get(`/v1/documents/${document.id}/content`);
                if (seen) {
                  expect(metadata.statusCode, where).toBe(200);
                  expect(content.statusCode, where).toBe(200);
                  expect(content.rawPayload.equals(document.blob.bytes), where).toBe(true);
                } else {
                  for (const response of [metadata, content]) {
                    expect({ status: response.statusCode, body: response.json<{ errorCode: string; detail: string }>() }, where).toMatchObject({
                      status: 404,
                      body: { errorCode: 'DOCUMENT_NOT_FOUND', detail: `No document ${document.id}` },
                    });
                  }
                }
              }
            }
          }

          // Coverage counts, the same for everyone: published applications of active offices, and their active
          // documents shared with every accessing office (public or offices).
          for (const code of OFFICES) {
            const active = world.offices[code].status === 'active';
            const shared = applications.filter((application) => application.office === code && application.published && active);
            const documents = shared.flatMap((application) => application.documents).filter((document) => document.status === 'active' && document.visibility !== 'restricted');
            const coverage = (await call(hub.app, 'GET', `/v1/offices/${code}/coverage`)).json<{ applications: { total: number }; documents: { total: number; byCode: { documentCode: string; count: number }[] } }>();
            expect({ applications: coverage.applications.total, documents: coverage.documents.total }, JSON.stringify(world)).toEqual({ applications: shared.length, documents: documents.length });
            for (const documentCode of CODES) {
              const counted = coverage.documents.byCode.filter((row) => row.documentCode === documentCode).reduce((sum, row) => sum + row.count, 0);
              expect(counted).toBe(documents.filter((document) => document.documentCode === documentCode).length);
            }
          }
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
    } catch (error) {
      throw new Error(`visibility property failed (FC_SEED=${SEED}, run ${runs} of ${RUNS}): ${String(error)}`, { cause: error });
    }
    expect(runs).toBe(RUNS);
  }, 120_000);
});
