import type { EntityManager } from '@mikro-orm/postgresql';
import { requireAccess } from '../../access/permissions.js';
import type { Principal } from '../../access/principal.js';
import { applicationVisibilitySql, canSeeApplication, canSeeDocument, documentVisibilitySql, type SqlFragment, type VisibilityFacts } from '../../access/visibility.js';
import { BadRequestError, NotFoundError } from '../../platform/errors.js';
import { isUuid } from '../../platform/ids.js';
import { decodeCursor, DEFAULT_PAGE_LIMIT, encodeCursor } from '../../platform/pagination.js';
import type { ApplicationTitle } from '../application.entity.js';
import { isCalendarDate, readerOfficeFacts } from '../application-access.js';
import type { DocumentDirection } from '../document.entity.js';
import type { FamilyKind } from './family-index.js';
import { splitKey } from './family-store.js';
import type { CitationMatrix, FamilyMember, FamilyView, TimelineEvent, TimelineQuery } from './family.schemas.js';

/** Document codes that make a member's dossier "have a search report" / "have an examination report". */
export const SEARCH_REPORT_CODES: readonly string[] = ['searchReport'];
export const EXAMINATION_REPORT_CODES: readonly string[] = ['examinationReport', 'officeAction'];

export const familyNotFound = (familyId: string): NotFoundError => new NotFoundError('FAMILY_NOT_FOUND', `No family ${familyId}`, { familyId });

/** The answer for an id that no longer names a live family but was merged into (or replaced by) one: where it lives now. */
export interface FamilyRedirect {
  redirect: string;
}

interface FamilyRow {
  id: string;
  kind: FamilyKind;
  status: 'live' | 'absorbed' | 'dissolved';
  redirect_to: string | null;
  signature: string[] | null;
  created_at: Date | string;
  updated_at: Date | string;
}

interface MemberRow {
  id: string;
  office_code: string;
  application_number: string;
  display_number: string;
  filing_date: string;
  titles: ApplicationTitle[];
  published: boolean;
  pct_application_number: string | null;
  provider_family_id: string | null;
  simple_family_id: string;
  extended_family_id: string;
  provider_status: 'active' | 'suspended';
  provider_public_access: boolean;
}

type CitedDossier = NonNullable<CitationMatrix['rows'][number]['dossier']>;

/** The column of `application_family` holding a family of this kind. */
const columnOf = (kind: FamilyKind): 'simple_family_id' | 'extended_family_id' => (kind === 'simple' ? 'simple_family_id' : 'extended_family_id');
const iso = (value: Date | string): string => (value instanceof Date ? value : new Date(value)).toISOString();

/** Redirects are kept one hop long; a few more are followed in case a chain was left behind. */
const MAX_REDIRECTS = 4;

/**
 * Families (docs/families.md): one family with its members, the family's timeline, and its consolidated citation
 * matrix, all under the visibility rule (DESIGN §3). A member is an application the caller may see
 * (`applicationVisibilitySql`: its own office's always; others' once published by an active office, for active
 * accessing offices, or for other readers when one of its documents is visible to them); documents, events and
 * counts are only those the caller may see (`documentVisibilitySql`). A family of which the caller sees no member
 * does not exist for it (404), and neither do ids it never had.
 */
export function createFamilyService({ em }: { em: EntityManager }) {
  const connection = () => em.getConnection();

  /** The live family an id names (following redirects), or where it went, or 404. */
  async function resolve(familyId: string): Promise<FamilyRow | FamilyRedirect> {
    if (!isUuid(familyId)) throw familyNotFound(familyId);
    let id = familyId.toLowerCase();
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const [row] = await connection().execute<FamilyRow[]>('select id, kind, status, redirect_to, signature, created_at, updated_at from family where id = ?', [id]);
      if (!row) break;
      if (row.status === 'live') return hop === 0 ? row : { redirect: row.id };
      if (row.redirect_to === null) break;
      id = row.redirect_to;
    }
    throw familyNotFound(familyId);
  }

  interface Reader {
    principal: Principal;
    office: VisibilityFacts['principalOffice'];
    applications: SqlFragment;
  }

  async function readerOf(principal: Principal): Promise<Reader> {
    const office = await readerOfficeFacts(em, principal);
    return { principal, office, applications: applicationVisibilitySql(principal, office, { application: 'a', provider: 'o' }) };
  }

  /** The members of a live family the reader may see, by office and number. */
  async function visibleMembers(reader: Reader, family: { id: string; kind: FamilyKind }): Promise<MemberRow[]> {
    return connection().execute<MemberRow[]>(
      `select a.id, a.office_code, a.application_number, a.display_number, a.filing_date::text as filing_date, a.titles, a.published,
         a.pct_application_number, a.provider_family_id, f.simple_family_id, f.extended_family_id,
         o.status as provider_status, o.public_access as provider_public_access
       from application_family f join application a on a.id = f.application_id join office o on o.code = a.office_code
       where f.${columnOf(family.kind)} = ? and ${reader.applications.sql}
       order by a.office_code, a.application_number`,
      [family.id, ...reader.applications.params],
    );
  }

  /** The live family and the members the reader sees; a redirect for an absorbed id whose survivor the reader sees; else 404. */
  async function open(principal: Principal, familyId: string): Promise<{ reader: Reader; family: FamilyRow; members: MemberRow[] } | FamilyRedirect> {
    const found = await resolve(familyId);
    const reader = await readerOf(principal);
    if ('redirect' in found) {
      const [survivor] = await connection().execute<FamilyRow[]>('select id, kind, status, redirect_to, signature, created_at, updated_at from family where id = ?', [found.redirect]);
      if (!survivor || (await visibleMembers(reader, survivor)).length === 0) throw familyNotFound(familyId);
      return found;
    }
    const members = await visibleMembers(reader, found);
    if (members.length === 0) throw familyNotFound(familyId);
    return { reader, family: found, members };
  }

  const documentSql = (reader: Reader): SqlFragment => documentVisibilitySql(reader.principal, reader.office, { document: 'd', application: 'a', provider: 'o' });

  async function documentCounts(reader: Reader, memberIds: string[]): Promise<Map<string, Map<string, number>>> {
    const visible = documentSql(reader);
    const rows = await connection().execute<{ application_id: string; document_code: string; count: string | number }[]>(
      `select d.application_id, d.document_code, count(*) as count
       from document d join application a on a.id = d.application_id join office o on o.code = a.office_code
       where d.application_id in (select value::uuid from jsonb_array_elements_text(?::jsonb)) and d.status <> 'superseded' and ${visible.sql}
       group by d.application_id, d.document_code`,
      [JSON.stringify(memberIds), ...visible.params],
    );
    const counts = new Map<string, Map<string, number>>();
    for (const row of rows) {
      let byCode = counts.get(row.application_id);
      if (!byCode) counts.set(row.application_id, (byCode = new Map<string, number>()));
      byCode.set(row.document_code, Number(row.count));
    }
    return counts;
  }

  /** Provider-id conflicts among the applications the reader sees (docs/families.md): computed on read. */
  async function conflictsOf(reader: Reader, family: FamilyRow, members: MemberRow[]): Promise<FamilyView['conflicts']> {
    const column = columnOf(family.kind);
    const carried = members.filter((member) => member.provider_family_id !== null);
    if (carried.length === 0) return [];
    const holders = await connection().execute<{ office_code: string; application_number: string; provider_family_id: string; family_id: string }[]>(
      `select a.office_code, a.application_number, a.provider_family_id, f.${column} as family_id
       from application a join office o on o.code = a.office_code
       join jsonb_to_recordset(?::jsonb) as k(o text, p text) on a.office_code = k.o and a.provider_family_id = k.p
       join application_family f on f.application_id = a.id
       where ${reader.applications.sql}
       order by a.office_code, a.application_number`,
      [JSON.stringify(carried.map((member) => ({ o: member.office_code, p: member.provider_family_id }))), ...reader.applications.params],
    );
    const ref = (row: { office_code: string; application_number: string }) => ({ officeCode: row.office_code, applicationNumber: row.application_number });
    const byOffice = new Map<string, Map<string, MemberRow[]>>();
    for (const member of carried) {
      let ids = byOffice.get(member.office_code);
      if (!ids) byOffice.set(member.office_code, (ids = new Map<string, MemberRow[]>()));
      const list = ids.get(member.provider_family_id!) ?? [];
      list.push(member);
      ids.set(member.provider_family_id!, list);
    }
    const conflicts: FamilyView['conflicts'] = [];
    for (const office of [...byOffice.keys()].sort()) {
      const ids = byOffice.get(office)!;
      if (ids.size >= 2) {
        conflicts.push({
          rule: 'several-provider-ids',
          providerOffice: office,
          providerFamilyIds: [...ids.keys()].sort().map((providerFamilyId) => ({ providerFamilyId, members: ids.get(providerFamilyId)!.map(ref) })),
        });
      }
      for (const providerFamilyId of [...ids.keys()].sort()) {
        const families = new Map<string, { officeCode: string; applicationNumber: string }[]>();
        for (const holder of holders) {
          if (holder.office_code !== office || holder.provider_family_id !== providerFamilyId) continue;
          const list = families.get(holder.family_id) ?? [];
          list.push(ref(holder));
          families.set(holder.family_id, list);
        }
        if (families.size < 2) continue;
        conflicts.push({
          rule: 'provider-id-spread',
          providerOffice: office,
          providerFamilyId,
          families: [...families.keys()].sort().map((familyId) => ({ familyId, members: families.get(familyId)! })),
        });
      }
    }
    return conflicts;
  }

  return {
    async get(principal: Principal, familyId: string): Promise<FamilyView | FamilyRedirect> {
      requireAccess(principal, 'getFamily');
      const opened = await open(principal, familyId);
      if ('redirect' in opened) return opened;
      const { reader, family, members } = opened;
      const ids = members.map((member) => member.id);
      const idsJson = JSON.stringify(ids);
      const priorities = await connection().execute<{ application_id: string; office_code: string; number: string; date: string }[]>(
        `select application_id, office_code, number, date::text as date from priority_claim
         where application_id in (select value::uuid from jsonb_array_elements_text(?::jsonb)) order by application_id, position`,
        [idsJson],
      );
      const publications = await connection().execute<{ application_id: string; office_code: string; number: string; kind_code: string; date: string }[]>(
        `select application_id, office_code, number, kind_code, date::text as date from publication
         where application_id in (select value::uuid from jsonb_array_elements_text(?::jsonb)) order by application_id, position`,
        [idsJson],
      );
      const counts = await documentCounts(reader, ids);
      const conflicts = await conflictsOf(reader, family, members);

      const views: FamilyMember[] = members.map((member) => {
        const byCode = counts.get(member.id) ?? new Map<string, number>();
        const codes = [...byCode.keys()].sort();
        return {
          officeCode: member.office_code,
          applicationNumber: member.application_number,
          displayNumber: member.display_number,
          filingDate: member.filing_date,
          titles: member.titles,
          published: member.published,
          priorityClaims: priorities.filter((row) => row.application_id === member.id).map(({ office_code, number, date }) => ({ officeCode: office_code, number, date })),
          publications: publications
            .filter((row) => row.application_id === member.id)
            .map(({ office_code, number, kind_code, date }) => ({ officeCode: office_code, number, kindCode: kind_code, date })),
          pctApplication: member.pct_application_number,
          providerFamilyId: member.provider_family_id,
          simpleFamilyId: member.simple_family_id,
          extendedFamilyId: member.extended_family_id,
          documents: {
            total: [...byCode.values()].reduce((sum, count) => sum + count, 0),
            byCode: codes.map((documentCode) => ({ documentCode, count: byCode.get(documentCode)! })),
            hasSearchReport: codes.some((code) => SEARCH_REPORT_CODES.includes(code)),
            hasExaminationReport: codes.some((code) => EXAMINATION_REPORT_CODES.includes(code)),
          },
        };
      });
      return {
        id: family.id,
        kind: family.kind,
        firstFilings: family.kind === 'simple' ? (family.signature ?? []).map((key) => ({ officeCode: splitKey(key).officeCode, applicationNumber: splitKey(key).number })) : null,
        extendedFamilyId: family.kind === 'simple' ? (members[0]?.extended_family_id ?? null) : null,
        simpleFamilyIds: family.kind === 'extended' ? [...new Set(members.map((member) => member.simple_family_id))].sort() : null,
        offices: [...new Set(members.map((member) => member.office_code))].sort(),
        memberCount: members.length,
        members: views,
        hasConflict: conflicts.length > 0,
        conflicts,
        createdAt: iso(family.created_at),
        updatedAt: iso(family.updated_at),
      };
    },

    /** Filings, publications and documents of the members the caller may see, in date order, in keyset pages. */
    async timeline(principal: Principal, familyId: string, query: TimelineQuery): Promise<{ items: TimelineEvent[]; nextCursor?: string } | FamilyRedirect> {
      requireAccess(principal, 'getFamilyTimeline');
      const descending = query.sort === 'date:desc';
      const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
      let after: [string, number, string] | null = null;
      if (query.cursor !== undefined) {
        const [date, rank, tie] = decodeCursor(query.cursor, 3);
        if (typeof date !== 'string' || !isCalendarDate(date) || typeof rank !== 'number' || !Number.isInteger(rank) || typeof tie !== 'string' || !isUuid(tie)) {
          throw new BadRequestError('INVALID_CURSOR', 'The cursor is not one this API issued; start again without it');
        }
        after = [date, rank, tie];
      }
      const opened = await open(principal, familyId);
      if ('redirect' in opened) return opened;
      const { reader, members } = opened;
      const visible = documentSql(reader);
      const direction = descending ? 'desc' : 'asc';
      const rows = await connection().execute<
        {
          date: string;
          rank: number;
          tie: string;
          office_code: string;
          application_number: string;
          display_number: string;
          p_office: string | null;
          p_number: string | null;
          p_kind: string | null;
          d_code: string | null;
          d_title: string | null;
          d_direction: DocumentDirection | null;
          d_language: string | null;
          d_status: string | null;
        }[]
      >(
        `with m as (select value::uuid as id from jsonb_array_elements_text(?::jsonb)),
         e as (
           select a.filing_date as date, 0 as rank, a.id as tie, a.office_code, a.application_number, a.display_number,
             null::text as p_office, null::text as p_number, null::text as p_kind, null::text as d_code, null::text as d_title, null::text as d_direction, null::text as d_language, null::text as d_status
           from application a join m on m.id = a.id
           union all
           select p.date, 1, p.id, a.office_code, a.application_number, a.display_number, p.office_code, p.number, p.kind_code, null, null, null, null, null
           from publication p join m on m.id = p.application_id join application a on a.id = p.application_id
           union all
           select d.document_date, 2, d.id, a.office_code, a.application_number, a.display_number, null, null, null, d.document_code, d.title, d.direction, d.language_code, d.status
           from document d join m on m.id = d.application_id join application a on a.id = d.application_id join office o on o.code = a.office_code
           where d.status <> 'superseded' and ${visible.sql}
         )
         select e.date::text as date, e.rank, e.tie::text as tie, e.office_code, e.application_number, e.display_number, e.p_office, e.p_number, e.p_kind,
           e.d_code, e.d_title, e.d_direction, e.d_language, e.d_status
         from e ${after ? `where (e.date, e.rank, e.tie) ${descending ? '<' : '>'} (?::date, ?, ?::uuid)` : ''}
         order by e.date ${direction}, e.rank ${direction}, e.tie ${direction} limit ?`,
        [JSON.stringify(members.map((member) => member.id)), ...visible.params, ...(after ?? []), limit + 1],
      );
      const items = rows.slice(0, limit).map((row): TimelineEvent => {
        const base = { date: row.date, officeCode: row.office_code, applicationNumber: row.application_number, displayNumber: row.display_number };
        if (row.rank === 0) return { type: 'filing', ...base };
        if (row.rank === 1) return { type: 'publication', ...base, publication: { officeCode: row.p_office!, number: row.p_number!, kindCode: row.p_kind! } };
        return {
          type: 'document',
          ...base,
          document: { id: row.tie, documentCode: row.d_code!, title: row.d_title!, direction: row.d_direction!, languageCode: row.d_language!, status: row.d_status! },
        };
      });
      const last = rows[limit - 1];
      return rows.length > limit && last ? { items, nextCursor: encodeCursor([last.date, Number(last.rank), last.tie]) } : { items };
    },

    /** Each cited document against each citing office of the family, with categories, claims and passages. */
    async citations(principal: Principal, familyId: string): Promise<CitationMatrix | FamilyRedirect> {
      requireAccess(principal, 'getFamilyCitations');
      const opened = await open(principal, familyId);
      if ('redirect' in opened) return opened;
      const { reader, family, members } = opened;
      // Citations belong to the application (canSeeApplication, as GET …/citations); one attached to a document the
      // caller may not see is left out, so that the document's existence does not leak.
      const citing = members.filter((member) =>
        canSeeApplication(principal, {
          officeCode: member.office_code,
          application: { published: member.published },
          providingOffice: { status: member.provider_status, publicAccess: member.provider_public_access },
          principalOffice: reader.office,
        }),
      );
      const byId = new Map(citing.map((member) => [member.id, member]));
      const rows =
        citing.length === 0
          ? []
          : await connection().execute<{
              application_id: string;
              type: 'patent' | 'npl';
              office_code: string | null;
              number: string | null;
              number_type: string | null;
              kind_code: string | null;
              text: string | null;
              categories: string[];
              claims: string | null;
              passages: string | null;
              document_id: string | null;
              d_office: string | null;
              d_visibility: 'public' | 'offices' | 'restricted' | null;
              d_allowed: string[] | null;
              d_status: 'active' | 'withdrawn' | 'superseded' | null;
            }[]>(
              `select c.application_id, c.type, c.office_code, c.number, c.number_type, c.kind_code, c.text, c.categories, c.claims, c.passages, c.document_id,
                 d.office_code as d_office, d.visibility as d_visibility, d.allowed_offices as d_allowed, d.status as d_status
               from citation c left join document d on d.id = c.document_id
               where c.application_id in (select value::uuid from jsonb_array_elements_text(?::jsonb))
               order by c.application_id, c.position`,
              [JSON.stringify([...byId.keys()])],
            );
      const shown = rows.filter((row) => {
        if (row.document_id === null) return true;
        const member = byId.get(row.application_id)!;
        if (row.d_office === null || row.d_visibility === null || row.d_status === null) return false;
        return canSeeDocument(principal, {
          document: { officeCode: row.d_office, visibility: row.d_visibility, allowedOffices: row.d_allowed ?? [], status: row.d_status },
          application: { published: member.published },
          providingOffice: { status: member.provider_status, publicAccess: member.provider_public_access },
          principalOffice: reader.office,
        });
      });

      interface Cell {
        categories: Set<string>;
        claims: Set<string>;
        passages: Set<string>;
        citedBy: { officeCode: string; applicationNumber: string; documentId: string | null }[];
      }
      interface Row {
        cited: CitationMatrix['rows'][number]['cited'];
        kinds: Set<string>;
        numberType: string | null;
        cells: Map<string, Cell>;
      }
      const matrix = new Map<string, Row>();
      for (const row of shown) {
        const member = byId.get(row.application_id)!;
        const patent = row.type === 'patent' && row.office_code !== null && row.number !== null;
        const key = patent ? `patent\u0000${row.office_code}\u0000${row.number}` : `npl\u0000${(row.text ?? '').replace(/\s+/g, ' ').trim().toLowerCase()}`;
        let entry = matrix.get(key);
        if (!entry) {
          entry = {
            cited: patent ? { type: 'patent', officeCode: row.office_code!, number: row.number! } : { type: 'npl', text: (row.text ?? '').trim() },
            kinds: new Set(),
            numberType: row.number_type,
            cells: new Map(),
          };
          matrix.set(key, entry);
        }
        if (row.kind_code) entry.kinds.add(row.kind_code);
        let cell = entry.cells.get(member.office_code);
        if (!cell) entry.cells.set(member.office_code, (cell = { categories: new Set(), claims: new Set(), passages: new Set(), citedBy: [] }));
        for (const category of row.categories) cell.categories.add(category);
        if (row.claims) cell.claims.add(row.claims);
        if (row.passages) cell.passages.add(row.passages);
        if (!cell.citedBy.some((by) => by.applicationNumber === member.application_number && by.officeCode === member.office_code && by.documentId === row.document_id)) {
          cell.citedBy.push({ officeCode: member.office_code, applicationNumber: member.application_number, documentId: row.document_id });
        }
      }

      const dossiers = await citedDossiers(reader, [...matrix.values()].filter((entry) => entry.cited.type === 'patent'));
      const offices = new Set<string>();
      const result: CitationMatrix['rows'] = [...matrix.entries()].map(([key, entry]) => {
        for (const office of entry.cells.keys()) offices.add(office);
        const cited = entry.cited.type === 'patent' ? { ...entry.cited, kindCodes: [...entry.kinds].sort() } : entry.cited;
        return {
          cited,
          dossier: dossiers.get(key) ?? null,
          byOffice: [...entry.cells.keys()].sort().map((officeCode) => {
            const cell = entry.cells.get(officeCode)!;
            return { officeCode, categories: [...cell.categories].sort(), claims: [...cell.claims], passages: [...cell.passages], citedBy: cell.citedBy };
          }),
        };
      });
      // Most cited first (by how many offices cite it), then by office and number (NPL last).
      result.sort(
        (a, b) =>
          b.byOffice.length - a.byOffice.length ||
          (a.cited.type === b.cited.type ? 0 : a.cited.type === 'patent' ? -1 : 1) ||
          `${a.cited.officeCode ?? ''}${a.cited.number ?? a.cited.text ?? ''}`.localeCompare(`${b.cited.officeCode ?? ''}${b.cited.number ?? b.cited.text ?? ''}`),
      );
      return { familyId: family.id, kind: family.kind, citingOffices: [...offices].sort(), rows: result };
    },
  };

  /** The visible applications the hub holds for cited patent documents, by matrix key (publication or application number). */
  async function citedDossiers(
    reader: Reader,
    cited: { cited: CitationMatrix['rows'][number]['cited']; numberType: string | null }[],
  ): Promise<Map<string, CitedDossier>> {
    const found = new Map<string, CitedDossier>();
    if (cited.length === 0) return found;
    const keys = cited.map((entry) => ({ o: entry.cited.officeCode, n: entry.cited.number, t: entry.numberType ?? 'either' }));
    const rows = await connection().execute<{ o: string; n: string; office_code: string; application_number: string; extended_family_id: string | null }[]>(
      `with k as (select * from jsonb_to_recordset(?::jsonb) as k(o text, n text, t text)),
       m as (
         select k.o, k.n, a.id from k join application a on k.t in ('application', 'either') and a.office_code = k.o and a.application_number = k.n
         union
         select k.o, k.n, p.application_id from k join publication p on k.t in ('publication', 'either') and p.office_code = k.o and p.number = k.n
       )
       select m.o, m.n, a.office_code, a.application_number, f.extended_family_id
       from m join application a on a.id = m.id join office o on o.code = a.office_code left join application_family f on f.application_id = a.id
       where ${reader.applications.sql}
       order by m.o, m.n, a.office_code, a.application_number`,
      [JSON.stringify(keys), ...reader.applications.params],
    );
    for (const row of rows) {
      const key = `patent\u0000${row.o}\u0000${row.n}`;
      if (!found.has(key)) {
        found.set(key, {
          officeCode: row.office_code,
          applicationNumber: row.application_number,
          extendedFamilyId: row.extended_family_id,
          href: `/v1/applications/${row.office_code}/${encodeURIComponent(row.application_number)}`,
        });
      }
    }
    return found;
  }
}
