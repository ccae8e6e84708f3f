/**
 * Entry of the child process `readPdfInWorker` (pdf-reader.ts) starts for each PDF: reads the text of one PDF with
 * pdfjs and answers with the text, or with the refusal (`errorCode`, `detail`) for bytes pdfjs cannot read, then
 * exits. The parent kills it at its deadline, when its resident memory outgrows the cap the parent watches, and when
 * the parent itself exits; V8 ends it if its heap outgrows the cap it was started with.
 */
import { AppError } from '../platform/errors.js';
import { readPdfHere, type ExtractionLimits } from './text-extraction.js';

export interface PdfWorkerRequest {
  data: Uint8Array;
  limits: ExtractionLimits;
}

export type PdfWorkerAnswer =
  | { result: Awaited<ReturnType<typeof readPdfHere>> }
  | { refusal: { errorCode: string; detail: string } }
  | { failure: string };

const answer = (message: PdfWorkerAnswer): void => {
  process.send?.(message, undefined, undefined, () => process.exit(0));
};

if (process.send) {
  process.once('message', (request: PdfWorkerRequest) => {
    readPdfHere(request.data, request.limits, new AbortController().signal).then(
      (result) => answer({ result }),
      (error: unknown) =>
        answer(error instanceof AppError ? { refusal: { errorCode: error.errorCode, detail: error.detail } } : { failure: error instanceof Error ? error.message : String(error) }),
    );
  });
}
