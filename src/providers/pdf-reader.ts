/**
 * PDFs read in a child process (pdf-worker.ts), one per document. pdfjs cannot be interrupted inside a page, and a
 * crafted page can keep it busy far beyond the extraction deadline, or grow its heap until V8 aborts the process
 * (a worker thread's heap limit does not contain that: V8 can still abort the whole process). In a child process
 * the deadline kills it, an exhausted heap ends only it (`PDF_TOO_COMPLEX`), and the job process's event loop (the
 * API's, on the embedded profile) stays free while it parses.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnprocessableError } from '../platform/errors.js';
import type { PdfWorkerAnswer, PdfWorkerRequest } from './pdf-worker.js';
import type { ExtractedText, PdfReader } from './text-extraction.js';

/**
 * The entry file beside this module, in the same form: `.js` from `npm run build`, `.mjs` in the bundle `npm start`
 * builds (its second entry point), `.ts` when the sources run through tsx (tests, `npm run worker`), which the child
 * then loads too.
 */
function startReader(maxHeapMb: number): ChildProcess {
  const extension = path.extname(fileURLToPath(import.meta.url));
  const entry = fileURLToPath(new URL(`./pdf-worker${extension}`, import.meta.url));
  return fork(entry, [], {
    execArgv: [`--max-old-space-size=${maxHeapMb}`, ...(extension === '.ts' ? ['--import', 'tsx'] : [])],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
}

/** A PdfReader that runs pdfjs in a child process whose heap is capped at `maxHeapMb`. */
export function readPdfInWorker({ maxHeapMb }: { maxHeapMb: number }): PdfReader {
  return (data, limits, signal) =>
    new Promise<ExtractedText>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const child = startReader(maxHeapMb);
      // What V8 says when it gives up on the heap arrives on stderr; nothing else is expected there.
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        if (stderr.length < 4096) stderr += chunk.toString();
      });
      let settled = false;
      const settle = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        outcome();
      };
      const onAbort = (): void => settle(() => reject(signal.reason as Error));
      signal.addEventListener('abort', onAbort, { once: true });
      child.once('message', (answer: PdfWorkerAnswer) =>
        settle(() => {
          if ('result' in answer) resolve(answer.result);
          else if ('refusal' in answer) reject(new UnprocessableError(answer.refusal.errorCode, answer.refusal.detail));
          else reject(new Error(`the PDF reader failed: ${answer.failure}`));
        }),
      );
      child.once('error', (error) => settle(() => reject(error)));
      // 'close', not 'exit': by then the IPC channel is drained, so an answer sent just before exiting is in.
      child.once('close', (code, killedBy) =>
        settle(() =>
          reject(
            /heap out of memory|Reached heap limit/i.test(stderr)
              ? new UnprocessableError('PDF_TOO_COMPLEX', `Reading the PDF's text needs more than ${maxHeapMb} MiB of memory`)
              : new Error(`the PDF reader exited (${killedBy ?? `code ${code}`}) without an answer: ${stderr.slice(0, 500)}`),
          ),
        ),
      );
      child.send({ data, limits } satisfies PdfWorkerRequest);
    });
}
