import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { uuidv7 } from '../platform/ids.js';

export const AUDIT_OUTCOMES = ['success', 'failure'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/**
 * One security-relevant event: a login or its failure, a token issued to a client, a key rotation,
 * a change to an office, branch, account or client. `officeCode` is the office concerned (null for
 * hub-wide events): the office's administrator reads the events of its office. Ids are UUIDv7, so
 * they sort by time.
 */
export const AuditEventEntity = defineEntity({
  name: 'AuditEvent',
  tableName: 'audit_event',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => uuidv7()),
    occurredAt: p.datetime().onCreate(() => new Date()),
    type: p.string().length(64),
    outcome: p.enum([...AUDIT_OUTCOMES]),
    actorKind: p.string().length(16),
    actorId: p.string().length(64).nullable(),
    officeCode: p.string().length(2).nullable(),
    targetType: p.string().length(32).nullable(),
    targetId: p.string().length(64).nullable(),
    ip: p.string().length(64).nullable(),
    requestId: p.string().length(128).nullable(),
    details: p.json<Record<string, unknown>>(),
  }),
  indexes: [{ properties: ['officeCode', 'id'], name: 'audit_event_office_code_id_index' }],
});
export type AuditEvent = InferEntity<typeof AuditEventEntity>;
