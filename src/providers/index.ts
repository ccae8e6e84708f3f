import type { FastifyPluginAsync } from 'fastify';
import { biblioRoutes } from './biblio.routes.js';
import { bulkIngestRoutes } from './bulk-ingest.routes.js';
import { citationRoutes } from './citations.routes.js';
import { depositRoutes } from './deposit.routes.js';
import { documentCodeRoutes } from './document-codes.js';
import { defineExtractionJob } from './extraction.job.js';
import { definePackageJob, resumePackages } from './package.job.js';
import { packageRoutes } from './package.routes.js';
import { defineSweepJob, scheduleSweeps } from './sweeper.js';

export { createBiblioService } from './biblio.service.js';
export { createBulkIngestService, ndjsonLines, type IngestSummary, type LineError } from './bulk-ingest.service.js';
export { createCitationService } from './citations.service.js';
export { createDepositService, documentStorageKey, type DepositResult, type DepositService, type DepositServiceDeps, type DocumentUpload } from './deposit.service.js';
export { createDocumentChangeService } from './document-changes.service.js';
export { EXTRACT_TEXT_JOB, extractDocumentText } from './extraction.job.js';
export { PackageEntity, type DepositPackage, type PackageEntryResult } from './package.entity.js';
export { PROCESS_PACKAGE_JOB, processPackage, packageDocumentKey } from './package.job.js';
export { RECEIPT_TYPE, verifyReceipt, type ReceiptPayload } from './receipts.js';
export { SWEEP_ORPHAN_BLOBS_JOB, sweepOrphanBlobs } from './sweeper.js';

/**
 * Everything that brings data in (DESIGN §4): bibliographic data, document deposits (streamed uploads with
 * receipts), corrections and changes, citations, bulk deposit packages, and the jobs behind them (text extraction,
 * package processing, orphan sweeping).
 * Registers its `/v1` routes; `@fastify/multipart` and the raw-document body parser live in the deposit routes'
 * scope only. Jobs are defined here, before the queue starts in onReady, so API and worker processes know them.
 */
export const providersModule: FastifyPluginAsync = async (app) => {
  defineExtractionJob(app.jobs, { db: app.db, storage: app.storage, log: app.log });
  defineSweepJob(app.jobs, { db: app.db, storage: app.storage, jobs: app.jobs, log: app.log, graceSeconds: app.config.sweeper.orphanGraceSeconds, idempotencyRetentionSeconds: app.config.sweeper.idempotencyRetentionSeconds });
  const { limits } = app.config;
  const packageJob = {
    db: app.db,
    storage: app.storage,
    keys: app.signingKeys,
    jobs: app.jobs,
    settings: { uploadLimitBytes: limits.uploadLimitBytes, issuer: app.config.auth.issuer, maxEntries: limits.packageMaxEntries, maxUncompressedBytes: limits.packageMaxUncompressedBytes },
    log: app.log,
  };
  definePackageJob(app.jobs, packageJob);

  let stopSweeps: (() => void) | undefined;
  app.addHook('onReady', async () => {
    if (app.runsJobs) stopSweeps = scheduleSweeps(app.jobs, app.log);
    // The in-process runner lost its queue with the previous process: packages it had not finished start again.
    if (app.runsJobs && app.jobs.driver === 'in-process') await resumePackages(packageJob);
  });
  app.addHook('onClose', async () => {
    stopSweeps?.();
  });

  await app.register(biblioRoutes, { prefix: '/v1' });
  await app.register(bulkIngestRoutes, { prefix: '/v1' });
  await app.register(depositRoutes, { prefix: '/v1' });
  await app.register(citationRoutes, { prefix: '/v1' });
  await app.register(documentCodeRoutes, { prefix: '/v1' });
  await app.register(packageRoutes, { prefix: '/v1' });
};
