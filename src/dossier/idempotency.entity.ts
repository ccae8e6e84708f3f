import { defineEntity, type InferEntity } from '@mikro-orm/core';

/**
 * An `Idempotency-Key` a providing office used for a deposit, per (office, key): the document it created, the
 * SHA-256 of the content and a fingerprint of the rest of the request (operation, target, metadata, declared media
 * type, depositing branch). A retry with the same key and the same request gets the same document and receipt; the
 * same key with anything else is refused (409). The primary key makes concurrent duplicates create one document.
 */
export const IdempotencyRecordEntity = defineEntity({
  name: 'IdempotencyRecord',
  tableName: 'idempotency_record',
  properties: (p) => ({
    officeCode: p.string().length(2).primary(),
    key: p.string().length(200).primary(),
    operation: p.string().length(32),
    documentId: p.uuid(),
    contentSha256: p.string().length(64),
    fingerprint: p.string().length(64),
    // Indexed for the sweeper, which forgets keys older than IDEMPOTENCY_RETENTION_SECONDS.
    createdAt: p.datetime().onCreate(() => new Date()).index(),
  }),
  primaryKeys: ['officeCode', 'key'],
});
export type IdempotencyRecord = InferEntity<typeof IdempotencyRecordEntity>;
