import type { FastifyBaseLogger } from 'fastify';
import { MIN_IDEMPOTENCY_RETENTION_SECONDS } from '../platform/config.js';
import type { Database } from '../platform/database/database.js';
import type { JobQueue } from '../platform/jobs/index.js';
import type { BlobStore } from '../platform/storage/index.js';
import { DocumentEntity } from '../dossier/document.entity.js';
import { EXTRACT_TEXT_JOB } from './extraction.job.js';
import { FINAL_PACKAGE_STATUSES, PackageEntity } from './package.entity.js';

export const SWEEP_ORPHAN_BLOBS_JOB = 'providers.sweep-orphan-blobs';
/** How often a process that runs jobs enqueues the sweep (deduplicated across processes per slot). */
export const SWEEP_INTERVAL_MS = 60 * 60 * 1000;
/** The first sweep after start waits this long, so a starting cluster is not busy sweeping. */
export const FIRST_SWEEP_DELAY_MS = 5 * 60 * 1000;
const BATCH = 500;
/** Documents whose text extraction should have happened by now (the backfill re-enqueues it). */
const EXTRACTION_BACKFILL_AFTER_MS = 15 * 60 * 1000;
const EXTRACTION_BACKFILL_LIMIT = 500;

export interface SweepData {
  /** Overrides ORPHAN_GRACE_SECONDS for this run (tests, operators). */
  graceSeconds?: number;
  /** Overrides IDEMPOTENCY_RETENTION_SECONDS for this run (tests, operators). */
  idempotencyRetentionSeconds?: number;
}

export interface SweepDeps {
  db: Database;
  storage: BlobStore;
  jobs: Pick<JobQueue, 'enqueue'>;
  log: Pick<FastifyBaseLogger, 'info' | 'warn'>;
  graceSeconds: number;
  idempotencyRetentionSeconds: number;
}

export interface SweepResult {
  scanned: number;
  deleted: number;
  kept: number;
  extractionsEnqueued: number;
  /** Package zips (`packages/`) deleted: their package is finished or was never recorded. */
  packagesDeleted: number;
  /** Idempotency keys forgotten: older than the retention period. */
  idempotencyKeysExpired: number;
}

/**
 * Deletes document blobs that no document row references and that are older than the grace period (DESIGN §9:
 * orphans are swept). Orphans come from deposits whose transaction failed after the blob was written when the
 * immediate clean-up could not run (crash, database outage). The grace period covers deposits in flight: their
 * blob is written before their row commits. Rows never point at missing blobs, so nothing here deletes a
 * referenced blob. It also deletes package zips left behind (see sweepPackageZips) and re-enqueues text extraction
 * for PDF/XML documents that still have no text.
 */
export async function sweepOrphanBlobs(deps: SweepDeps, data: SweepData = {}): Promise<SweepResult> {
  const graceMs = (data.graceSeconds ?? deps.graceSeconds) * 1000;
  const cutoff = Date.now() - graceMs;
  const em = deps.db.fork();
  const result: SweepResult = { scanned: 0, deleted: 0, kept: 0, extractionsEnqueued: 0, packagesDeleted: 0, idempotencyKeysExpired: 0 };
  // First: it needs only the database, and a store that is down must not keep keys from expiring. Never under a
  // minute, whatever a job asks.
  const retentionSeconds = Math.max(MIN_IDEMPOTENCY_RETENTION_SECONDS, data.idempotencyRetentionSeconds ?? deps.idempotencyRetentionSeconds);
  result.idempotencyKeysExpired = await expireIdempotencyKeys(em, retentionSeconds * 1000);
  let batch: string[] = [];

  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const keys = batch;
    batch = [];
    const referenced = new Set((await em.find(DocumentEntity, { storageKey: { $in: keys } }, { fields: ['storageKey'] })).map((row) => row.storageKey));
    em.clear();
    for (const key of keys) {
      if (referenced.has(key)) {
        result.kept += 1;
        continue;
      }
      await deps.storage.delete(key);
      result.deleted += 1;
      deps.log.warn({ key }, 'deleted an orphan document blob');
    }
  };

  for await (const blob of deps.storage.list('documents/')) {
    result.scanned += 1;
    if (blob.lastModified.getTime() > cutoff) {
      result.kept += 1;
      continue;
    }
    batch.push(blob.key);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  await sweepPackageZips(deps, em, cutoff, result);

  const missingText = await em.getConnection().execute<{ id: string }[]>(
    `select d."id" from "document" d left join "document_text" t on t."document_id" = d."id"
      where t."document_id" is null and d."media_type" in ('application/pdf', 'application/xml') and d."created_at" < ?
      order by d."created_at" limit ${EXTRACTION_BACKFILL_LIMIT}`,
    [new Date(Date.now() - EXTRACTION_BACKFILL_AFTER_MS)],
  );
  for (const { id } of missingText) {
    await deps.jobs.enqueue(EXTRACT_TEXT_JOB, { documentId: id }, { jobId: `extract-${id}-${Math.floor(Date.now() / SWEEP_INTERVAL_MS)}` });
    result.extractionsEnqueued += 1;
  }
  if (result.deleted > 0 || result.extractionsEnqueued > 0 || result.packagesDeleted > 0 || result.idempotencyKeysExpired > 0) deps.log.info({ ...result }, 'orphan sweep finished');
  return result;
}

/**
 * Forgets Idempotency-Keys older than the retention period, in bounded batches (a long delete would hold locks that
 * deposits wait for). The documents they created stay; a retry with such a key deposits anew.
 */
async function expireIdempotencyKeys(em: ReturnType<SweepDeps['db']['fork']>, retentionMs: number): Promise<number> {
  const cutoff = new Date(Date.now() - retentionMs);
  let expired = 0;
  for (;;) {
    const rows = await em.getConnection().execute<{ office_code: string }[]>(
      `delete from "idempotency_record" where ("office_code", "key") in
         (select "office_code", "key" from "idempotency_record" where "created_at" < ? limit ${BATCH}) returning "office_code"`,
      [cutoff],
    );
    expired += rows.length;
    if (rows.length < BATCH) return expired;
  }
}

/**
 * Package zips are deleted when their package finishes; one whose deletion failed, or whose row never committed (a
 * crash between the upload and the insert), is deleted here once older than the grace period. A zip whose package
 * is still queued or processing is kept, however old.
 */
async function sweepPackageZips(deps: SweepDeps, em: ReturnType<SweepDeps['db']['fork']>, cutoff: number, result: SweepResult): Promise<void> {
  let batch: string[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const keys = batch;
    batch = [];
    const pending = new Set(
      (await em.find(PackageEntity, { storageKey: { $in: keys }, status: { $nin: [...FINAL_PACKAGE_STATUSES] } }, { fields: ['storageKey'] })).map((row) => row.storageKey),
    );
    em.clear();
    for (const key of keys) {
      if (pending.has(key)) continue;
      await deps.storage.delete(key);
      result.packagesDeleted += 1;
      deps.log.warn({ key }, 'deleted the zip of a finished or unrecorded package');
    }
  };
  for await (const blob of deps.storage.list('packages/')) {
    if (blob.lastModified.getTime() > cutoff) continue;
    batch.push(blob.key);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
}

export function defineSweepJob(jobs: JobQueue, deps: SweepDeps): void {
  jobs.define<SweepData>({
    name: SWEEP_ORPHAN_BLOBS_JOB,
    concurrency: 1,
    attempts: 2,
    backoffMs: 60_000,
    handler: (data) => sweepOrphanBlobs(deps, data ?? {}),
  });
}

/** The job id of the sweep for the hour slot `at` falls in: every process enqueues the same one. */
export function sweepJobId(at: number): string {
  return `sweep-orphan-blobs-${Math.floor(at / SWEEP_INTERVAL_MS)}`;
}

/** Enqueues the sweep once per hour slot while this process runs jobs; returns the function that stops it. */
export function scheduleSweeps(jobs: Pick<JobQueue, 'enqueue'>, log: Pick<FastifyBaseLogger, 'warn'>): () => void {
  const enqueue = (): void => {
    jobs.enqueue<SweepData>(SWEEP_ORPHAN_BLOBS_JOB, {}, { jobId: sweepJobId(Date.now()) }).catch((error: unknown) => {
      log.warn({ err: error }, 'could not enqueue the orphan sweep; the next slot will');
    });
  };
  let interval: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    enqueue();
    interval = setInterval(enqueue, SWEEP_INTERVAL_MS);
    interval.unref();
  }, FIRST_SWEEP_DELAY_MS);
  first.unref();
  return () => {
    clearTimeout(first);
    if (interval) clearInterval(interval);
  };
}
