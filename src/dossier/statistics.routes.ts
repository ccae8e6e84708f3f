import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { OfficeParams } from '../access/office.schemas.js';
import { SECURITY } from '../access/runtime.js';
import { problemResponses } from '../platform/schemas.js';
import { OfficeCoverage, OfficeStatistics, StatisticsQuery } from './statistics.schemas.js';
import { createStatisticsService } from './statistics.service.js';

/** Per-office figures: usage statistics (the office's administrator and the operator) and public coverage. */
export const statisticsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/offices/:officeCode/statistics',
    {
      schema: {
        tags: ['offices'],
        operationId: 'getOfficeStatistics',
        summary: 'Usage statistics of an office: per month, who read its documents (by office and document code), and what it read of others',
        description:
          'For the operator and that office’s administrator. Counts views (document metadata) and downloads (content, 200 or 206); an office’s reads of its own documents are not counted. Access events are written in batches: a read appears here within about a second.',
        security: SECURITY.bearer,
        params: OfficeParams,
        querystring: StatisticsQuery,
        response: { 200: OfficeStatistics, ...problemResponses(400, 401, 403, 404, 422) },
      },
    },
    async (request) => createStatisticsService({ em: request.em }).statistics(request.principal, request.params.officeCode, request.query),
  );

  app.get(
    '/offices/:officeCode/coverage',
    {
      schema: {
        tags: ['offices'],
        operationId: 'getOfficeCoverage',
        summary: 'What an office shares, in counts: published applications by filing year, and shared documents by code and year',
        security: SECURITY.public,
        params: OfficeParams,
        response: { 200: OfficeCoverage, ...problemResponses(400, 404) },
      },
    },
    async (request) => createStatisticsService({ em: request.em }).coverage(request.principal, request.params.officeCode),
  );
};
