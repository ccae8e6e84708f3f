import Type, { type Static } from 'typebox';
import { Page, PageQuery } from '../platform/schemas.js';
import { AUDIT_OUTCOMES } from './audit-event.entity.js';

const DateTime = Type.String({ format: 'date-time' });

/** One security audit event. */
export const AuditEventView = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'UUIDv7: sorts by time' }),
    occurredAt: DateTime,
    type: Type.String({ description: 'e.g. auth.login.failed, auth.token.issued, keys.rotated, account.updated (see docs/auth.md)', examples: ['auth.login.succeeded'] }),
    outcome: Type.Enum([...AUDIT_OUTCOMES]),
    actor: Type.Object({
      kind: Type.String({ description: 'anonymous, operator, officeAdmin, examiner, client or system (the command line)' }),
      id: Type.Union([Type.String(), Type.Null()], { description: 'Account id, client id, or the command line' }),
    }),
    officeCode: Type.Union([Type.String(), Type.Null()], { description: 'The office concerned; null for hub-wide events' }),
    target: Type.Union([Type.Object({ type: Type.String(), id: Type.String() }), Type.Null()]),
    ip: Type.Union([Type.String(), Type.Null()]),
    requestId: Type.Union([Type.String(), Type.Null()]),
    details: Type.Object({}, { additionalProperties: true }),
  },
  { $id: 'AuditEvent' },
);
export type AuditEventView = Static<typeof AuditEventView>;
export const AuditEventPage = Page(AuditEventView, 'AuditEventPage');

const TypeFilter = Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only events of this type' }));

export const AuditQuerySchema = Type.Object({ ...PageQuery.properties, type: TypeFilter });


export const GlobalAuditQuerySchema = Type.Object({
  ...PageQuery.properties,
  type: TypeFilter,
  officeCode: Type.Optional(Type.String({ minLength: 2, maxLength: 2, description: 'Only events concerning this office' })),
});
