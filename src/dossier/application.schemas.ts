import Type, { type Static } from 'typebox';
import { MAX_NUMBER_LENGTH } from './numbers/normalize.js';
import { DocumentDirectionSchema, DocumentStatusSchema, DocumentVisibilitySchema } from './document.schemas.js';
import { Page, PageQuery } from '../platform/schemas.js';

const DATE = Type.String({ format: 'date', description: 'YYYY-MM-DD' });

/** `{officeCode}/{applicationNumber}` of the read routes (the deposit routes share the path). */
export const ApplicationPathParams = Type.Object({
  officeCode: Type.String({ minLength: 1, maxLength: 10, description: 'ST.3 code of the providing office' }),
  applicationNumber: Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'The application number in any accepted spelling (percent-encode `/`); normalised as GET /v1/numbers/normalize does',
    examples: ['17123456'],
  }),
});
export type ApplicationPathParams = Static<typeof ApplicationPathParams>;

export const APPLICATION_SORTS = ['filingDate:desc', 'filingDate:asc', 'applicationNumber:asc', 'applicationNumber:desc', 'updatedAt:desc', 'updatedAt:asc'] as const;
export type ApplicationSort = (typeof APPLICATION_SORTS)[number];

const CLASSIFICATION_PREFIX = (scheme: string, example: string) =>
  Type.String({
    minLength: 1,
    maxLength: 20,
    pattern: '^[A-HYa-hy][0-9A-Za-z /]*$',
    description: `${scheme} prefix: applications with a symbol starting so (spaces ignored), e.g. \`${example}\``,
    examples: [example],
  });

export const SearchApplicationsQuery = Type.Object({
  ...PageQuery.properties,
  number: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: MAX_NUMBER_LENGTH,
      description:
        'An application or publication number in any accepted spelling (`US 17/123,456`, `PCT/CN2023/123456`, `EP 3 456 789 A1`, `特願2010-001234`), matched across offices; with `officeCode` the number may omit its office prefix. An unrecognised number gives 422 with the expected forms.',
      examples: ['US 2022/0123456 A1'],
    }),
  ),
  q: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: '\\S',
      description: 'Full text over titles and applicant names (web-search syntax: words, "a phrase", -excluded, or)',
      examples: ['sprocket "Acme Corp"'],
    }),
  ),
  officeCode: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$', description: 'Only applications of this office (and the office of a `number` without prefix)' })),
  filedFrom: Type.Optional({ ...DATE, description: 'Filed on or after this date' }),
  filedTo: Type.Optional({ ...DATE, description: 'Filed on or before this date' }),
  ipc: Type.Optional(CLASSIFICATION_PREFIX('IPC', 'H04L 9/')),
  cpc: Type.Optional(CLASSIFICATION_PREFIX('CPC', 'H04L9/32')),
  documentCode: Type.Optional(
    Type.String({ minLength: 1, maxLength: 64, description: 'Only applications with a document of this code that the caller may see', examples: ['searchReport'] }),
  ),
  sort: Type.Optional(Type.Enum([...APPLICATION_SORTS], { default: 'filingDate:desc', description: 'Order of the results (`field:asc|desc`); the id breaks ties' })),
});
export type SearchApplicationsQuery = Static<typeof SearchApplicationsQuery>;

const Title = Type.Object({ languageCode: Type.String(), text: Type.String() });
const Party = Type.Object({ name: Type.String(), countryCode: Type.Optional(Type.String()) });

const summaryProperties = {
  officeCode: Type.String({ description: 'The providing office' }),
  applicationNumber: Type.String({ description: 'Normal form (DESIGN §5): with officeCode, the application’s key' }),
  displayNumber: Type.String({ description: 'The office’s usual spelling' }),
  filingDate: DATE,
  titles: Type.Array(Title),
  applicants: Type.Array(Party),
  ipc: Type.Array(Type.String()),
  cpc: Type.Array(Type.String()),
  published: Type.Boolean({ description: 'Always true for other offices’ applications: unpublished ones are not shared' }),
  updatedAt: Type.String({ format: 'date-time', description: 'Last change of the bibliographic data' }),
};

/** An application as a search hit. */
export const ApplicationSummary = Type.Object(summaryProperties, { $id: 'ApplicationSummary' });
export type ApplicationSummary = Static<typeof ApplicationSummary>;
export const ApplicationSummaryPage = Page(ApplicationSummary, 'ApplicationSummaryPage');

const CitationsSummary = Type.Object(
  {
    total: Type.Integer({ minimum: 0 }),
    patent: Type.Integer({ minimum: 0 }),
    nonPatent: Type.Integer({ minimum: 0 }),
    byCategory: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'ST.14 category → citations in it (a citation may be in several)' }),
  },
  { description: 'Counts of the citations the caller may read (GET …/citations lists them)' },
);

/** An application with its bibliographic data, publications, priorities, and what its dossier holds for the caller. */
export const ApplicationDetail = Type.Object(
  {
    ...summaryProperties,
    applicationNumberRaw: Type.String({ description: 'As last written by the provider' }),
    numberNormalized: Type.Boolean({ description: 'False for an office without number rules' }),
    inventors: Type.Array(Party),
    priorityClaims: Type.Array(
      Type.Object({
        officeCode: Type.String(),
        number: Type.String({ description: 'Normal form, or upper-cased without separators when the hub has no rules for the office' }),
        numberRaw: Type.String(),
        date: DATE,
      }),
    ),
    publications: Type.Array(Type.Object({ officeCode: Type.String(), number: Type.String(), kindCode: Type.String(), numberRaw: Type.String(), date: DATE })),
    providerFamilyId: Type.Union([Type.String(), Type.Null()], { description: 'The provider’s own family id, if it gave one' }),
    pctApplication: Type.Union([Type.String(), Type.Null()], { description: 'For a PCT national or regional phase entry: its international application (WO number, normal form)' }),
    simpleFamilyId: Type.Union([Type.String(), Type.Null()], { description: 'The hub’s simple family (same priorities, as DOCDB): GET /v1/families/{familyId}' }),
    extendedFamilyId: Type.Union([Type.String(), Type.Null()], { description: 'The hub’s extended family (linked through any priority, as INPADOC): GET /v1/families/{familyId}' }),
    documents: Type.Object(
      {
        count: Type.Integer({ minimum: 0, description: 'Documents of the dossier the caller may see' }),
        latestDocumentDate: Type.Union([DATE, Type.Null()]),
      },
      { description: 'The dossier as the caller sees it (GET …/documents lists it)' },
    ),
    citations: Type.Union([CitationsSummary, Type.Null()], {
      description: 'Null for callers that may not read the citations (anonymous callers, the operator, offices without the accessing role)',
    }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'ApplicationDetail' },
);
export type ApplicationDetail = Static<typeof ApplicationDetail>;

export const DOCUMENT_SORTS = ['documentDate:desc', 'documentDate:asc'] as const;
export type DocumentSort = (typeof DOCUMENT_SORTS)[number];

export const DossierQuery = Type.Object({
  ...PageQuery.properties,
  documentCode: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only documents of this code', examples: ['searchReport'] })),
  direction: Type.Optional(DocumentDirectionSchema),
  from: Type.Optional({ ...DATE, description: 'Documents dated on or after this date' }),
  to: Type.Optional({ ...DATE, description: 'Documents dated on or before this date' }),
  sort: Type.Optional(Type.Enum([...DOCUMENT_SORTS], { default: 'documentDate:desc', description: 'Newest first by default; the id breaks ties' })),
});
export type DossierQuery = Static<typeof DossierQuery>;

/** One document of a dossier list. */
export const DocumentSummary = Type.Object(
  {
    id: Type.String({ description: 'Opaque id (UUIDv7): GET /v1/documents/{id} and …/content' }),
    documentCode: Type.String(),
    documentDate: DATE,
    direction: DocumentDirectionSchema,
    languageCode: Type.String(),
    title: Type.String(),
    pageCount: Type.Union([Type.Integer(), Type.Null()]),
    mediaType: Type.String(),
    byteSize: Type.Integer(),
    sha256: Type.String(),
    visibility: DocumentVisibilitySchema,
    status: DocumentStatusSchema,
    version: Type.Integer({ minimum: 1 }),
  },
  { $id: 'DocumentSummary' },
);
export type DocumentSummary = Static<typeof DocumentSummary>;
export const DocumentSummaryPage = Page(DocumentSummary, 'DocumentSummaryPage');
