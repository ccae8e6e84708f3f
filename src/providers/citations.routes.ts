import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SECURITY } from '../access/runtime.js';
import { problemResponses } from '../platform/schemas.js';
import { ApplicationParams } from './biblio.schemas.js';
import { CitationList, PutCitationsBody } from './citations.schemas.js';
import { createCitationService } from './citations.service.js';

/** `PUT|GET /v1/applications/{officeCode}/{applicationNumber}/citations`. */
export const citationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.put(
    '/applications/:officeCode/:applicationNumber/citations',
    {
      schema: {
        tags: ['citations'],
        operationId: 'putCitations',
        summary: 'Replace an application’s citations: patent documents and non-patent literature (an examiner or API client of the providing office)',
        description:
          'Patent citations name the office, the number (normalised when the hub has rules for the office) and the kind code; non-patent literature has `text`. Each has its ST.14 categories, and optionally the cited claims, passages, and the document of this application that makes it. The list replaces the previous one; every refusal names its field and nothing changes.',
        security: SECURITY.bearer,
        params: ApplicationParams,
        body: PutCitationsBody,
        response: { 200: CitationList, ...problemResponses(400, 401, 403, 404, 422) },
      },
    },
    async (request) => createCitationService({ em: request.em }).replace(request.principal, request.params.officeCode, request.params.applicationNumber, request.body),
  );

  app.get(
    '/applications/:officeCode/:applicationNumber/citations',
    {
      schema: {
        tags: ['citations'],
        operationId: 'getCitations',
        summary: 'An application’s citations (its providing office; other active accessing offices once it is published)',
        description: 'Citations attached to a document the caller may not see are left out. A cited patent document whose dossier is in the hub, and visible to the caller, is linked (`citedApplication`).',
        security: SECURITY.bearer,
        params: ApplicationParams,
        response: { 200: CitationList, ...problemResponses(400, 401, 403, 404, 422) },
      },
    },
    async (request) => createCitationService({ em: request.em }).get(request.principal, request.params.officeCode, request.params.applicationNumber),
  );
};
