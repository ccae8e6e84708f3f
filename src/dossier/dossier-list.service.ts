import type { EntityManager } from '@mikro-orm/postgresql';
import { requireAccess } from '../access/permissions.js';
import type { Principal } from '../access/principal.js';
import { documentVisibilitySql, officeOfPrincipal, type SqlFragment } from '../access/visibility.js';
import { BadRequestError } from '../platform/errors.js';
import { decodeCursor, DEFAULT_PAGE_LIMIT, encodeCursor } from '../platform/pagination.js';
import { isUuid } from '../platform/ids.js';
import {
  APPLICATION_CONTEXT_COLUMNS,
  APPLICATION_CONTEXT_FROM,
  applicationContextOf,
  applicationKey,
  applicationNotFound,
  isCalendarDate,
  type ApplicationContext,
  type ContextRow,
} from './application-access.js';
import type { DocumentSort, DocumentSummary, DossierQuery } from './application.schemas.js';
import { preparedQuery } from '../platform/database/prepared-query.js';

interface DocumentRow {
  id: string;
  document_code: string;
  document_date: string;
  direction: DocumentSummary['direction'];
  language_code: string;
  title: string;
  page_count: number | null;
  media_type: string;
  byte_size: string | number;
  sha256: string;
  visibility: DocumentSummary['visibility'];
  status: DocumentSummary['status'];
  version: number;
}

const DOCUMENT_COLUMNS = `d."document_code", d."document_date"::text as "document_date", d."direction", d."language_code", d."title", d."page_count",
  d."media_type", d."byte_size", d."sha256", d."visibility", d."status", d."version"`;

function toSummary(row: DocumentRow): DocumentSummary {
  return {
    id: row.id,
    documentCode: row.document_code,
    documentDate: row.document_date,
    direction: row.direction,
    languageCode: row.language_code,
    title: row.title,
    pageCount: row.page_count,
    mediaType: row.media_type,
    byteSize: Number(row.byte_size),
    sha256: row.sha256,
    visibility: row.visibility,
    status: row.status,
    version: row.version,
  };
}

/**
 * The visibility predicate of one application's documents, with the application's and provider's facts known
 * (so the database only checks the document's own columns): none for the providing office.
 */
export function dossierVisibility(principal: Principal, context: ApplicationContext): SqlFragment | null {
  if (context.ownOffice) return null;
  return documentVisibilitySql(principal, context.reader, { document: 'd', application: { published: context.published }, provider: context.provider });
}

/**
 * The application as the principal may see it, or 404 exactly as for one that does not exist: the providing office
 * always; others once it is published and its provider active, if they read as an active accessing office or at
 * least one of its documents is visible to them (canSeeApplicationRecord).
 */
export async function requireVisibleApplication(em: EntityManager, principal: Principal, context: ApplicationContext): Promise<SqlFragment | null> {
  const visibility = dossierVisibility(principal, context);
  if (context.seenAsApplication) return visibility;
  if (!context.published || context.provider.status !== 'active' || visibility === null) throw applicationNotFound(context.officeCode, context.display);
  const [row] = await em
    .getConnection()
    .execute<{ visible: boolean }[]>(`select exists (select 1 from "document" d where d."application_id" = ? and ${visibility.sql}) as "visible"`, [context.id, ...visibility.params]);
  if (row?.visible !== true) throw applicationNotFound(context.officeCode, context.display);
  return visibility;
}

/** The dossier list: one application's documents the principal may see, newest first, filtered, in keyset pages. */
export function createDossierListService({ em }: { em: EntityManager }) {
  return {
    async list(principal: Principal, rawOfficeCode: string, rawNumber: string, query: DossierQuery): Promise<{ items: DocumentSummary[]; nextCursor?: string }> {
      requireAccess(principal, 'listApplicationDocuments');
      const sort: DocumentSort = query.sort ?? 'documentDate:desc';
      const descending = sort.endsWith(':desc');
      const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
      let after: [string, string] | undefined;
      if (query.cursor !== undefined) {
        const [cursorSort, date, id] = decodeCursor(query.cursor, 3);
        if (cursorSort !== sort || typeof date !== 'string' || typeof id !== 'string' || !isCalendarDate(date) || !isUuid(id)) {
          throw new BadRequestError('INVALID_CURSOR', 'The cursor is not one this API issued for this sort; start again without it');
        }
        after = [date, id];
      }

      // One statement: the application with its provider's and the reader's office facts, and, laterally, the page
      // of its documents under the visibility rule (the reader's office decided in SQL). No N+1, one round trip.
      const key = applicationKey(rawOfficeCode, rawNumber);
      const visibility = documentVisibilitySql(principal, { alias: 'r' }, { document: 'd', application: 'a', provider: 'o' });
      const where = ['d."application_id" = a."id"', visibility.sql];
      const params: SqlFragment['params'] = [...visibility.params];
      if (query.documentCode !== undefined) {
        where.push('d."document_code" = ?');
        params.push(query.documentCode);
      }
      if (query.direction !== undefined) {
        where.push('d."direction" = ?');
        params.push(query.direction);
      }
      if (query.from !== undefined) {
        where.push('d."document_date" >= ?::date');
        params.push(query.from);
      }
      if (query.to !== undefined) {
        where.push('d."document_date" <= ?::date');
        params.push(query.to);
      }
      if (after) {
        where.push(`(d."document_date", d."id") ${descending ? '<' : '>'} (?::date, ?::uuid)`);
        params.push(...after);
      }
      const direction = descending ? 'desc' : 'asc';
      const joined = await preparedQuery<ContextRow & Partial<DocumentRow> & { document_id: string | null }>(
        em,
        `select ${APPLICATION_CONTEXT_COLUMNS}, page.*
         ${APPLICATION_CONTEXT_FROM}
         left join lateral (
           select d."id" as "document_id", ${DOCUMENT_COLUMNS} from "document" d
           where ${where.join(' and ')}
           order by d."document_date" ${direction}, d."id" ${direction} limit ?
         ) page on true
         where a."office_code" = ? and a."application_number" = ?`,
        [officeOfPrincipal(principal) ?? '', ...params, limit + 1, key.officeCode, key.number],
      );
      const first = joined[0];
      if (!first) throw applicationNotFound(key.officeCode, key.display);
      const context = applicationContextOf(principal, first, key.display);
      const rows = joined.filter((row) => row.document_id !== null).map((row) => ({ ...row, id: row.document_id }) as DocumentRow);
      // A reader that sees the application only through its documents: an empty page must still prove one is visible.
      if (!context.seenAsApplication && (rows.length === 0 || !context.published || context.provider.status !== 'active')) await requireVisibleApplication(em, principal, context);

      const kept = rows.slice(0, limit);
      const items = kept.map(toSummary);
      const last = kept.at(-1);
      return rows.length > limit && last ? { items, nextCursor: encodeCursor([sort, last.document_date, last.id]) } : { items };
    },
  };
}
