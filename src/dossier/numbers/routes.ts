import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../../platform/schemas.js';
import { normalizeNumber } from './normalize.js';
import { NormalizedNumber, NormalizeNumberQuery } from './schemas.js';

/** The number normalisation of DESIGN §5 over HTTP: public, pure, no database. */
export const numberRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/numbers/normalize',
    {
      schema: {
        tags: ['numbers'],
        operationId: 'normalizeNumber',
        summary: 'Normalise a patent application or publication number as written',
        description:
          'Accepts the spellings people and systems use (office prefix or `officeCode`, separators, full-width characters, ST.16 kind codes) for AU, CA, CN, EP, GB, JP, KR, US and WO/PCT. A number of unknown shape gives 422 with `expected`, the forms of that office.',
        security: [],
        querystring: NormalizeNumberQuery,
        response: { 200: NormalizedNumber, ...problemResponses(400, 422) },
      },
    },
    async (request) => {
      const { number, officeCode, kind } = request.query;
      return normalizeNumber(number, { ...(officeCode !== undefined ? { officeCode } : {}), kind: kind ?? 'any' });
    },
  );
};
