import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { SECURITY } from '../access/runtime.js';
import { DocumentParams, DocumentView } from '../dossier/document.schemas.js';
import { UnsupportedMediaTypeError } from '../platform/errors.js';
import { Page, PageQuery, problemResponses } from '../platform/schemas.js';
import { DepositMetadata, DepositResponse, DocumentChangeView, ReceiptView, UpdateDocumentBody, UploadHeaders, VersionMetadata } from './deposit.schemas.js';
import { createDepositService, type DepositResult } from './deposit.service.js';
import { createDocumentChangeService } from './document-changes.service.js';
import { ApplicationParams } from './biblio.schemas.js';
import { canonicalMediaType, isSupportedMediaType, SUPPORTED_MEDIA_TYPES } from './media-type.js';
import { METADATA_PART_LIMIT, multipartUpload, rawUpload } from './upload-input.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route takes a document upload (multipart or the raw document). */
    documentUpload?: boolean;
  }
}

const DocumentChangePage = Page(DocumentChangeView, 'DocumentChangePage');

/** How much of a refused upload's body the hub reads and drops before it closes the connection instead. */
export const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;

/** Drops the rest of a refused upload's body (deposits, packages), closing the connection past DISCARD_LIMIT_BYTES. */
export function discardRest(raw: FastifyRequest['raw']): void {
  // Stop feeding the multipart parser and the stream readers of the refused upload; then drop what still comes.
  raw.unpipe();
  raw.removeAllListeners('readable');
  let discarded = 0;
  raw.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT_BYTES) raw.destroy();
  });
  raw.resume();
}

/** The upload's request body in the OpenAPI document (validation is the service's: the body is a stream). */
function uploadBody(metadata: typeof DepositMetadata | typeof VersionMetadata) {
  const binary = { contentEncoding: 'binary', description: 'The document itself; Content-Type is its media type, the metadata is in the Document-* headers' };
  return {
    content: {
      'multipart/form-data': {
        schema: {
          description: 'Two parts, in this order: `metadata` (JSON) and `file` (the document, with its Content-Type)',
          properties: { metadata, file: { contentEncoding: 'binary', description: 'The document' } },
          required: ['metadata', 'file'],
        },
      },
      ...Object.fromEntries(SUPPORTED_MEDIA_TYPES.map((type) => [type, { schema: binary }])),
    },
  };
}

/** Document uploads (new documents and corrections), changes by the providing office, change history and receipts. */
export const depositRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const limit = app.config.limits.uploadLimitBytes;
  await app.register(multipart, { limits: { fileSize: limit, files: 1, fields: 2, fieldSize: METADATA_PART_LIMIT, parts: 3 } });
  // The raw variant: the body is the document, passed on as the request stream (never buffered).
  app.addContentTypeParser('*', (request, payload, done) => {
    const type = canonicalMediaType(request.headers['content-type'] ?? '');
    if (request.routeOptions.config.documentUpload === true && type !== null && isSupportedMediaType(type)) {
      done(null, payload);
      return;
    }
    done(new UnsupportedMediaTypeError('UNSUPPORTED_MEDIA_TYPE', `This operation does not accept ${request.headers['content-type'] ?? 'a body without Content-Type'}`, { supported: SUPPORTED_MEDIA_TYPES }));
  });
  // A refused upload leaves the rest of its body unread: discard it so the client, still sending, reads the answer
  // (closing at once would reset the connection under it), but only up to a point.
  app.addHook('onSend', async (request, reply) => {
    if (reply.statusCode >= 400 && request.routeOptions.config.documentUpload === true && !request.raw.complete) discardRest(request.raw);
  });

  const deposits = (request: FastifyRequest) =>
    createDepositService({
      em: request.em,
      storage: app.storage,
      keys: app.signingKeys,
      jobs: app.jobs,
      settings: { uploadLimitBytes: limit, issuer: app.config.auth.issuer, uploadIdleTimeoutMs: app.config.limits.uploadIdleTimeoutMs },
      log: request.log,
      requestId: String(request.id),
    });
  const changes = (request: FastifyRequest) => createDocumentChangeService({ em: request.em, keys: app.signingKeys, requestId: String(request.id) });
  const uploadOf = (request: FastifyRequest) => {
    const key = request.headers['idempotency-key'];
    const idempotencyKey = typeof key === 'string' ? key : undefined;
    return request.isMultipart() ? multipartUpload(request, idempotencyKey, limit, app.config.limits.uploadIdleTimeoutMs) : Promise.resolve(rawUpload(request, idempotencyKey));
  };
  const answer = (result: DepositResult) => ({ document: result.document, receipt: result.receipt });
  const uploadDescription =
    'Either `multipart/form-data` with the `metadata` part (JSON) before the `file` part, or the document itself as the body with its media type as Content-Type and the metadata in `Document-*` headers (`Document-Title` percent-encoded UTF-8). The media type is sniffed from the bytes and must match the declared one (PDF, XML, TIFF, PNG, JPEG, GIF). The bytes are hashed (SHA-256) and stored as they stream in, up to UPLOAD_LIMIT_BYTES (413 beyond; a pause of UPLOAD_IDLE_TIMEOUT_MS between two chunks is 408), before the document is recorded; the answer carries a receipt (JWS) verifiable with /.well-known/jwks.json. With an `Idempotency-Key`, a retry of the same request returns the same document and receipt (`Idempotent-Replayed: true`), and another request with that key gets 409.';

  app.post(
    '/applications/:officeCode/:applicationNumber/documents',
    {
      config: { documentUpload: true },
      schema: {
        tags: ['deposits'],
        operationId: 'depositDocument',
        summary: 'Deposit a document of an application (streamed upload; an examiner or API client of the providing office)',
        description: uploadDescription,
        security: SECURITY.bearer,
        params: ApplicationParams,
        headers: UploadHeaders,
        body: uploadBody(DepositMetadata),
        response: { 201: DepositResponse, ...problemResponses(400, 401, 403, 404, 408, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const upload = await uploadOf(request);
      const result = await deposits(request).deposit(request.principal, request.params.officeCode, request.params.applicationNumber, upload);
      if (result.replayed) void reply.header('idempotent-replayed', 'true');
      return reply.code(201).header('location', `/v1/documents/${result.document.id}`).send(answer(result));
    },
  );

  app.post(
    '/documents/:documentId/versions',
    {
      config: { documentUpload: true },
      schema: {
        tags: ['deposits'],
        operationId: 'depositDocumentVersion',
        summary: 'Correct a document: upload a new version that supersedes it (an examiner or API client of the providing office)',
        description: `${uploadDescription} Metadata fields left out keep the corrected version’s values. The corrected version becomes \`superseded\`; a superseded version cannot be corrected again (409).`,
        security: SECURITY.bearer,
        params: DocumentParams,
        headers: UploadHeaders,
        body: uploadBody(VersionMetadata),
        response: { 201: DepositResponse, ...problemResponses(400, 401, 403, 404, 408, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const upload = await uploadOf(request);
      const result = await deposits(request).depositVersion(request.principal, request.params.documentId, upload);
      if (result.replayed) void reply.header('idempotent-replayed', 'true');
      return reply.code(201).header('location', `/v1/documents/${result.document.id}`).send(answer(result));
    },
  );

  app.patch(
    '/documents/:documentId',
    {
      schema: {
        tags: ['deposits'],
        operationId: 'updateDocument',
        summary: 'Change a document’s visibility or allowed offices, withdraw or reinstate it (the providing office)',
        description:
          'Each change is recorded (who, when, before and after; GET …/changes). Withdrawing hides the document from every other office; `status: active` reinstates it. Leaving `restricted` clears the allowed offices. A superseded version does not change (409).',
        security: SECURITY.bearer,
        params: DocumentParams,
        body: UpdateDocumentBody,
        response: { 200: DocumentView, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request) => changes(request).update(request.principal, request.params.documentId, request.body),
  );

  app.get(
    '/documents/:documentId/changes',
    {
      schema: {
        tags: ['deposits'],
        operationId: 'listDocumentChanges',
        summary: 'A document’s change history, oldest first (the providing office)',
        security: SECURITY.bearer,
        params: DocumentParams,
        querystring: PageQuery,
        response: { 200: DocumentChangePage, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => changes(request).changes(request.principal, request.params.documentId, request.query),
  );

  app.get(
    '/documents/:documentId/receipt',
    {
      schema: {
        tags: ['deposits'],
        operationId: 'getDocumentReceipt',
        summary: 'The receipt issued for a deposit (the depositing branch; the office administrator)',
        security: SECURITY.bearer,
        params: DocumentParams,
        response: { 200: ReceiptView, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => changes(request).receipt(request.principal, request.params.documentId),
  );
};
