import Type, { type Static } from 'typebox';
import { UUID_PATTERN } from '../platform/ids.js';
import { DOCUMENT_DIRECTIONS, DOCUMENT_STATUSES, DOCUMENT_VISIBILITIES } from './document.entity.js';

export const DocumentVisibilitySchema = Type.Enum([...DOCUMENT_VISIBILITIES], {
  description: 'public: everyone where the provider consents to public access, else every accessing office; offices: every active accessing office; restricted: only allowedOffices',
});
export const DocumentStatusSchema = Type.Enum([...DOCUMENT_STATUSES]);
export const DocumentDirectionSchema = Type.Enum([...DOCUMENT_DIRECTIONS], { description: 'incoming: from the applicant; outgoing: to the applicant; internal' });

export const DocumentParams = Type.Object({ documentId: Type.String({ pattern: UUID_PATTERN, description: 'Document id (UUIDv7)' }) });

export const Depositor = Type.Object(
  {
    kind: Type.Enum(['examiner', 'client']),
    id: Type.String({ description: 'The examiner’s account id or the API client’s id' }),
    branchId: Type.String(),
  },
  { $id: 'Depositor', description: 'Who deposited the document' },
);

/** A document's metadata as the API shows it. */
export const DocumentView = Type.Object(
  {
    id: Type.String({ description: 'Opaque id (UUIDv7)' }),
    officeCode: Type.String({ description: 'The providing office' }),
    applicationNumber: Type.String({ description: 'The application’s number in its normal form' }),
    documentCode: Type.String({ description: 'Code from the controlled vocabulary (GET /v1/document-codes)' }),
    documentDate: Type.String({ format: 'date' }),
    direction: DocumentDirectionSchema,
    languageCode: Type.String({ description: 'ISO 639-1' }),
    title: Type.String(),
    pageCount: Type.Union([Type.Integer(), Type.Null()]),
    mediaType: Type.String({ description: 'The media type sniffed from the bytes' }),
    byteSize: Type.Integer(),
    sha256: Type.String({ description: 'Lower-case hex SHA-256 of the bytes' }),
    visibility: DocumentVisibilitySchema,
    allowedOffices: Type.Optional(Type.Array(Type.String(), { description: 'Offices that may see a restricted document (shown to the providing office only)' })),
    status: DocumentStatusSchema,
    version: Type.Integer({ minimum: 1 }),
    supersedesId: Type.Union([Type.String(), Type.Null()], { description: 'The version this one corrects' }),
    supersededById: Type.Union([Type.String(), Type.Null()], { description: 'The version that corrects this one' }),
    depositedBy: Type.Optional(Depositor),
    receivedAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Document' },
);
export type DocumentView = Static<typeof DocumentView>;
