import Type, { type Static } from 'typebox';
import { CITATION_CATEGORIES, CITATION_TYPES } from '../dossier/citation.entity.js';
import { UUID_PATTERN } from '../platform/ids.js';

const Categories = Type.Array(Type.Enum([...CITATION_CATEGORIES]), {
  minItems: 1,
  maxItems: 10,
  uniqueItems: true,
  description: 'ST.14 categories: X, Y, A, D, E, L, O, P, T, &',
});

export const CitationInput = Type.Object(
  {
    type: Type.Enum([...CITATION_TYPES], { description: 'patent: a patent document (officeCode, number); npl: non-patent literature (text)' }),
    officeCode: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$', description: 'patent: ST.3 code of the office' })),
    number: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'patent: the number as written, with or without its kind code' })),
    kindCode: Type.Optional(Type.String({ pattern: '^[A-Za-z][0-9]?$', description: 'patent: ST.16 kind code, unless the number carries it' })),
    text: Type.Optional(Type.String({ minLength: 1, maxLength: 4000, description: 'npl: the bibliographic reference' })),
    categories: Categories,
    claims: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'The claims the citation is relevant to, e.g. `1-5, 8`' })),
    passages: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'The relevant passages or figures of the cited document' })),
    documentId: Type.Optional(Type.String({ pattern: UUID_PATTERN, description: 'The document of this application that makes the citation (e.g. its search report)' })),
  },
  { additionalProperties: false },
);
export type CitationInput = Static<typeof CitationInput>;

export const PutCitationsBody = Type.Object(
  { citations: Type.Array(CitationInput, { maxItems: 1000 }) },
  { additionalProperties: false, description: 'The whole list: it replaces the previous one' },
);
export type PutCitationsInput = Static<typeof PutCitationsBody>;

export const CitationView = Type.Object({
  type: Type.Enum([...CITATION_TYPES]),
  officeCode: Type.Optional(Type.String()),
  number: Type.Optional(Type.String({ description: 'Normal form when numberNormalized, else upper-cased without separators' })),
  numberRaw: Type.Optional(Type.String()),
  numberNormalized: Type.Optional(Type.Boolean()),
  kindCode: Type.Optional(Type.String()),
  text: Type.Optional(Type.String()),
  categories: Type.Array(Type.String()),
  claims: Type.Optional(Type.String()),
  passages: Type.Optional(Type.String()),
  documentId: Type.Union([Type.String(), Type.Null()]),
  citedApplication: Type.Optional(
    Type.Object(
      { officeCode: Type.String(), applicationNumber: Type.String() },
      { description: 'The dossier in the hub of the cited patent document, when there is one the caller may see' },
    ),
  ),
});
export type CitationView = Static<typeof CitationView>;

export const CitationList = Type.Object(
  {
    officeCode: Type.String(),
    applicationNumber: Type.String(),
    citations: Type.Array(CitationView),
  },
  { $id: 'CitationList' },
);
export type CitationList = Static<typeof CitationList>;
