import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  SUPPORTED_MEDIA_TYPES,
  canonicalMediaType,
  declaredMatches,
  sniffMediaType,
  sniffStream,
  type SniffedType,
} from '../../src/providers/media-type.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Real leading bytes of each format (as written by common producers). */
const SAMPLES: [string, Buffer, SniffedType][] = [
  ['PDF 1.7', Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj', 'latin1'), 'application/pdf'],
  ['PNG', hex('89504e470d0a1a0a 0000000d 49484452 00000001 00000001 0806000000'), 'image/png'],
  ['JPEG (JFIF)', hex('ffd8ffe0 0010 4a46494600 0101'), 'image/jpeg'],
  ['JPEG (Exif)', hex('ffd8ffe1 1234 457869660000'), 'image/jpeg'],
  ['TIFF little-endian', hex('49492a00 08000000 0e00'), 'image/tiff'],
  ['TIFF big-endian', hex('4d4d002a 00000008 000e'), 'image/tiff'],
  ['BigTIFF', hex('49492b00 0800 0000 1000000000000000'), 'image/tiff'],
  ['GIF89a', Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'), 'image/gif'],
  ['GIF87a', Buffer.from('GIF87a\x01\x00\x01\x00', 'latin1'), 'image/gif'],
  ['ZIP', hex('504b0304 1400 0000 0800'), 'application/zip'],
  ['empty ZIP', hex('504b0506 0000 0000 0000 0000 00000000 00000000 0000'), 'application/zip'],
  ['XML declaration', Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<wo-search-report/>'), 'application/xml'],
  ['XML root element only', Buffer.from('<st36:patent-document xmlns:st36="urn:x"/>'), 'application/xml'],
  ['XML after whitespace', Buffer.from('\r\n\t  <claims><claim/></claims>'), 'application/xml'],
  ['XML starting with a comment', Buffer.from('<!-- produced by EPOQUE --><doc/>'), 'application/xml'],
  ['XML with a DOCTYPE', Buffer.from('<!DOCTYPE ep-patent-document SYSTEM "ep-patent-document-v1-5.dtd"><ep-patent-document/>'), 'application/xml'],
  ['XML root with underscore', Buffer.from('<_root/>'), 'application/xml'],
];

describe('sniffMediaType', () => {
  it.each(SAMPLES)('recognises %s', (_label, head, expected) => {
    expect(sniffMediaType(head)).toBe(expected);
  });

  it('recognises XML behind a UTF-8 BOM', () => {
    expect(sniffMediaType(Buffer.concat([hex('efbbbf'), Buffer.from('<?xml version="1.0"?><a/>')]))).toBe('application/xml');
    expect(sniffMediaType(Buffer.concat([hex('efbbbf'), Buffer.from('  <a/>')]))).toBe('application/xml');
  });

  it('recognises UTF-16 XML with or without a BOM, in both byte orders', () => {
    const text = '<?xml version="1.0" encoding="UTF-16"?><a>\u4e2d</a>';
    const le = Buffer.from(text, 'utf16le');
    const be = Buffer.from(le).swap16();
    expect(sniffMediaType(Buffer.concat([hex('fffe'), le]))).toBe('application/xml');
    expect(sniffMediaType(Buffer.concat([hex('feff'), be]))).toBe('application/xml');
    expect(sniffMediaType(le)).toBe('application/xml');
    expect(sniffMediaType(be)).toBe('application/xml');
    expect(sniffMediaType(Buffer.concat([hex('fffe'), Buffer.from('\n <root/>', 'utf16le')]))).toBe('application/xml');
  });

  it('returns null for heads shorter than their magic', () => {
    expect(sniffMediaType(Buffer.from('%PD'))).toBeNull();
    expect(sniffMediaType(hex('89504e470d0a1a'))).toBeNull();
    expect(sniffMediaType(hex('ffd8'))).toBeNull();
    expect(sniffMediaType(hex('4949 2a'))).toBeNull();
    expect(sniffMediaType(Buffer.from('GIF89'))).toBeNull();
    expect(sniffMediaType(Buffer.from('<'))).toBeNull();
    expect(sniffMediaType(Buffer.from('<?xml'))).toBeNull();
    expect(sniffMediaType(hex('efbbbf'))).toBeNull();
    expect(sniffMediaType(Buffer.alloc(0))).toBeNull();
  });

  it('returns null for unknown or look-alike content', () => {
    expect(sniffMediaType(Buffer.from('Hello, examiner'))).toBeNull();
    expect(sniffMediaType(Buffer.from('{"json": true}'))).toBeNull();
    expect(sniffMediaType(Buffer.from(' %PDF-1.4 (leading junk is not a PDF)'))).toBeNull();
    expect(sniffMediaType(Buffer.from('< not-a-tag'))).toBeNull();
    expect(sniffMediaType(Buffer.from('<1abc/>'))).toBeNull();
    expect(sniffMediaType(Buffer.from('<?xml-stylesheet href="x"?>'))).toBeNull();
    expect(sniffMediaType(hex('0000 0000 0000 0000'))).toBeNull();
    expect(sniffMediaType(hex('d0cf11e0a1b11ae1'))).toBeNull(); // legacy MS Office
  });

  it('does not take HTML for XML', () => {
    expect(sniffMediaType(Buffer.from('<!DOCTYPE html><html><body>x</body></html>'))).toBeNull();
    expect(sniffMediaType(Buffer.from('<!doctype HTML>\n<html>'))).toBeNull();
    expect(sniffMediaType(Buffer.from('\n<HTML lang="en">'))).toBeNull();
    expect(sniffMediaType(Buffer.from('<html>'))).toBeNull();
    expect(sniffMediaType(Buffer.from('<htmlish-root/>'))).toBe('application/xml');
  });

  it('looks at the first 512 bytes only', () => {
    expect(sniffMediaType(Buffer.concat([Buffer.alloc(600, 0x20), Buffer.from('<a/>')]))).toBeNull();
    expect(sniffMediaType(Buffer.concat([Buffer.from('%PDF-1.4'), Buffer.alloc(10_000)]))).toBe('application/pdf');
  });
});

describe('declaredMatches', () => {
  it('accepts each canonical type for its own bytes', () => {
    for (const type of SUPPORTED_MEDIA_TYPES) expect(declaredMatches(type, type)).toBe(true);
  });

  it('ignores parameters, case and surrounding whitespace', () => {
    expect(declaredMatches('application/pdf; charset=binary', 'application/pdf')).toBe(true);
    expect(declaredMatches('Application/PDF', 'application/pdf')).toBe(true);
    expect(declaredMatches('  image/PNG ;foo="bar; baz"', 'image/png')).toBe(true);
    expect(declaredMatches('text/xml; charset=UTF-8', 'application/xml')).toBe(true);
  });

  it('knows the aliases', () => {
    expect(declaredMatches('text/xml', 'application/xml')).toBe(true);
    expect(declaredMatches('application/st96+xml', 'application/xml')).toBe(true);
    expect(declaredMatches('application/vnd.wipo.st36+xml', 'application/xml')).toBe(true);
    expect(declaredMatches('image/jpg', 'image/jpeg')).toBe(true);
    expect(declaredMatches('image/pjpeg', 'image/jpeg')).toBe(true);
    expect(declaredMatches('image/tif', 'image/tiff')).toBe(true);
    expect(declaredMatches('application/x-zip-compressed', 'application/zip')).toBe(true);
    expect(canonicalMediaType('application/st96+xml; charset=utf-8')).toBe('application/xml');
  });

  it('refuses mismatches and malformed declarations', () => {
    expect(declaredMatches('application/pdf', 'application/xml')).toBe(false);
    expect(declaredMatches('image/png', 'image/jpeg')).toBe(false);
    expect(declaredMatches('image/tiff', 'application/pdf')).toBe(false);
    expect(declaredMatches('application/xml', 'application/zip')).toBe(false);
    expect(declaredMatches('application/octet-stream', 'application/pdf')).toBe(false);
    expect(declaredMatches('text/html', 'application/xml')).toBe(false);
    expect(declaredMatches('image/svg+xml', 'application/xml')).toBe(false);
    expect(declaredMatches('application/+xml', 'application/xml')).toBe(false);
    expect(declaredMatches('pdf', 'application/pdf')).toBe(false);
    expect(declaredMatches('', 'application/pdf')).toBe(false);
    expect(declaredMatches('application/pdf garbage', 'application/pdf')).toBe(false);
    expect(declaredMatches('application/pdf/x', 'application/pdf')).toBe(false);
  });
});

const sha256 = (buf: Buffer): string => createHash('sha256').update(buf).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A deterministic pseudo-random byte stream of `size` bytes in chunks of varied sizes. */
function generated(size: number, header: Buffer): { stream: Readable; sha256: string } {
  const hash = createHash('sha256');
  let state = 0x12345678;
  let produced = 0;
  let first = true;
  function* chunks(): Generator<Buffer> {
    while (produced < size) {
      const length = Math.min(size - produced, 1 + (state % 70_000));
      const chunk = Buffer.alloc(length);
      for (let i = 0; i < length; i++) {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0;
        chunk[i] = state >>> 24;
      }
      if (first) {
        header.copy(chunk, 0, 0, Math.min(header.length, length));
        first = false;
      }
      produced += length;
      hash.update(chunk);
      yield chunk;
    }
  }
  const all = [...chunks()];
  return { stream: Readable.from(all, { objectMode: false }), sha256: hash.digest('hex') };
}

describe('sniffStream', () => {
  it('sniffs and then replays exactly the original bytes of a multi-MB stream', async () => {
    const source = generated(5 * 1024 * 1024 + 17, Buffer.from('%PDF-1.6\n'));
    const { mediaType, stream } = await sniffStream(source.stream);
    expect(mediaType).toBe('application/pdf');
    expect(sha256(await readAll(stream))).toBe(source.sha256);
  });

  it('handles a head that arrives a byte at a time, and a stream shorter than the head', async () => {
    const bytes = Buffer.from('<?xml version="1.0"?><claims><claim>1. A method.</claim></claims>');
    const trickle = Readable.from([...bytes].map((b) => Buffer.from([b])), { objectMode: false });
    const sniffed = await sniffStream(trickle, 512);
    expect(sniffed.mediaType).toBe('application/xml');
    expect((await readAll(sniffed.stream)).equals(bytes)).toBe(true);

    const tiny = await sniffStream(Readable.from([Buffer.from('%PD')], { objectMode: false }));
    expect(tiny.mediaType).toBeNull();
    expect((await readAll(tiny.stream)).toString()).toBe('%PD');

    const empty = await sniffStream(Readable.from([], { objectMode: false }));
    expect(empty.mediaType).toBeNull();
    expect((await readAll(empty.stream)).length).toBe(0);
  });

  it('preserves back-pressure: the source is not drained ahead of the reader', async () => {
    const source = new PassThrough({ highWaterMark: 16 * 1024 });
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    chunk.write('%PDF-1.4');
    let written = 0;
    let ended = false;
    const writer = (async () => {
      for (let i = 0; i < 200; i++) {
        written += chunk.length;
        if (!source.write(i === 0 ? chunk : Buffer.alloc(chunk.length, 0x42))) {
          await new Promise((resolve) => source.once('drain', resolve));
        }
      }
      source.end();
      ended = true;
    })();
    const { mediaType, stream } = await sniffStream(source);
    expect(mediaType).toBe('application/pdf');
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Nothing reads the replay yet: the writer stalls after a few buffers' worth.
    expect(ended).toBe(false);
    expect(written).toBeLessThan(1024 * 1024);
    const all = await readAll(stream);
    await writer;
    expect(all.length).toBe(200 * chunk.length);
    expect(all.subarray(0, 8).toString()).toBe('%PDF-1.4');
  });

  it('surfaces source errors: before the head as a rejection, after it on the stream', async () => {
    const early = new PassThrough();
    setImmediate(() => early.destroy(new Error('connection reset')));
    await expect(sniffStream(early)).rejects.toThrow('connection reset');

    const late = new PassThrough();
    late.write(Buffer.from('%PDF-1.4 and then some more bytes...'.padEnd(600, '.')));
    const { mediaType, stream } = await sniffStream(late);
    expect(mediaType).toBe('application/pdf');
    setImmediate(() => late.destroy(new Error('connection reset later')));
    await expect(readAll(stream)).rejects.toThrow('connection reset later');
  });

  it('destroying the replay destroys the source', async () => {
    const source = new PassThrough();
    source.write(Buffer.alloc(1024, 0x3c));
    const { stream } = await sniffStream(source);
    stream.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.destroyed).toBe(true);
  });
});
