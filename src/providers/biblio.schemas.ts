import Type, { type Static } from 'typebox';
import { PctApplicationField } from './biblio-families.js';

/** IPC/CPC symbol: section, class, subclass, then main group / subgroup (`H04L 9/32`, `A61K 31/4164`, CPC `Y02E 10/50`). */
export const IPC_PATTERN = '^[A-H][0-9]{2}[A-Z] ?[0-9]{1,4} ?/ ?[0-9]{2,6}$';
export const CPC_PATTERN = '^[A-HY][0-9]{2}[A-Z] ?[0-9]{1,4} ?/ ?[0-9]{2,6}$';
const LANGUAGE = Type.String({ pattern: '^[a-z]{2}$', description: 'ISO 639-1 language code, lower case', examples: ['en'] });
const COUNTRY = Type.String({ pattern: '^[A-Z]{2}$', description: 'ST.3 code' });
const DATE = Type.String({ format: 'date', description: 'YYYY-MM-DD' });

export const ApplicationParams = Type.Object({
  officeCode: Type.String({ minLength: 1, maxLength: 10, description: 'ST.3 code of the providing office' }),
  applicationNumber: Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'The application number as the office writes it (percent-encode `/`), normalised by the hub (GET /v1/numbers/normalize)',
    examples: ['17123456'],
  }),
});

const Title = Type.Object({ languageCode: LANGUAGE, text: Type.String({ minLength: 1, maxLength: 2000, pattern: '\\S' }) }, { additionalProperties: false });
const Party = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 500, pattern: '\\S' }), countryCode: Type.Optional(COUNTRY) },
  { additionalProperties: false },
);
const PriorityClaimInput = Type.Object(
  {
    officeCode: Type.String({ pattern: '^[A-Za-z]{2}$', description: 'ST.3 code of the office of first filing (WO for a PCT application)' }),
    number: Type.String({ minLength: 1, maxLength: 64, description: 'As written; normalised when the hub has rules for that office' }),
    date: DATE,
  },
  { additionalProperties: false },
);
const PublicationInput = Type.Object(
  {
    number: Type.String({ minLength: 1, maxLength: 64, description: 'Publication number, with or without its kind code' }),
    kindCode: Type.Optional(Type.String({ pattern: '^[A-Za-z][0-9]?$', description: 'ST.16 kind code, unless the number carries it' })),
    officeCode: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$', description: 'Publishing office when not the application’s (e.g. WO)' })),
    date: DATE,
  },
  { additionalProperties: false },
);

export const BiblioBody = Type.Object(
  {
    filingDate: DATE,
    titles: Type.Array(Title, { minItems: 1, maxItems: 20 }),
    applicants: Type.Array(Party, { maxItems: 500, default: [] }),
    inventors: Type.Array(Party, { maxItems: 500, default: [] }),
    ipc: Type.Array(Type.String({ pattern: IPC_PATTERN, description: 'IPC symbol, e.g. `H04L 9/32`' }), { maxItems: 500, default: [] }),
    cpc: Type.Array(Type.String({ pattern: CPC_PATTERN, description: 'CPC symbol, e.g. `H04L 9/3247`' }), { maxItems: 1000, default: [] }),
    priorityClaims: Type.Array(PriorityClaimInput, { maxItems: 200, default: [] }),
    publications: Type.Array(PublicationInput, { maxItems: 100, default: [] }),
    published: Type.Boolean({ description: 'Only published applications are shared with other offices' }),
    familyId: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Null()], { description: 'The provider’s own family id, if any' })),
    pctApplication: PctApplicationField,
  },
  { additionalProperties: false, description: 'The whole bibliographic record: a PUT replaces the previous one' },
);
export type BiblioInput = Static<typeof BiblioBody>;

export const PriorityClaimView = Type.Object({
  officeCode: Type.String(),
  number: Type.String({ description: 'Normal form, or upper-cased without separators when the hub has no rules for the office' }),
  numberRaw: Type.String(),
  normalized: Type.Boolean(),
  date: Type.String({ format: 'date' }),
});
export const PublicationView = Type.Object({
  officeCode: Type.String(),
  number: Type.String(),
  kindCode: Type.String(),
  numberRaw: Type.String(),
  date: Type.String({ format: 'date' }),
});

export const ApplicationView = Type.Object(
  {
    id: Type.String(),
    officeCode: Type.String(),
    applicationNumber: Type.String({ description: 'Normal form (DESIGN §5)' }),
    applicationNumberRaw: Type.String({ description: 'As last written by the provider' }),
    numberNormalized: Type.Boolean({ description: 'False for an office without number rules' }),
    displayNumber: Type.String(),
    filingDate: Type.String({ format: 'date' }),
    titles: Type.Array(Type.Object({ languageCode: Type.String(), text: Type.String() })),
    applicants: Type.Array(Type.Object({ name: Type.String(), countryCode: Type.Optional(Type.String()) })),
    inventors: Type.Array(Type.Object({ name: Type.String(), countryCode: Type.Optional(Type.String()) })),
    ipc: Type.Array(Type.String()),
    cpc: Type.Array(Type.String()),
    priorityClaims: Type.Array(PriorityClaimView),
    publications: Type.Array(PublicationView),
    published: Type.Boolean(),
    familyId: Type.Union([Type.String(), Type.Null()]),
    pctApplication: Type.Union([Type.String(), Type.Null()], { description: 'For a PCT national or regional phase entry: its international application (WO number, normal form)' }),
    simpleFamilyId: Type.Union([Type.String(), Type.Null()], { description: 'The hub’s simple family (same priorities, as DOCDB): GET /v1/families/{familyId}' }),
    extendedFamilyId: Type.Union([Type.String(), Type.Null()], { description: 'The hub’s extended family (linked through any priority, as INPADOC)' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Application' },
);
export type ApplicationView = Static<typeof ApplicationView>;
