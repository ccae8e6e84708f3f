import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { requireAccess } from '../access/permissions.js';
import { principalBranch, principalId, type Principal } from '../access/principal.js';
import { isSt3Code } from '../access/st3.js';
import { canSee, documentNotFound, isProviderOf, loadDocumentInContext, principalOfficeFacts, toDocumentView, type DocumentInContext } from '../dossier/document-access.js';
import { DocumentChangeEntity, type DocumentChange, type DocumentChangeAction } from '../dossier/document-change.entity.js';
import { DocumentEntity } from '../dossier/document.entity.js';
import type { DocumentView } from '../dossier/document.schemas.js';
import { ConflictError, NotFoundError, type FieldProblem } from '../platform/errors.js';
import { uuidv7 } from '../platform/ids.js';
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageFrom, type PageRequest } from '../platform/pagination.js';
import type { DocumentChangeView, UpdateDocumentInput } from './deposit.schemas.js';
import { unacceptableFields } from './fields.js';
import { verifyReceipt, type ReceiptPayload } from './receipts.js';
import type { KeySet } from '../access/signing-keys.js';

export function toChangeView(change: DocumentChange): DocumentChangeView {
  return {
    id: change.id,
    documentId: change.documentId,
    action: change.action,
    before: change.before,
    after: change.after,
    reason: change.reason ?? null,
    actor: { kind: change.actorKind, id: change.actorId ?? null, branchId: change.actorBranchId ?? null },
    occurredAt: change.occurredAt.toISOString(),
  };
}

/**
 * What the providing office does with a document after its deposit: change its visibility or allowed offices,
 * withdraw it (it disappears for every other office; the providing office still sees it) or reinstate it — a
 * withdrawal is not final, because both are recorded. A superseded version is history and does not change (409).
 * Every change is a `document_change` row: who, when, the fields before and after, and the reason given.
 */
export function createDocumentChangeService({ em, keys, requestId }: { em: EntityManager; keys: Pick<KeySet, 'verifyJws'>; requestId?: string | null }) {
  /** The document for an operation of its providing office: 404 when the caller may not even see it, then the matrix (403). */
  async function forProvider(principal: Principal, documentId: string, operationId: 'updateDocument' | 'listDocumentChanges' | 'getDocumentReceipt'): Promise<DocumentInContext> {
    const context = await loadDocumentInContext(em, documentId);
    if (!context || (!isProviderOf(principal, context.document) && !canSee(principal, context, await principalOfficeFacts(em, principal)))) throw documentNotFound(documentId);
    requireAccess(principal, operationId, { officeCode: context.document.officeCode, branchId: context.document.depositorBranchId });
    return context;
  }

  return {
    async update(principal: Principal, documentId: string, input: UpdateDocumentInput): Promise<DocumentView> {
      const { application } = await forProvider(principal, documentId, 'updateDocument');
      const problems: FieldProblem[] = [];
      const allowedInput = input.allowedOffices?.map((code) => code.toUpperCase());
      allowedInput?.forEach((code, index) => {
        if (!isSt3Code(code)) problems.push({ field: `/body/allowedOffices/${index}`, message: `"${code}" is not an ST.3 code` });
      });
      if (problems.length > 0) throw unacceptableFields('INVALID_DOCUMENT_METADATA', problems);

      return em.transactional(async (tx) => {
        const document = await tx.findOneOrFail(DocumentEntity, { id: documentId.toLowerCase() }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
        if (document.status === 'superseded') {
          throw new ConflictError('DOCUMENT_SUPERSEDED', `Document ${document.id} has been corrected by a newer version and no longer changes`, { supersededById: document.supersededById });
        }
        const visibility = input.visibility ?? document.visibility;
        // Allowed offices only mean something for a restricted document: leaving `restricted` clears them.
        const allowedOffices = allowedInput !== undefined ? [...new Set(allowedInput)] : visibility === 'restricted' ? [...document.allowedOffices] : [];
        if (allowedOffices.length > 0 && visibility !== 'restricted') {
          throw unacceptableFields('INVALID_DOCUMENT_METADATA', [{ field: '/body/allowedOffices', message: `only applies to visibility "restricted" (visibility is "${visibility}")` }]);
        }
        const status = input.status ?? document.status;
        const before: Record<string, unknown> = {};
        const after: Record<string, unknown> = {};
        if (visibility !== document.visibility) {
          before.visibility = document.visibility;
          after.visibility = visibility;
        }
        if (allowedOffices.join(',') !== document.allowedOffices.join(',')) {
          before.allowedOffices = [...document.allowedOffices];
          after.allowedOffices = allowedOffices;
        }
        if (status !== document.status) {
          before.status = document.status;
          after.status = status;
        }
        if (Object.keys(after).length === 0) return toDocumentView(document, application.applicationNumber, true);
        const action: DocumentChangeAction = after.status === 'withdrawn' ? 'withdrawn' : after.status === 'active' ? 'reinstated' : 'updated';
        document.visibility = visibility;
        document.allowedOffices = allowedOffices;
        document.status = status;
        tx.persist(
          tx.create(DocumentChangeEntity, {
            id: uuidv7(),
            documentId: document.id,
            action,
            before,
            after,
            reason: input.reason ?? null,
            actorKind: principal.kind,
            actorId: principalId(principal),
            actorBranchId: principalBranch(principal),
            requestId: requestId ?? null,
          }),
        );
        await tx.flush();
        return toDocumentView(document, application.applicationNumber, true);
      });
    },

    /** The document's changes, oldest first. */
    async changes(principal: Principal, documentId: string, page: PageRequest): Promise<{ items: DocumentChangeView[]; nextCursor?: string }> {
      const { document } = await forProvider(principal, documentId, 'listDocumentChanges');
      const limit = page.limit ?? DEFAULT_PAGE_LIMIT;
      const after = page.cursor === undefined ? undefined : String(decodeCursor(page.cursor, 1)[0]);
      const rows = await em.find(DocumentChangeEntity, { documentId: document.id, ...(after !== undefined ? { id: { $gt: after } } : {}) }, { orderBy: { id: 'asc' }, limit: limit + 1 });
      return pageFrom(rows, limit, toChangeView, (row) => row.id);
    },

    /** The receipt issued for the deposit, to the depositing branch (and the office administrator). */
    async receipt(principal: Principal, documentId: string): Promise<{ documentId: string; receipt: string; payload: ReceiptPayload }> {
      let context: DocumentInContext;
      try {
        context = await forProvider(principal, documentId, 'getDocumentReceipt');
      } catch (error) {
        // Receipts are shared inside the depositing branch: another branch's does not exist for the caller.
        if (error instanceof NotFoundError && error.errorCode === 'NOT_FOUND') throw new NotFoundError('RECEIPT_NOT_FOUND', `Your branch holds no receipt for document ${documentId}`);
        throw error;
      }
      const { document } = context;
      return { documentId: document.id, receipt: document.receipt, payload: await verifyReceipt(keys, document.receipt) };
    },
  };
}
