import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { SECURITY } from '../access/runtime.js';
import { RangeNotSatisfiableError } from '../platform/errors.js';
import { problemResponses } from '../platform/schemas.js';
import { DocumentParams, DocumentView } from './document.schemas.js';
import { createDocumentReadService } from './document.service.js';

const DownloadHeaders = Type.Object({
  range: Type.Optional(Type.String({ description: 'One byte range, e.g. `bytes=0-1023`, `bytes=1024-` or `bytes=-500`' })),
  'if-none-match': Type.Optional(Type.String({ description: 'Entity tags already held: 304 when one is the document’s' })),
  'if-range': Type.Optional(Type.String({ description: 'Honour Range only while the document still has this entity tag' })),
});

const binary = (description: string) => ({
  description,
  content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary', description: 'The document’s bytes; Content-Type is its media type' } } },
});

/** Single documents: metadata and content, under the visibility rule. */
export const documentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const documents = (request: { em: Parameters<typeof createDocumentReadService>[0]['em'] }) => createDocumentReadService({ em: request.em, storage: app.storage });

  app.get(
    '/documents/:documentId',
    {
      schema: {
        tags: ['documents'],
        operationId: 'getDocument',
        summary: 'A document’s metadata (404 when it does not exist or the caller may not see it)',
        security: SECURITY.public,
        params: DocumentParams,
        response: { 200: DocumentView, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const view = await documents(request).get(request.principal, request.params.documentId);
      app.accessEvents.record(request.principal, view, 'view');
      return view;
    },
  );

  app.get(
    '/documents/:documentId/content',
    {
      schema: {
        tags: ['documents'],
        operationId: 'getDocumentContent',
        summary: 'Download a document: streamed, with ETag (the SHA-256), If-None-Match, and one byte Range',
        description:
          'Content-Type is the document’s media type; Content-Disposition names a file after the title (ASCII `filename` and UTF-8 `filename*`). `ETag` is the quoted SHA-256; `If-None-Match` gives 304. One `Range` gives 206 with Content-Range; a range outside the document gives 416 with `Content-Range: bytes */<size>`; several ranges or a malformed header give the whole document.',
        security: SECURITY.public,
        params: DocumentParams,
        headers: DownloadHeaders,
        response: {
          200: binary('The whole document'),
          206: binary('The requested byte range'),
          304: { description: 'Not modified: the caller holds this version (If-None-Match)', type: 'null' },
          ...problemResponses(400, 401, 404, 416),
        },
      },
    },
    async (request, reply) => {
      const answer = await documents(request).download(request.principal, request.params.documentId, {
        range: request.headers.range,
        ifNoneMatch: request.headers['if-none-match'],
        ifRange: request.headers['if-range'],
      });
      if (answer.status === 416) throw new RangeNotSatisfiableError(Number(answer.headers['content-range']?.split('/')[1] ?? 0));
      void reply.code(answer.status).headers(answer.headers);
      if (answer.status === 304 || !answer.open) return reply.send();
      // HEAD: the headers of the GET, and no bytes read from the store.
      if (request.method === 'HEAD') return reply.send(Readable.from([]));
      const stream = await answer.open();
      // A download (whole or partial) is an access event; a 304, a 416 or a HEAD is not.
      app.accessEvents.record(request.principal, answer.document, 'download');
      return reply.send(stream);
    },
  );
};
