import type { EntityManager } from '@mikro-orm/postgresql';
import { findOfficeOrThrow } from '../access/office.service.js';
import type { Office } from '../access/office.entity.js';
import { requireDepositor, type Depositor, type DepositOperationId } from '../access/permissions.js';
import type { Principal } from '../access/principal.js';
import { ApplicationEntity, type Application } from '../dossier/application.entity.js';
import { NotFoundError } from '../platform/errors.js';
import { applicationNumberOf, type KeptNumber } from '../dossier/numbers/kept.js';

/** Whether an office may deposit: it has the providing role (either mode). */
export const isProviding = (office: Office): boolean => office.providerMode !== null && office.providerMode !== undefined;

/** The office of a deposit path, after the deposit check (examiner or client of that providing office). */
export async function depositOffice(em: EntityManager, principal: Principal, rawCode: string, operationId: DepositOperationId): Promise<{ office: Office; depositor: Depositor }> {
  const office = await findOfficeOrThrow(em, rawCode);
  const depositor = requireDepositor(principal, { officeCode: office.code, officeProviding: isProviding(office) }, operationId);
  return { office, depositor };
}

/** The application a deposit names, or 404 APPLICATION_NOT_FOUND (its bibliographic data comes first). */
export async function depositApplication(em: EntityManager, office: Office, rawNumber: string): Promise<{ application: Application; number: KeptNumber }> {
  const number = applicationNumberOf(office.code, rawNumber);
  const application = await em.findOne(ApplicationEntity, { officeCode: office.code, applicationNumber: number.number });
  if (!application) {
    throw new NotFoundError(
      'APPLICATION_NOT_FOUND',
      `Office ${office.code} has no application ${number.display} in the hub: PUT /v1/applications/${office.code}/${encodeURIComponent(rawNumber)} with its bibliographic data first`,
      { officeCode: office.code, applicationNumber: number.number },
    );
  }
  return { application, number };
}
