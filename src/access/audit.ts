import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFoundError } from '../platform/errors.js';
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageFrom, type PageRequest } from '../platform/pagination.js';
import { AuditEventEntity, type AuditEvent, type AuditOutcome } from './audit-event.entity.js';
import type { AuditEventView } from './audit.schemas.js';
import { OfficeEntity } from './office.entity.js';
import { requireAccess } from './permissions.js';
import { principalId, type Principal } from './principal.js';

/** Every type of security audit event: stable names, part of the API contract. */
export const AUDIT_EVENT_TYPES = [
  'auth.login.succeeded',
  'auth.login.failed',
  'auth.refresh.reused',
  'auth.logout',
  'auth.token.issued',
  'auth.token.failed',
  'auth.password.changed',
  'auth.password.set',
  'auth.setup.completed',
  'keys.rotated',
  'office.created',
  'office.updated',
  'branch.created',
  'branch.renamed',
  'branch.deleted',
  'account.created',
  'account.updated',
  'account.password_reset',
  'client.created',
  'client.credentials_rotated',
  'client.revoked',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Where a request came from, recorded with each event. */
export interface RequestContext {
  ip: string | null;
  requestId: string | null;
}

export interface AuditEntry {
  type: AuditEventType;
  outcome?: AuditOutcome;
  /** The office concerned; its administrator can read the event. */
  officeCode?: string | null;
  target?: { type: 'office' | 'branch' | 'account' | 'client' | 'signingKey'; id: string };
  details?: Record<string, unknown>;
}

export interface AuditLog {
  /** Adds the event to the unit of work: it commits with the change it records (flush). */
  record(actor: Principal, entry: AuditEntry): void;
}

export function createAuditLog({ em, context }: { em: EntityManager; context: RequestContext }): AuditLog {
  return {
    record(actor, entry) {
      em.persist(
        em.create(AuditEventEntity, {
          type: entry.type,
          outcome: entry.outcome ?? 'success',
          actorKind: actor.kind,
          actorId: principalId(actor),
          officeCode: entry.officeCode ?? null,
          targetType: entry.target?.type ?? null,
          targetId: entry.target?.id ?? null,
          ip: context.ip,
          requestId: context.requestId,
          details: entry.details ?? {},
        }),
      );
    },
  };
}

export function toAuditEventView(event: AuditEvent): AuditEventView {
  return {
    id: event.id,
    occurredAt: event.occurredAt.toISOString(),
    type: event.type,
    outcome: event.outcome,
    actor: { kind: event.actorKind, id: event.actorId ?? null },
    officeCode: event.officeCode ?? null,
    target: event.targetType && event.targetId ? { type: event.targetType, id: event.targetId } : null,
    ip: event.ip ?? null,
    requestId: event.requestId ?? null,
    details: event.details,
  };
}

/** A page of audit events, optionally of one type. */
export interface AuditQuery extends PageRequest {
  type?: string | undefined;
}

/** Reading the security audit log: the operator reads all of it, an office's administrator its office's events. */
export function createAuditService({ em }: { em: EntityManager }) {
  async function page(filter: { officeCode?: string | undefined; type?: string | undefined }, query: PageRequest) {
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    const before = query.cursor === undefined ? undefined : String(decodeCursor(query.cursor, 1)[0]);
    const rows = await em.find(
      AuditEventEntity,
      {
        ...(filter.officeCode !== undefined ? { officeCode: filter.officeCode } : {}),
        ...(filter.type !== undefined ? { type: filter.type } : {}),
        ...(before !== undefined ? { id: { $lt: before } } : {}),
      },
      { orderBy: { id: 'desc' }, limit: limit + 1 },
    );
    return pageFrom(rows, limit, toAuditEventView, (row) => row.id);
  }

  return {
    /** Newest first; `officeCode` narrows to one office's events. */
    async list(principal: Principal, query: AuditQuery & { officeCode?: string | undefined }) {
      requireAccess(principal, 'listAuditEvents');
      return page({ officeCode: query.officeCode?.toUpperCase(), type: query.type }, query);
    },

    async listForOffice(principal: Principal, officeCode: string, query: AuditQuery) {
      requireAccess(principal, 'listOfficeAuditEvents', { officeCode });
      const code = officeCode.trim().toUpperCase();
      if (!(await em.findOne(OfficeEntity, { code }))) throw new NotFoundError('OFFICE_NOT_FOUND', `No office with code "${officeCode}"`);
      return page({ officeCode: code, type: query.type }, query);
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
