import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { SECURITY } from '../access/runtime.js';
import { UnsupportedMediaTypeError } from '../platform/errors.js';
import { Page, problemResponses } from '../platform/schemas.js';
import { discardRest } from './deposit.routes.js';
import { PackageListQuery, PackageParams, PackageSummary, PackageUploadHeaders, PackageView } from './package.schemas.js';
import { createPackageService } from './package.service.js';
import { announcedLength } from './upload-input.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route takes a package upload (the zip as the body). */
    packageUpload?: boolean;
  }
}

/** The media types a package may be sent as. */
export const PACKAGE_MEDIA_TYPES = ['application/zip', 'application/x-zip-compressed'] as const;

const PackagePage = Page(PackageSummary, 'PackagePage');

/** `POST /v1/packages` (bulk deposit), `GET /v1/packages`, `GET /v1/packages/{packageId}`. */
export const packageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const limit = app.config.limits.packageLimitBytes;
  // The zip is passed on as the request stream, never buffered; the store caps it at PACKAGE_LIMIT_BYTES.
  app.addContentTypeParser([...PACKAGE_MEDIA_TYPES], (request, payload, done) => {
    if (request.routeOptions.config.packageUpload === true) {
      done(null, payload);
      return;
    }
    done(new UnsupportedMediaTypeError('UNSUPPORTED_MEDIA_TYPE', 'This operation does not take a zip'));
  });
  app.addHook('onSend', async (request, reply) => {
    if (reply.statusCode >= 400 && request.routeOptions.config.packageUpload === true && !request.raw.complete) discardRest(request.raw);
  });

  const packages = (request: FastifyRequest) =>
    createPackageService({ em: request.em, storage: app.storage, jobs: app.jobs, settings: { packageLimitBytes: limit, uploadIdleTimeoutMs: app.config.limits.uploadIdleTimeoutMs }, log: request.log });

  app.post(
    '/packages',
    {
      config: { packageUpload: true },
      schema: {
        tags: ['deposits'],
        operationId: 'createPackage',
        summary: 'Bulk deposit: a zip holding manifest.json and the documents it lists, processed as a job (an examiner or API client of a providing office)',
        description:
          'The body is the zip itself (`Content-Type: application/zip`), streamed into the store (hashed, up to PACKAGE_LIMIT_BYTES: 413 beyond; a pause of UPLOAD_IDLE_TIMEOUT_MS between two chunks is 408). The answer is 202 with the package (`Location`: poll it) while the `providers.process-package` job deposits its content for the caller’s office: applications (as PUT /v1/applications/…), documents (as POST …/documents, each with its receipt), citations (as PUT …/citations). A hostile zip entry (path traversal, absolute path, symlink, zip bomb, duplicate name, size that lies) or one the manifest does not list is refused on its own, and nothing of it is stored; a zip that cannot be read, one with too many entries or too large uncompressed, or a bad manifest refuses the whole package (status `refused`, naming the field). With an `Idempotency-Key`, the same zip again returns the same package (`Idempotent-Replayed: true`).',
        security: SECURITY.bearer,
        headers: PackageUploadHeaders,
        body: {
          content: Object.fromEntries(PACKAGE_MEDIA_TYPES.map((type) => [type, { schema: { contentEncoding: 'binary', description: 'The package (zip)' } }])),
        },
        response: { 202: PackageView, ...problemResponses(400, 401, 403, 408, 409, 413, 415, 422, 503) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (!(body instanceof Readable)) {
        throw new UnsupportedMediaTypeError('UNSUPPORTED_MEDIA_TYPE', `Send the package as the body with Content-Type ${PACKAGE_MEDIA_TYPES[0]}`, { supported: PACKAGE_MEDIA_TYPES });
      }
      const key = request.headers['idempotency-key'];
      const result = await packages(request).submit(request.principal, {
        body,
        contentLength: announcedLength(request),
        idempotencyKey: typeof key === 'string' ? key : undefined,
      });
      if (result.replayed) void reply.header('idempotent-replayed', 'true');
      return reply.code(202).header('location', `/v1/packages/${result.package.id}`).send(result.package);
    },
  );

  app.get(
    '/packages',
    {
      schema: {
        tags: ['deposits'],
        operationId: 'listPackages',
        summary: 'The bulk deposit packages of the caller’s branch (the office administrator: of its office), newest first, without their results',
        security: SECURITY.bearer,
        querystring: PackageListQuery,
        response: { 200: PackagePage, ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => packages(request).list(request.principal, request.query),
  );

  app.get(
    '/packages/:packageId',
    {
      schema: {
        tags: ['deposits'],
        operationId: 'getPackage',
        summary: 'A bulk deposit package: its status, progress and per-entry results (the submitting branch; the office administrator)',
        description:
          'Progress (`done` of `total` entries) is updated as the job goes; the per-entry results (accepted with the document and its receipt, refused with the errorCode, or failed) are complete once the status is final (completed, refused, failed).',
        security: SECURITY.bearer,
        params: PackageParams,
        response: { 200: PackageView, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => packages(request).get(request.principal, request.params.packageId),
  );
};
