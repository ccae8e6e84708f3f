import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Office } from '../access/office.entity.js';
import { requireDepositor, type Depositor } from '../access/permissions.js';
import type { Principal } from '../access/principal.js';
import type { KeySet } from '../access/signing-keys.js';
import { isSt3Code } from '../access/st3.js';
import { DEFAULT_VISIBILITY } from '../access/visibility.js';
import type { Application } from '../dossier/application.entity.js';
import { canSee, documentNotFound, isProviderOf, loadDocumentInContext, principalOfficeFacts, toDocumentView } from '../dossier/document-access.js';
import { DocumentChangeEntity } from '../dossier/document-change.entity.js';
import { DocumentCodeEntity } from '../dossier/document-code.entity.js';
import { DocumentEntity, type DossierDocument } from '../dossier/document.entity.js';
import type { DocumentView } from '../dossier/document.schemas.js';
import { IdempotencyRecordEntity } from '../dossier/idempotency.entity.js';
import { BadRequestError, ConflictError, PayloadTooLargeError, UnprocessableError, UnsupportedMediaTypeError, type FieldProblem } from '../platform/errors.js';
import { uuidv7 } from '../platform/ids.js';
import type { JobQueue } from '../platform/jobs/index.js';
import { BlobSizeMismatchError, BlobTooLargeError, StreamMeter, type BlobStore } from '../platform/storage/index.js';
import { sourceOf, toBuffer } from '../platform/storage/hashing.js';
import { DepositMetadata, METADATA_HEADERS, VersionMetadata } from './deposit.schemas.js';
import { depositApplication, depositOffice, isProviding } from './deposit-office.js';
import { EXTRACT_TEXT_JOB, isExtractable } from './extraction.job.js';
import { fieldValidator, invalidFields, unacceptableFields } from './fields.js';
import { canonicalMediaType, isSupportedMediaType, sniffStream, SUPPORTED_MEDIA_TYPES, type SupportedMediaType } from './media-type.js';
import { depositorOf, signReceipt, type ReceiptPayload } from './receipts.js';
import { guardedUpload } from './upload-input.js';

/**
 * One document upload, however it arrived: a multipart request (metadata part, then the file), a raw body with
 * the metadata in headers, or an entry of a bulk package. The body is read once, as a stream, never buffered whole.
 */
export interface DocumentUpload {
  /** The metadata as received (validated here): an object from the JSON part, or built from the headers. */
  metadata: unknown;
  /** Where the metadata came from, so refusals name the right field (`/metadata/title`, `/headers/document-title`). */
  source: 'metadata' | 'headers';
  /** The media type the depositor declares; it must be what the bytes are. */
  declaredMediaType: string | undefined;
  body: Readable;
  /**
   * The document's exact size when the transport announces it (a raw upload's Content-Length). The store then
   * streams a large body through in parts instead of holding a part in memory, and refuses one that ends early.
   */
  byteLength?: number | undefined;
  idempotencyKey?: string | undefined;
  /** True when the transport cut the body at its own size limit (multipart `fileSize`): refused with 413. */
  truncated?: () => boolean;
}

export interface DepositResult {
  document: DocumentView;
  receipt: string;
  /** An Idempotency-Key retry: the earlier deposit, unchanged. */
  replayed: boolean;
}

export interface DepositServiceDeps {
  em: EntityManager;
  storage: BlobStore;
  keys: Pick<KeySet, 'signJws'>;
  jobs: Pick<JobQueue, 'enqueue'>;
  /** `uploadIdleTimeoutMs`: for uploads from the network (none for a package's entries, read from a local copy). */
  settings: { uploadLimitBytes: number; issuer: string; uploadIdleTimeoutMs?: number };
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  requestId?: string | null;
}

interface ResolvedMetadata {
  documentCode: string;
  documentDate: string;
  direction: DossierDocument['direction'];
  languageCode: string;
  title: string;
  pageCount: number | null;
  visibility: DossierDocument['visibility'];
  allowedOffices: string[];
  mediaType?: string | undefined;
  reason?: string | undefined;
}

const depositMetadata = fieldValidator<DepositMetadata>(DepositMetadata);
const versionMetadata = fieldValidator<VersionMetadata>(VersionMetadata);
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,200}$/;

/** `documents/<officeCode>/<yyyy>/<mm>/<id>` (UTC): spread over prefixes, listable per office and month. */
export function documentStorageKey(officeCode: string, at: Date, id: string): string {
  return `documents/${officeCode}/${at.getUTCFullYear()}/${String(at.getUTCMonth() + 1).padStart(2, '0')}/${id}`;
}

const tooLarge = (limit: number): PayloadTooLargeError =>
  new PayloadTooLargeError('DOCUMENT_TOO_LARGE', `The document is larger than the limit of ${limit} bytes; nothing was stored`, { limit });

const incomplete = (): BadRequestError => new BadRequestError('UPLOAD_INCOMPLETE', 'The upload was cut off before the whole document arrived; nothing was stored');

/** The upload's bytes with transport failures turned into a 400, a stall into a 408 and a transport-side truncation into a 413. */
function guardedBody(upload: DocumentUpload, limit: number, idleTimeoutMs: number | undefined): Readable {
  return guardedUpload(upload.body, {
    what: 'document',
    incomplete,
    idleTimeoutMs,
    atEnd: () => {
      if (upload.truncated?.() === true) throw tooLarge(limit);
    },
  });
}

function fieldName(source: DocumentUpload['source'], property: string): string {
  return source === 'headers' ? `/headers/${METADATA_HEADERS[property as keyof typeof METADATA_HEADERS] ?? property}` : `/metadata/${property}`;
}

const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A stable JSON rendering (sorted keys) for fingerprints. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function violatedConstraint(error: unknown): string {
  const named = (error as { constraint?: unknown }).constraint;
  if (typeof named === 'string') return named;
  return /constraint "([^"]+)"/.exec(error instanceof Error ? error.message : '')?.[1] ?? '';
}

/**
 * Document deposits (DESIGN §9: an acknowledged deposit is never lost). In order: the deposit check, the
 * metadata (before a byte of the file is read), the declared media type, the bytes sniffed and compared, the
 * bytes streamed into the store (hashed and counted, capped), then one transaction inserting the row, its change
 * record and the idempotency record, with the receipt signed beforehand; then the text extraction job. A failed
 * transaction deletes the blob it wrote (the orphan sweeper catches what that misses).
 *
 * A bulk package job calls `deposit` for each entry with the entry's stream and the package's depositor.
 */
export function createDepositService(deps: DepositServiceDeps) {
  const { em, storage, keys, jobs, settings, log } = deps;
  const limit = settings.uploadLimitBytes;

  function validateMetadata<T>(upload: DocumentUpload, validator: { parse(value: unknown, prefix: string, rename?: (p: string) => string): T }): T {
    if (upload.source === 'headers') return validator.parse(upload.metadata, '/headers', (property) => METADATA_HEADERS[property as keyof typeof METADATA_HEADERS] ?? property);
    if (upload.metadata === null || typeof upload.metadata !== 'object' || Array.isArray(upload.metadata)) {
      throw invalidFields([{ field: '/metadata', message: 'must be a JSON object' }]);
    }
    return validator.parse(upload.metadata, '/metadata');
  }

  async function checkContent(upload: DocumentUpload, metadata: ResolvedMetadata): Promise<void> {
    const problems: FieldProblem[] = [];
    metadata.allowedOffices.forEach((code, index) => {
      if (!isSt3Code(code)) problems.push({ field: `${fieldName(upload.source, 'allowedOffices')}${upload.source === 'headers' ? '' : `/${index}`}`, message: `"${code}" is not an ST.3 code` });
    });
    if (metadata.allowedOffices.length > 0 && metadata.visibility !== 'restricted') {
      problems.push({ field: fieldName(upload.source, 'allowedOffices'), message: `only applies to visibility "restricted" (visibility is "${metadata.visibility}")` });
    }
    if (problems.length > 0) throw unacceptableFields('INVALID_DOCUMENT_METADATA', problems);
    if (!(await em.findOne(DocumentCodeEntity, { code: metadata.documentCode }))) {
      const allowed = (await em.find(DocumentCodeEntity, {}, { orderBy: { code: 'asc' } })).map((row) => row.code);
      throw new UnprocessableError('UNKNOWN_DOCUMENT_CODE', `"${metadata.documentCode}" is not a document code; allowed: ${allowed.join(', ')}`, {
        allowed,
        errors: [{ field: fieldName(upload.source, 'documentCode'), message: 'is not a known document code' }],
      });
    }
  }

  /** The declared media type as one of the document types, or 415. */
  function declaredType(upload: DocumentUpload, metadata: ResolvedMetadata): SupportedMediaType {
    const declared = metadata.mediaType ?? upload.declaredMediaType;
    const canonical = declared === undefined ? null : canonicalMediaType(declared);
    if (canonical === null || !isSupportedMediaType(canonical)) {
      throw new UnsupportedMediaTypeError(
        'UNSUPPORTED_MEDIA_TYPE',
        declared === undefined || declared === 'application/octet-stream'
          ? `Declare the document’s media type (${SUPPORTED_MEDIA_TYPES.join(', ')})`
          : `${declared} is not a document type the hub accepts; supported: ${SUPPORTED_MEDIA_TYPES.join(', ')}`,
        { supported: SUPPORTED_MEDIA_TYPES },
      );
    }
    return canonical;
  }

  async function replay(documentId: string): Promise<DepositResult> {
    const context = await loadDocumentInContext(em, documentId);
    if (!context) throw new Error(`Idempotency record names document ${documentId}, which does not exist`);
    return { document: toDocumentView(context.document, context.application.applicationNumber, true), receipt: context.document.receipt, replayed: true };
  }

  const keyReused = (key: string): ConflictError =>
    new ConflictError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key "${key}" was used for a different request (other content, metadata or target); nothing was stored`);

  /** Reads the whole body only to hash it (an Idempotency-Key retry): the same bytes replay, others conflict. */
  async function hashOnly(body: Readable): Promise<string> {
    const meter = new StreamMeter({ maxBytes: limit });
    try {
      for await (const chunk of sourceOf(body)) meter.update(toBuffer(chunk));
    } catch (error) {
      if (error instanceof BlobTooLargeError) throw tooLarge(limit);
      throw error;
    }
    return meter.digest();
  }

  /** Deletes the blob of a deposit whose transaction failed, unless its row exists after all (commit outcome unknown). */
  async function discardBlob(key: string, documentId: string): Promise<void> {
    try {
      const row = await em.fork().getConnection().execute<{ id: string }[]>('select "id" from "document" where "id" = ?', [documentId]);
      if (row.length > 0) return;
      await storage.delete(key);
    } catch (error) {
      log.warn({ err: error, key }, 'could not delete the blob of a failed deposit: the orphan sweeper will');
    }
  }

  interface Receive {
    depositor: Depositor;
    office: Office;
    application: Application;
    metadata: ResolvedMetadata;
    upload: DocumentUpload;
    operation: 'deposit' | 'version';
    previous?: DossierDocument;
  }

  async function receive({ depositor, office, application, metadata, upload, operation, previous }: Receive): Promise<DepositResult> {
    await checkContent(upload, metadata);
    const declared = declaredType(upload, metadata);
    const who = depositorOf(depositor);
    const idempotencyKey = upload.idempotencyKey;
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw invalidFields([{ field: '/headers/idempotency-key', message: 'must be 1 to 200 printable ASCII characters' }]);
    }
    const { reason, mediaType: _declared, ...fields } = metadata;
    const fingerprint = sha256Hex(canonicalJson({ operation, target: previous?.id ?? application.id, fields, declared, branch: who.branchId }));
    const body = guardedBody(upload, limit, settings.uploadIdleTimeoutMs);

    if (idempotencyKey !== undefined) {
      const existing = await em.findOne(IdempotencyRecordEntity, { officeCode: office.code, key: idempotencyKey });
      if (existing) {
        if (existing.fingerprint !== fingerprint) throw keyReused(idempotencyKey);
        if ((await hashOnly(body)) !== existing.contentSha256) throw keyReused(idempotencyKey);
        return replay(existing.documentId);
      }
    }

    const sniffed = await sniffStream(body);
    if (sniffed.mediaType === null || sniffed.mediaType === 'application/zip') {
      throw new UnsupportedMediaTypeError('UNSUPPORTED_MEDIA_TYPE', `The bytes are not a document type the hub accepts (${SUPPORTED_MEDIA_TYPES.join(', ')}); nothing was stored`, {
        supported: SUPPORTED_MEDIA_TYPES,
      });
    }
    if (sniffed.mediaType !== declared) {
      throw new UnsupportedMediaTypeError('MEDIA_TYPE_MISMATCH', `The document was declared as ${declared} but its bytes are ${sniffed.mediaType}; nothing was stored`, {
        declared,
        sniffed: sniffed.mediaType,
      });
    }

    const mediaType: SupportedMediaType = sniffed.mediaType;
    const id = uuidv7();
    const key = documentStorageKey(office.code, new Date(), id);
    let stored;
    try {
      stored = await storage.put(key, sniffed.stream, { maxBytes: limit, contentType: mediaType, expectedBytes: upload.byteLength });
    } catch (error) {
      if (error instanceof BlobTooLargeError) throw tooLarge(limit);
      if (error instanceof BlobSizeMismatchError) throw incomplete();
      throw error;
    }

    const receivedAt = new Date();
    const version = previous ? previous.version + 1 : 1;
    const payload: ReceiptPayload = {
      iss: settings.issuer,
      iat: Math.floor(receivedAt.getTime() / 1000),
      documentId: id,
      officeCode: office.code,
      applicationNumber: application.applicationNumber,
      documentCode: fields.documentCode,
      version,
      ...(previous ? { supersedes: previous.id } : {}),
      sha256: stored.sha256,
      byteSize: stored.size,
      mediaType,
      receivedAt: receivedAt.toISOString(),
      depositor: who,
    };
    let receipt: string;
    let document: DossierDocument;
    try {
      // Signed before the transaction opens: key refreshes use their own connection (PGlite has one).
      receipt = await signReceipt(keys, payload);
      document = await em.transactional(async (tx) => {
        const actor = { actorKind: who.kind, actorId: who.id, actorBranchId: who.branchId, requestId: deps.requestId ?? null };
        if (previous) {
          const current = await tx.findOne(DocumentEntity, { id: previous.id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
          if (!current || current.status === 'superseded') throw superseded(previous.id, current?.supersededById ?? null);
          tx.persist(
            tx.create(DocumentChangeEntity, {
              id: uuidv7(),
              documentId: current.id,
              action: 'superseded',
              before: { status: current.status },
              after: { status: 'superseded', supersededById: id },
              reason: reason ?? null,
              ...actor,
            }),
          );
          current.status = 'superseded';
          current.supersededById = id;
        }
        const row = tx.create(DocumentEntity, {
          id,
          applicationId: application.id,
          officeCode: office.code,
          ...fields,
          mediaType,
          byteSize: stored.size,
          sha256: stored.sha256,
          storageKey: key,
          status: 'active',
          version,
          supersedesId: previous?.id ?? null,
          supersededById: null,
          depositorKind: who.kind,
          depositorId: who.id,
          depositorBranchId: who.branchId,
          receipt,
          receivedAt,
        });
        tx.persist(row);
        tx.persist(
          tx.create(DocumentChangeEntity, {
            id: uuidv7(),
            documentId: id,
            action: 'deposited',
            before: previous ? { documentId: previous.id, version: previous.version } : {},
            after: { version, sha256: stored.sha256, byteSize: stored.size, mediaType, visibility: fields.visibility, allowedOffices: fields.allowedOffices },
            reason: reason ?? null,
            ...actor,
          }),
        );
        if (idempotencyKey !== undefined) {
          tx.persist(tx.create(IdempotencyRecordEntity, { officeCode: office.code, key: idempotencyKey, operation, documentId: id, contentSha256: stored.sha256, fingerprint }));
        }
        await tx.flush();
        return row;
      });
    } catch (error) {
      await discardBlob(key, id);
      if (error instanceof UniqueConstraintViolationException) {
        const constraint = violatedConstraint(error);
        if (idempotencyKey !== undefined && constraint.startsWith('idempotency_record')) {
          // A concurrent request with the same key won: its document is the answer if it was the same request.
          const winner = await em.fork().findOne(IdempotencyRecordEntity, { officeCode: office.code, key: idempotencyKey });
          if (winner && winner.fingerprint === fingerprint && winner.contentSha256 === stored.sha256) return replay(winner.documentId);
          throw keyReused(idempotencyKey);
        }
        if (previous && constraint.includes('supersedes')) throw superseded(previous.id, null);
      }
      throw error;
    }

    if (isExtractable(document.mediaType)) {
      try {
        await jobs.enqueue(EXTRACT_TEXT_JOB, { documentId: id }, { jobId: `extract-${id}` });
      } catch (error) {
        // The deposit stands; the orphan sweep's backfill enqueues extraction for documents without text.
        log.warn({ err: error, documentId: id }, 'could not enqueue text extraction');
      }
    }
    return { document: toDocumentView(document, application.applicationNumber, true), receipt, replayed: false };
  }

  const superseded = (documentId: string, supersededById: string | null): ConflictError =>
    new ConflictError('DOCUMENT_SUPERSEDED', `Document ${documentId} has already been corrected by a newer version: correct the latest version`, {
      ...(supersededById !== null ? { supersededById } : {}),
    });

  return {
    /** A new document of an application of the depositor's office. */
    async deposit(principal: Principal, rawOfficeCode: string, rawNumber: string, upload: DocumentUpload): Promise<DepositResult> {
      const { office, depositor } = await depositOffice(em, principal, rawOfficeCode, 'depositDocument');
      const { application } = await depositApplication(em, office, rawNumber);
      const input = validateMetadata(upload, depositMetadata);
      const metadata: ResolvedMetadata = {
        documentCode: input.documentCode,
        documentDate: input.documentDate,
        direction: input.direction,
        languageCode: input.languageCode,
        title: input.title.trim(),
        pageCount: input.pageCount ?? null,
        visibility: input.visibility ?? DEFAULT_VISIBILITY,
        allowedOffices: [...new Set((input.allowedOffices ?? []).map((code) => code.toUpperCase()))],
        mediaType: input.mediaType,
      };
      return receive({ depositor, office, application, metadata, upload, operation: 'deposit' });
    },

    /** A correction: version n + 1 of a document of the depositor's office, which supersedes version n. */
    async depositVersion(principal: Principal, documentId: string, upload: DocumentUpload): Promise<DepositResult> {
      const context = await loadDocumentInContext(em, documentId);
      if (!context || (!isProviderOf(principal, context.document) && !canSee(principal, context, await principalOfficeFacts(em, principal)))) throw documentNotFound(documentId);
      const { document: previous, application, provider } = context;
      const depositor = requireDepositor(principal, { officeCode: previous.officeCode, officeProviding: isProviding(provider) }, 'depositDocumentVersion');
      if (previous.status === 'superseded') throw superseded(previous.id, previous.supersededById ?? null);
      const input = validateMetadata(upload, versionMetadata);
      const visibility = input.visibility ?? previous.visibility;
      const allowedOffices = input.allowedOffices ?? (visibility === 'restricted' ? [...previous.allowedOffices] : []);
      const metadata: ResolvedMetadata = {
        documentCode: input.documentCode ?? previous.documentCode,
        documentDate: input.documentDate ?? previous.documentDate,
        direction: input.direction ?? previous.direction,
        languageCode: input.languageCode ?? previous.languageCode,
        title: input.title?.trim() ?? previous.title,
        pageCount: input.pageCount ?? previous.pageCount ?? null,
        visibility,
        allowedOffices: [...new Set(allowedOffices.map((code) => code.toUpperCase()))],
        mediaType: input.mediaType,
        reason: input.reason,
      };
      return receive({ depositor, office: provider, application, metadata, upload, operation: 'version', previous });
    },
  };
}

export type DepositService = ReturnType<typeof createDepositService>;
