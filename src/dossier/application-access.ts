import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '../access/principal.js';
import { canSeeApplication, officeOfPrincipal, type VisibilityFacts } from '../access/visibility.js';
import { NotFoundError } from '../platform/errors.js';
import { applicationNumberOf } from './numbers/kept.js';

/** One application with the facts the visibility rule needs about it, its provider and the reader's office. */
export interface ApplicationContext {
  id: string;
  officeCode: string;
  applicationNumber: string;
  /** The number as the office usually writes it (from the path): what a 404 names, the same whether the application exists or not. */
  display: string;
  published: boolean;
  provider: VisibilityFacts['providingOffice'];
  /** The principal's own office (null for anonymous callers and the operator). */
  reader: VisibilityFacts['principalOffice'];
  /** Whether the principal acts for the providing office (sees everything, in every state). */
  ownOffice: boolean;
  /** Whether the principal sees the application whatever its documents (own office, or an active accessing office once published and active). */
  seenAsApplication: boolean;
}

export interface ContextRow {
  id: string;
  office_code: string;
  application_number: string;
  published: boolean;
  provider_status: 'active' | 'suspended';
  provider_public_access: boolean;
  reader_status: 'active' | 'suspended' | null;
  reader_accessing: boolean | null;
}

export const applicationNotFound = (officeCode: string, display: string): NotFoundError =>
  new NotFoundError('APPLICATION_NOT_FOUND', `No application ${display} of office ${officeCode}`, { officeCode });

/**
 * The application a path names (office code and number in any accepted spelling), with its provider's and the
 * reader's office facts, in one indexed query; 422 for a number of no accepted shape, 404 APPLICATION_NOT_FOUND for
 * one that does not exist. Whether the principal may see it is for the caller to decide (with its documents).
 */
export async function loadApplicationContext(em: EntityManager, principal: Principal, rawOfficeCode: string, rawNumber: string): Promise<ApplicationContext> {
  const { officeCode, ...number } = applicationKey(rawOfficeCode, rawNumber);
  const readerCode = officeOfPrincipal(principal);
  const [row] = await em.getConnection().execute<ContextRow[]>(
    `select ${APPLICATION_CONTEXT_COLUMNS} ${APPLICATION_CONTEXT_FROM} where a."office_code" = ? and a."application_number" = ?`,
    [readerCode ?? '', officeCode, number.number],
  );
  if (!row) throw applicationNotFound(officeCode, number.display);
  return applicationContextOf(principal, row, number.display);
}

/** The columns of an application's context, from `APPLICATION_CONTEXT_FROM` (aliases a, o and r). */
export const APPLICATION_CONTEXT_COLUMNS = `a."id", a."office_code", a."application_number", a."published", o."status" as "provider_status", o."public_access" as "provider_public_access",
  r."status" as "reader_status", r."accessing" as "reader_accessing"`;
/** An application (a), its provider (o) and the reader's office (r, left-joined on the one binding: the principal's office code or ''). */
export const APPLICATION_CONTEXT_FROM = `from "application" a join "office" o on o."code" = a."office_code" left join "office" r on r."code" = ?`;

/** The path's office code and the application number's normal form (422 for a number of no accepted shape). */
export function applicationKey(rawOfficeCode: string, rawNumber: string): { officeCode: string; number: string; display: string } {
  const officeCode = rawOfficeCode.trim().toUpperCase();
  const number = applicationNumberOf(officeCode, rawNumber);
  return { officeCode, number: number.number, display: number.display };
}

/** The context of an application from its row (APPLICATION_CONTEXT_COLUMNS). */
export function applicationContextOf(principal: Principal, row: ContextRow, display: string): ApplicationContext {
  const readerCode = officeOfPrincipal(principal);
  const provider: ApplicationContext['provider'] = { status: row.provider_status, publicAccess: row.provider_public_access };
  const reader: ApplicationContext['reader'] =
    readerCode !== null && row.reader_status !== null ? { code: readerCode, status: row.reader_status, accessing: row.reader_accessing === true } : null;
  const facts = { officeCode: row.office_code, application: { published: row.published }, providingOffice: provider, principalOffice: reader };
  return {
    id: row.id,
    officeCode: row.office_code,
    applicationNumber: row.application_number,
    display,
    published: row.published,
    provider,
    reader,
    ownOffice: readerCode === row.office_code,
    seenAsApplication: canSeeApplication(principal, facts),
  };
}

/** The principal's own office as the visibility rule takes it, in one query (null without an office). */
export async function readerOfficeFacts(em: EntityManager, principal: Principal): Promise<VisibilityFacts['principalOffice']> {
  const code = officeOfPrincipal(principal);
  if (code === null) return null;
  const [row] = await em.getConnection().execute<{ status: 'active' | 'suspended'; accessing: boolean }[]>('select "status", "accessing" from "office" where "code" = ?', [code]);
  return row ? { code, status: row.status, accessing: row.accessing } : null;
}

/** `YYYY-MM-DDTHH:MM:SS.ffffffZ` of a timestamptz column: exact (microseconds) for keyset cursors, whatever the session time zone. */
export const isoTimestampSql = (column: string): string => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** `YYYY-MM-DD` naming a real day (what a `date` column accepts), for values that come back in cursors. */
export function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}
