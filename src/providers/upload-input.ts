import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { AppError, BadRequestError, PayloadTooLargeError, RequestTimeoutError, UnsupportedMediaTypeError } from '../platform/errors.js';
import { sourceOf, toBuffer } from '../platform/storage/hashing.js';
import { withTimeout } from '../platform/timeout.js';
import { METADATA_HEADERS } from './deposit.schemas.js';
import type { DocumentUpload } from './deposit.service.js';
import { invalidFields } from './fields.js';
import { SUPPORTED_MEDIA_TYPES } from './media-type.js';

/** Largest `metadata` part: far more than any real metadata, small enough to hold. */
export const METADATA_PART_LIMIT = 64 * 1024;

const metadataFirst = (): BadRequestError =>
  new BadRequestError('METADATA_MUST_PRECEDE_FILE', 'Send the "metadata" part before the "file" part: the hub checks the metadata before it reads the document', {
    errors: [{ field: '/multipart/metadata', message: 'must come before the file part' }],
  });

/** Maps what @fastify/multipart and busboy throw to problems (their own statuses are not all apt). */
function multipartProblem(error: unknown, limit: number): AppError {
  if (error instanceof AppError) return error;
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return new BadRequestError('MALFORMED_METADATA', 'The "metadata" part is not valid JSON', { errors: [{ field: '/multipart/metadata', message: 'is not valid JSON' }] });
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new BadRequestError('TOO_MANY_PARTS', 'A document upload has exactly two parts: "metadata" (JSON), then "file"');
    case 'FST_REQ_FILE_TOO_LARGE':
      return new PayloadTooLargeError('DOCUMENT_TOO_LARGE', `The document is larger than the limit of ${limit} bytes; nothing was stored`, { limit });
    case 'FST_MP_PREMATURE_CLOSE':
      return new BadRequestError('UPLOAD_INCOMPLETE', 'The upload was cut off before the whole document arrived; nothing was stored');
    default:
      return new BadRequestError('MALFORMED_MULTIPART', `The multipart body is malformed${error instanceof Error ? `: ${error.message}` : ''}`);
  }
}

function parseMetadataPart(value: unknown, truncated: boolean): unknown {
  if (truncated) {
    throw new PayloadTooLargeError('METADATA_TOO_LARGE', `The "metadata" part is larger than ${METADATA_PART_LIMIT} bytes`, {
      errors: [{ field: '/multipart/metadata', message: 'is too large' }],
    });
  }
  if (typeof value !== 'string') return value; // a part sent as application/json, parsed by the plugin
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new BadRequestError('MALFORMED_METADATA', 'The "metadata" part is not valid JSON', { errors: [{ field: '/multipart/metadata', message: 'is not valid JSON' }] });
  }
}

/**
 * A multipart upload: the `metadata` part (JSON) first, then the `file` part, whose stream is handed on unread.
 * A file before any metadata is skipped while the rest is read, to tell "metadata after the file" from "no metadata".
 */
export async function multipartUpload(request: FastifyRequest, idempotencyKey: string | undefined, limit: number, idleTimeoutMs?: number): Promise<DocumentUpload> {
  let metadata: unknown;
  let sawMetadata = false;
  let sawFileFirst = false;
  try {
    // The parts up to the file's are read here: a client silent before the file begins is refused as in guardedUpload.
    const parts = request.parts()[Symbol.asyncIterator]();
    for (;;) {
      const next = await arrivedWithin(parts.next(), idleTimeoutMs, 'document');
      if (next.done === true) break;
      const part = next.value;
      if (part.type === 'field') {
        if (part.fieldname === 'file') {
          throw new BadRequestError('FILE_REQUIRED', 'The "file" part must be a file part (a Content-Disposition with a filename)', {
            errors: [{ field: '/multipart/file', message: 'must be a file part, with a filename' }],
          });
        }
        if (part.fieldname !== 'metadata') throw invalidFields([{ field: `/multipart/${part.fieldname}`, message: 'is not a part of a document upload ("metadata", then "file")' }]);
        if (sawFileFirst) throw metadataFirst();
        if (sawMetadata) throw invalidFields([{ field: '/multipart/metadata', message: 'is sent more than once' }]);
        sawMetadata = true;
        metadata = parseMetadataPart(part.value, part.valueTruncated);
        continue;
      }
      if (!sawMetadata) {
        sawFileFirst = true;
        part.file.resume();
        continue;
      }
      const file = part.file;
      // Past the size limit busboy would read the rest of the part before ending the stream: answer at once instead.
      file.once('limit', () => file.destroy(new PayloadTooLargeError('DOCUMENT_TOO_LARGE', `The document is larger than the limit of ${limit} bytes; nothing was stored`, { limit })));
      return {
        metadata,
        source: 'metadata',
        declaredMediaType: part.mimetype,
        body: file,
        idempotencyKey,
        truncated: () => file.truncated,
      };
    }
  } catch (error) {
    throw multipartProblem(error, limit);
  }
  if (!sawMetadata) {
    throw new BadRequestError('METADATA_REQUIRED', 'A document upload needs a "metadata" part (JSON) before the "file" part', {
      errors: [{ field: '/multipart/metadata', message: 'is required' }],
    });
  }
  throw new BadRequestError('FILE_REQUIRED', 'The upload has no "file" part', { errors: [{ field: '/multipart/file', message: 'is required' }] });
}

export interface UploadGuard {
  /** The refusal for a body the transport cut off (a reset connection, a malformed multipart stream). */
  incomplete: () => AppError;
  /** Longest wait for the next chunk before the upload is refused (408 UPLOAD_STALLED); none when undefined. */
  idleTimeoutMs?: number | undefined;
  /** What the upload is, for the refusal's detail ("document", "package"). */
  what: string;
  /** Runs once the body has ended, before the store sees its end (it may throw a refusal, e.g. a truncated part). */
  atEnd?: () => void;
}

/** The next piece of an upload, or 408 UPLOAD_STALLED when the client sends nothing for `idleTimeoutMs` (if set). */
function arrivedWithin<T>(next: Promise<T>, idleTimeoutMs: number | undefined, what: string): Promise<T> {
  if (idleTimeoutMs === undefined) return next;
  return withTimeout(
    next,
    idleTimeoutMs,
    () => new RequestTimeoutError('UPLOAD_STALLED', `No bytes of the ${what} arrived for ${idleTimeoutMs} ms; nothing was stored. Send it again`, { idleTimeoutMs }),
  );
}

/**
 * An upload's bytes as they arrive, with the transport's failures turned into refusals. A client that stops sending
 * is refused after `idleTimeoutMs`: the store would otherwise wait for it until its own timeout (S3 answers
 * RequestTimeout after about 20 s, which would be a 500). Nothing more of the body is read, and the refusal closes
 * the connection (destroying the body here would cut the socket before the answer). Time the store takes to accept
 * a chunk does not count: the clock runs only while waiting for the client.
 */
export function guardedUpload(source: Readable, guard: UploadGuard): Readable {
  async function* bytes(): AsyncGenerator<Buffer> {
    const chunks = sourceOf(source)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const result = await arrivedWithin(chunks.next(), guard.idleTimeoutMs, guard.what);
        if (result.done === true) break;
        yield toBuffer(result.value);
      }
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw guard.incomplete();
    }
    guard.atEnd?.();
  }
  const stream = Readable.from(bytes(), { objectMode: false });
  // The store may stop reading on a failure of its own (413, a full disk, S3) without destroying this stream; the
  // client's later silence or disconnect then fails it with nobody listening, which would end the process.
  stream.on('error', () => undefined);
  return stream;
}

/** `Document-Title` and the like: percent-encoded UTF-8, or an RFC 8187 ext-value (`UTF-8''…`). */
export function decodeHeaderText(value: string): string | null {
  const ext = /^utf-8'[A-Za-z0-9-]*'(.*)$/i.exec(value);
  const encoded = ext ? (ext[1] ?? '') : value;
  // Header values arrive as latin1: anything beyond ASCII must have been percent-encoded.
  if (/[^\x20-\x7e\t]/.test(encoded)) return null;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return null;
  }
}

/** The body's size from Content-Length, unless the body is chunked (then its size is only known at the end). */
export function announcedLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  if (header === undefined || request.headers['transfer-encoding'] !== undefined || !/^\d{1,15}$/.test(header)) return undefined;
  return Number(header);
}

/** A raw upload: the body is the document, its metadata in `Document-*` headers. */
export function rawUpload(request: FastifyRequest, idempotencyKey: string | undefined): DocumentUpload {
  const body = request.body;
  if (!(body instanceof Readable)) {
    throw new UnsupportedMediaTypeError('UNSUPPORTED_MEDIA_TYPE', `Send multipart/form-data, or the document itself with its media type (${SUPPORTED_MEDIA_TYPES.join(', ')})`, {
      supported: SUPPORTED_MEDIA_TYPES,
    });
  }
  const metadata: Record<string, unknown> = {};
  for (const [property, header] of Object.entries(METADATA_HEADERS)) {
    if (property === 'mediaType') continue;
    const raw = request.headers[header];
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    if (value === undefined) continue;
    if (property === 'title' || property === 'reason') {
      const decoded = decodeHeaderText(value);
      if (decoded === null) throw invalidFields([{ field: `/headers/${header}`, message: "must be percent-encoded UTF-8 or an RFC 8187 value (UTF-8''…)" }]);
      metadata[property] = decoded;
    } else if (property === 'pageCount') {
      metadata[property] = /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : value;
    } else if (property === 'allowedOffices') {
      metadata[property] = value
        .split(',')
        .map((code) => code.trim())
        .filter((code) => code !== '');
    } else {
      metadata[property] = value.trim();
    }
  }
  return { metadata, source: 'headers', declaredMediaType: request.headers['content-type'], body, byteLength: announcedLength(request), idempotencyKey };
}
