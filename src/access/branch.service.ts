import { ForeignKeyConstraintViolationException, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ConflictError, NotFoundError, UnprocessableError } from '../platform/errors.js';
import { isUuid } from '../platform/ids.js';
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageFrom, type PageRequest } from '../platform/pagination.js';
import { AccountEntity } from './account.entity.js';
import { ApiClientEntity } from './api-client.entity.js';
import type { AuditLog } from './audit.js';
import { BranchEntity, type Branch } from './branch.entity.js';
import type { BranchInput, BranchView } from './branch.schemas.js';
import { findOfficeOrThrow } from './office.service.js';
import { requireAccess } from './permissions.js';
import type { Principal } from './principal.js';

export function toBranchView(branch: Branch): BranchView {
  return { id: branch.id, officeCode: branch.officeCode, name: branch.name, createdAt: branch.createdAt.toISOString(), updatedAt: branch.updatedAt.toISOString() };
}

const findBranch = async (em: EntityManager, officeCode: string, branchId: string): Promise<Branch | null> =>
  isUuid(branchId) ? em.findOne(BranchEntity, { id: branchId, officeCode }) : null;

/** The branch of this office, or 404 BRANCH_NOT_FOUND (a branch of another office is not found either). */
export async function findBranchOrThrow(em: EntityManager, officeCode: string, branchId: string): Promise<Branch> {
  const branch = await findBranch(em, officeCode, branchId);
  if (!branch) throw new NotFoundError('BRANCH_NOT_FOUND', `Office ${officeCode} has no branch ${branchId}`);
  return branch;
}

/** The branch an account or client is being put in: 422 UNKNOWN_BRANCH when the office has no such branch (it is in the body, not the path). */
export async function branchForAssignment(em: EntityManager, officeCode: string, branchId: string): Promise<Branch> {
  const branch = await findBranch(em, officeCode, branchId);
  if (!branch) throw new UnprocessableError('UNKNOWN_BRANCH', `Office ${officeCode} has no branch ${branchId}`, { branchId });
  return branch;
}

const nameTaken = (officeCode: string, name: string): ConflictError => new ConflictError('BRANCH_NAME_TAKEN', `Office ${officeCode} already has a branch named "${name}"`);

/** An office's branches, managed by its administrator (or the operator). */
export function createBranchService({ em, audit }: { em: EntityManager; audit: AuditLog }) {
  const flushOrConflict = async (officeCode: string, name: string): Promise<void> => {
    try {
      await em.flush();
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) throw nameTaken(officeCode, name);
      throw error;
    }
  };

  return {
    async list(principal: Principal, officeCode: string, page: PageRequest) {
      requireAccess(principal, 'listBranches', { officeCode });
      const office = await findOfficeOrThrow(em, officeCode);
      const limit = page.limit ?? DEFAULT_PAGE_LIMIT;
      const after = page.cursor === undefined ? undefined : String(decodeCursor(page.cursor, 1)[0]);
      const rows = await em.find(BranchEntity, { officeCode: office.code, ...(after !== undefined ? { name: { $gt: after } } : {}) }, { orderBy: { name: 'asc' }, limit: limit + 1 });
      return pageFrom(rows, limit, toBranchView, (row) => row.name);
    },

    async get(principal: Principal, officeCode: string, branchId: string): Promise<BranchView> {
      requireAccess(principal, 'getBranch', { officeCode });
      const office = await findOfficeOrThrow(em, officeCode);
      return toBranchView(await findBranchOrThrow(em, office.code, branchId));
    },

    async create(principal: Principal, officeCode: string, input: BranchInput): Promise<BranchView> {
      requireAccess(principal, 'createBranch', { officeCode });
      const office = await findOfficeOrThrow(em, officeCode);
      const name = input.name.trim();
      if (await em.findOne(BranchEntity, { officeCode: office.code, name })) throw nameTaken(office.code, name);
      const branch = em.create(BranchEntity, { officeCode: office.code, name });
      em.persist(branch);
      audit.record(principal, { type: 'branch.created', officeCode: office.code, target: { type: 'branch', id: branch.id }, details: { name } });
      await flushOrConflict(office.code, name);
      return toBranchView(branch);
    },

    async rename(principal: Principal, officeCode: string, branchId: string, input: BranchInput): Promise<BranchView> {
      requireAccess(principal, 'updateBranch', { officeCode });
      const office = await findOfficeOrThrow(em, officeCode);
      const branch = await findBranchOrThrow(em, office.code, branchId);
      const name = input.name.trim();
      if (name === branch.name) return toBranchView(branch);
      if (await em.findOne(BranchEntity, { officeCode: office.code, name })) throw nameTaken(office.code, name);
      const previous = branch.name;
      branch.name = name;
      audit.record(principal, { type: 'branch.renamed', officeCode: office.code, target: { type: 'branch', id: branch.id }, details: { from: previous, to: name } });
      await flushOrConflict(office.code, name);
      return toBranchView(branch);
    },

    /** Only an empty branch goes: no account (of any status) and no active client. Revoked clients lose their branch. */
    async delete(principal: Principal, officeCode: string, branchId: string): Promise<void> {
      requireAccess(principal, 'deleteBranch', { officeCode });
      const office = await findOfficeOrThrow(em, officeCode);
      const branch = await findBranchOrThrow(em, office.code, branchId);
      const accounts = await em.count(AccountEntity, { branchId: branch.id });
      const clients = await em.count(ApiClientEntity, { branchId: branch.id, status: 'active' });
      if (accounts > 0 || clients > 0) {
        throw new ConflictError('BRANCH_NOT_EMPTY', `Branch "${branch.name}" still has ${accounts} account(s) and ${clients} active client(s): move or remove them first`, {
          accounts,
          clients,
        });
      }
      // Revoked clients keep their row with the branch set to null (foreign key ON DELETE SET NULL).
      em.remove(branch);
      audit.record(principal, { type: 'branch.deleted', officeCode: office.code, target: { type: 'branch', id: branch.id }, details: { name: branch.name } });
      try {
        await em.flush();
      } catch (error) {
        // An account moved in meanwhile: the foreign key refuses.
        if (error instanceof ForeignKeyConstraintViolationException) throw new ConflictError('BRANCH_NOT_EMPTY', `Branch "${branch.name}" is not empty any more`);
        throw error;
      }
    },
  };
}
