import { AccountEntity, OperatorSetupTokenEntity, RefreshTokenEntity } from './access/account.entity.js';
import { ApiClientEntity, ClientAssertionEntity } from './access/api-client.entity.js';
import { AuditEventEntity } from './access/audit-event.entity.js';
import { BranchEntity } from './access/branch.entity.js';
import { OfficeEntity } from './access/office.entity.js';
import { SigningKeyEntity } from './access/signing-key.entity.js';
import { AccessEventEntity } from './dossier/access-event.entity.js';
import { ApplicationEntity, ApplicationFamilyEntity, PriorityClaimEntity, PublicationEntity } from './dossier/application.entity.js';
import { CitationEntity } from './dossier/citation.entity.js';
import { DocumentChangeEntity } from './dossier/document-change.entity.js';
import { DocumentCodeEntity } from './dossier/document-code.entity.js';
import { DocumentTextEntity } from './dossier/document-text.entity.js';
import { DocumentEntity } from './dossier/document.entity.js';
import { FamilyEntity } from './dossier/families/family.entity.js';
import { IdempotencyRecordEntity } from './dossier/idempotency.entity.js';
import { PackageEntity } from './providers/package.entity.js';

/** Every entity of every module: the database layer, migrations and tests use this one list. */
export const entities = [
  OfficeEntity,
  BranchEntity,
  AccountEntity,
  RefreshTokenEntity,
  OperatorSetupTokenEntity,
  ApiClientEntity,
  ClientAssertionEntity,
  SigningKeyEntity,
  AuditEventEntity,
  ApplicationEntity,
  ApplicationFamilyEntity,
  PriorityClaimEntity,
  PublicationEntity,
  DocumentCodeEntity,
  DocumentEntity,
  DocumentChangeEntity,
  DocumentTextEntity,
  CitationEntity,
  IdempotencyRecordEntity,
  AccessEventEntity,
  FamilyEntity,
  PackageEntity,
];
