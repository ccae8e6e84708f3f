import { pipeline, type Readable, type Transform } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { SECURITY } from '../access/runtime.js';
import { BadRequestError, UnsupportedMediaTypeError } from '../platform/errors.js';
import { problemResponses } from '../platform/schemas.js';
import { createBulkIngestService } from './bulk-ingest.service.js';

/** The media types of a bulk ingest body: newline-delimited JSON. */
export const NDJSON_TYPES = ['application/x-ndjson', 'application/jsonl'] as const;

/** Content encodings the body may come in (a large NDJSON file compresses about tenfold). */
const DECODERS: Record<string, (() => Transform) | null> = { identity: null, gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate };

const encodingOf = (header: string | undefined): string => (header ?? 'identity').trim().toLowerCase() || 'identity';

const FieldProblem = Type.Object({ field: Type.String(), message: Type.String() });

export const IngestSummaryView = Type.Object(
  {
    lines: Type.Integer({ minimum: 0, description: 'Non-blank lines read' }),
    accepted: Type.Integer({ minimum: 0, description: 'Lines stored (created or replaced), with their families current' }),
    created: Type.Integer({ minimum: 0 }),
    updated: Type.Integer({ minimum: 0 }),
    rejected: Type.Integer({ minimum: 0, description: 'Lines refused: nothing of them was written' }),
    errors: Type.Array(
      Type.Object({
        line: Type.Integer({ minimum: 1, description: '1-based line number (blank lines count)' }),
        errorCode: Type.String({ description: 'As the PUT would answer: VALIDATION_FAILED, INVALID_BIBLIOGRAPHIC_DATA, UNRECOGNISED_NUMBER, OTHER_OFFICE_FORBIDDEN, MALFORMED_LINE, LINE_TOO_LONG, …' }),
        detail: Type.String(),
        errors: Type.Optional(Type.Array(FieldProblem, { description: 'One entry per refused field, relative to the line' })),
      }),
      { description: 'The first 1,000 refusals, in line order' },
    ),
    errorsOmitted: Type.Integer({ minimum: 0, description: 'Refusals beyond those listed' }),
    families: Type.Object(
      {
        created: Type.Integer({ minimum: 0 }),
        merged: Type.Integer({ minimum: 0 }),
        split: Type.Integer({ minimum: 0 }),
        dissolved: Type.Integer({ minimum: 0 }),
        moved: Type.Integer({ minimum: 0, description: 'Applications whose family ids changed (new ones included)' }),
      },
      { description: 'What the ingest did to the families (summed over its batches)' },
    ),
    durationMs: Type.Integer({ minimum: 0 }),
  },
  { $id: 'IngestSummary' },
);

/** `POST /v1/applications/bulk`: bibliographic data of many applications as one NDJSON stream. */
export const bulkIngestRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // The body is passed on as the request stream and read line by line: never buffered whole, no body limit.
  for (const type of NDJSON_TYPES) app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
  // Anything else (JSON included) is refused here rather than by the default parsers.
  app.addHook('preValidation', async (request) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (!(NDJSON_TYPES as readonly string[]).includes(type)) {
      throw new UnsupportedMediaTypeError('UNSUPPORTED_MEDIA_TYPE', `Send the applications as NDJSON (Content-Type ${NDJSON_TYPES.join(' or ')}), one JSON object per line`, {
        supported: [...NDJSON_TYPES],
      });
    }
    const encoding = encodingOf(request.headers['content-encoding']);
    if (!Object.hasOwn(DECODERS, encoding)) {
      throw new UnsupportedMediaTypeError('UNSUPPORTED_CONTENT_ENCODING', `Content-Encoding ${encoding} is not supported: send the body as is, gzip or deflate`, {
        supported: Object.keys(DECODERS),
      });
    }
  });

  app.post(
    '/applications/bulk',
    {
      schema: {
        tags: ['applications'],
        operationId: 'ingestApplications',
        summary: 'Create or replace the bibliographic data of many applications from one NDJSON stream (an examiner or API client of the providing office)',
        description:
          'The body is newline-delimited JSON (`application/x-ndjson`), as is or compressed (`Content-Encoding: gzip` or `deflate`): one application per line, each the body of `PUT /v1/applications/{officeCode}/{applicationNumber}` with `officeCode` and `applicationNumber` added (the caller’s own office only). The stream is read line by line and written in batches, each batch in one transaction that keeps the families current; when the answer comes, every accepted line is stored and its families are current. Each line is checked as the PUT checks its body: a refused line is reported with its line number and error (nothing of it is written) and the others go in. A number repeated in the stream is written in order (the later line wins). Resending a stream is safe: lines are upserts.',
        security: SECURITY.bearer,
        body: {
          content: Object.fromEntries(
            NDJSON_TYPES.map((type) => [type, { schema: { description: 'One JSON object per line (LF or CRLF); blank lines are skipped', examples: ['{"officeCode":"US","applicationNumber":"17/123,456","filingDate":"2021-03-04","titles":[{"languageCode":"en","text":"Widget"}],"published":true}\n'] } }]),
          ),
        },
        response: { 200: IngestSummaryView, ...problemResponses(400, 401, 403, 404, 415) },
      },
    },
    async (request) => {
      const body = request.body as Readable;
      const decoder = DECODERS[encodingOf(request.headers['content-encoding'])]?.();
      // A decompressing stream in between: an error on either side ends both, and the lines read so far stay written.
      const source = decoder ? pipeline(body, decoder, () => undefined) : body;
      try {
        return await createBulkIngestService({ em: request.em, fork: () => app.db.fork(), log: request.log }).ingest(request.principal, source);
      } catch (error) {
        if (decoder && typeof (error as { code?: unknown }).code === 'string' && (error as { code: string }).code.startsWith('Z_')) {
          throw new BadRequestError('MALFORMED_BODY', 'The compressed body could not be decompressed; the lines before the damage were ingested');
        }
        throw error;
      }
    },
  );
};
