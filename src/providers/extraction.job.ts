import type { FastifyBaseLogger } from 'fastify';
import { DocumentTextEntity, type DocumentText } from '../dossier/document-text.entity.js';
import { DocumentEntity } from '../dossier/document.entity.js';
import type { Database } from '../platform/database/database.js';
import { AppError } from '../platform/errors.js';
import type { JobQueue } from '../platform/jobs/index.js';
import type { BlobStore } from '../platform/storage/index.js';
import { readPdfInWorker } from './pdf-reader.js';
import { DEFAULT_EXTRACTION_LIMITS, extractText, type ExtractableMediaType, type ExtractionLimits, type PdfReader } from './text-extraction.js';

export const EXTRACT_TEXT_JOB = 'providers.extract-text';

export interface ExtractTextData {
  documentId: string;
}

const EXTRACTABLE: ReadonlySet<string> = new Set<ExtractableMediaType>(['application/pdf', 'application/xml']);

export function isExtractable(mediaType: string): mediaType is ExtractableMediaType {
  return EXTRACTABLE.has(mediaType);
}

export interface ExtractionDeps {
  db: Database;
  storage: BlobStore;
  log: Pick<FastifyBaseLogger, 'warn'>;
  limits?: ExtractionLimits;
  /** How PDFs are read: by default in a child process per PDF (pdf-reader.ts). */
  readPdf?: PdfReader;
}

/** Memory of the process reading one PDF (inputs are capped at 64 MiB; an honest PDF needs a fraction of this). */
const PDF_READER_MEMORY = { maxHeapMb: 1024, maxResidentMb: 2048 };

/**
 * Extracts the text of one PDF or XML document into `document_text` (for search and comparison). XML is parsed
 * without DTD processing or external entities (a DOCTYPE is refused); PDF by pdfjs with no network, eval or fonts.
 * A document whose text cannot be had (malformed, DTD, timeout) gets a row with the error, and the job completes:
 * retrying would fail the same way. Storage or database failures throw, so the queue retries.
 *
 * pdfjs runs in a child process per PDF (pdf-reader.ts): the extraction deadline kills it even inside a page, its
 * heap is capped (`PDF_TOO_COMPLEX` beyond, the hub unharmed), and the job process's event loop stays free meanwhile.
 */
export async function extractDocumentText(deps: ExtractionDeps, data: ExtractTextData, stop?: AbortSignal): Promise<{ documentId: string; outcome: 'extracted' | 'failed' | 'skipped'; chars?: number }> {
  const em = deps.db.fork();
  const document = await em.findOne(DocumentEntity, { id: data.documentId });
  if (!document || !isExtractable(document.mediaType)) return { documentId: data.documentId, outcome: 'skipped' };
  const stream = await deps.storage.get(document.storageKey);
  const now = new Date();
  let row: Omit<DocumentText, 'documentId'>;
  try {
    const result = await extractText(stream, document.mediaType, deps.limits ?? DEFAULT_EXTRACTION_LIMITS, deps.readPdf ?? readPdfInWorker(PDF_READER_MEMORY), stop);
    row = { text: result.text, truncated: result.truncated, truncatedBy: result.truncatedBy ?? null, pages: result.pages ?? null, errorCode: null, error: null, extractedAt: now };
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    deps.log.warn({ documentId: document.id, errorCode: error.errorCode }, 'text extraction refused the document');
    row = { text: '', truncated: false, truncatedBy: null, pages: null, errorCode: error.errorCode, error: error.detail.slice(0, 1000), extractedAt: now };
  } finally {
    if (!stream.destroyed) stream.destroy();
  }
  await em.upsert(DocumentTextEntity, { documentId: document.id, ...row });
  return row.errorCode === null ? { documentId: document.id, outcome: 'extracted', chars: row.text.length } : { documentId: document.id, outcome: 'failed' };
}

/** Registers the job (before the queue starts): the API and the worker processes build the same app, so both know it. */
export function defineExtractionJob(jobs: JobQueue, deps: ExtractionDeps): void {
  jobs.define<ExtractTextData>({
    name: EXTRACT_TEXT_JOB,
    concurrency: 2,
    attempts: 5,
    backoffMs: 5_000,
    // A shutdown stops the extraction (its reader process is killed); the job is retried on the next start.
    handler: (data, context) => extractDocumentText(deps, data, context.signal),
  });
}
