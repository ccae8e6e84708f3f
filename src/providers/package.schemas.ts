import Type, { type Static } from 'typebox';
import { UUID_PATTERN } from '../platform/ids.js';
import { ApplicationParams, BiblioBody } from './biblio.schemas.js';
import { CitationInput } from './citations.schemas.js';
import { DepositMetadata } from './deposit.schemas.js';
import { PACKAGE_ENTRY_KINDS, PACKAGE_ENTRY_STATUSES, PACKAGE_STATUSES } from './package.entity.js';

// ------------------------------------------------------------------------------------------------ the manifest

const PATH = Type.String({
  minLength: 1,
  maxLength: 1024,
  description: 'The document’s path in the zip, `/`-separated, exactly as stored (compared as is)',
  examples: ['US17123456/search-report.pdf'],
});
const APPLICATION_NUMBER = ApplicationParams.properties.applicationNumber;

/** An application's bibliographic data: the body of `PUT /v1/applications/{officeCode}/{applicationNumber}`, with its number. */
export const ManifestApplication = Type.Object(
  {
    officeCode: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$', description: 'The package’s office (the submitter’s): another office is refused' })),
    applicationNumber: APPLICATION_NUMBER,
    ...BiblioBody.properties,
  },
  { additionalProperties: false },
);
export type ManifestApplication = Static<typeof ManifestApplication>;

const { mediaType: _mediaType, ...documentMetadata } = DepositMetadata.properties;

/** A document: the metadata of `POST …/documents` (its `metadata` part), the path of its bytes in the zip, its media type. */
export const ManifestDocument = Type.Object(
  {
    applicationNumber: APPLICATION_NUMBER,
    path: PATH,
    metadata: Type.Object(documentMetadata, { additionalProperties: false, description: 'As the `metadata` part of a document deposit (visibility defaults to `offices`)' }),
    mediaType: Type.String({ minLength: 3, maxLength: 200, description: 'The declared media type; it must be what the bytes are', examples: ['application/pdf'] }),
    idempotencyKey: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        pattern: '^[\\x20-\\x7e]+$',
        description: 'The deposit’s Idempotency-Key (shared with single deposits); by default one derived from the package id and the path',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ManifestDocument = Static<typeof ManifestDocument>;

/** A citation as in `PUT …/citations`, which may name a document of the package by its path instead of its id. */
export const ManifestCitation = Type.Object(
  {
    ...CitationInput.properties,
    documentPath: Type.Optional({ ...PATH, description: 'A document of this package (its path) that makes the citation, instead of `documentId`' }),
  },
  { additionalProperties: false },
);
export type ManifestCitation = Static<typeof ManifestCitation>;

/** An application's whole citation list, as the body of `PUT …/citations`. */
export const ManifestCitations = Type.Object(
  { applicationNumber: APPLICATION_NUMBER, citations: Type.Array(ManifestCitation, { maxItems: 1000 }) },
  { additionalProperties: false },
);
export type ManifestCitations = Static<typeof ManifestCitations>;

/**
 * `manifest.json` at the root of a package. Applications are written first, then documents (of applications of the
 * package's office, in the package or already in the hub), then citation lists. Every path of `documents` must be
 * an entry of the zip, and every file entry of the zip (but the manifest) a path of `documents`.
 */
export const PackageManifest = Type.Object(
  {
    applications: Type.Array(ManifestApplication, { maxItems: 100_000, default: [] }),
    documents: Type.Array(ManifestDocument, { maxItems: 100_000, default: [] }),
    citations: Type.Array(ManifestCitations, { maxItems: 100_000, default: [] }),
  },
  { additionalProperties: false, description: 'manifest.json' },
);
export type PackageManifest = Static<typeof PackageManifest>;

// ------------------------------------------------------------------------------------------------ the API

export const PackageParams = Type.Object({ packageId: Type.String({ pattern: UUID_PATTERN, description: 'Package id (UUIDv7)' }) });

export const PackageUploadHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: 200, description: 'Retrying with the same key and the same zip returns the same package; the same key with another zip gives 409' }),
  ),
});

export const PackageListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'Items per page (1 to 200, default 50)' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Opaque cursor from a previous page' })),
  status: Type.Optional(Type.Enum([...PACKAGE_STATUSES], { description: 'Only packages in this status' })),
  sort: Type.Optional(Type.Enum(['createdAt:desc', 'createdAt:asc'], { default: 'createdAt:desc', description: 'Newest first (default) or oldest first' })),
});
export type PackageListQuery = Static<typeof PackageListQuery>;

const FieldProblems = Type.Array(Type.Object({ field: Type.String(), message: Type.String() }));

export const PackageEntryResultView = Type.Object(
  {
    kind: Type.Enum([...PACKAGE_ENTRY_KINDS], { description: 'application, document or citations: an item of the manifest; entry: a zip entry the manifest does not name' }),
    reference: Type.String({ description: 'The application number, or the path in the zip (as found: escape before display)' }),
    status: Type.Enum([...PACKAGE_ENTRY_STATUSES], { description: 'accepted; refused (the entry’s fault: errorCode says why, nothing was stored from it); failed (an unexpected error)' }),
    field: Type.Optional(Type.String({ description: 'The manifest item, e.g. `/manifest/documents/2`' })),
    documentId: Type.Optional(Type.String()),
    receipt: Type.Optional(Type.String({ description: 'The deposit’s receipt (JWS), as for a single deposit' })),
    sha256: Type.Optional(Type.String()),
    replayed: Type.Optional(Type.Boolean({ description: 'The document had already been deposited with this idempotency key (e.g. by an earlier attempt)' })),
    created: Type.Optional(Type.Boolean({ description: 'Applications: created (else replaced)' })),
    errorCode: Type.Optional(Type.String()),
    detail: Type.Optional(Type.String()),
    errors: Type.Optional(FieldProblems),
  },
  { $id: 'PackageEntryResult' },
);

const PackageError = Type.Object(
  { errorCode: Type.String(), detail: Type.String(), errors: Type.Optional(FieldProblems) },
  { description: 'Why the whole package was refused (status refused) or its processing failed (status failed)' },
);

const packageProperties = {
  id: Type.String({ description: 'Opaque id (UUIDv7)' }),
  officeCode: Type.String(),
  branchId: Type.String(),
  submittedBy: Type.Object({ kind: Type.Enum(['examiner', 'client']), id: Type.String(), branchId: Type.String() }),
  status: Type.Enum([...PACKAGE_STATUSES], {
    description: 'queued; processing; completed (every entry has its status); refused (the whole package: not a zip, too large, a bad manifest…); failed (an unexpected error, after retries)',
  }),
  progress: Type.Object({ done: Type.Integer({ minimum: 0 }), total: Type.Integer({ minimum: 0 }) }, { description: 'Entries processed, of all entries (0 of 0 until the manifest is read)' }),
  byteSize: Type.Integer({ description: 'Size of the zip as received' }),
  sha256: Type.String({ description: 'SHA-256 of the zip as received' }),
  error: Type.Union([PackageError, Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
};

export const PackageSummary = Type.Object(packageProperties, { $id: 'PackageSummary', description: 'A package without its per-entry results' });
export type PackageSummary = Static<typeof PackageSummary>;

export const PackageView = Type.Object(
  { ...packageProperties, results: Type.Array(PackageEntryResultView, { description: 'One per manifest item and per zip entry the manifest does not name, in processing order' }) },
  { $id: 'Package' },
);
export type PackageView = Static<typeof PackageView>;
