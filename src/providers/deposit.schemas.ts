import Type, { type Static } from 'typebox';
import { DocumentDirectionSchema, DocumentView, DocumentVisibilitySchema } from '../dossier/document.schemas.js';
import { UUID_PATTERN } from '../platform/ids.js';

const DOCUMENT_CODE = Type.String({ pattern: '^[A-Za-z][A-Za-z0-9]{0,63}$', description: 'A code of the controlled vocabulary (GET /v1/document-codes)', examples: ['searchReport'] });
const OFFICE_CODE = Type.String({ pattern: '^[A-Za-z]{2}$', description: 'ST.3 code' });

const metadataProperties = {
  documentCode: DOCUMENT_CODE,
  documentDate: Type.String({ format: 'date', description: 'The date the document bears (YYYY-MM-DD)' }),
  direction: DocumentDirectionSchema,
  languageCode: Type.String({ pattern: '^[a-z]{2}$', description: 'ISO 639-1, lower case', examples: ['en'] }),
  title: Type.String({ minLength: 1, maxLength: 1000, pattern: '\\S', description: 'Not blank' }),
  pageCount: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  visibility: DocumentVisibilitySchema,
  allowedOffices: Type.Array(OFFICE_CODE, { maxItems: 300, description: 'Offices that may see a restricted document' }),
  mediaType: Type.String({ minLength: 3, maxLength: 200, description: 'Declared media type (multipart: else the file part’s Content-Type); must match the bytes' }),
};

/** The metadata of a new document: the multipart `metadata` part (JSON), or the `Document-*` headers of a raw upload. */
export const DepositMetadata = Type.Object(
  {
    documentCode: metadataProperties.documentCode,
    documentDate: metadataProperties.documentDate,
    direction: metadataProperties.direction,
    languageCode: metadataProperties.languageCode,
    title: metadataProperties.title,
    pageCount: Type.Optional(metadataProperties.pageCount),
    visibility: Type.Optional(metadataProperties.visibility),
    allowedOffices: Type.Optional(metadataProperties.allowedOffices),
    mediaType: Type.Optional(metadataProperties.mediaType),
  },
  { additionalProperties: false, description: 'Visibility defaults to `offices`' },
);
export type DepositMetadata = Static<typeof DepositMetadata>;

/** The metadata of a correction: every field defaults to the corrected version’s. */
export const VersionMetadata = Type.Object(
  {
    documentCode: Type.Optional(metadataProperties.documentCode),
    documentDate: Type.Optional(metadataProperties.documentDate),
    direction: Type.Optional(metadataProperties.direction),
    languageCode: Type.Optional(metadataProperties.languageCode),
    title: Type.Optional(metadataProperties.title),
    pageCount: Type.Optional(metadataProperties.pageCount),
    visibility: Type.Optional(metadataProperties.visibility),
    allowedOffices: Type.Optional(metadataProperties.allowedOffices),
    mediaType: Type.Optional(metadataProperties.mediaType),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'Why the document is corrected (kept in its change history)' })),
  },
  { additionalProperties: false, description: 'Fields left out keep the corrected version’s values' },
);
export type VersionMetadata = Static<typeof VersionMetadata>;

/** Header names of the raw-body variant, by metadata field. */
export const METADATA_HEADERS = {
  documentCode: 'document-code',
  documentDate: 'document-date',
  direction: 'document-direction',
  languageCode: 'document-language',
  title: 'document-title',
  pageCount: 'page-count',
  visibility: 'document-visibility',
  allowedOffices: 'document-allowed-offices',
  reason: 'document-change-reason',
  mediaType: 'content-type',
} as const;

export const UploadHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: 200, description: 'Retrying with the same key and the same request returns the same document and receipt; the same key with another request gives 409' }),
  ),
  'document-code': Type.Optional(Type.String({ description: 'Raw upload: documentCode' })),
  'document-date': Type.Optional(Type.String({ description: 'Raw upload: documentDate (YYYY-MM-DD)' })),
  'document-direction': Type.Optional(Type.String({ description: 'Raw upload: direction (incoming, outgoing, internal)' })),
  'document-language': Type.Optional(Type.String({ description: 'Raw upload: languageCode (ISO 639-1)' })),
  'document-title': Type.Optional(Type.String({ description: "Raw upload: title, percent-encoded UTF-8 or RFC 8187 (UTF-8''…)" })),
  'page-count': Type.Optional(Type.String({ description: 'Raw upload: pageCount' })),
  'document-visibility': Type.Optional(Type.String({ description: 'Raw upload: visibility (public, offices, restricted)' })),
  'document-allowed-offices': Type.Optional(Type.String({ description: 'Raw upload: allowedOffices, comma-separated ST.3 codes' })),
  'document-change-reason': Type.Optional(Type.String({ description: 'Raw upload of a correction: reason, percent-encoded UTF-8' })),
});

export const DepositResponse = Type.Object(
  {
    document: DocumentView,
    receipt: Type.String({ description: 'Compact JWS (typ dossier-receipt+jws, EdDSA) verifiable with GET /.well-known/jwks.json' }),
  },
  { $id: 'DepositResponse' },
);
export type DepositResponse = Static<typeof DepositResponse>;

export const ReceiptView = Type.Object(
  {
    documentId: Type.String(),
    receipt: Type.String({ description: 'The compact JWS issued at deposit' }),
    payload: Type.Object(
      {
        iss: Type.String(),
        iat: Type.Integer(),
        documentId: Type.String(),
        officeCode: Type.String(),
        applicationNumber: Type.String(),
        documentCode: Type.String(),
        version: Type.Integer(),
        supersedes: Type.Optional(Type.String()),
        sha256: Type.String(),
        byteSize: Type.Integer(),
        mediaType: Type.String(),
        receivedAt: Type.String({ format: 'date-time' }),
        depositor: Type.Object({ kind: Type.String(), id: Type.String(), branchId: Type.String() }),
      },
      { description: 'The signed claims, decoded for convenience (verify the JWS itself)' },
    ),
  },
  { $id: 'Receipt' },
);

export const UpdateDocumentBody = Type.Object(
  {
    visibility: Type.Optional(DocumentVisibilitySchema),
    allowedOffices: Type.Optional(Type.Array(OFFICE_CODE, { maxItems: 300 })),
    status: Type.Optional(Type.Enum(['active', 'withdrawn'], { description: 'withdrawn hides the document from other offices; active reinstates a withdrawn document' })),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'Kept in the change history' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateDocumentInput = Static<typeof UpdateDocumentBody>;

export const DocumentChangeView = Type.Object(
  {
    id: Type.String(),
    documentId: Type.String(),
    action: Type.Enum(['deposited', 'updated', 'withdrawn', 'reinstated', 'superseded']),
    before: Type.Object({}, { additionalProperties: true, description: 'The changed fields before' }),
    after: Type.Object({}, { additionalProperties: true, description: 'The changed fields after' }),
    reason: Type.Union([Type.String(), Type.Null()]),
    actor: Type.Object({ kind: Type.String(), id: Type.Union([Type.String(), Type.Null()]), branchId: Type.Union([Type.String(), Type.Null()]) }),
    occurredAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'DocumentChange' },
);
export type DocumentChangeView = Static<typeof DocumentChangeView>;

export const DocumentIdParams = Type.Object({ documentId: Type.String({ pattern: UUID_PATTERN }) });
