/**
 * PDFs read in a child process (pdf-worker.ts), one per document. pdfjs cannot be interrupted inside a page, and a
 * crafted page can keep it busy far beyond the extraction deadline, grow its heap until V8 aborts the process (a
 * worker thread's heap limit does not contain that: V8 can still abort the whole process), or inflate a small
 * stream into gigabytes of buffers outside the heap. In a child process the deadline kills it, an exhausted heap
 * ends only it, its resident memory is watched and capped (both `PDF_TOO_COMPLEX`), and the job process's event
 * loop (the API's, on the embedded profile) stays free while it parses.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
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

/** How often the reader's resident memory is checked. */
const RSS_CHECK_MS = 100;

/** A process's resident memory in MiB, from /proc (Linux); null where there is none. */
async function residentMb(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kilobytes = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return kilobytes === undefined ? null : Number(kilobytes) / 1024;
  } catch {
    return null;
  }
}

/**
 * A PdfReader that runs pdfjs in a child process whose heap is capped at `maxHeapMb` and whose resident memory
 * (heap and the buffers of inflated streams) is capped at `maxResidentMb`, checked every RSS_CHECK_MS where the
 * system tells it (Linux).
 */
export function readPdfInWorker({ maxHeapMb, maxResidentMb }: { maxHeapMb: number; maxResidentMb: number }): PdfReader {
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
      let overgrown = false;
      const watch = setInterval(() => {
        if (child.pid === undefined) return;
        void residentMb(child.pid).then((megabytes) => {
          if (megabytes === null || megabytes <= maxResidentMb || settled) return;
          overgrown = true;
          child.kill('SIGKILL');
        });
      }, RSS_CHECK_MS);
      const settle = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        clearInterval(watch);
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
            overgrown || /heap out of memory|Reached heap limit/i.test(stderr)
              ? new UnprocessableError('PDF_TOO_COMPLEX', `Reading the PDF's text needs more memory than it may have (${maxHeapMb} MiB of heap, ${maxResidentMb} MiB in all)`)
              : new Error(`the PDF reader exited (${killedBy ?? `code ${code}`}) without an answer: ${stderr.slice(0, 500)}`),
          ),
        ),
      );
      child.send({ data, limits } satisfies PdfWorkerRequest);
    });
}
