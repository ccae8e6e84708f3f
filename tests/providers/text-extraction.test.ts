import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { AppError } from '../../src/platform/errors.js';
import { readPdfInWorker } from '../../src/providers/pdf-reader.js';
import { extractText, readPdfHere, type ExtractionLimits, type PdfReader } from '../../src/providers/text-extraction.js';
import { buildPdf, inflatingPdf, longStringPdf, nestedFormsPdf } from '../support/pdf.js';

const LIMITS: ExtractionLimits = { maxInputBytes: 8 * 1024 * 1024, maxTextChars: 1_000_000, timeoutMs: 10_000 };

/** The bytes as a stream of `chunkSize`-byte chunks. */
function streamOf(bytes: Buffer | string, chunkSize = 64 * 1024): Readable {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunkSize) chunks.push(buf.subarray(i, i + chunkSize));
  return Readable.from(chunks, { objectMode: false });
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a rejection');
}

const xml = (text: string, limits: ExtractionLimits = LIMITS, chunkSize?: number) =>
  extractText(streamOf(text, chunkSize), 'application/xml', limits);

describe('XML', () => {
  it('extracts text nodes and CDATA, whitespace normalised', async () => {
    const result = await xml(`<?xml version="1.0" encoding="UTF-8"?>
      <doc><title>Widget   assembly</title><p>A claim &amp; more &#x4E2D;&#25991;</p>
      <p><![CDATA[raw <text> & stuff]]></p><!-- a comment --><?pi ignored?></doc>`);
    expect(result).toEqual({ text: 'Widget assembly A claim & more 中文 raw <text> & stuff', truncated: false });
  });

  it('reads namespaced ST.36 / ST.96 documents, keeping inline formatting inside words', async () => {
    const st36 = `<?xml version="1.0" encoding="UTF-8"?>
<wo-search-report xmlns:st36="http://www.wipo.int/standards/XMLSchema/ST36" lang="en" country="CN" st36:status="final">
  <srep-info><srep-for-pub><classification-ipcr><text>H01M 10/0525</text></classification-ipcr></srep-for-pub></srep-info>
  <srep-citations><citation><patcit num="1"><document-id><country>CN</country><doc-number>202310001234</doc-number><kind>A</kind></document-id></patcit>
  <category>X</category><rel-claims>1-10</rel-claims></citation></srep-citations>
  <srep-admin><examiners><primary-examiner><name>WANG, Li</name></primary-examiner></examiners></srep-admin>
</wo-search-report>`;
    expect((await xml(st36)).text).toBe('H01M 10/0525 CN 202310001234 A X 1-10 WANG, Li');

    const st96 = `<pat:ClaimBag xmlns:pat="http://www.wipo.int/standards/XMLSchema/ST96/Patent" xmlns:com="http://www.wipo.int/standards/XMLSchema/ST96/Common"><pat:Claim><pat:ClaimText>A cell comprising H<com:Sub>2</com:Sub>O and <com:B>Li</com:B><com:Sup>+</com:Sup> ions.</pat:ClaimText></pat:Claim></pat:ClaimBag>`;
    expect((await xml(st96)).text).toBe('A cell comprising H2O and Li+ ions.');
  });

  it('decodes multi-byte characters split across chunks', async () => {
    const text = '发明名称：一种锂离子电池'.repeat(50);
    const result = await xml(`<?xml version="1.0"?><t>${text}</t>`, LIMITS, 7);
    expect(result.text).toBe(text);
  });

  it('honours BOMs and the declared encoding', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<?xml version="1.0" encoding="UTF-16"?><a>Prüfung 审查</a>', 'utf16le')]);
    expect((await extractText(streamOf(utf16, 5), 'application/xml', LIMITS)).text).toBe('Prüfung 审查');
    const latin1 = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><a>Prüfung</a>', 'latin1');
    expect((await extractText(streamOf(latin1), 'application/xml', LIMITS)).text).toBe('Prüfung');
    const bom8 = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<a>ok</a>')]);
    expect((await extractText(streamOf(bom8), 'application/xml', LIMITS)).text).toBe('ok');
    const sjis = Buffer.concat([Buffer.from('<?xml version="1.0" encoding="Shift_JIS"?><a>'), Buffer.from([0x93, 0xfa, 0x96, 0x7b]), Buffer.from('</a>')]);
    expect((await extractText(streamOf(sjis), 'application/xml', LIMITS)).text).toBe('日本');
  });

  it('refuses a billion-laughs DOCTYPE quickly', async () => {
    const lol = `<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>`;
    const started = Date.now();
    const error = await failure(xml(lol));
    expect(error.errorCode).toBe('XML_DTD_NOT_ALLOWED');
    expect(error.status).toBe(422);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses external entities without reading them', async () => {
    const passwd = (() => {
      try {
        return readFileSync('/etc/passwd', 'utf8');
      } catch {
        return 'root:x:0:0';
      }
    })();
    const firstLine = passwd.split('\n')[0] ?? 'root:';
    for (const doc of [
      '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY x SYSTEM "file:///etc/passwd">]><foo>&x;</foo>',
      '<!DOCTYPE foo SYSTEM "http://127.0.0.1:9/evil.dtd"><foo>&x;</foo>',
      '<!DOCTYPE foo [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><foo/>',
    ]) {
      const error = await failure(xml(doc));
      expect(error.errorCode).toBe('XML_DTD_NOT_ALLOWED');
      expect(JSON.stringify({ ...error, message: error.message })).not.toContain(firstLine);
    }
  });

  it('calls malformed XML malformed (422)', async () => {
    for (const doc of [
      '<a><b></a>',
      '<a>unclosed',
      '<a>&nbsp;</a>', // undeclared entity
      '<a x="1" x="2"/>',
      '<a/><b/>',
      'just text, no markup',
      '',
    ]) {
      const error = await failure(xml(doc));
      expect({ doc, errorCode: error.errorCode, status: error.status }).toEqual({ doc, errorCode: 'MALFORMED_XML', status: 422 });
    }
  });

  it('refuses bytes that are not in the declared encoding, and unknown encodings', async () => {
    const bad = Buffer.concat([Buffer.from('<a>'), Buffer.from([0xc3, 0x28]), Buffer.from('</a>')]);
    expect((await failure(extractText(streamOf(bad), 'application/xml', LIMITS))).errorCode).toBe('MALFORMED_XML');
    expect((await failure(xml('<?xml version="1.0" encoding="x-klingon"?><a/>'))).errorCode).toBe('XML_ENCODING_UNSUPPORTED');
  });

  it('truncates at maxTextChars', async () => {
    const words = Array.from({ length: 10_000 }, (_, i) => `word${i}`).join(' ');
    const result = await xml(`<a>${words}</a>`, { ...LIMITS, maxTextChars: 100 }, 1024);
    expect(result.truncated).toBe(true);
    expect(result.truncatedBy).toBe('maxTextChars');
    expect(result.text.length).toBeLessThanOrEqual(100);
    expect(words.startsWith(result.text)).toBe(true);
  });

  it('stops at maxInputBytes with the text of the nodes read so far', async () => {
    const result = await xml(`<a>${'<p>lorem ipsum</p>'.repeat(10_000)}</a>`, { ...LIMITS, maxInputBytes: 1000 }, 100);
    expect(result.truncated).toBe(true);
    expect(result.truncatedBy).toBe('maxInputBytes');
    expect(result.text.startsWith('lorem ipsum')).toBe(true);
    expect(result.text.length).toBeLessThan(1000);
  });

  it('times out on a stream that never ends', async () => {
    const stalled = new PassThrough();
    stalled.write('<a>waiting');
    const error = await failure(extractText(stalled, 'application/xml', { ...LIMITS, timeoutMs: 100 }));
    expect(error.errorCode).toBe('EXTRACTION_TIMEOUT');
    expect(stalled.destroyed).toBe(true);
  });
});

const READERS: [string, PdfReader][] = [
  ['on this thread', readPdfHere],
  ['in a reader process', readPdfInWorker({ maxHeapMb: 512, maxResidentMb: 1024 })],
];

describe.each(READERS)('PDF, read %s', (_where, reader) => {
  const pdf = (bytes: Buffer, limits: ExtractionLimits = LIMITS) => extractText(streamOf(bytes, 1000), 'application/pdf', limits, reader);

  const consoleSpies: MockInstance[] = [];
  beforeEach(() => {
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      consoleSpies.push(vi.spyOn(console, method));
    }
  });
  afterEach(() => {
    // pdfjs must stay silent, including on broken input (on this thread: a reader process has its own console).
    for (const spy of consoleSpies.splice(0)) {
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
    }
  });

  it('extracts the text of a one-page PDF', async () => {
    const result = await pdf(buildPdf([['Search report for CN 202310001234.7']]));
    expect(result).toEqual({ text: 'Search report for CN 202310001234.7', truncated: false, pages: 1 });
  });

  it('extracts every page in order, lines and pages on their own lines', async () => {
    const result = await pdf(
      buildPdf([
        ['Written opinion of the ISA', 'Box No. V (reasoned statement)'],
        ['Claims 1-10 lack novelty over D1'],
      ]),
    );
    expect(result.pages).toBe(2);
    expect(result.truncated).toBe(false);
    expect(result.text).toBe('Written opinion of the ISA\nBox No. V (reasoned statement)\nClaims 1-10 lack novelty over D1');
  });

  it('calls a corrupt PDF malformed (422)', async () => {
    const valid = buildPdf([['Search report for CN 202310001234.7']]);
    for (const bytes of [Buffer.from('%PDF-1.4\ngarbage, garbage and more garbage\n'), valid.subarray(0, 150), Buffer.alloc(0)]) {
      const error = await failure(pdf(bytes));
      expect(error.errorCode).toBe('MALFORMED_PDF');
      expect(error.status).toBe(422);
    }
  });

  it('yields no text, truncated, for a PDF above maxInputBytes', async () => {
    const bytes = buildPdf([['Search report for CN 202310001234.7']]);
    const result = await pdf(bytes, { ...LIMITS, maxInputBytes: bytes.length - 1 });
    expect(result).toEqual({ text: '', truncated: true, truncatedBy: 'maxInputBytes' });
    expect((await pdf(bytes, { ...LIMITS, maxInputBytes: bytes.length })).truncated).toBe(false);
  });

  it('truncates at maxTextChars', async () => {
    const pages = Array.from({ length: 5 }, (_, p) => Array.from({ length: 20 }, (_, l) => `Page ${p + 1} line ${l + 1} of the description`));
    const result = await pdf(buildPdf(pages), { ...LIMITS, maxTextChars: 120 });
    expect(result.truncated).toBe(true);
    expect(result.truncatedBy).toBe('maxTextChars');
    expect(result.pages).toBe(5);
    expect(result.text.length).toBeLessThanOrEqual(120);
    expect(result.text.startsWith('Page 1 line 1 of the description\nPage 1 line 2')).toBe(true);
  });

  it('times out on a stream that never ends', async () => {
    const stalled = new PassThrough();
    stalled.write('%PDF-1.4\n');
    const error = await failure(extractText(stalled, 'application/pdf', { ...LIMITS, timeoutMs: 100 }, reader));
    expect(error.errorCode).toBe('EXTRACTION_TIMEOUT');
  });
});

describe('PDF in a reader process: what the process adds', () => {
  /** Runs `work`, sampling the event loop every 5 ms; the longest time it went without a turn. */
  async function longestStall<T>(work: () => Promise<T>): Promise<{ outcome: T | AppError; stallMs: number; ms: number }> {
    const started = performance.now();
    let last = started;
    let stallMs = 0;
    const sampler = setInterval(() => {
      const now = performance.now();
      stallMs = Math.max(stallMs, now - last);
      last = now;
    }, 5);
    let outcome: T | AppError;
    try {
      outcome = await work();
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      outcome = error;
    } finally {
      clearInterval(sampler);
    }
    return { outcome, stallMs: Math.max(stallMs, performance.now() - last), ms: performance.now() - started };
  }

  const reader = readPdfInWorker({ maxHeapMb: 512, maxResidentMb: 1024 });

  /** The reader processes this process has running (Linux `ps`). */
  const readers = (): number[] =>
    execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes('pdf-worker'))
      .map((line) => Number.parseInt(line.trim(), 10));
  const readerStarted = async (): Promise<number> => {
    await expect.poll(readers, { timeout: 10_000, interval: 50 }).toHaveLength(1);
    return readers()[0]!;
  };

  it('stops a page that would take about a minute at the deadline, kills its reader, and the event loop stays free meanwhile', { timeout: 30_000 }, async () => {
    // On this thread the deadline cannot fire before the page ends: one page blocks the loop from start to end.
    // (The deadline leaves the reader time to start under tsx on a busy machine and be well inside the page.)
    const bomb = nestedFormsPdf(6, 10);
    const { outcome, stallMs, ms } = await longestStall(() => extractText(streamOf(bomb), 'application/pdf', { ...LIMITS, timeoutMs: 4_000 }, reader));
    expect(outcome).toMatchObject({ errorCode: 'EXTRACTION_TIMEOUT' });
    expect(ms).toBeLessThan(8_000);
    expect(stallMs).toBeLessThan(500);
    await expect.poll(readers, { timeout: 2_000 }).toEqual([]);
  });

  it('stops when told to (a shutdown), rejecting with the reason, and kills its reader', { timeout: 30_000 }, async () => {
    const stop = new AbortController();
    const reading = extractText(streamOf(nestedFormsPdf(6, 10)), 'application/pdf', LIMITS, reader, stop.signal);
    reading.catch(() => undefined);
    await readerStarted();
    const reason = new Error('shutting down');
    stop.abort(reason);
    await expect(reading).rejects.toBe(reason);
    await expect.poll(readers, { timeout: 2_000 }).toEqual([]);
  });

  it('refuses the PDF (PDF_READER_CRASHED, not a retry) when its reader dies without an answer', { timeout: 30_000 }, async () => {
    const reading = extractText(streamOf(nestedFormsPdf(6, 10)), 'application/pdf', LIMITS, reader);
    reading.catch(() => undefined);
    // As the system's OOM killer would.
    process.kill(await readerStarted(), 'SIGKILL');
    const error = await failure(reading);
    expect(error).toMatchObject({ status: 422, errorCode: 'PDF_READER_CRASHED', detail: expect.stringContaining('SIGKILL') });
  });

  it('refuses a PDF whose text needs more memory than the reader may have (PDF_TOO_COMPLEX), reads a plain one under the same cap, and lives on', { timeout: 60_000 }, async () => {
    // The heap cap leaves room for tsx, which the reader loads under the tests (the bundle needs far less); the
    // resident-memory cap is set high, so that the heap's is the one that ends it.
    const reader = readPdfInWorker({ maxHeapMb: 512, maxResidentMb: 4096 });
    const plain = await extractText(streamOf(buildPdf([['Search report for CN 202310001234.7']])), 'application/pdf', LIMITS, reader);
    expect(plain).toEqual({ text: 'Search report for CN 202310001234.7', truncated: false, pages: 1 });
    // 128 KiB of file; one string of 128 Mi characters once inflated, which pdfjs builds a character at a time.
    const bomb = longStringPdf(128 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const error = await failure(extractText(streamOf(bomb), 'application/pdf', LIMITS, reader));
    expect(error).toMatchObject({ status: 422, errorCode: 'PDF_TOO_COMPLEX', detail: expect.stringContaining('512 MiB of heap') });
    // This process is unharmed and reads on.
    expect((await extractText(streamOf(buildPdf([['Still here']])), 'application/pdf', LIMITS, reader)).text).toBe('Still here');
  });

  it('stops a PDF that inflates into gigabytes outside the heap once the reader holds more than its memory cap (PDF_TOO_COMPLEX)', { timeout: 60_000 }, async () => {
    // Inflated stream data sits in buffers, which no heap limit counts: pdfjs kept 3.4 GiB for a 2 MiB file in a trial.
    const bomb = await inflatingPdf(2 * 1024 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(LIMITS.maxInputBytes);
    const { outcome, ms } = await longestStall(() => extractText(streamOf(bomb), 'application/pdf', { ...LIMITS, timeoutMs: 60_000 }, reader));
    // The resident-memory watch, not the heap: the inflated bytes are buffers outside it.
    expect(outcome).toMatchObject({ status: 422, errorCode: 'PDF_TOO_COMPLEX', detail: expect.stringContaining('1024 MiB of memory') });
    // Stopped as it grew past the cap, not after the whole inflation.
    expect(ms).toBeLessThan(20_000);
  });
});
