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
    // tsx as this module resolves it, so that a process started from another working directory finds it too.
    execArgv: [`--max-old-space-size=${maxHeapMb}`, ...(extension === '.ts' ? ['--import', import.meta.resolve('tsx')] : [])],
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
      // What V8 says when it gives up on the heap arrives on stderr, its FATAL line after pages of GC traces: keep the end.
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4096);
      });
      // If this process exits first (a shutdown past its budget), the reader must not run on unwatched.
      const killOnExit = (): void => void child.kill('SIGKILL');
      process.once('exit', killOnExit);
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
        process.off('exit', killOnExit);
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
      child.on('error', (error) => settle(() => reject(error)));
      // 'close', not 'exit': by then the IPC channel is drained, so an answer sent just before exiting is in.
      child.once('close', (code, killedBy) =>
        settle(() => {
          if (overgrown) reject(new UnprocessableError('PDF_TOO_COMPLEX', `Reading the PDF's text held more than ${maxResidentMb} MiB of memory`));
          else if (/heap out of memory|Reached heap limit/i.test(stderr)) reject(new UnprocessableError('PDF_TOO_COMPLEX', `Reading the PDF's text needs more than ${maxHeapMb} MiB of heap`));
          // Any other death without an answer (V8 giving up on a size, the system's OOM killer, a crash) came from
          // these bytes too: reading them again would end the same way, so it is the document's refusal, not a retry.
          else reject(new UnprocessableError('PDF_READER_CRASHED', `The PDF reader ended (${killedBy ?? `code ${code}`}) before it had read the PDF`));
        }),
      );
      child.send({ data, limits } satisfies PdfWorkerRequest, (error) => {
        if (error) settle(() => reject(error));
      });
    });
}
