import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/access/principal.js';
import {
  applicationVisibilitySql,
  canSeeApplicationRecord,
  canSeeDocument,
  documentVisibilitySql,
  sharedWithAccessingOfficesSql,
  type DocumentStatus,
  type DocumentVisibility,
  type SqlFragment,
  type VisibilityFacts,
} from '../../src/access/visibility.js';

/**
 * The SQL form of the visibility rule must say exactly what `canSeeDocument` says: every combination of document,
 * application, provider and reader facts is put in a database and each principal's predicate is evaluated there.
 */
const VISIBILITIES: DocumentVisibility[] = ['public', 'offices', 'restricted'];
const STATUSES: DocumentStatus[] = ['active', 'withdrawn', 'superseded'];
const ALLOWED: string[][] = [[], ['JP'], ['KR', 'JP'], ['KR']];
const BOOLEANS = [true, false];
const OFFICE_STATUSES = ['active', 'suspended'] as const;

const PRINCIPALS: Principal[] = [
  { kind: 'anonymous' },
  { kind: 'operator', userId: 'op' },
  { kind: 'officeAdmin', userId: 'a-ep', officeCode: 'EP' },
  { kind: 'examiner', userId: 'e-ep', officeCode: 'EP', branchId: 'b1' },
  { kind: 'client', clientId: 'c-ep', officeCode: 'EP', branchId: 'b2' },
  { kind: 'officeAdmin', userId: 'a-jp', officeCode: 'JP' },
  { kind: 'examiner', userId: 'e-jp', officeCode: 'JP', branchId: 'b3' },
  { kind: 'client', clientId: 'c-jp', officeCode: 'JP', branchId: 'b4' },
];

interface DocumentCase {
  id: number;
  applicationId: number;
  document: VisibilityFacts['document'];
}
interface ApplicationCase {
  id: number;
  officeCode: string;
  application: VisibilityFacts['application'];
  providingOffice: VisibilityFacts['providingOffice'];
}

/** Readers: every principal with every state of its own office (none for those without an office). */
function* readers(): Generator<{ principal: Principal; principalOffice: VisibilityFacts['principalOffice'] }> {
  for (const principal of PRINCIPALS) {
    if (!('officeCode' in principal)) {
      yield { principal, principalOffice: null };
      continue;
    }
    for (const status of OFFICE_STATUSES) for (const accessing of BOOLEANS) yield { principal, principalOffice: { code: principal.officeCode, status, accessing } };
  }
}

describe('the SQL form of the visibility rule agrees with canSeeDocument', () => {
  let db: PGlite;
  const applications: ApplicationCase[] = [];
  const documents: DocumentCase[] = [];

  const ids = async (sql: string, params: SqlFragment['params']): Promise<Set<number>> => {
    const result = await db.query<{ id: number }>(sql.replace(/\?/g, (() => {
      let index = 0;
      return () => `$${++index}`;
    })()), params);
    return new Set(result.rows.map((row) => row.id));
  };

  beforeAll(async () => {
    db = new PGlite();
    await db.exec(`
      create table "office" ("code" text primary key);
      create table "application" ("id" int primary key, "office_code" text not null, "published" boolean not null);
      create table "provider" ("id" int primary key, "status" text not null, "public_access" boolean not null);
      create table "reader_office" ("code" text primary key, "status" text not null, "accessing" boolean not null);
      create table "document" ("id" int primary key, "application_id" int not null, "office_code" text not null, "visibility" text not null, "allowed_offices" text[] not null, "status" text not null);
    `);
    // Every application fact (two providing offices), each with no document, or one document of each kind.
    let nextApplication = 0;
    let nextDocument = 0;
    for (const officeCode of ['EP', 'KR'])
      for (const published of BOOLEANS)
        for (const providerStatus of OFFICE_STATUSES)
          for (const publicAccess of BOOLEANS) {
            const single: VisibilityFacts['document'][] = [];
            for (const visibility of VISIBILITIES) for (const status of STATUSES) for (const allowedOffices of ALLOWED) single.push({ officeCode, visibility, allowedOffices, status });
            for (const documentSet of [[], ...single.map((document) => [document])]) {
              const application: ApplicationCase = { id: ++nextApplication, officeCode, application: { published }, providingOffice: { status: providerStatus, publicAccess } };
              applications.push(application);
              await db.query('insert into "application" values ($1, $2, $3)', [application.id, officeCode, published]);
              await db.query('insert into "provider" values ($1, $2, $3)', [application.id, providerStatus, publicAccess]);
              for (const document of documentSet) {
                const row: DocumentCase = { id: ++nextDocument, applicationId: application.id, document };
                documents.push(row);
                await db.query('insert into "document" values ($1, $2, $3, $4, $5, $6)', [row.id, application.id, officeCode, document.visibility, document.allowedOffices, document.status]);
              }
            }
          }
  });
  afterAll(async () => {
    await db?.close();
  });

  const facts = (row: DocumentCase, principalOffice: VisibilityFacts['principalOffice']): VisibilityFacts => {
    const application = applications[row.applicationId - 1] as ApplicationCase;
    return { document: row.document, application: application.application, providingOffice: application.providingOffice, principalOffice };
  };

  it('documentVisibilitySql over joined application and provider rows', async () => {
    expect(documents.length).toBe(2 * 8 * 36);
    let checked = 0;
    for (const { principal, principalOffice } of readers()) {
      const predicate = documentVisibilitySql(principal, principalOffice);
      const visible = await ids(`select d."id" from "document" d join "application" a on a."id" = d."application_id" join "provider" o on o."id" = a."id" where ${predicate.sql}`, predicate.params);
      for (const row of documents) {
        expect(visible.has(row.id), JSON.stringify({ principal, ...facts(row, principalOffice) })).toBe(canSeeDocument(principal, facts(row, principalOffice)));
        checked += 1;
      }
    }
    expect(checked).toBe(documents.length * (2 + 6 * 4));
  });

  /** The reader's office as a row of the query (left-joined on the principal's office code): the database decides. */
  const withReaderRow = async (principal: Principal, principalOffice: VisibilityFacts['principalOffice']): Promise<string> => {
    await db.exec('delete from "reader_office"');
    if (principalOffice) await db.query('insert into "reader_office" values ($1, $2, $3)', [principalOffice.code, principalOffice.status, principalOffice.accessing]);
    return 'officeCode' in principal ? principal.officeCode : '';
  };

  it('documentVisibilitySql with the reader’s office as a row of the query', async () => {
    for (const { principal, principalOffice } of readers()) {
      const code = await withReaderRow(principal, principalOffice);
      const predicate = documentVisibilitySql(principal, { alias: 'r' });
      const visible = await ids(
        `select d."id" from "document" d join "application" a on a."id" = d."application_id" join "provider" o on o."id" = a."id" left join "reader_office" r on r."code" = ? where ${predicate.sql}`,
        [code, ...predicate.params],
      );
      for (const row of documents) expect(visible.has(row.id), JSON.stringify({ principal, ...facts(row, principalOffice) })).toBe(canSeeDocument(principal, facts(row, principalOffice)));
    }
  });

  it('documentVisibilitySql with the application’s and provider’s facts given as values', async () => {
    for (const { principal, principalOffice } of readers()) {
      for (const application of applications.filter((candidate) => documents.some((row) => row.applicationId === candidate.id)).slice(0, 16)) {
        const predicate = documentVisibilitySql(principal, principalOffice, { document: 'd', application: application.application, provider: application.providingOffice });
        const visible = await ids(`select d."id" from "document" d where d."application_id" = ? and ${predicate.sql}`, [application.id, ...predicate.params]);
        for (const row of documents.filter((candidate) => candidate.applicationId === application.id)) {
          expect(visible.has(row.id)).toBe(canSeeDocument(principal, facts(row, principalOffice)));
        }
      }
    }
    // The same, grouped by every combination of application facts, over all documents at once.
    for (const { principal, principalOffice } of readers()) {
      for (const published of BOOLEANS)
        for (const status of OFFICE_STATUSES)
          for (const publicAccess of BOOLEANS) {
            const given = { application: { published }, provider: { status, publicAccess } };
            const predicate = documentVisibilitySql(principal, principalOffice, { document: 'd', ...given });
            const rows = documents.filter((row) => {
              const application = applications[row.applicationId - 1] as ApplicationCase;
              return application.application.published === published && application.providingOffice.status === status && application.providingOffice.publicAccess === publicAccess;
            });
            const visible = await ids(`select d."id" from "document" d where d."id" = any(?) and ${predicate.sql}`, [rows.map((row) => row.id) as never, ...predicate.params]);
            for (const row of rows) expect(visible.has(row.id)).toBe(canSeeDocument(principal, facts(row, principalOffice)));
          }
    }
  });

  it('applicationVisibilitySql agrees with canSeeApplicationRecord (own office; published and active for accessing offices; else a visible document)', async () => {
    for (const { principal, principalOffice } of readers()) for (const readerAsRow of [false, true]) {
      const code = await withReaderRow(principal, principalOffice);
      const predicate = applicationVisibilitySql(principal, readerAsRow ? { alias: 'r' } : principalOffice);
      const visible = await ids(`select a."id" from "application" a join "provider" o on o."id" = a."id" left join "reader_office" r on r."code" = ? where ${predicate.sql}`, [
        code,
        ...predicate.params,
      ]);
      for (const application of applications) {
        const own = documents.filter((row) => row.applicationId === application.id);
        const expected = canSeeApplicationRecord(principal, {
          officeCode: application.officeCode,
          application: application.application,
          providingOffice: application.providingOffice,
          principalOffice,
          hasVisibleDocument: own.some((row) => canSeeDocument(principal, facts(row, principalOffice))),
        });
        expect(visible.has(application.id), JSON.stringify({ principal, principalOffice, application, own })).toBe(expected);
      }
    }
  });

  it('sharedWithAccessingOfficesSql is what any active accessing office named on no restricted list sees', async () => {
    const predicate = sharedWithAccessingOfficesSql();
    const visible = await ids(`select d."id" from "document" d join "application" a on a."id" = d."application_id" join "provider" o on o."id" = a."id" where ${predicate.sql}`, predicate.params);
    const stranger: Principal = { kind: 'examiner', userId: 'e-zz', officeCode: 'ZZ', branchId: 'b' };
    for (const row of documents) {
      const expected = canSeeDocument(stranger, facts(row, { code: 'ZZ', status: 'active', accessing: true })) && row.document.visibility !== 'restricted';
      expect(visible.has(row.id)).toBe(expected);
    }
  });
});
