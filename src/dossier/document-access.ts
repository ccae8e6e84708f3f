import type { EntityManager } from '@mikro-orm/postgresql';
import { OfficeEntity, type Office } from '../access/office.entity.js';
import type { Principal } from '../access/principal.js';
import { canSeeApplication, canSeeDocument, officeOfPrincipal, type VisibilityFacts } from '../access/visibility.js';
import { NotFoundError } from '../platform/errors.js';
import { isUuid } from '../platform/ids.js';
import { ApplicationEntity, type Application } from './application.entity.js';
import { DocumentEntity, type DossierDocument } from './document.entity.js';
import type { DocumentView } from './document.schemas.js';

/** A document with the facts the visibility rule needs about its application and provider. */
export interface DocumentInContext {
  document: DossierDocument;
  application: Application;
  provider: Office;
}

export const documentNotFound = (documentId: string): NotFoundError => new NotFoundError('DOCUMENT_NOT_FOUND', `No document ${documentId}`);

/** The principal's own office as the visibility rule sees it (null for the operator and anonymous callers). */
export async function principalOfficeFacts(em: EntityManager, principal: Principal): Promise<VisibilityFacts['principalOffice']> {
  const code = officeOfPrincipal(principal);
  if (code === null) return null;
  const office = await em.findOne(OfficeEntity, { code });
  return office ? { code: office.code, status: office.status, accessing: office.accessing } : null;
}

/** The document with its application and provider, whether or not anyone may see it (null when the id is unknown). */
export async function loadDocumentInContext(em: EntityManager, documentId: string): Promise<DocumentInContext | null> {
  if (!isUuid(documentId)) return null;
  const document = await em.findOne(DocumentEntity, { id: documentId.toLowerCase() });
  if (!document) return null;
  const application = await em.findOneOrFail(ApplicationEntity, { id: document.applicationId });
  const provider = await em.findOneOrFail(OfficeEntity, { code: document.officeCode });
  return { document, application, provider };
}

export function canSee(principal: Principal, context: DocumentInContext, principalOffice: VisibilityFacts['principalOffice']): boolean {
  return canSeeDocument(principal, {
    document: {
      officeCode: context.document.officeCode,
      visibility: context.document.visibility,
      allowedOffices: context.document.allowedOffices,
      status: context.document.status,
    },
    application: { published: context.application.published },
    providingOffice: { status: context.provider.status, publicAccess: context.provider.publicAccess },
    principalOffice,
  });
}

/**
 * The document if the principal may see it under the visibility rule (DESIGN §3); otherwise 404
 * DOCUMENT_NOT_FOUND, exactly as for an id that does not exist.
 */
export async function findVisibleDocument(em: EntityManager, principal: Principal, documentId: string): Promise<DocumentInContext> {
  const context = await loadDocumentInContext(em, documentId);
  if (!context || !canSee(principal, context, await principalOfficeFacts(em, principal))) throw documentNotFound(documentId);
  return context;
}

/** Whether the principal may see the application's dossier-level data (citations). */
export async function canSeeApplicationOf(em: EntityManager, principal: Principal, application: Application, provider: Office): Promise<boolean> {
  return canSeeApplication(principal, {
    officeCode: application.officeCode,
    application: { published: application.published },
    providingOffice: { status: provider.status, publicAccess: provider.publicAccess },
    principalOffice: await principalOfficeFacts(em, principal),
  });
}

/** The API view of a document; the providing office also sees who deposited it and the allowed offices. */
export function toDocumentView(document: DossierDocument, applicationNumber: string, forProvider: boolean): DocumentView {
  const view: DocumentView = {
    id: document.id,
    officeCode: document.officeCode,
    applicationNumber,
    documentCode: document.documentCode,
    documentDate: document.documentDate,
    direction: document.direction,
    languageCode: document.languageCode,
    title: document.title,
    pageCount: document.pageCount ?? null,
    mediaType: document.mediaType,
    byteSize: Number(document.byteSize),
    sha256: document.sha256,
    visibility: document.visibility,
    status: document.status,
    version: document.version,
    supersedesId: document.supersedesId ?? null,
    supersededById: document.supersededById ?? null,
    receivedAt: document.receivedAt.toISOString(),
    updatedAt: document.updatedAt.toISOString(),
  };
  if (forProvider) {
    view.allowedOffices = [...document.allowedOffices];
    view.depositedBy = { kind: document.depositorKind, id: document.depositorId, branchId: document.depositorBranchId };
  }
  return view;
}

/** Whether the principal acts for the document's providing office. */
export function isProviderOf(principal: Principal, document: Pick<DossierDocument, 'officeCode'>): boolean {
  return officeOfPrincipal(principal) === document.officeCode;
}
