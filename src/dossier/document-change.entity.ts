import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { uuidv7 } from '../platform/ids.js';
import { DocumentEntity } from './document.entity.js';

export const DOCUMENT_CHANGE_ACTIONS = ['deposited', 'updated', 'withdrawn', 'reinstated', 'superseded'] as const;
export type DocumentChangeAction = (typeof DOCUMENT_CHANGE_ACTIONS)[number];

/**
 * One change to a document, who made it and when: its deposit, a change of visibility or allowed offices,
 * a withdrawal or reinstatement, its replacement by a new version. `before` and `after` hold the fields that changed.
 */
export const DocumentChangeEntity = defineEntity({
  name: 'DocumentChange',
  tableName: 'document_change',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => uuidv7()),
    documentId: p.manyToOne(DocumentEntity).mapToPk().joinColumn('document_id').deleteRule('cascade'),
    action: p.enum([...DOCUMENT_CHANGE_ACTIONS]),
    before: p.json<Record<string, unknown>>(),
    after: p.json<Record<string, unknown>>(),
    reason: p.string().length(1000).nullable(),
    actorKind: p.string().length(16),
    actorId: p.string().length(64).nullable(),
    actorBranchId: p.uuid().nullable(),
    requestId: p.string().length(128).nullable(),
    occurredAt: p.datetime().onCreate(() => new Date()),
  }),
  indexes: [{ properties: ['documentId', 'id'], name: 'document_change_document_id_id_index' }],
});
export type DocumentChange = InferEntity<typeof DocumentChangeEntity>;
