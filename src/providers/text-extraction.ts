/**
 * Text extraction for the search/comparison job: PDF (pdfjs-dist, legacy build for Node)
 * and XML (saxes). Pure: a stream in, text out; the job stores the result.
 *
 * XML policy: ANY `<!DOCTYPE` is refused (`XML_DTD_NOT_ALLOWED`, 422). saxes never loads
 * external entities or DTDs, and never expands entities declared in an internal subset,
 * but refusing the DOCTYPE outright means no entity trick (billion laughs, `SYSTEM
 * "file:///etc/passwd"`) reaches the text, and no half-honoured DTD changes its meaning.
 * Patent XML (ST.36/ST.96) is exchanged without a DOCTYPE in practice. References to
 * undeclared entities are malformed (`MALFORMED_XML`). Input is decoded (BOM, then the
 * XML declaration's `encoding`, default UTF-8) and fed to the parser chunk by chunk.
 * A prolog with no root element within its first MiB is refused as malformed, so a
 * DOCTYPE is refused before it can grow large.
 *
 * PDF policy: pdfjs needs the whole file in memory, so it is read with a hard cap
 * (`maxInputBytes`); a larger file yields `{ text: '', truncated: true, truncatedBy:
 * 'maxInputBytes' }`, not an error. pdfjs runs with its in-thread "fake worker" (Node),
 * no eval, no system fonts, no font faces, no WASM decoders, no range/stream requests,
 * silent (`verbosity: 0`); it is given bytes, never a URL, so it fetches nothing. Its only
 * file reads are the predefined CJK CMaps shipped inside pdfjs-dist (an allow-listed set),
 * which CN/JP/KR documents need for their text.
 *
 * Both: text is whitespace-normalised (runs collapse to one space; XML element boundaries
 * separate words except inline formatting like `<sub>`; PDF line and page ends become
 * `\n`), capped at `maxTextChars` (`truncated: true, truncatedBy: 'maxTextChars'`, reading
 * stops there), and bounded by `timeoutMs` (`EXTRACTION_TIMEOUT`). On this thread the
 * deadline is checked between chunks and pages: a single pathological page parse cannot be
 * interrupted on the event loop. So the job reads PDFs with `readPdfInWorker`
 * (pdf-reader.ts): pdfjs then runs in a child process, with a heap cap, which the deadline
 * kills, and the job process's event loop stays free.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { TextDecoder } from 'node:util';
import type * as PdfjsModule from 'pdfjs-dist/legacy/build/pdf.mjs';
import { SaxesParser } from 'saxes';
import { UnprocessableError, type AppError } from '../platform/errors.js';
import { toBuffer } from '../platform/storage/hashing.js';

export type ExtractableMediaType = 'application/pdf' | 'application/xml';

export interface ExtractionLimits {
  /**
   * Bytes read at most. XML stops there with the text of the nodes completed so far; a PDF
   * that is larger yields no text at all.
   */
  maxInputBytes: number;
  maxTextChars: number;
  timeoutMs: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_EXTRACTION_LIMITS: ExtractionLimits = {
  maxInputBytes: 64 * MiB,
  maxTextChars: 5_000_000,
  timeoutMs: 60_000,
};

export interface ExtractedText {
  text: string;
  truncated: boolean;
  /** Which limit cut the text short, when `truncated`. */
  truncatedBy?: 'maxTextChars' | 'maxInputBytes';
  /** PDF only: the document's page count. */
  pages?: number;
}

/** Longest prolog (XML declaration, comments, PIs, DOCTYPE) tolerated before the root element. */
const MAX_XML_PROLOG_CHARS = MiB;

/** Reads the text of a PDF's bytes (which it may transfer); stops, rejecting with `signal.reason`, when the signal aborts. */
export type PdfReader = (data: Uint8Array, limits: ExtractionLimits, signal: AbortSignal) => Promise<ExtractedText>;

export async function extractText(
  stream: Readable,
  mediaType: ExtractableMediaType,
  limits: ExtractionLimits = DEFAULT_EXTRACTION_LIMITS,
  readPdf: PdfReader = readPdfHere,
  /** Stops the extraction early (a shutdown): it then rejects with the signal's reason. */
  stop?: AbortSignal,
): Promise<ExtractedText> {
  for (const key of ['maxInputBytes', 'maxTextChars', 'timeoutMs'] as const) {
    if (!Number.isSafeInteger(limits[key]) || limits[key] < 0) throw new RangeError(`${key} must be a non-negative integer`);
  }
  const timeout = new UnprocessableError('EXTRACTION_TIMEOUT', `Text extraction took longer than ${limits.timeoutMs} ms`);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onStop: (() => void) | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    const end = (reason: Error): void => {
      controller.abort(reason);
      stream.destroy(reason);
      reject(reason);
    };
    timer = setTimeout(() => end(timeout), limits.timeoutMs);
    if (stop?.aborted === true) end(stop.reason as Error);
    else if (stop) stop.addEventListener('abort', (onStop = () => end(stop.reason as Error)), { once: true });
  });
  const work = mediaType === 'application/pdf' ? extractPdf(stream, limits, controller.signal, readPdf) : extractXml(stream, limits, controller.signal);
  // Whichever loses the race must not become an unhandled rejection.
  work.catch(() => undefined);
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    if (onStop) stop?.removeEventListener('abort', onStop);
    // Stopped early (cap, error, timeout): release the source; after a normal end a no-op.
    if (!stream.destroyed) stream.destroy();
  }
}

/** Accumulates text with whitespace normalised, up to a cap. */
class TextCollector {
  readonly #parts: string[] = [];
  #length = 0;
  #separator: '' | ' ' | '\n' = '';
  #full = false;

  constructor(readonly maxChars: number) {
    if (maxChars === 0) this.#full = true;
  }

  get full(): boolean {
    return this.#full;
  }

  /** Adds text; whitespace runs inside it become separators. */
  add(text: string): void {
    for (const [, word] of text.matchAll(/(\S+)|\s+/gu)) {
      if (this.#full) return;
      if (word === undefined) this.space();
      else this.#word(word);
    }
  }

  /** A word boundary (e.g. between elements). */
  space(): void {
    if (this.#separator === '') this.#separator = ' ';
  }

  /** A line boundary (PDF end of line, end of page). */
  newline(): void {
    this.#separator = '\n';
  }

  #word(word: string): void {
    const separator = this.#length === 0 ? '' : this.#separator;
    const room = this.maxChars - this.#length;
    const piece = separator + word;
    if (piece.length <= room) {
      this.#parts.push(piece);
      this.#length += piece.length;
      this.#separator = '';
      return;
    }
    let cut = piece.slice(0, room);
    // Do not end on half a surrogate pair.
    const last = cut.charCodeAt(cut.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
    this.#parts.push(cut.trimEnd());
    this.#length += cut.length;
    this.#full = true;
  }

  get text(): string {
    return this.#parts.join('');
  }
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason;
}

// ---------------------------------------------------------------------------------- XML

/**
 * Inline formatting elements of ST.36 (`b`, `sub`, ...), ST.96 (`com:B`, `com:Sub`, ...) and
 * XHTML-ish content, compared by lower-cased local name: they do not separate words, so
 * `H<sub>2</sub>O` stays `H2O`. Every other element boundary separates words.
 */
const INLINE_ELEMENTS = new Set(['b', 'i', 'u', 'o', 's', 'em', 'strong', 'sub', 'sup', 'sub2', 'sup2', 'smallcaps', 'smallcapital', 'strike', 'span', 'font']);

function isInline(qualifiedName: string): boolean {
  return INLINE_ELEMENTS.has(qualifiedName.slice(qualifiedName.indexOf(':') + 1).toLowerCase());
}

const malformedXml = (detail: string): AppError => new UnprocessableError('MALFORMED_XML', `The XML is malformed: ${detail}`);

/** The encoding the head announces: BOM, BOM-less UTF-16 `<?`, XML declaration; UTF-8 by default. */
function xmlEncoding(head: Buffer): string {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return 'utf-8';
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  if (head[0] === 0x3c && head[1] === 0x00 && head[2] === 0x3f && head[3] === 0x00) return 'utf-16le';
  if (head[0] === 0x00 && head[1] === 0x3c && head[2] === 0x00 && head[3] === 0x3f) return 'utf-16be';
  const declaration = /^[ \t\r\n]*<\?xml[ \t\r\n][^>]*?encoding[ \t\r\n]*=[ \t\r\n]*["']([A-Za-z][A-Za-z0-9._-]*)["']/.exec(
    head.toString('latin1'),
  );
  return declaration?.[1]?.toLowerCase() ?? 'utf-8';
}

function xmlDecoder(encoding: string): TextDecoder {
  try {
    // fatal: bytes that are not in the declared encoding are malformed, not silently replaced.
    return new TextDecoder(encoding, { fatal: true });
  } catch {
    throw new UnprocessableError('XML_ENCODING_UNSUPPORTED', `The XML declares an unsupported encoding: ${encoding}`);
  }
}

async function extractXml(stream: Readable, limits: ExtractionLimits, signal: AbortSignal): Promise<ExtractedText> {
  const collector = new TextCollector(limits.maxTextChars);
  const parser = new SaxesParser({ xmlns: false, position: true });
  let rootSeen = false;
  let prologChars = 0;
  parser.on('doctype', () => {
    throw new UnprocessableError('XML_DTD_NOT_ALLOWED', 'XML with a DOCTYPE (DTD, entity declarations) is not accepted');
  });
  parser.on('opentag', (tag) => {
    rootSeen = true;
    if (!isInline(tag.name)) collector.space();
  });
  parser.on('closetag', (tag) => {
    if (!isInline(tag.name)) collector.space();
  });
  parser.on('text', (text) => collector.add(text));
  parser.on('cdata', (text) => collector.add(text));

  let decoder: TextDecoder | null = null;
  const head: Buffer[] = [];
  let headLength = 0;
  let inputBytes = 0;
  let truncatedBy: ExtractedText['truncatedBy'];

  const feed = (text: string): void => {
    if (text.length === 0) return;
    try {
      parser.write(text);
    } catch (error) {
      if (error instanceof UnprocessableError) throw error;
      throw malformedXml((error as Error).message);
    }
    if (!rootSeen) {
      prologChars += text.length;
      if (prologChars > MAX_XML_PROLOG_CHARS) throw malformedXml(`no root element within the first ${MAX_XML_PROLOG_CHARS} characters`);
    }
  };
  const decode = (bytes: Buffer, final: boolean): string => {
    try {
      return (decoder as TextDecoder).decode(bytes, { stream: !final });
    } catch {
      throw malformedXml('bytes that are not valid in the document encoding');
    }
  };
  const flushHead = (final: boolean): void => {
    decoder = xmlDecoder(xmlEncoding(Buffer.concat(head, headLength)));
    feed(decode(Buffer.concat(head.splice(0), headLength), final));
  };

  for await (const chunk of stream) {
    throwIfAborted(signal);
    let bytes = toBuffer(chunk);
    if (inputBytes + bytes.length > limits.maxInputBytes) {
      bytes = bytes.subarray(0, limits.maxInputBytes - inputBytes);
      truncatedBy = 'maxInputBytes';
    }
    inputBytes += bytes.length;
    if (decoder === null) {
      head.push(bytes);
      headLength += bytes.length;
      // Enough to see a BOM and the XML declaration (which ends at its first `>`).
      if (headLength >= 1024 || Buffer.concat(head, headLength).includes(0x3e)) flushHead(false);
    } else {
      feed(decode(bytes, false));
    }
    if (collector.full) {
      truncatedBy = 'maxTextChars';
      break;
    }
    if (truncatedBy !== undefined) break;
  }
  throwIfAborted(signal);

  if (truncatedBy === undefined) {
    if (decoder === null) flushHead(true);
    else feed(decode(Buffer.alloc(0), true));
    if (!rootSeen) throw malformedXml('no root element');
    try {
      parser.close();
    } catch (error) {
      throw malformedXml((error as Error).message);
    }
    if (collector.full) truncatedBy = 'maxTextChars';
  } else if (truncatedBy === 'maxInputBytes' && collector.full) {
    truncatedBy = 'maxTextChars';
  }
  return truncatedBy === undefined
    ? { text: collector.text, truncated: false }
    : { text: collector.text, truncated: true, truncatedBy };
}

// ---------------------------------------------------------------------------------- PDF

type Pdfjs = typeof PdfjsModule;
let pdfjsModule: Promise<Pdfjs> | undefined;

/** Loaded on first use: pdfjs is large and most processes never extract a PDF. */
function loadPdfjs(): Promise<Pdfjs> {
  pdfjsModule ??= import('pdfjs-dist/legacy/build/pdf.mjs');
  return pdfjsModule;
}

/** The predefined CMaps shipped with pdfjs-dist (local files; pdfjs allow-lists the names). */
function cMapDirectory(): string {
  const packageJson = createRequire(import.meta.url).resolve('pdfjs-dist/package.json');
  return `${path.join(path.dirname(packageJson), 'cmaps')}/`;
}

/** The whole stream as one exclusively owned Uint8Array (pdfjs may transfer it), or null past the cap. */
async function readCapped(stream: Readable, maxBytes: number, signal: AbortSignal): Promise<Uint8Array | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    throwIfAborted(signal);
    const bytes = toBuffer(chunk);
    total += bytes.length;
    if (total > maxBytes) return null;
    chunks.push(bytes);
  }
  const data = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks.splice(0)) {
    data.set(chunk, offset);
    offset += chunk.length;
  }
  return data;
}

function pdfError(error: unknown): unknown {
  if (error instanceof UnprocessableError) return error;
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'PasswordException') {
    return new UnprocessableError('PDF_PASSWORD_PROTECTED', 'The PDF is encrypted with a password');
  }
  // Anything pdfjs throws while parsing is about the bytes it was given.
  return new UnprocessableError('MALFORMED_PDF', `The PDF cannot be read: ${message}`);
}

async function extractPdf(stream: Readable, limits: ExtractionLimits, signal: AbortSignal, readPdf: PdfReader): Promise<ExtractedText> {
  const data = await readCapped(stream, limits.maxInputBytes, signal);
  if (data === null) return { text: '', truncated: true, truncatedBy: 'maxInputBytes' };
  throwIfAborted(signal);
  return readPdf(data, limits, signal);
}

/** Reads a PDF's text with pdfjs on this thread (the deadline is checked between pages). */
export async function readPdfHere(data: Uint8Array, limits: ExtractionLimits, signal: AbortSignal): Promise<ExtractedText> {
  const pdfjs = await loadPdfjs();
  const task = pdfjs.getDocument({
    data,
    verbosity: pdfjs.VerbosityLevel.ERRORS,
    isEvalSupported: false,
    useSystemFonts: false,
    disableFontFace: true,
    useWorkerFetch: false,
    useWasm: false,
    isOffscreenCanvasSupported: false,
    isImageDecoderSupported: false,
    enableXfa: false,
    disableRange: true,
    disableStream: true,
    disableAutoFetch: true,
    cMapUrl: cMapDirectory(),
    cMapPacked: true,
  });
  const onAbort = (): void => void task.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  const collector = new TextCollector(limits.maxTextChars);
  try {
    const document = await task.promise;
    const pages = document.numPages;
    for (let number = 1; number <= pages && !collector.full; number++) {
      throwIfAborted(signal);
      const page = await document.getPage(number);
      const content = await page.getTextContent();
      for (const item of content.items) {
        if (!('str' in item)) continue;
        collector.add(item.str);
        if (item.hasEOL) collector.newline();
        if (collector.full) break;
      }
      collector.newline();
      page.cleanup();
    }
    throwIfAborted(signal);
    return collector.full
      ? { text: collector.text, truncated: true, truncatedBy: 'maxTextChars', pages }
      : { text: collector.text, truncated: false, pages };
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw pdfError(error);
  } finally {
    signal.removeEventListener('abort', onAbort);
    await task.destroy();
  }
}
