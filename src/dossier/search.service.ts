import type { EntityManager } from '@mikro-orm/postgresql';
import { requireAccess } from '../access/permissions.js';
import type { Principal } from '../access/principal.js';
import { applicationVisibilitySql, documentVisibilitySql, officeOfPrincipal, type SqlFragment } from '../access/visibility.js';
import { BadRequestError, UnprocessableError } from '../platform/errors.js';
import { isUuid } from '../platform/ids.js';
import { decodeCursor, DEFAULT_PAGE_LIMIT, encodeCursor } from '../platform/pagination.js';
import { foreignNumberOf } from './numbers/kept.js';
import type { ApplicationParty, ApplicationTitle } from './application.entity.js';
import { isCalendarDate, isoTimestampSql } from './application-access.js';
import type { ApplicationSort, ApplicationSummary, SearchApplicationsQuery } from './application.schemas.js';
import { tryNormalizeNumber, type NumberType } from './numbers/normalize.js';
import { preparedQuery } from '../platform/database/prepared-query.js';

interface SummaryRow {
  id: string;
  office_code: string;
  application_number: string;
  display_number: string;
  filing_date: string;
  titles: ApplicationTitle[];
  applicants: ApplicationParty[];
  ipc: string[];
  cpc: string[];
  published: boolean;
  updated_at: string;
}

/** The numbers a typed number may stand for: applications and publications, each as (office, normal form). */
export interface NumberCandidates {
  applications: { officeCode: string; number: string }[];
  publications: { officeCode: string; number: string }[];
}

/**
 * Every reading of a typed number (DESIGN §5): the `any` reading, and the application and publication readings of a
 * shape both share (a JP, KR, AU, CA or GB number without kind code), so `JP 2021-123456` finds the application
 * numbered so and the one published so. An office the hub has no rules for keeps the plain canonical form, as
 * deposits do. A number of no accepted shape gives the 422 of GET /v1/numbers/normalize, naming the expected forms.
 */
export function numberCandidates(raw: string, officeCode?: string): NumberCandidates {
  const office = officeCode === undefined ? {} : { officeCode };
  const found: NumberCandidates = { applications: [], publications: [] };
  const add = (type: NumberType | undefined, code: string, number: string): void => {
    const list = type === 'application' ? found.applications : found.publications;
    if (!list.some((entry) => entry.officeCode === code && entry.number === number)) list.push({ officeCode: code, number });
  };
  const first = tryNormalizeNumber(raw, { ...office, kind: 'any' });
  if (!first.ok) {
    const unsupported = first.error.errorCode === 'UNSUPPORTED_OFFICE' ? (officeCode ?? (first.error.extensions.officeCode as string | undefined)) : undefined;
    if (unsupported === undefined) throw first.error;
    for (const kind of ['application', 'publication'] as const) {
      const kept = foreignNumberOf(unsupported.toUpperCase(), raw, kind);
      if (kept.ok) add(kind, unsupported.toUpperCase(), kept.value.number);
    }
    if (found.applications.length + found.publications.length === 0) throw first.error;
    return found;
  }
  add(first.value.type, first.value.officeCode, first.value.number);
  for (const kind of ['application', 'publication'] as const) {
    const reading = tryNormalizeNumber(raw, { ...office, kind });
    if (reading.ok) add(reading.value.type, reading.value.officeCode, reading.value.number);
  }
  return found;
}

const SORT_COLUMNS: Record<string, { column: string; cast: string; key: 'filing_date' | 'application_number' | 'updated_at'; valid: (value: string) => boolean }> = {
  filingDate: { column: 'a."filing_date"', cast: 'date', key: 'filing_date', valid: isCalendarDate },
  applicationNumber: { column: 'a."application_number"', cast: 'text', key: 'application_number', valid: (value) => value.length > 0 && value.length <= 64 },
  updatedAt: {
    column: 'a."updated_at"',
    cast: 'timestamptz',
    key: 'updated_at',
    valid: (value) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(value) && isCalendarDate(value.slice(0, 10)) && !Number.isNaN(Date.parse(value)),
  },
};

const compactClassification = (prefix: string): string => prefix.replace(/\s+/g, '').toUpperCase();

function toSummary(row: SummaryRow): ApplicationSummary {
  return {
    officeCode: row.office_code,
    applicationNumber: row.application_number,
    displayNumber: row.display_number,
    filingDate: row.filing_date,
    titles: row.titles,
    applicants: row.applicants,
    ipc: row.ipc,
    cpc: row.cpc,
    published: row.published,
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/**
 * `GET /v1/applications`: number lookup across offices, full text over titles and applicants, filters, sorting and
 * keyset pages — all inside the visibility rule's SQL form, so hits, pages and their sizes only ever count what the
 * principal may see.
 */
export function createSearchService({ em }: { em: EntityManager }) {
  return {
    async search(principal: Principal, query: SearchApplicationsQuery): Promise<{ items: ApplicationSummary[]; nextCursor?: string }> {
      requireAccess(principal, 'searchApplications');
      const sort: ApplicationSort = query.sort ?? 'filingDate:desc';
      const [field = 'filingDate', order] = sort.split(':');
      const sortColumn = SORT_COLUMNS[field];
      if (!sortColumn) throw new BadRequestError('INVALID_SORT', `Cannot sort by ${field}`);
      const descending = order === 'desc';
      const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
      const officeCode = query.officeCode?.toUpperCase();
      if (query.filedFrom !== undefined && query.filedTo !== undefined && query.filedFrom > query.filedTo) {
        throw new UnprocessableError('INVALID_DATE_RANGE', `filedFrom ${query.filedFrom} is after filedTo ${query.filedTo}`);
      }
      let after: [string, string] | undefined;
      if (query.cursor !== undefined) {
        const [cursorSort, value, id] = decodeCursor(query.cursor, 3);
        if (cursorSort !== sort || typeof value !== 'string' || typeof id !== 'string' || !isUuid(id) || !sortColumn.valid(value)) {
          throw new BadRequestError('INVALID_CURSOR', 'The cursor is not one this API issued for this sort; start again without it');
        }
        after = [value, id];
      }
      const candidates = query.number === undefined ? undefined : numberCandidates(query.number, officeCode);

      // The reader's office is a row of the query (r): the rule's SQL decides on its status and role, in one statement.
      const reader = { alias: 'r' };
      const where: string[] = [];
      const params: SqlFragment['params'] = [officeOfPrincipal(principal) ?? ''];
      const add = (fragment: SqlFragment): void => {
        where.push(fragment.sql);
        params.push(...fragment.params);
      };

      add(applicationVisibilitySql(principal, reader));
      if (candidates) {
        const byApplication = candidates.applications.map(() => '(x."office_code" = ? and x."application_number" = ?)');
        const byPublication = candidates.publications.map(() => '(p."office_code" = ? and p."number" = ?)');
        const parts = [
          ...(byApplication.length > 0 ? [`select x."id" from "application" x where ${byApplication.join(' or ')}`] : []),
          ...(byPublication.length > 0 ? [`select p."application_id" from "publication" p where ${byPublication.join(' or ')}`] : []),
        ];
        add({
          sql: `a."id" in (${parts.join(' union ')})`,
          params: [...candidates.applications.flatMap((entry) => [entry.officeCode, entry.number]), ...candidates.publications.flatMap((entry) => [entry.officeCode, entry.number])],
        });
      }
      if (query.q !== undefined) add({ sql: `a."search_vector" @@ websearch_to_tsquery('simple', ?)`, params: [query.q] });
      if (officeCode !== undefined) add({ sql: 'a."office_code" = ?', params: [officeCode] });
      if (query.filedFrom !== undefined) add({ sql: 'a."filing_date" >= ?::date', params: [query.filedFrom] });
      if (query.filedTo !== undefined) add({ sql: 'a."filing_date" <= ?::date', params: [query.filedTo] });
      for (const scheme of ['ipc', 'cpc'] as const) {
        const prefix = query[scheme];
        if (prefix === undefined) continue;
        add({ sql: `exists (select 1 from unnest(a."${scheme}") as symbol(value) where replace(symbol.value, ' ', '') like ?)`, params: [`${compactClassification(prefix)}%`] });
      }
      if (query.documentCode !== undefined) {
        // Only a document the caller may see counts: a hidden one must not make its application a hit.
        const visible = documentVisibilitySql(principal, reader, { document: 'coded', application: 'a', provider: 'o' });
        add({
          sql: `exists (select 1 from "document" coded where coded."application_id" = a."id" and coded."document_code" = ? and ${visible.sql})`,
          params: [query.documentCode, ...visible.params],
        });
      }
      if (after) add({ sql: `(${sortColumn.column}, a."id") ${descending ? '<' : '>'} (?::${sortColumn.cast}, ?::uuid)`, params: after });

      const direction = descending ? 'desc' : 'asc';
      const rows = await preparedQuery<SummaryRow>(
        em,
        `select a."id", a."office_code", a."application_number", a."display_number", a."filing_date"::text as "filing_date", a."titles", a."applicants", a."ipc", a."cpc",
           a."published", ${isoTimestampSql('a."updated_at"')} as "updated_at"
         from "application" a join "office" o on o."code" = a."office_code" left join "office" r on r."code" = ?
         where ${where.join(' and ')}
         order by ${sortColumn.column} ${direction}, a."id" ${direction}
         limit ?`,
        [...params, limit + 1],
      );
      const kept = rows.slice(0, limit);
      const last = kept.at(-1);
      const items = kept.map(toSummary);
      if (rows.length > limit && last) return { items, nextCursor: encodeCursor([sort, last[sortColumn.key], last.id]) };
      return { items };
    },
  };
}
