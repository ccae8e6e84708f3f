import type { EntityManager } from '@mikro-orm/postgresql';
import { findOfficeOrThrow } from '../access/office.service.js';
import { requireAccess } from '../access/permissions.js';
import type { Principal } from '../access/principal.js';
import { sharedWithAccessingOfficesSql } from '../access/visibility.js';
import { UnprocessableError } from '../platform/errors.js';
import type { OfficeCoverage, OfficeStatistics, StatisticsQuery } from './statistics.schemas.js';

const MAX_MONTHS = 120;

/** Months as (year × 12 + month - 1), to count and step. */
const monthIndex = (month: string): number => Number(month.slice(0, 4)) * 12 + Number(month.slice(5, 7)) - 1;
const monthOf = (index: number): string => `${String(Math.floor(index / 12)).padStart(4, '0')}-${String((index % 12) + 1).padStart(2, '0')}`;
const monthStart = (index: number): string => `${monthOf(index)}-01T00:00:00.000Z`;

interface CountRow {
  month: string;
  office: string | null;
  document_code: string;
  views: string | number;
  downloads: string | number;
}

/** Usage statistics (from access events) and coverage (from the dossiers) of one office. */
export function createStatisticsService({ em }: { em: EntityManager }) {
  const connection = () => em.getConnection();

  return {
    /**
     * Per month (UTC), how often other offices (and readers without an office) viewed and downloaded this office's
     * documents, by reader office and document code; and what this office's users and clients read of other offices.
     * An office reading its own documents is not counted. Events reach the database within about a second.
     */
    async statistics(principal: Principal, rawOfficeCode: string, query: StatisticsQuery): Promise<OfficeStatistics> {
      const office = await findOfficeOrThrow(em, rawOfficeCode);
      requireAccess(principal, 'getOfficeStatistics', { officeCode: office.code });
      const now = new Date();
      const to = query.to ?? `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
      const from = query.from ?? monthOf(monthIndex(to) - 11);
      if (monthIndex(from) > monthIndex(to)) throw new UnprocessableError('INVALID_MONTH_RANGE', `from ${from} is after to ${to}`);
      if (monthIndex(to) - monthIndex(from) + 1 > MAX_MONTHS) throw new UnprocessableError('INVALID_MONTH_RANGE', `At most ${MAX_MONTHS} months at once`);
      const range = [monthStart(monthIndex(from)), monthStart(monthIndex(to) + 1)];
      const month = `to_char(date_trunc('month', e."at" at time zone 'UTC'), 'YYYY-MM')`;
      const counts = `count(*) filter (where e."action" = 'view') as "views", count(*) filter (where e."action" = 'download') as "downloads"`;

      const byOthers = await connection().execute<CountRow[]>(
        `select ${month} as "month", e."reader_office" as "office", e."document_code", ${counts}
         from "access_event" e
         where e."provider_office" = ? and e."reader_office" is distinct from ? and e."at" >= ?::timestamptz and e."at" < ?::timestamptz
         group by 1, 2, 3 order by 1, 2 nulls first, 3`,
        [office.code, office.code, ...range],
      );
      const fromOthers = await connection().execute<CountRow[]>(
        `select ${month} as "month", e."provider_office" as "office", e."document_code", ${counts}
         from "access_event" e
         where e."reader_office" = ? and e."provider_office" <> ? and e."at" >= ?::timestamptz and e."at" < ?::timestamptz
         group by 1, 2, 3 order by 1, 2, 3`,
        [office.code, office.code, ...range],
      );
      return {
        officeCode: office.code,
        from,
        to,
        accessedByOthers: byOthers.map((row) => ({ month: row.month, readerOffice: row.office, documentCode: row.document_code, views: Number(row.views), downloads: Number(row.downloads) })),
        accessedFromOthers: fromOthers.map((row) => ({
          month: row.month,
          providerOffice: row.office ?? '',
          documentCode: row.document_code,
          views: Number(row.views),
          downloads: Number(row.downloads),
        })),
      };
    },

    /**
     * Public counts of what an office shares: its published applications (while the office is active) by filing year,
     * and the documents of those it shares with every active accessing office, by document code and year.
     */
    async coverage(principal: Principal, rawOfficeCode: string): Promise<OfficeCoverage> {
      requireAccess(principal, 'getOfficeCoverage');
      const office = await findOfficeOrThrow(em, rawOfficeCode);
      const applications = await connection().execute<{ year: number; count: string | number }[]>(
        `select extract(year from a."filing_date")::int as "year", count(*) as "count"
         from "application" a join "office" o on o."code" = a."office_code"
         where a."office_code" = ? and a."published" and o."status" = 'active'
         group by 1 order by 1`,
        [office.code],
      );
      const shared = sharedWithAccessingOfficesSql({ document: 'd', application: 'a', provider: 'o' });
      const documents = await connection().execute<{ document_code: string; year: number; count: string | number }[]>(
        `select d."document_code", extract(year from d."document_date")::int as "year", count(*) as "count"
         from "document" d join "application" a on a."id" = d."application_id" join "office" o on o."code" = a."office_code"
         where a."office_code" = ? and ${shared.sql}
         group by 1, 2 order by 1, 2`,
        [office.code, ...shared.params],
      );
      const byYear = applications.map((row) => ({ year: Number(row.year), count: Number(row.count) }));
      const byCode = documents.map((row) => ({ documentCode: row.document_code, year: Number(row.year), count: Number(row.count) }));
      return {
        officeCode: office.code,
        applications: { total: byYear.reduce((sum, row) => sum + row.count, 0), byYear },
        documents: { total: byCode.reduce((sum, row) => sum + row.count, 0), byCode },
      };
    },
  };
}
