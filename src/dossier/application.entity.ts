import { defineEntity, type InferEntity, type Opt } from '@mikro-orm/core';
import { FullTextType } from '@mikro-orm/postgresql';
import { OfficeEntity } from '../access/office.entity.js';
import { uuidv7 } from '../platform/ids.js';

/** A title in one language (ISO 639-1). */
export interface ApplicationTitle {
  languageCode: string;
  text: string;
}

/** An applicant or inventor as the providing office names it. */
export interface ApplicationParty {
  name: string;
  /** ST.3 code of the party's country of residence or nationality, when the office gives it. */
  countryCode?: string;
}

/** The generated search column's expression: titles' texts and applicants' names (jsonpath arrays as text). */
const APPLICATION_SEARCH_VECTOR =
  "(to_tsvector('simple'::regconfig, ((jsonb_path_query_array(titles, '$[*].text'::jsonpath))::text || ' '::text) || (jsonb_path_query_array(applicants, '$[*].name'::jsonpath))::text)) stored";

/**
 * A patent application of a providing office, keyed by (officeCode, applicationNumber) with the number in its
 * normal form (DESIGN §5); the number as last written by the provider is kept beside it. Bibliographic data is
 * replaced as a whole by each `PUT /v1/applications/{officeCode}/{applicationNumber}`. Priority claims and
 * publications are rows of their own (families and number lookups index them).
 */
export const ApplicationEntity = defineEntity({
  name: 'Application',
  tableName: 'application',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => uuidv7()),
    officeCode: p.manyToOne(OfficeEntity).mapToPk().joinColumn('office_code'),
    /** The normal form: the identity key within the office. */
    applicationNumber: p.string().length(64),
    /** The number as the provider wrote it (the path segment, decoded). */
    applicationNumberRaw: p.string().length(200),
    /** False for an office without number rules: the number is then only upper-cased and stripped of separators. */
    numberNormalized: p.boolean().default(true),
    /** The office's usual spelling of the number. */
    displayNumber: p.string().length(100),
    filingDate: p.date(),
    titles: p.json<ApplicationTitle[]>(),
    applicants: p.json<ApplicationParty[]>(),
    inventors: p.json<ApplicationParty[]>(),
    ipc: p.array().default([]),
    cpc: p.array().default([]),
    published: p.boolean().default(false),
    /** The family id the provider gives (its own grouping); the hub computes families itself. */
    providerFamilyId: p.string().length(100).nullable(),
    /** For a PCT national or regional phase entry: its international application (WO number in normal form, e.g. `CN2023123456`). */
    pctApplicationNumber: p.string().length(64).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
    /**
     * What `GET /v1/applications?q=` searches: the titles' texts and the applicants' names, as a `simple` (no stemming,
     * any language) tsvector the database keeps itself (a stored generated column, on PostgreSQL and PGlite alike).
     */
    searchVector: p
      .type(FullTextType)
      .$type<Opt<string>>()
      .generated(APPLICATION_SEARCH_VECTOR)
      // Never selected with the entity (nothing reads it back; searches use it in SQL), and no reference wrapper.
      .lazy(true, false),
  }),
  uniques: [{ properties: ['officeCode', 'applicationNumber'], name: 'application_office_code_application_number_unique' }],
  indexes: [
    { properties: ['searchVector'], type: 'fulltext', name: 'application_search_vector_index' },
    // Search results sorted by filing date, number or last change, with the id as the keyset tie-breaker.
    { properties: ['filingDate', 'id'], name: 'application_filing_date_id_index' },
    { properties: ['updatedAt', 'id'], name: 'application_updated_at_id_index' },
    { properties: ['applicationNumber', 'id'], name: 'application_application_number_id_index' },
    // Provider family ids are compared across applications (family conflicts).
    { properties: ['officeCode', 'providerFamilyId'], name: 'application_office_code_provider_family_id_index' },
  ],
});
export type Application = InferEntity<typeof ApplicationEntity>;

/**
 * The families of an application (docs/families.md), in a table of their own: written only by the family store,
 * under the family lock, in the transaction of each bibliographic write. Kept apart from the wide, full-text-indexed
 * `application` row so that a bulk ingest writes its applications before it takes the family lock, and the lock
 * covers only these narrow rows. An application without a row here has not been indexed yet.
 */
export const ApplicationFamilyEntity = defineEntity({
  name: 'ApplicationFamily',
  tableName: 'application_family',
  properties: (p) => ({
    applicationId: p.manyToOne(ApplicationEntity).mapToPk().joinColumn('application_id').primary().deleteRule('cascade'),
    /** The simple family (same first filings, as DOCDB). */
    simpleFamilyId: p.uuid().index(),
    /** The extended family (linked through any priority, as INPADOC). */
    extendedFamilyId: p.uuid().index(),
    /** Age in the family index (first-indexing order): the tie-break when a family splits. */
    familySeq: p.bigint('number').unique(),
    /** The record as the family index last applied it (its stored form): the priority keys (`office:number`)… */
    familyPriorities: p.array(),
    /** …the key of the international application (`WO:number`)… */
    familyPctKey: p.string().length(70).nullable().index(),
    /** …and the provider's family id. */
    familyProviderId: p.string().length(100).nullable(),
  }),
});

/**
 * A priority claim of an application: the office and number of the earlier application and its date. The number is
 * normalised when the hub has rules for that office (`normalized`); otherwise it is kept upper-cased and stripped of
 * separators, with the raw form beside it. Families (simple and extended) are computed from these rows.
 */
export const PriorityClaimEntity = defineEntity({
  name: 'PriorityClaim',
  tableName: 'priority_claim',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => uuidv7()),
    applicationId: p.manyToOne(ApplicationEntity).mapToPk().joinColumn('application_id').deleteRule('cascade').index(),
    /** Order in the provider's list. */
    position: p.smallint(),
    /** ST.3 code of the office of first filing (WO for a PCT application); not necessarily an office of the hub. */
    officeCode: p.string().length(2),
    number: p.string().length(64),
    numberRaw: p.string().length(200),
    normalized: p.boolean(),
    date: p.date(),
  }),
  indexes: [{ properties: ['officeCode', 'number'], name: 'priority_claim_office_code_number_index' }],
});
export type PriorityClaim = InferEntity<typeof PriorityClaimEntity>;

/** A publication of an application: number (normal form), ST.16 kind code, date. */
export const PublicationEntity = defineEntity({
  name: 'Publication',
  tableName: 'publication',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => uuidv7()),
    applicationId: p.manyToOne(ApplicationEntity).mapToPk().joinColumn('application_id').deleteRule('cascade').index(),
    position: p.smallint(),
    /** The publishing office (usually the application's; WO for an international publication). */
    officeCode: p.string().length(2),
    number: p.string().length(64),
    kindCode: p.string().length(2),
    numberRaw: p.string().length(200),
    date: p.date(),
  }),
  indexes: [{ properties: ['officeCode', 'number'], name: 'publication_office_code_number_index' }],
});
export type Publication = InferEntity<typeof PublicationEntity>;
