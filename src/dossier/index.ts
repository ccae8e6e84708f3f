import type { FastifyPluginAsync } from 'fastify';
import { applicationRoutes } from './application.routes.js';
import { documentRoutes } from './document.routes.js';
import { familyRoutes } from './families/family.routes.js';
import { numberRoutes } from './numbers/routes.js';
import { statisticsRoutes } from './statistics.routes.js';

export {
  normalizeNumber,
  tryNormalizeNumber,
  MAX_NUMBER_LENGTH,
  SUPPORTED_OFFICES,
  type NormalizedNumber,
  type NormalizeOptions,
  type NormalizeResult,
  type NumberKind,
  type NumberType,
} from './numbers/normalize.js';

export { ApplicationEntity, PriorityClaimEntity, PublicationEntity, type Application, type ApplicationParty, type ApplicationTitle } from './application.entity.js';
export { CitationEntity, CITATION_CATEGORIES, type Citation } from './citation.entity.js';
export { DocumentChangeEntity, type DocumentChange, type DocumentChangeAction } from './document-change.entity.js';
export { DocumentCodeEntity, type DocumentCode } from './document-code.entity.js';
export { DocumentTextEntity, type DocumentText } from './document-text.entity.js';
export { DocumentEntity, type DossierDocument } from './document.entity.js';
export { IdempotencyRecordEntity } from './idempotency.entity.js';
export { canSee, canSeeApplicationOf, documentNotFound, findVisibleDocument, isProviderOf, loadDocumentInContext, principalOfficeFacts, toDocumentView, type DocumentInContext } from './document-access.js';
export { AccessEventEntity, ACCESS_ACTIONS, type AccessAction, type AccessEvent } from './access-event.entity.js';
export { accessEventsPlugin, AccessEventRecorder, type AccessedDocument } from './access-events.js';
export { FamilyEntity, type Family } from './families/family.entity.js';
export { familyIdsOf, maintainFamilies, type FamilyRecord } from './families/family-store.js';
export { DocumentParams, DocumentView, DocumentVisibilitySchema, DocumentDirectionSchema } from './document.schemas.js';

/** Applications, documents and their identifiers. Registers its own `/v1` routes. */
export const dossierModule: FastifyPluginAsync = async (app) => {
  await app.register(numberRoutes, { prefix: '/v1' });
  await app.register(documentRoutes, { prefix: '/v1' });
  await app.register(applicationRoutes, { prefix: '/v1' });
  await app.register(statisticsRoutes, { prefix: '/v1' });
  await app.register(familyRoutes, { prefix: '/v1' });
};
