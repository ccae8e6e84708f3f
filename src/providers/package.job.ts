import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Value from 'typebox/value';
import { loadPrincipal } from '../access/authentication.plugin.js';
import type { Principal } from '../access/principal.js';
import type { KeySet } from '../access/signing-keys.js';
import type { Database } from '../platform/database/database.js';
import { AppError, UnprocessableError, ValidationError, type FieldProblem } from '../platform/errors.js';
import type { JobContext, JobQueue } from '../platform/jobs/index.js';
import { BlobNotFoundError, type BlobStore } from '../platform/storage/index.js';
import { createBiblioService } from './biblio.service.js';
import { createCitationService } from './citations.service.js';
import type { CitationInput } from './citations.schemas.js';
import { createDepositService } from './deposit.service.js';
import { fieldValidator } from './fields.js';
import { FINAL_PACKAGE_STATUSES, PackageEntity, type DepositPackage, type PackageEntryResult, type PackageError, type PackageStatus } from './package.entity.js';
import { PackageManifest } from './package.schemas.js';
import { packageJobId, PROCESS_PACKAGE_JOB } from './package.service.js';
import { checkManifestAgainstZip, DEFAULT_PACKAGE_LIMITS, openPackage, problemError, type PackageHandle, type PackageLimits, type PackageProblem } from './safe-zip.js';

export { PROCESS_PACKAGE_JOB } from './package.service.js';

export interface ProcessPackageData {
  packageId: string;
}

/** Attempts of a package job (each reprocesses the whole package, idempotently). */
export const PACKAGE_JOB_ATTEMPTS = 3;
const PACKAGE_JOB_BACKOFF_MS = 10_000;
/** Progress is written after this many entries, or this long after the last write, whichever comes first. */
const PROGRESS_EVERY_ENTRIES = 5;
const PROGRESS_EVERY_MS = 1000;
/** Above this many entries, progress writes carry only the counts; the results are written when the attempt ends. */
const LIVE_RESULTS_MAX_ENTRIES = 500;

export interface PackageJobDeps {
  db: Database;
  storage: BlobStore;
  keys: Pick<KeySet, 'signJws'>;
  jobs: Pick<JobQueue, 'enqueue'>;
  settings: {
    /** UPLOAD_LIMIT_BYTES: the cap on each document, as for a single deposit. */
    uploadLimitBytes: number;
    issuer: string;
    /** PACKAGE_MAX_ENTRIES and PACKAGE_MAX_UNCOMPRESSED_BYTES. */
    maxEntries: number;
    maxUncompressedBytes: number;
    /** Where a package held in S3 is copied to be read (default: the OS temp directory). */
    tempDir?: string;
  };
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

export interface ProcessPackageResult {
  packageId: string;
  status: PackageStatus | 'missing';
  done: number;
  total: number;
}

const manifestValidator = fieldValidator<PackageManifest>(PackageManifest);

/** The Idempotency-Key of a package document that names none: the same for every attempt of the package's job. */
export function packageDocumentKey(packageId: string, entryPath: string): string {
  return `package-${packageId}-${createHash('sha256').update(entryPath, 'utf8').digest('hex').slice(0, 40)}`;
}

/** A refusal's field names moved to where the package said it: `/body/titles/0` → `/manifest/applications/3/titles/0`. */
function relocate(error: AppError, moves: Record<string, string>): { errorCode: string; detail: string; errors?: FieldProblem[] } {
  const move = (field: string): string => {
    for (const [from, to] of Object.entries(moves)) {
      if (field === from || field.startsWith(`${from}/`)) return to + field.slice(from.length);
    }
    return field;
  };
  const problems = (error.extensions as { errors?: unknown }).errors;
  const errors = Array.isArray(problems) ? (problems as FieldProblem[]).map((problem) => ({ field: move(problem.field), message: problem.message })) : undefined;
  let detail = error.detail;
  for (const [from, to] of Object.entries(moves)) detail = detail.split(`${from}/`).join(`${to}/`);
  return { errorCode: error.errorCode, detail, ...(errors !== undefined ? { errors } : {}) };
}

/** The package as a local file for yauzl: in place on the filesystem store, else a streamed temporary copy. */
async function localCopy(storage: BlobStore, key: string, tempDir: string): Promise<{ file: string; cleanup(): Promise<void> }> {
  const root = (storage as { root?: unknown }).root;
  if (storage.driver === 'filesystem' && typeof root === 'string') {
    // The filesystem store keeps `<root>/<key>` (its keys are validated path segments).
    const file = path.join(root, ...key.split('/'));
    try {
      await stat(file);
    } catch {
      throw new BlobNotFoundError(key);
    }
    return { file, cleanup: async () => undefined };
  }
  const dir = await mkdtemp(path.join(tempDir, 'dx-package-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const file = path.join(dir, 'package.zip');
  try {
    await pipeline(await storage.get(key), createWriteStream(file, { flags: 'wx' }));
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { file, cleanup };
}

/** The submitter as a principal again, from the database: a disabled account, a revoked client or a suspended office refuses the package. */
async function submitterOf(deps: PackageJobDeps, row: DepositPackage): Promise<Principal> {
  return loadPrincipal(deps.db.fork(), row.submitterKind === 'examiner' ? { kind: 'account', id: row.submitterId } : { kind: 'client', id: row.submitterId });
}

/** A refusal that is the package's (or the entry's) fault: a 4xx AppError. A 5xx one (a dependency down) is a failure, retried. */
const isRefusal = (error: unknown): error is AppError => error instanceof AppError && error.status < 500;

class EntryFailures extends Error {
  constructor(readonly count: number) {
    super(`${count} entr${count === 1 ? 'y' : 'ies'} of the package failed unexpectedly`);
    this.name = 'EntryFailures';
  }
}

/**
 * Processes one package (the `providers.process-package` job). In order: the zip as a local file; `openPackage`
 * (structural problems refuse the whole package); the manifest, validated (a bad one refuses the whole package,
 * naming the field); then, entry by entry with a fresh EntityManager each, the applications (biblio upsert), the
 * documents (deposited from their zip entries, streamed, under idempotency keys derived from the package id and the
 * path unless the manifest gives one), the citation lists. An entry the zip reader refused (path traversal, symlink,
 * bomb…) or that the checks refuse is recorded as refused and nothing of it is stored; the others go on. An
 * unexpected error on an entry marks it failed and the attempt ends by throwing, so the queue retries the whole
 * package; the retry deposits nothing twice (idempotency keys; biblio and citation writes replace). After the last
 * attempt the package is `failed`. A final package has its zip deleted.
 */
export async function processPackage(deps: PackageJobDeps, data: ProcessPackageData, context: Pick<JobContext, 'attempt'> & { attempts?: number }): Promise<ProcessPackageResult> {
  const attempts = context.attempts ?? PACKAGE_JOB_ATTEMPTS;
  const em = deps.db.fork();
  const row = await em.findOne(PackageEntity, { id: data.packageId });
  if (!row) return { packageId: data.packageId, status: 'missing', done: 0, total: 0 };
  if (FINAL_PACKAGE_STATUSES.includes(row.status)) {
    await deleteZip(deps, row);
    return { packageId: row.id, status: row.status, done: row.progressDone, total: row.progressTotal };
  }
  row.status = 'processing';
  row.startedAt ??= new Date();
  row.attempts += 1;
  row.error = null;
  row.progressDone = 0;
  await em.flush();

  const results: PackageEntryResult[] = [];
  let lastWrite = { at: Date.now(), done: 0 };
  const save = async (force: boolean): Promise<void> => {
    const now = Date.now();
    if (!force && results.length - lastWrite.done < PROGRESS_EVERY_ENTRIES && now - lastWrite.at < PROGRESS_EVERY_MS) return;
    lastWrite = { at: now, done: results.length };
    await deps.db.fork().nativeUpdate(
      PackageEntity,
      { id: row.id },
      { progressDone: results.length, progressTotal: row.progressTotal, ...(row.progressTotal <= LIVE_RESULTS_MAX_ENTRIES ? { results } : {}) },
    );
  };

  /** Ends the package (or this attempt) with its status, results and error; a final package loses its zip. */
  const end = async (status: PackageStatus, error: PackageError | null): Promise<ProcessPackageResult> => {
    const final = FINAL_PACKAGE_STATUSES.includes(status);
    await deps.db.fork().nativeUpdate(
      PackageEntity,
      { id: row.id },
      { status, error, results, progressDone: results.length, progressTotal: row.progressTotal, ...(final ? { finishedAt: new Date() } : {}) },
    );
    if (final) await deleteZip(deps, row);
    return { packageId: row.id, status, done: results.length, total: row.progressTotal };
  };
  const refuse = (error: AppError, moves: Record<string, string> = {}) => end('refused', relocate(error, moves));

  let local: { file: string; cleanup(): Promise<void> } | undefined;
  let handle: PackageHandle | undefined;
  try {
    let principal: Principal;
    try {
      principal = await submitterOf(deps, row);
    } catch (error) {
      if (isRefusal(error)) return await refuse(error);
      throw error;
    }
    try {
      local = await localCopy(deps.storage, row.storageKey, deps.settings.tempDir ?? os.tmpdir());
    } catch (error) {
      if (!(error instanceof BlobNotFoundError)) throw error;
      deps.log.error({ packageId: row.id, key: row.storageKey }, 'the zip of an unfinished package is missing');
      return await end('failed', { errorCode: 'PACKAGE_ZIP_MISSING', detail: 'The stored package is missing; submit it again' });
    }
    const limits: PackageLimits = {
      maxEntries: deps.settings.maxEntries,
      maxTotalUncompressedBytes: deps.settings.maxUncompressedBytes,
      maxEntryUncompressedBytes: deps.settings.uploadLimitBytes,
      maxCompressionRatio: DEFAULT_PACKAGE_LIMITS.maxCompressionRatio,
    };
    let manifest: PackageManifest;
    try {
      handle = await openPackage(local.file, limits);
      const parsed = await handle.readManifest();
      manifest = parseManifest(parsed);
    } catch (error) {
      if (isRefusal(error)) return await refuse(error);
      throw error;
    }
    const pkg = handle;

    // Which manifest documents the zip cannot give, and which zip entries no manifest document names.
    const refusedEntries = new Map<string, PackageProblem>();
    for (const problem of pkg.problems) if (!refusedEntries.has(problem.entry)) refusedEntries.set(problem.entry, problem);
    const crossCheck = checkManifestAgainstZip(
      manifest.documents.map((document) => document.path),
      pkg.entries.map((entry) => entry.name),
    );
    const missing = new Map(crossCheck.filter((problem) => problem.errorCode === 'MISSING_FROM_ZIP').map((problem) => [problem.entry, problem]));
    const named = new Set(manifest.documents.map((document) => document.path));
    const strayEntries = [...pkg.problems.filter((problem) => !named.has(problem.entry)), ...crossCheck.filter((problem) => problem.errorCode === 'NOT_IN_MANIFEST')];

    row.progressTotal = manifest.applications.length + manifest.documents.length + manifest.citations.length + strayEntries.length;
    await save(true);

    let failures = 0;
    /** Runs one entry: refusals (AppError) are the entry's, anything else fails it (and, at the end, the attempt). */
    const entry = async (base: Omit<PackageEntryResult, 'status'>, moves: Record<string, string>, work: () => Promise<Partial<PackageEntryResult>>): Promise<void> => {
      try {
        results.push({ ...base, status: 'accepted', ...(await work()) });
      } catch (error) {
        if (isRefusal(error)) {
          results.push({ ...base, status: 'refused', ...relocate(error, moves) });
        } else {
          failures += 1;
          deps.log.error({ err: error, packageId: row.id, entry: base.reference, kind: base.kind }, 'a package entry failed');
          results.push({ ...base, status: 'failed', errorCode: 'ENTRY_FAILED', detail: 'An unexpected error stopped this entry; the package is retried' });
        }
      }
      await save(false);
    };

    for (const [index, item] of manifest.applications.entries()) {
      const field = `/manifest/applications/${index}`;
      const { officeCode, applicationNumber, ...biblio } = item;
      await entry({ kind: 'application', reference: applicationNumber, field }, { '/body': field, '/params': field }, async () => {
        const { created } = await createBiblioService({ em: deps.db.fork() }).upsert(principal, officeCode ?? row.officeCode, applicationNumber, biblio);
        return { created };
      });
    }

    const documentIds = new Map<string, string>();
    for (const [index, document] of manifest.documents.entries()) {
      const field = `/manifest/documents/${index}`;
      const moves = { '/metadata': `${field}/metadata`, '/params': field, '/headers/idempotency-key': `${field}/idempotencyKey` };
      await entry({ kind: 'document', reference: document.path, field }, moves, async () => {
        const problem = refusedEntries.get(document.path) ?? missing.get(document.path);
        if (problem) throw problemError(problem);
        const stream: Readable = await pkg.openEntry(document.path);
        // Until the deposit reads it, a failing entry (CRC, size) must not be an unhandled 'error': the reader gets it.
        stream.on('error', () => undefined);
        try {
          const deposits = createDepositService({
            em: deps.db.fork(),
            storage: deps.storage,
            keys: deps.keys,
            jobs: deps.jobs,
            settings: { uploadLimitBytes: deps.settings.uploadLimitBytes, issuer: deps.settings.issuer },
            log: deps.log,
            requestId: `package-${row.id}`,
          });
          const result = await deposits.deposit(principal, row.officeCode, document.applicationNumber, {
            metadata: document.metadata,
            source: 'metadata',
            declaredMediaType: document.mediaType,
            body: stream,
            idempotencyKey: document.idempotencyKey ?? packageDocumentKey(row.id, document.path),
          });
          documentIds.set(document.path, result.document.id);
          return { documentId: result.document.id, receipt: result.receipt, sha256: result.document.sha256, replayed: result.replayed };
        } finally {
          stream.destroy();
        }
      });
    }

    for (const [index, list] of manifest.citations.entries()) {
      const field = `/manifest/citations/${index}`;
      await entry({ kind: 'citations', reference: list.applicationNumber, field }, { '/body': field, '/params': field }, async () => {
        const citations: CitationInput[] = list.citations.map(({ documentPath, ...citation }, position) => {
          if (documentPath === undefined) return citation;
          const documentId = documentIds.get(documentPath);
          if (documentId === undefined) {
            throw new UnprocessableError('CITED_DOCUMENT_NOT_DEPOSITED', `${field}/citations/${position}/documentPath names no document this package deposited`, {
              errors: [{ field: `${field}/citations/${position}/documentPath`, message: 'is not a document this package deposited' }],
            });
          }
          return { ...citation, documentId };
        });
        await createCitationService({ em: deps.db.fork() }).replace(principal, row.officeCode, list.applicationNumber, { citations });
        return {};
      });
    }

    for (const problem of strayEntries) {
      results.push({ kind: 'entry', reference: problem.entry, status: 'refused', errorCode: problem.errorCode, detail: problem.detail });
    }

    if (failures > 0) throw new EntryFailures(failures);
    return await end('completed', null);
  } catch (error) {
    const last = context.attempt >= attempts;
    const detail =
      error instanceof EntryFailures
        ? `${error.message}${last ? '' : '; it will be retried'}`
        : `Processing stopped on an unexpected error${last ? '' : '; it will be retried'}`;
    deps.log.error({ err: error, packageId: row.id, attempt: context.attempt, last }, 'package processing failed');
    try {
      // Until the last attempt the package waits for its retry (queued); then it has failed.
      await end(last ? 'failed' : 'queued', { errorCode: 'PACKAGE_PROCESSING_FAILED', detail });
    } catch (recordError) {
      deps.log.error({ err: recordError, packageId: row.id }, 'could not record the failure of a package');
    }
    throw error;
  } finally {
    handle?.close();
    await local?.cleanup();
  }
}

const invalidManifest = (problems: FieldProblem[]): UnprocessableError =>
  new UnprocessableError('MANIFEST_INVALID', `The manifest is not acceptable: ${problems.map((problem) => `${problem.field} ${problem.message}`).join('; ')}`, { errors: problems });

/**
 * The manifest, validated against its schema (defaults applied), then what the schema cannot check: duplicate paths
 * and the citations' document references. A bad manifest refuses the whole package, naming each field.
 */
export function parseManifest(parsed: unknown): PackageManifest {
  let manifest: PackageManifest;
  try {
    manifest = manifestValidator.parse(Value.Default(PackageManifest, parsed), '/manifest');
  } catch (error) {
    if (error instanceof ValidationError) throw invalidManifest(error.errors);
    throw error;
  }
  const problems: FieldProblem[] = [];
  const seen = new Map<string, number>();
  manifest.documents.forEach((document, index) => {
    const first = seen.get(document.path);
    if (first !== undefined) problems.push({ field: `/manifest/documents/${index}/path`, message: `repeats the path of /manifest/documents/${first}` });
    else seen.set(document.path, index);
  });
  manifest.citations.forEach((list, index) => {
    list.citations.forEach((citation, position) => {
      const field = `/manifest/citations/${index}/citations/${position}`;
      if (citation.documentPath !== undefined && citation.documentId !== undefined) problems.push({ field: `${field}/documentPath`, message: 'cannot be given with documentId' });
      if (citation.documentPath !== undefined && !seen.has(citation.documentPath)) problems.push({ field: `${field}/documentPath`, message: 'is not the path of a document of the manifest' });
    });
  });
  if (problems.length > 0) throw invalidManifest(problems);
  return manifest;
}

async function deleteZip(deps: Pick<PackageJobDeps, 'storage' | 'log'>, row: DepositPackage): Promise<void> {
  try {
    await deps.storage.delete(row.storageKey);
  } catch (error) {
    deps.log.warn({ err: error, key: row.storageKey }, 'could not delete the zip of a finished package: the orphan sweeper will');
  }
}

/** Registers the job (before the queue starts), in API and worker processes alike. */
export function definePackageJob(jobs: JobQueue, deps: PackageJobDeps): void {
  jobs.define<ProcessPackageData>({
    name: PROCESS_PACKAGE_JOB,
    concurrency: 1,
    attempts: PACKAGE_JOB_ATTEMPTS,
    backoffMs: PACKAGE_JOB_BACKOFF_MS,
    handler: (data, context) => processPackage(deps, data, { attempt: context.attempt, attempts: PACKAGE_JOB_ATTEMPTS }),
  });
}

/**
 * The in-process runner keeps nothing across a restart: packages still queued or processing when the process stopped
 * are enqueued again (their processing is idempotent). BullMQ keeps its jobs (and retries stalled ones) by itself.
 */
export async function resumePackages(deps: Pick<PackageJobDeps, 'db' | 'jobs' | 'log'>): Promise<number> {
  const rows = await deps.db.fork().find(PackageEntity, { status: { $in: ['queued', 'processing'] } }, { orderBy: { id: 'asc' }, fields: ['id'] });
  for (const row of rows) await deps.jobs.enqueue(PROCESS_PACKAGE_JOB, { packageId: row.id }, { jobId: packageJobId(row.id) });
  if (rows.length > 0) deps.log.info({ packages: rows.length }, 'resumed unfinished packages');
  return rows.length;
}
