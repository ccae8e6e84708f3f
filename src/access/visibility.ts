import type { Principal } from './principal.js';

/**
 * The visibility rule of DESIGN §3, in one place. Every read path (lists, counts, search
 * hits, timelines, citations, comparisons, notifications, webhooks, downloads) asks this
 * function, or the SQL form a query builds from the same facts; whatever it excludes does
 * not exist for the principal (404, never 403).
 */
export type DocumentVisibility = 'public' | 'offices' | 'restricted';
export type DocumentStatus = 'active' | 'withdrawn' | 'superseded';

export interface VisibilityFacts {
  document: {
    /** The providing office (the application's office). */
    officeCode: string;
    visibility: DocumentVisibility;
    /** Offices allowed to see a `restricted` document. */
    allowedOffices: readonly string[];
    status: DocumentStatus;
  };
  application: { published: boolean };
  providingOffice: { status: 'active' | 'suspended'; publicAccess: boolean };
  /** The principal's own office, when it has one: needed for its status and accessing role. */
  principalOffice: { code: string; status: 'active' | 'suspended'; accessing: boolean } | null;
}

/** The office a principal acts for, if any (operators and anonymous callers have none). */
export function officeOfPrincipal(principal: Principal): string | null {
  return 'officeCode' in principal ? principal.officeCode : null;
}

export function canSeeDocument(principal: Principal, facts: VisibilityFacts): boolean {
  const { document, application, providingOffice, principalOffice } = facts;
  const ownOffice = officeOfPrincipal(principal);

  // 1. The providing office sees its own documents, in every branch and state.
  if (ownOffice !== null && ownOffice === document.officeCode) return true;

  // 2. Others see only active documents of published applications of active providers.
  if (document.status !== 'active' || !application.published || providingOffice.status !== 'active') return false;

  if (document.visibility === 'public' && providingOffice.publicAccess) return true;

  // The remaining cases need a principal of an active office with the accessing role.
  if (ownOffice === null || principalOffice === null || principalOffice.code !== ownOffice) return false;
  if (principalOffice.status !== 'active' || !principalOffice.accessing) return false;

  switch (document.visibility) {
    case 'public':
    case 'offices':
      return true;
    case 'restricted':
      return document.allowedOffices.includes(ownOffice);
  }
}

/** The facts that decide whether a principal may see an application's dossier-level data (citations, biblio). */
export type ApplicationVisibilityFacts = Pick<VisibilityFacts, 'application' | 'providingOffice' | 'principalOffice'> & {
  /** The providing office (the application's office). */
  officeCode: string;
};

/**
 * The application-level form of the rule, for what belongs to the application rather than to one document
 * (its citations): the providing office always; others once the application is published and the provider is
 * active, when they are users or clients of an active office with the accessing role. Anything attached to a
 * document still goes through `canSeeDocument`.
 */
export function canSeeApplication(principal: Principal, facts: ApplicationVisibilityFacts): boolean {
  const ownOffice = officeOfPrincipal(principal);
  if (ownOffice !== null && ownOffice === facts.officeCode) return true;
  if (!facts.application.published || facts.providingOffice.status !== 'active') return false;
  return readsAsAccessingOffice(principal, facts.principalOffice);
}

/**
 * The application-level rule for the application's record itself (bibliographic data in `GET /v1/applications…`,
 * search hits, the dossier list's existence): the providing office always; otherwise the application must be
 * published and its provider active, and then
 * - users and clients of an active office with the accessing role see it (whatever its documents), and
 * - every other reader (anonymous callers, the operator, an office without the accessing role) sees it only when at
 *   least one of its documents is visible to them under `canSeeDocument` — so a public document of a consenting
 *   provider makes its application findable by everyone, and nothing else does.
 * Everything it excludes answers 404, never 403. `hasVisibleDocument` implies published and active for anyone but the
 * provider, so this is `canSeeApplication` or "some document is visible".
 */
export function canSeeApplicationRecord(principal: Principal, facts: ApplicationVisibilityFacts & { hasVisibleDocument: boolean }): boolean {
  return canSeeApplication(principal, facts) || facts.hasVisibleDocument;
}

/** Whether the principal reads as a user or client of an active office with the accessing role. */
function readsAsAccessingOffice(principal: Principal, principalOffice: VisibilityFacts['principalOffice']): principalOffice is NonNullable<VisibilityFacts['principalOffice']> {
  const ownOffice = officeOfPrincipal(principal);
  return ownOffice !== null && principalOffice !== null && principalOffice.code === ownOffice && principalOffice.status === 'active' && principalOffice.accessing;
}

// ------------------------------------------------------------------------------------------------ the SQL form

/** A piece of SQL with `?` placeholders (knex bindings) and their values, in order. */
export interface SqlFragment {
  sql: string;
  params: (string | number | boolean)[];
}

/**
 * Where the rule finds its facts in a query: a table alias (the columns of `document`, `application`, `office`), or,
 * for the application and its provider, their facts when the caller already knows them (one application's dossier).
 */
export interface VisibilitySqlSources {
  /** Alias of the `document` row. Default `d`. */
  document?: string;
  /** Alias of the `application` row, or its facts. Default `a`. */
  application?: string | VisibilityFacts['application'];
  /** Alias of the providing `office` row, or its facts. Default `o`. */
  provider?: string | VisibilityFacts['providingOffice'];
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

function alias(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`Not a SQL alias: ${name}`);
  return name;
}

function columns(sources: VisibilitySqlSources) {
  const d = alias(sources.document ?? 'd');
  const application = sources.application ?? 'a';
  const provider = sources.provider ?? 'o';
  return {
    d,
    published: typeof application === 'string' ? `${alias(application)}."published"` : String(application.published),
    providerActive: typeof provider === 'string' ? `${alias(provider)}."status" = 'active'` : String(provider.status === 'active'),
    publicAccess: typeof provider === 'string' ? `${alias(provider)}."public_access"` : String(provider.publicAccess),
  };
}

/**
 * The principal's own office for the SQL form: its facts when known, or the alias of its `office` row in the query
 * (left-joined on the principal's office code, so it is null for principals without one): then the database decides
 * whether it is an active office with the accessing role, in the same statement.
 */
export type ReaderOfficeSource = VisibilityFacts['principalOffice'] | { alias: string };

/** The SQL condition "the reader is an active accessing office" (a constant when its facts are known). */
function readerAccessingSql(principal: Principal, reader: ReaderOfficeSource): string {
  if (reader !== null && 'alias' in reader) {
    if (officeOfPrincipal(principal) === null) return 'false';
    const r = alias(reader.alias);
    return `(${r}."status" = 'active' and ${r}."accessing")`;
  }
  return String(readsAsAccessingOffice(principal, reader));
}

/** Clause 2 of the rule (what others than the provider see): `accessing` is the SQL condition on the reader's office. */
function sharedDocumentSql(ownOffice: string | null, accessing: string, sources: VisibilitySqlSources): SqlFragment {
  const { d, published, providerActive, publicAccess } = columns(sources);
  const shared = [`(${d}."visibility" = 'public' and ${publicAccess})`];
  const params: SqlFragment['params'] = [];
  if (ownOffice !== null && accessing !== 'false') {
    shared.push(`(${accessing} and (${d}."visibility" in ('public', 'offices') or (${d}."visibility" = 'restricted' and ? = any(${d}."allowed_offices"))))`);
    params.push(ownOffice);
  }
  return { sql: `(${d}."status" = 'active' and ${published} and ${providerActive} and (${shared.join(' or ')}))`, params };
}

/**
 * `canSeeDocument` as a SQL predicate over a `document` row joined with its application and providing office (or
 * their known facts), so lists, counts and search filter in the database and never load what the principal may not
 * see. `principalOffice` is the principal's own office as `canSeeDocument` takes it, or the alias of its row in the
 * query. tests/access/visibility-sql.test.ts checks that both forms agree on every combination of facts.
 */
export function documentVisibilitySql(principal: Principal, principalOffice: ReaderOfficeSource, sources: VisibilitySqlSources = {}): SqlFragment {
  const ownOffice = officeOfPrincipal(principal);
  const shared = sharedDocumentSql(ownOffice, readerAccessingSql(principal, principalOffice), sources);
  if (ownOffice === null) return shared;
  return { sql: `(${alias(sources.document ?? 'd')}."office_code" = ? or ${shared.sql})`, params: [ownOffice, ...shared.params] };
}

/**
 * `canSeeApplicationRecord` as a SQL predicate over an `application` row (alias `application`, default `a`) joined
 * with its providing office (alias `provider`, default `o`): published and active for an active accessing office;
 * for other readers, an `exists` over the application's documents under `documentVisibilitySql`.
 */
export function applicationVisibilitySql(principal: Principal, principalOffice: ReaderOfficeSource, sources: { application?: string; provider?: string } = {}): SqlFragment {
  const a = alias(sources.application ?? 'a');
  const o = alias(sources.provider ?? 'o');
  const ownOffice = officeOfPrincipal(principal);
  const accessing = readerAccessingSql(principal, principalOffice);
  // A reader that is not an accessing office sees the application through a document visible to it (public, consented).
  const documents = sharedDocumentSql(null, 'false', { document: 'visible_document', application: a, provider: o });
  const throughDocument = `exists (select 1 from "document" visible_document where visible_document."application_id" = ${a}."id" and ${documents.sql})`;
  const others: SqlFragment =
    accessing === 'true'
      ? { sql: `(${a}."published" and ${o}."status" = 'active')`, params: [] }
      : accessing === 'false'
        ? { sql: throughDocument, params: [] }
        : { sql: `((${accessing} and ${a}."published" and ${o}."status" = 'active') or ${throughDocument})`, params: [] };
  if (ownOffice === null) return others;
  return { sql: `(${a}."office_code" = ? or ${others.sql})`, params: [ownOffice, ...others.params] };
}

/**
 * What a providing office shares with every active accessing office, whichever it is: active documents of published
 * applications of an active provider, with visibility `public` or `offices` (a `restricted` document is shared only
 * with the offices it lists, so it is not counted as shared with all). `GET /v1/offices/{officeCode}/coverage` counts
 * these; it is the rule of `documentVisibilitySql` for a reader office named on no restricted list.
 */
export function sharedWithAccessingOfficesSql(sources: VisibilitySqlSources = {}): SqlFragment {
  const { d, published, providerActive } = columns(sources);
  return { sql: `(${d}."status" = 'active' and ${published} and ${providerActive} and ${d}."visibility" in ('public', 'offices'))`, params: [] };
}

/** What a document gets when its provider does not say: `offices` (DESIGN §3 requires it for `internal` documents). */
export const DEFAULT_VISIBILITY: DocumentVisibility = 'offices';

/** Forum content: users of active offices only (never public, never the operator acting as a reader). */
export function canSeeForum(principal: Principal, principalOffice: VisibilityFacts['principalOffice']): boolean {
  const ownOffice = officeOfPrincipal(principal);
  return ownOffice !== null && principalOffice !== null && principalOffice.code === ownOffice && principalOffice.status === 'active';
}
