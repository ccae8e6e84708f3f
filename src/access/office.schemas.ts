import Type, { type Static } from 'typebox';
import { OFFICE_STATUSES, PROVIDER_MODES } from './office.entity.js';
import { ST3_PATTERN } from './st3.js';

export const OfficeCode = Type.String({ pattern: ST3_PATTERN, description: 'WIPO ST.3 code, e.g. CN, EP, WO', examples: ['EP'] });
export const OfficeRole = Type.Enum(['providing', 'accessing']);
export type OfficeRole = Static<typeof OfficeRole>;
const ProviderMode = Type.Enum([...PROVIDER_MODES]);
const OfficeStatus = Type.Enum([...OFFICE_STATUSES]);

/** The public view of an office. */
export const OfficeView = Type.Object(
  {
    code: OfficeCode,
    name: Type.String(),
    roles: Type.Array(OfficeRole, { description: 'providing: deposits or serves dossiers; accessing: reads other offices’ dossiers' }),
    providerMode: Type.Union([ProviderMode, Type.Null()], { description: 'How a providing office delivers: repository (upload) or webService (the hub calls it)' }),
    publicAccess: Type.Boolean({ description: 'Consent to show documents marked public to anonymous users' }),
    status: OfficeStatus,
  },
  { $id: 'Office' },
);
export type OfficeView = Static<typeof OfficeView>;

export const OfficeParams = Type.Object({ officeCode: Type.String({ minLength: 1, maxLength: 10, description: 'ST.3 code' }) });

const OfficeName = Type.String({ minLength: 1, maxLength: 200 });
const WebServiceUrl = Type.String({ format: 'uri', maxLength: 2000, description: 'Base URL of the office’s dossier web service' });

export const CreateOfficeBody = Type.Object(
  {
    code: Type.String({ minLength: 1, maxLength: 10 }),
    name: OfficeName,
    roles: Type.Array(OfficeRole, { uniqueItems: true, default: [] }),
    providerMode: Type.Optional(Type.Union([ProviderMode, Type.Null()])),
    webServiceUrl: Type.Optional(Type.Union([WebServiceUrl, Type.Null()])),
    publicAccess: Type.Boolean({ default: false }),
    status: Type.Optional(OfficeStatus),
  },
  { additionalProperties: false },
);
export type CreateOfficeInput = Static<typeof CreateOfficeBody>;

export const UpdateOfficeBody = Type.Object(
  {
    name: Type.Optional(OfficeName),
    roles: Type.Optional(Type.Array(OfficeRole, { uniqueItems: true })),
    providerMode: Type.Optional(Type.Union([ProviderMode, Type.Null()])),
    webServiceUrl: Type.Optional(Type.Union([WebServiceUrl, Type.Null()])),
    publicAccess: Type.Optional(Type.Boolean()),
    status: Type.Optional(OfficeStatus),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateOfficeInput = Static<typeof UpdateOfficeBody>;
