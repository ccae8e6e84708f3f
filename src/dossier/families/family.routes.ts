import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SECURITY } from '../../access/runtime.js';
import { problemResponses } from '../../platform/schemas.js';
import { CitationMatrix, FamilyParams, FamilyView, TimelinePage, TimelineQuery } from './family.schemas.js';
import { createFamilyService, type FamilyRedirect } from './family.service.js';

const RULE =
  'Under the visibility rule (DESIGN §3): members are the family’s applications the caller may see (its own office’s always; other offices’ once published by an active office, for active accessing offices, or for other readers when one of their documents is visible to them), and only documents the caller may see are counted or listed. A family of which the caller sees no member is 404, like an unknown id.';
const MERGED =
  'An id that no longer names a live family answers 308 with `Location` naming the family that holds its members now: an extended family merged into an older one (the older id survives), or a simple family whose members all moved to one family. Other ended ids are 404.';

const redirect = {
  308: {
    description: 'The family was merged into (or replaced by) the family in `Location`; its id keeps working through this redirect',
    headers: { location: { schema: { type: 'string' }, description: 'The same request for the surviving family' } },
    type: 'null',
  },
} as const;

/** `GET /v1/families/{familyId}`, its timeline and its citation matrix (docs/families.md). */
export const familyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const families = (request: FastifyRequest) => createFamilyService({ em: request.em });
  /** The same URL (path suffix and query) for the surviving family. */
  const moved = (request: FastifyRequest, reply: FastifyReply, { redirect: id }: FamilyRedirect, suffix: string) => {
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    return reply.code(308).header('location', `/v1/families/${id}${suffix}${query}`).send();
  };

  app.get(
    '/families/:familyId',
    {
      schema: {
        tags: ['families'],
        operationId: 'getFamily',
        summary: 'A simple or extended family: its members across offices with, for each, the documents the caller may see by code',
        description: `Families are computed by the hub from priority claims and kept current on every bibliographic write: a simple family’s members share exactly the same priorities (as DOCDB), an extended family’s are linked directly or indirectly through any priority (as INPADOC); PCT national and regional phase entries join their international application’s families. Providers’ own family ids are compared, and disagreements are listed in \`conflicts\` rather than merged. ${RULE} ${MERGED}`,
        security: SECURITY.public,
        params: FamilyParams,
        response: { 200: FamilyView, ...redirect, ...problemResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const family = await families(request).get(request.principal, request.params.familyId);
      return 'redirect' in family ? moved(request, reply, family, '') : family;
    },
  );

  app.get(
    '/families/:familyId/timeline',
    {
      schema: {
        tags: ['families'],
        operationId: 'getFamilyTimeline',
        summary: 'The family’s events in date order across members: filings, publications and the documents the caller may see',
        description: `Events are ordered by date, then filings before publications before documents. ${RULE} Superseded document versions are left out. Pages are keyset pages (\`cursor\`). ${MERGED}`,
        security: SECURITY.public,
        params: FamilyParams,
        querystring: TimelineQuery,
        response: { 200: TimelinePage, ...redirect, ...problemResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const page = await families(request).timeline(request.principal, request.params.familyId, request.query);
      return 'redirect' in page ? moved(request, reply, page, '/timeline') : page;
    },
  );

  app.get(
    '/families/:familyId/citations',
    {
      schema: {
        tags: ['families'],
        operationId: 'getFamilyCitations',
        summary: 'The family’s citations as one matrix: each cited document against each citing office, with categories and cited claims',
        description: `A row per cited document (a patent document by office and number, or non-patent literature), a cell per citing office with the ST.14 categories, cited claims and passages merged over that office’s citations, and the citing applications (and documents). \`dossier\` links a cited patent document to its application when the hub holds it (by publication or application number) and the caller may see it. Citations are those of members whose citations the caller may read (as GET …/citations: the providing office, and active accessing offices once published); one attached to a document the caller may not see is left out. ${RULE} ${MERGED}`,
        security: SECURITY.bearer,
        params: FamilyParams,
        response: { 200: CitationMatrix, ...redirect, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const matrix = await families(request).citations(request.principal, request.params.familyId);
      return 'redirect' in matrix ? moved(request, reply, matrix, '/citations') : matrix;
    },
  );
};
