import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { uuidv7 } from '../platform/ids.js';

export const ACCESS_ACTIONS = ['view', 'download'] as const;
export type AccessAction = (typeof ACCESS_ACTIONS)[number];

/**
 * Who viewed (`GET /v1/documents/{id}`) or downloaded (`…/content`, 200 or 206) which document, when (DESIGN §2).
 * Written in batches by the access-event recorder (access-events.ts), never inside the read itself; feeds
 * `GET /v1/offices/{officeCode}/statistics`. The document's provider and code are copied in, so the statistics need
 * no join and survive later changes to the document. No foreign keys: events are an append-only log.
 */
export const AccessEventEntity = defineEntity({
  name: 'AccessEvent',
  tableName: 'access_event',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => uuidv7()),
    at: p.datetime(),
    documentId: p.uuid(),
    /** The providing office (the document's). */
    providerOffice: p.string().length(2),
    documentCode: p.string().length(64),
    /** The reader's office; null for anonymous callers and the operator. */
    readerOffice: p.string().length(2).nullable(),
    readerBranch: p.uuid().nullable(),
    /** anonymous, operator, officeAdmin, examiner or client. */
    principalKind: p.string().length(16),
    /** The account or API client id; null for anonymous callers. */
    principalId: p.string().length(64).nullable(),
    action: p.enum([...ACCESS_ACTIONS]),
  }),
  indexes: [
    // Statistics of a providing office (what others read of it) and of a reader office (what it read of others), by time.
    { properties: ['providerOffice', 'at'], name: 'access_event_provider_office_at_index' },
    { properties: ['readerOffice', 'at'], name: 'access_event_reader_office_at_index' },
  ],
});
export type AccessEvent = InferEntity<typeof AccessEventEntity>;
