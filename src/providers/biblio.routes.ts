import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SECURITY } from '../access/runtime.js';
import { problemResponses } from '../platform/schemas.js';
import { ApplicationParams, ApplicationView, BiblioBody } from './biblio.schemas.js';
import { createBiblioService } from './biblio.service.js';

/** `PUT /v1/applications/{officeCode}/{applicationNumber}`: bibliographic data from the providing office. */
export const biblioRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.put(
    '/applications/:officeCode/:applicationNumber',
    {
      schema: {
        tags: ['applications'],
        operationId: 'putApplication',
        summary: 'Create or replace an application’s bibliographic data (an examiner or API client of the providing office)',
        description:
          'The path’s number is normalised (DESIGN §5; 422 with the expected forms when unrecognised). Titles with their ISO 639-1 language, filing date, applicants, inventors, IPC and CPC symbols, priority claims (office, number, date: numbers of offices the hub has rules for are normalised, others kept as written), publications (number with its ST.16 kind code, date), the published flag, and the provider’s family id. 201 when created, 200 when replaced. Every refusal names its field; nothing is written then.',
        security: SECURITY.bearer,
        params: ApplicationParams,
        body: BiblioBody,
        response: { 200: ApplicationView, 201: ApplicationView, ...problemResponses(400, 401, 403, 404, 422) },
      },
    },
    async (request, reply) => {
      const { created, application } = await createBiblioService({ em: request.em }).upsert(request.principal, request.params.officeCode, request.params.applicationNumber, request.body);
      return reply.code(created ? 201 : 200).send(application);
    },
  );
};
