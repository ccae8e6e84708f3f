import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { SECURITY } from '../access/runtime.js';
import { problemResponses } from '../platform/schemas.js';
import { ApplicationDetail, ApplicationPathParams, ApplicationSummaryPage, DocumentSummaryPage, DossierQuery, SearchApplicationsQuery } from './application.schemas.js';
import { createApplicationReadService } from './application.service.js';
import { createDossierListService } from './dossier-list.service.js';
import { createSearchService } from './search.service.js';

const RULE =
  'Under the visibility rule (DESIGN §3): other offices’ applications appear once published (their office active) to active accessing offices, and to other readers only when one of their documents is visible to them; what the rule excludes does not exist for the caller (404, never 403).';

/** Reading applications: search, one application's record, and its dossier list. */
export const applicationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const em = (request: FastifyRequest) => ({ em: request.em });

  app.get(
    '/applications',
    {
      schema: {
        tags: ['applications'],
        operationId: 'searchApplications',
        summary: 'Find applications by number (any spelling, application or publication, across offices) or full text, with filters, sorting and pages',
        description: `${RULE} \`number\` and \`q\` may be combined with each other and with the filters. Hits, pages and their sizes only ever count what the caller may see.`,
        security: SECURITY.public,
        querystring: SearchApplicationsQuery,
        response: { 200: ApplicationSummaryPage, ...problemResponses(400, 401, 422) },
      },
    },
    async (request) => createSearchService(em(request)).search(request.principal, request.query),
  );

  app.get(
    '/applications/:officeCode/:applicationNumber',
    {
      schema: {
        tags: ['applications'],
        operationId: 'getApplication',
        summary: 'An application: bibliographic data, publications, priorities, and what its dossier and citations hold for the caller',
        description: `${RULE} The number may be written in any accepted spelling.`,
        security: SECURITY.public,
        params: ApplicationPathParams,
        response: { 200: ApplicationDetail, ...problemResponses(400, 401, 404, 422) },
      },
    },
    async (request) => createApplicationReadService(em(request)).get(request.principal, request.params.officeCode, request.params.applicationNumber),
  );

  app.get(
    '/applications/:officeCode/:applicationNumber/documents',
    {
      schema: {
        tags: ['documents'],
        operationId: 'listApplicationDocuments',
        summary: 'The dossier list: an application’s documents the caller may see, newest first, filterable by code, direction and date',
        description: `${RULE} Documents the caller may not see are neither listed nor counted. Pages are keyset pages (\`cursor\`).`,
        security: SECURITY.public,
        params: ApplicationPathParams,
        querystring: DossierQuery,
        response: { 200: DocumentSummaryPage, ...problemResponses(400, 401, 404, 422) },
      },
    },
    async (request) => createDossierListService(em(request)).list(request.principal, request.params.officeCode, request.params.applicationNumber, request.query),
  );
};
