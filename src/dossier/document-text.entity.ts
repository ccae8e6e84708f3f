import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { DocumentEntity } from './document.entity.js';

/**
 * The text of a PDF or XML document, extracted by the `providers.extract-text` job for search and comparison.
 * A document whose text cannot be extracted (malformed, DTD, timeout) gets a row with `errorCode` and no text,
 * so the job is not retried for ever.
 */
export const DocumentTextEntity = defineEntity({
  name: 'DocumentText',
  tableName: 'document_text',
  properties: (p) => ({
    documentId: p.manyToOne(DocumentEntity).mapToPk().joinColumn('document_id').primary().deleteRule('cascade'),
    text: p.text(),
    truncated: p.boolean().default(false),
    truncatedBy: p.string().length(32).nullable(),
    pages: p.integer().nullable(),
    errorCode: p.string().length(64).nullable(),
    error: p.string().length(1000).nullable(),
    extractedAt: p.datetime().onCreate(() => new Date()),
  }),
});
export type DocumentText = InferEntity<typeof DocumentTextEntity>;
