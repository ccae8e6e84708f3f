import type { EntityManager } from '@mikro-orm/postgresql';
import { requireAccess } from '../access/permissions.js';
import type { Principal } from '../access/principal.js';
import type { ApplicationParty, ApplicationTitle } from './application.entity.js';
import { isoTimestampSql, loadApplicationContext } from './application-access.js';
import type { ApplicationDetail } from './application.schemas.js';
import { requireVisibleApplication } from './dossier-list.service.js';

interface DetailRow {
  application_number_raw: string;
  number_normalized: boolean;
  display_number: string;
  filing_date: string;
  titles: ApplicationTitle[];
  applicants: ApplicationParty[];
  inventors: ApplicationParty[];
  ipc: string[];
  cpc: string[];
  provider_family_id: string | null;
  pct_application_number: string | null;
  simple_family_id: string | null;
  extended_family_id: string | null;
  created_at: string;
  updated_at: string;
}

/** One application's record as the principal may see it: bibliographic data, publications, priorities, what its dossier holds. */
export function createApplicationReadService({ em }: { em: EntityManager }) {
  const connection = () => em.getConnection();

  return {
    async get(principal: Principal, rawOfficeCode: string, rawNumber: string): Promise<ApplicationDetail> {
      requireAccess(principal, 'getApplication');
      const context = await loadApplicationContext(em, principal, rawOfficeCode, rawNumber);
      const visibility = await requireVisibleApplication(em, principal, context);

      const [row] = await connection().execute<DetailRow[]>(
        `select a."application_number_raw", a."number_normalized", a."display_number", a."filing_date"::text as "filing_date", a."titles", a."applicants", a."inventors",
           a."ipc", a."cpc", a."provider_family_id", a."pct_application_number", f."simple_family_id", f."extended_family_id", ${isoTimestampSql('a."created_at"')} as "created_at", ${isoTimestampSql('a."updated_at"')} as "updated_at"
         from "application" a left join "application_family" f on f."application_id" = a."id" where a."id" = ?`,
        [context.id],
      );
      if (!row) throw new Error(`Application ${context.id} vanished`);
      const [documents] = await connection().execute<{ count: string | number; latest: string | null }[]>(
        `select count(*) as "count", max(d."document_date")::text as "latest" from "document" d where d."application_id" = ?${visibility ? ` and ${visibility.sql}` : ''}`,
        [context.id, ...(visibility?.params ?? [])],
      );
      const priorities = await connection().execute<{ office_code: string; number: string; number_raw: string; date: string }[]>(
        'select "office_code", "number", "number_raw", "date"::text as "date" from "priority_claim" where "application_id" = ? order by "position"',
        [context.id],
      );
      const publications = await connection().execute<{ office_code: string; number: string; kind_code: string; number_raw: string; date: string }[]>(
        'select "office_code", "number", "kind_code", "number_raw", "date"::text as "date" from "publication" where "application_id" = ? order by "position"',
        [context.id],
      );

      // Citations belong to the application, but those attached to a document the caller may not see are not counted
      // (as GET …/citations leaves them out); readers that may not read citations at all get null.
      let citations: ApplicationDetail['citations'] = null;
      if (context.seenAsApplication) {
        const rows = await connection().execute<{ type: 'patent' | 'npl'; categories: string[] }[]>(
          `select c."type", c."categories" from "citation" c left join "document" d on d."id" = c."document_id"
           where c."application_id" = ? and (c."document_id" is null${visibility ? ` or ${visibility.sql}` : ' or true'})`,
          [context.id, ...(visibility?.params ?? [])],
        );
        const byCategory: Record<string, number> = {};
        for (const citation of rows) for (const category of citation.categories) byCategory[category] = (byCategory[category] ?? 0) + 1;
        citations = {
          total: rows.length,
          patent: rows.filter((citation) => citation.type === 'patent').length,
          nonPatent: rows.filter((citation) => citation.type === 'npl').length,
          byCategory,
        };
      }

      return {
        officeCode: context.officeCode,
        applicationNumber: context.applicationNumber,
        displayNumber: row.display_number,
        filingDate: row.filing_date,
        titles: row.titles,
        applicants: row.applicants,
        ipc: row.ipc,
        cpc: row.cpc,
        published: context.published,
        updatedAt: new Date(row.updated_at).toISOString(),
        applicationNumberRaw: row.application_number_raw,
        numberNormalized: row.number_normalized,
        inventors: row.inventors,
        priorityClaims: priorities.map((claim) => ({ officeCode: claim.office_code, number: claim.number, numberRaw: claim.number_raw, date: claim.date })),
        publications: publications.map((publication) => ({
          officeCode: publication.office_code,
          number: publication.number,
          kindCode: publication.kind_code,
          numberRaw: publication.number_raw,
          date: publication.date,
        })),
        providerFamilyId: row.provider_family_id,
        pctApplication: row.pct_application_number,
        simpleFamilyId: row.simple_family_id,
        extendedFamilyId: row.extended_family_id,
        documents: { count: Number(documents?.count ?? 0), latestDocumentDate: documents?.latest ?? null },
        citations,
        createdAt: new Date(row.created_at).toISOString(),
      };
    },
  };
}
