import type { Readable } from 'node:stream';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { OfficeEntity } from '../access/office.entity.js';
import { requireAccess, requireDepositor } from '../access/permissions.js';
import { principalBranch, principalOffice, type Principal } from '../access/principal.js';
import { BadRequestError, ConflictError, NotFoundError, PayloadTooLargeError, ServiceUnavailableError } from '../platform/errors.js';
import { uuidv7 } from '../platform/ids.js';
import { decodeCursor, DEFAULT_PAGE_LIMIT, pageFrom } from '../platform/pagination.js';
import type { JobQueue } from '../platform/jobs/index.js';
import { BlobSizeMismatchError, BlobTooLargeError, StreamMeter, type BlobStore } from '../platform/storage/index.js';
import { sourceOf, toBuffer } from '../platform/storage/hashing.js';
import { isProviding } from './deposit-office.js';
import { invalidFields } from './fields.js';
import { guardedUpload } from './upload-input.js';
import { PackageEntity, type DepositPackage } from './package.entity.js';
import type { PackageListQuery, PackageSummary, PackageView } from './package.schemas.js';

export const PROCESS_PACKAGE_JOB = 'providers.process-package';

/** The job id of a package's processing: enqueueing it again (a retry of the POST, a restart) does not run it twice. */
export const packageJobId = (packageId: string): string => `package-${packageId}`;

/** `packages/<officeCode>/<id>.zip`. */
export function packageStorageKey(officeCode: string, id: string): string {
  return `packages/${officeCode}/${id}.zip`;
}

export interface PackageUpload {
  /** The zip, as a stream (never buffered whole). */
  body: Readable;
  /** The Content-Length the client announced, if any: refused at once when above the limit. */
  contentLength?: number | undefined;
  idempotencyKey?: string | undefined;
}

export interface PackageServiceDeps {
  em: EntityManager;
  storage: BlobStore;
  jobs: Pick<JobQueue, 'enqueue'>;
  settings: { packageLimitBytes: number; uploadIdleTimeoutMs: number };
  log: { warn(obj: object, msg: string): void };
}

const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,200}$/;

export function toPackageSummary(row: Omit<DepositPackage, 'results'>): PackageSummary {
  return {
    id: row.id,
    officeCode: row.officeCode,
    branchId: row.branchId,
    submittedBy: { kind: row.submitterKind, id: row.submitterId, branchId: row.branchId },
    status: row.status,
    progress: { done: row.progressDone, total: row.progressTotal },
    byteSize: row.byteSize,
    sha256: row.sha256,
    error: row.error ?? null,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

export function toPackageView(row: DepositPackage): PackageView {
  return { ...toPackageSummary(row), results: row.results };
}

const packageTooLarge = (limit: number): PayloadTooLargeError =>
  new PayloadTooLargeError('PACKAGE_TOO_LARGE', `The package is larger than the limit of ${limit} bytes (PACKAGE_LIMIT_BYTES); nothing was stored`, { limit });

const packageNotFound = (id: string): NotFoundError => new NotFoundError('PACKAGE_NOT_FOUND', `Your branch has no package ${id}`);

/** Whether the principal may see the package: the submitting branch, and the office administrator. */
function canSeePackage(principal: Principal, row: DepositPackage): boolean {
  if (principalOffice(principal) !== row.officeCode) return false;
  return principal.kind === 'officeAdmin' || principalBranch(principal) === row.branchId;
}

const packageIncomplete = (): BadRequestError => new BadRequestError('UPLOAD_INCOMPLETE', 'The upload was cut off before the whole package arrived; nothing was stored');


/**
 * Bulk deposit packages (`POST /v1/packages`): the zip is streamed into the store (hashed and counted, capped at
 * PACKAGE_LIMIT_BYTES), a `package` row records it, and the `providers.process-package` job deposits its content
 * (package.job.ts). Packages are shared inside the submitting branch; the office administrator sees every branch's.
 */
export function createPackageService(deps: PackageServiceDeps) {
  const { em, storage, jobs, settings, log } = deps;
  const limit = settings.packageLimitBytes;
  /** The body with transport failures turned into 400 UPLOAD_INCOMPLETE, and a stall into 408 UPLOAD_STALLED. */
  const guardedBody = (source: Readable): Readable => guardedUpload(source, { what: 'package', incomplete: packageIncomplete, idleTimeoutMs: settings.uploadIdleTimeoutMs });

  async function hashOnly(body: Readable): Promise<string> {
    const meter = new StreamMeter({ maxBytes: limit });
    try {
      for await (const chunk of sourceOf(guardedBody(body))) meter.update(toBuffer(chunk));
    } catch (error) {
      if (error instanceof BlobTooLargeError) throw packageTooLarge(limit);
      throw error;
    }
    return meter.digest();
  }

  const keyReused = (key: string): ConflictError =>
    new ConflictError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key "${key}" was used for another package (other content or branch); nothing was stored`);

  /** The earlier package of this key when it is the same request (same zip, same branch), else 409. */
  function replayOrConflict(existing: DepositPackage, key: string, sha256: string, branchId: string): { package: PackageView; replayed: true } {
    if (existing.sha256 !== sha256 || existing.branchId !== branchId) throw keyReused(key);
    return { package: toPackageView(existing), replayed: true };
  }

  async function deleteBlob(key: string): Promise<void> {
    try {
      await storage.delete(key);
    } catch (error) {
      log.warn({ err: error, key }, 'could not delete the zip of a refused package: the orphan sweeper will');
    }
  }

  return {
    /** Stores the zip and queues its processing; 202 with the package. */
    async submit(principal: Principal, upload: PackageUpload): Promise<{ package: PackageView; replayed: boolean }> {
      const officeCode = principalOffice(principal) ?? '';
      const office = officeCode === '' ? null : await em.findOne(OfficeEntity, { code: officeCode });
      const depositor = requireDepositor(principal, { officeCode, officeProviding: office !== null && isProviding(office) }, 'createPackage');
      const key = upload.idempotencyKey;
      if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) throw invalidFields([{ field: '/headers/idempotency-key', message: 'must be 1 to 200 printable ASCII characters' }]);
      if (upload.contentLength !== undefined && upload.contentLength > limit) throw packageTooLarge(limit);

      if (key !== undefined) {
        const existing = await em.findOne(PackageEntity, { officeCode, idempotencyKey: key });
        if (existing) return replayOrConflict(existing, key, await hashOnly(upload.body), depositor.branchId);
      }

      const id = uuidv7();
      const storageKey = packageStorageKey(officeCode, id);
      let stored;
      try {
        // With the size announced, the S3 store streams a large package through in parts instead of buffering them.
        stored = await storage.put(storageKey, guardedBody(upload.body), { maxBytes: limit, contentType: 'application/zip', expectedBytes: upload.contentLength });
      } catch (error) {
        if (error instanceof BlobTooLargeError) throw packageTooLarge(limit);
        if (error instanceof BlobSizeMismatchError) throw packageIncomplete();
        throw error;
      }

      const row = em.create(PackageEntity, {
        id,
        officeCode,
        branchId: depositor.branchId,
        submitterKind: depositor.kind,
        submitterId: depositor.kind === 'examiner' ? depositor.userId : depositor.clientId,
        status: 'queued',
        storageKey,
        byteSize: stored.size,
        sha256: stored.sha256,
        idempotencyKey: key ?? null,
        progressDone: 0,
        progressTotal: 0,
        results: [],
        error: null,
        attempts: 0,
        startedAt: null,
        finishedAt: null,
      });
      try {
        await em.persist(row).flush();
      } catch (error) {
        await deleteBlob(storageKey);
        if (key !== undefined && error instanceof UniqueConstraintViolationException) {
          // A concurrent request with the same key won.
          const winner = await em.fork().findOne(PackageEntity, { officeCode, idempotencyKey: key });
          if (winner) return replayOrConflict(winner, key, stored.sha256, depositor.branchId);
        }
        throw error;
      }

      try {
        await jobs.enqueue(PROCESS_PACKAGE_JOB, { packageId: id }, { jobId: packageJobId(id) });
      } catch (error) {
        // Without its job the package would wait forever: undo it, the client retries.
        log.warn({ err: error, packageId: id }, 'could not enqueue package processing: the package is withdrawn');
        await em.fork().nativeDelete(PackageEntity, { id });
        await deleteBlob(storageKey);
        throw new ServiceUnavailableError('JOBS_UNAVAILABLE', 'The job queue is unavailable: the package was not accepted; retry shortly', 5);
      }
      return { package: toPackageView(row), replayed: false };
    },

    /** One package with its per-entry results (the submitting branch; the office administrator). */
    async get(principal: Principal, packageId: string): Promise<PackageView> {
      const row = await em.findOne(PackageEntity, { id: packageId.toLowerCase() });
      if (!row || !canSeePackage(principal, row)) throw packageNotFound(packageId);
      requireAccess(principal, 'getPackage', { officeCode: row.officeCode, branchId: row.branchId });
      return toPackageView(row);
    },

    /** The branch's packages (the office administrator: the office's), newest first by default, without their results. */
    async list(principal: Principal, query: PackageListQuery): Promise<{ items: PackageSummary[]; nextCursor?: string }> {
      const officeCode = principalOffice(principal) ?? undefined;
      const branchId = principalBranch(principal);
      requireAccess(principal, 'listPackages', { ...(officeCode !== undefined ? { officeCode } : {}), branchId });
      const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
      const ascending = query.sort === 'createdAt:asc';
      const after = query.cursor === undefined ? undefined : String(decodeCursor(query.cursor, 1)[0]);
      const rows = await em.find(
        PackageEntity,
        {
          officeCode,
          ...(principal.kind === 'officeAdmin' ? {} : { branchId: branchId ?? '' }),
          ...(query.status !== undefined ? { status: query.status } : {}),
          ...(after !== undefined ? { id: ascending ? { $gt: after } : { $lt: after } } : {}),
        },
        { orderBy: { id: ascending ? 'asc' : 'desc' }, limit: limit + 1, exclude: ['results'] },
      );
      return pageFrom(rows, limit, (row) => toPackageSummary(row), (row) => row.id);
    },
  };
}

export type PackageService = ReturnType<typeof createPackageService>;
