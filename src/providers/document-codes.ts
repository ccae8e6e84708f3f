import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import { requireAccess } from '../access/permissions.js';
import type { Principal } from '../access/principal.js';
import { SECURITY } from '../access/runtime.js';
import { DocumentCodeEntity, type DocumentCode } from '../dossier/document-code.entity.js';
import { ConflictError } from '../platform/errors.js';
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageFrom, type PageRequest } from '../platform/pagination.js';
import { Page, PageQuery, problemResponses } from '../platform/schemas.js';

export const DocumentCodeView = Type.Object(
  {
    code: Type.String(),
    label: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    builtIn: Type.Boolean({ description: 'Seeded with the hub (true) or added by the operator' }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'DocumentCode' },
);
export type DocumentCodeView = Static<typeof DocumentCodeView>;
const DocumentCodePage = Page(DocumentCodeView, 'DocumentCodePage');

export const CreateDocumentCodeBody = Type.Object(
  {
    code: Type.String({ pattern: '^[a-z][A-Za-z0-9]{1,63}$', description: 'lowerCamelCase, 2 to 64 characters', examples: ['translation'] }),
    label: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  { additionalProperties: false },
);
export type CreateDocumentCodeInput = Static<typeof CreateDocumentCodeBody>;

function toView(row: DocumentCode): DocumentCodeView {
  return { code: row.code, label: row.label, description: row.description ?? null, builtIn: row.builtIn, createdAt: row.createdAt.toISOString() };
}

/** The controlled vocabulary of document codes: everyone signed in reads it; the operator extends it. */
export function createDocumentCodeService({ em }: { em: EntityManager }) {
  return {
    async list(principal: Principal, page: PageRequest): Promise<{ items: DocumentCodeView[]; nextCursor?: string }> {
      requireAccess(principal, 'listDocumentCodes');
      const limit = page.limit ?? DEFAULT_PAGE_LIMIT;
      const after = page.cursor === undefined ? undefined : String(decodeCursor(page.cursor, 1)[0]);
      const rows = await em.find(DocumentCodeEntity, after === undefined ? {} : { code: { $gt: after } }, { orderBy: { code: 'asc' }, limit: limit + 1 });
      return pageFrom(rows, limit, toView, (row) => row.code);
    },

    async create(principal: Principal, input: CreateDocumentCodeInput): Promise<DocumentCodeView> {
      requireAccess(principal, 'createDocumentCode');
      const exists = (): ConflictError => new ConflictError('DOCUMENT_CODE_EXISTS', `Document code "${input.code}" already exists`);
      if (await em.findOne(DocumentCodeEntity, { code: input.code })) throw exists();
      const row = em.create(DocumentCodeEntity, { code: input.code, label: input.label.trim(), description: input.description?.trim() ?? null, builtIn: false });
      em.persist(row);
      try {
        await em.flush();
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) throw exists();
        throw error;
      }
      return toView(row);
    },
  };
}

export const documentCodeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/document-codes',
    {
      schema: {
        tags: ['documents'],
        operationId: 'listDocumentCodes',
        summary: 'The controlled vocabulary of document codes, by code',
        security: SECURITY.bearer,
        querystring: PageQuery,
        response: { 200: DocumentCodePage, ...problemResponses(400, 401) },
      },
    },
    async (request) => createDocumentCodeService({ em: request.em }).list(request.principal, request.query),
  );

  app.post(
    '/document-codes',
    {
      schema: {
        tags: ['documents'],
        operationId: 'createDocumentCode',
        summary: 'Add a document code to the vocabulary (operator)',
        security: SECURITY.bearer,
        body: CreateDocumentCodeBody,
        response: { 201: DocumentCodeView, ...problemResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await createDocumentCodeService({ em: request.em }).create(request.principal, request.body)),
  );
};
