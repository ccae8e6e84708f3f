import Type, { type Static } from 'typebox';
import { Page, PageQuery } from '../../platform/schemas.js';

export const FamilyParams = Type.Object({
  familyId: Type.String({ minLength: 1, maxLength: 100, description: 'A family id (simple or extended), as GET /v1/applications/{officeCode}/{applicationNumber} gives it' }),
});

const ApplicationRef = Type.Object(
  { officeCode: Type.String(), applicationNumber: Type.String({ description: 'Normal form (DESIGN §5)' }) },
  { description: 'An application of the hub' },
);

const FamilyConflictView = Type.Union(
  [
    Type.Object({
      rule: Type.Literal('several-provider-ids', { description: 'This family holds applications carrying different family ids of one provider office' }),
      providerOffice: Type.String(),
      providerFamilyIds: Type.Array(Type.Object({ providerFamilyId: Type.String(), members: Type.Array(ApplicationRef) })),
    }),
    Type.Object({
      rule: Type.Literal('provider-id-spread', { description: 'One provider family id is carried by applications of several hub families (this one included)' }),
      providerOffice: Type.String(),
      providerFamilyId: Type.String(),
      families: Type.Array(Type.Object({ familyId: Type.String(), members: Type.Array(ApplicationRef) })),
    }),
  ],
  { description: 'Where a provider’s own family ids disagree with the hub’s family: shown, never merged silently' },
);

export const FamilyMember = Type.Object(
  {
    officeCode: Type.String(),
    applicationNumber: Type.String({ description: 'Normal form (DESIGN §5)' }),
    displayNumber: Type.String(),
    filingDate: Type.String({ format: 'date' }),
    titles: Type.Array(Type.Object({ languageCode: Type.String(), text: Type.String() })),
    published: Type.Boolean(),
    priorityClaims: Type.Array(Type.Object({ officeCode: Type.String(), number: Type.String(), date: Type.String({ format: 'date' }) })),
    publications: Type.Array(Type.Object({ officeCode: Type.String(), number: Type.String(), kindCode: Type.String(), date: Type.String({ format: 'date' }) })),
    pctApplication: Type.Union([Type.String(), Type.Null()], { description: 'For a PCT national or regional phase entry: its international application (WO number, normal form)' }),
    providerFamilyId: Type.Union([Type.String(), Type.Null()], { description: 'The providing office’s own family id, if it gave one' }),
    simpleFamilyId: Type.String(),
    extendedFamilyId: Type.String(),
    documents: Type.Object(
      {
        total: Type.Integer({ minimum: 0 }),
        byCode: Type.Array(Type.Object({ documentCode: Type.String(), count: Type.Integer({ minimum: 1 }) }), { description: 'Sorted by document code' }),
        hasSearchReport: Type.Boolean({ description: 'A `searchReport` document is among them' }),
        hasExaminationReport: Type.Boolean({ description: 'An `examinationReport` or `officeAction` document is among them' }),
      },
      { description: 'The current documents (not superseded versions) the caller may see: nothing else is counted' },
    ),
  },
  { description: 'A member application the caller may see' },
);
export type FamilyMember = Static<typeof FamilyMember>;

export const FamilyView = Type.Object(
  {
    id: Type.String(),
    kind: Type.Union([Type.Literal('simple'), Type.Literal('extended')], {
      description: '`simple`: the members share exactly the same priorities (as DOCDB); `extended`: linked directly or indirectly through any priority (as INPADOC)',
    }),
    firstFilings: Type.Union([Type.Array(ApplicationRef), Type.Null()], { description: 'Simple family: the first filings its members share (their priorities, or the application itself when it claims none); null for an extended family' }),
    extendedFamilyId: Type.Union([Type.String(), Type.Null()], { description: 'Simple family: the extended family it lies in' }),
    simpleFamilyIds: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'Extended family: the simple families of the members shown' }),
    offices: Type.Array(Type.String(), { description: 'Offices of the members shown' }),
    memberCount: Type.Integer({ minimum: 1, description: 'Members shown (the applications of the family the caller may see)' }),
    members: Type.Array(FamilyMember),
    hasConflict: Type.Boolean(),
    conflicts: Type.Array(FamilyConflictView),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Family' },
);
export type FamilyView = Static<typeof FamilyView>;

export const TimelineQuery = Type.Object({
  ...PageQuery.properties,
  sort: Type.Optional(Type.Union([Type.Literal('date:asc'), Type.Literal('date:desc')], { default: 'date:asc', description: 'Chronological (default) or newest first' })),
});
export type TimelineQuery = Static<typeof TimelineQuery>;

export const TimelineEvent = Type.Object(
  {
    type: Type.Union([Type.Literal('filing'), Type.Literal('publication'), Type.Literal('document')]),
    date: Type.String({ format: 'date', description: 'Filing date, publication date or document date' }),
    officeCode: Type.String({ description: 'The member application’s office' }),
    applicationNumber: Type.String(),
    displayNumber: Type.String(),
    publication: Type.Optional(Type.Object({ officeCode: Type.String(), number: Type.String(), kindCode: Type.String() })),
    document: Type.Optional(
      Type.Object({
        id: Type.String(),
        documentCode: Type.String(),
        title: Type.String(),
        direction: Type.String(),
        languageCode: Type.String(),
        status: Type.String({ description: '`active`, or `withdrawn` (shown to the providing office only)' }),
      }),
    ),
  },
  { description: 'A filing, publication or document of a member' },
);
export type TimelineEvent = Static<typeof TimelineEvent>;
export const TimelinePage = Page(TimelineEvent, 'FamilyTimelinePage');

const CitedDocument = Type.Object({
  type: Type.Union([Type.Literal('patent'), Type.Literal('npl')]),
  officeCode: Type.Optional(Type.String()),
  number: Type.Optional(Type.String({ description: 'Normal form where the hub has rules for the office' })),
  kindCodes: Type.Optional(Type.Array(Type.String(), { description: 'The kind codes the citing offices gave' })),
  text: Type.Optional(Type.String({ description: 'Non-patent literature' })),
});

export const CitationMatrix = Type.Object(
  {
    familyId: Type.String(),
    kind: Type.Union([Type.Literal('simple'), Type.Literal('extended')]),
    citingOffices: Type.Array(Type.String(), { description: 'The columns: offices of members whose citations the caller may see' }),
    rows: Type.Array(
      Type.Object({
        cited: CitedDocument,
        dossier: Type.Union(
          [
            Type.Object({
              officeCode: Type.String(),
              applicationNumber: Type.String(),
              extendedFamilyId: Type.Union([Type.String(), Type.Null()]),
              href: Type.String({ description: 'The dossier: GET this path (and …/documents)' }),
            }),
            Type.Null(),
          ],
          { description: 'The cited document’s application when the hub holds it (matched by publication or application number) and the caller may see it' },
        ),
        byOffice: Type.Array(
          Type.Object({
            officeCode: Type.String({ description: 'The citing office (a column)' }),
            categories: Type.Array(Type.String(), { description: 'ST.14 category codes, merged over the office’s citations' }),
            claims: Type.Array(Type.String(), { description: 'Cited claims as the office wrote them' }),
            passages: Type.Array(Type.String()),
            citedBy: Type.Array(Type.Object({ officeCode: Type.String(), applicationNumber: Type.String(), documentId: Type.Union([Type.String(), Type.Null()]) })),
          }),
        ),
      }),
    ),
  },
  { $id: 'FamilyCitationMatrix' },
);
export type CitationMatrix = Static<typeof CitationMatrix>;
