/**
 * Media type sniffing for deposited documents.
 *
 * A deposit declares a media type; the hub believes the bytes, not the declaration:
 * `sniffMediaType` looks at the first bytes, `declaredMatches` says whether the declared
 * type (parameters, aliases and case tolerated) names what was sniffed, and `sniffStream`
 * peeks at an upload's head without consuming it, so the deposit code can refuse a
 * mismatch before anything is stored and otherwise stream the very same bytes onwards.
 *
 * Signatures follow the WHATWG MIME Sniffing patterns where they exist (PDF must start at
 * byte 0, no leading junk). XML is recognised by its first markup after an optional BOM and
 * whitespace; HTML (`<!DOCTYPE html`, `<html`) is deliberately NOT sniffed as XML.
 */
import { Readable } from 'node:stream';
import { toBuffer } from '../platform/storage/hashing.js';

/** Media types a document may have (what a deposit may declare and store). */
export const SUPPORTED_MEDIA_TYPES = [
  'application/pdf',
  'application/xml',
  'image/tiff',
  'image/png',
  'image/jpeg',
  'image/gif',
] as const;

export type SupportedMediaType = (typeof SUPPORTED_MEDIA_TYPES)[number];

/** Everything `sniffMediaType` recognises: document types plus ZIP (deposit packages). */
export type SniffedType = SupportedMediaType | 'application/zip';

export const SNIFFABLE_MEDIA_TYPES: readonly SniffedType[] = [...SUPPORTED_MEDIA_TYPES, 'application/zip'];

/** How many leading bytes `sniffMediaType` may look at; more is ignored, fewer may suffice. */
export const SNIFF_BYTES = 512;

export function isSupportedMediaType(value: string): value is SupportedMediaType {
  return (SUPPORTED_MEDIA_TYPES as readonly string[]).includes(value);
}

const PDF = Buffer.from('%PDF-', 'latin1');
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG = Buffer.from([0xff, 0xd8, 0xff]);
const GIF87 = Buffer.from('GIF87a', 'latin1');
const GIF89 = Buffer.from('GIF89a', 'latin1');
const TIFF_LE = Buffer.from([0x49, 0x49, 0x2a, 0x00]); // II*\0
const TIFF_BE = Buffer.from([0x4d, 0x4d, 0x00, 0x2a]); // MM\0*
const BIGTIFF_LE = Buffer.from([0x49, 0x49, 0x2b, 0x00]); // II+\0
const BIGTIFF_BE = Buffer.from([0x4d, 0x4d, 0x00, 0x2b]); // MM\0+
const ZIP_LOCAL = Buffer.from([0x50, 0x4b, 0x03, 0x04]); // PK\3\4
const ZIP_EMPTY = Buffer.from([0x50, 0x4b, 0x05, 0x06]); // PK\5\6: an archive with no entries

function startsWith(head: Buffer, magic: Buffer): boolean {
  return head.length >= magic.length && head.subarray(0, magic.length).equals(magic);
}

/**
 * The media type the leading bytes announce, or null when they match no known signature
 * (including a head shorter than the signature it starts).
 */
export function sniffMediaType(head: Buffer): SniffedType | null {
  const bytes = head.length > SNIFF_BYTES ? head.subarray(0, SNIFF_BYTES) : head;
  if (startsWith(bytes, PDF)) return 'application/pdf';
  if (startsWith(bytes, PNG)) return 'image/png';
  if (startsWith(bytes, JPEG)) return 'image/jpeg';
  if (startsWith(bytes, GIF87) || startsWith(bytes, GIF89)) return 'image/gif';
  if ([TIFF_LE, TIFF_BE, BIGTIFF_LE, BIGTIFF_BE].some((magic) => startsWith(bytes, magic))) return 'image/tiff';
  if (startsWith(bytes, ZIP_LOCAL) || startsWith(bytes, ZIP_EMPTY)) return 'application/zip';
  if (looksLikeXml(bytes)) return 'application/xml';
  return null;
}

/** Decodes the head as text in the encoding its BOM (or a BOM-less UTF-16 `<`) announces. */
function decodeHead(bytes: Buffer): string {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return bytes.subarray(3).toString('utf8');
  }
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return decodeUtf16(bytes.subarray(2), 'le');
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return decodeUtf16(bytes.subarray(2), 'be');
  // BOM-less UTF-16 (XML 1.0 Appendix F): `<` followed or preceded by a NUL.
  if (bytes.length >= 2 && bytes[0] === 0x3c && bytes[1] === 0x00) return decodeUtf16(bytes, 'le');
  if (bytes.length >= 2 && bytes[0] === 0x00 && bytes[1] === 0x3c) return decodeUtf16(bytes, 'be');
  // Anything ASCII-compatible (UTF-8, ISO-8859-x, Shift_JIS, ...): markup is ASCII.
  return bytes.toString('latin1');
}

function decodeUtf16(bytes: Buffer, order: 'le' | 'be'): string {
  const even = bytes.subarray(0, bytes.length - (bytes.length % 2));
  if (order === 'le') return even.toString('utf16le');
  const swapped = Buffer.from(even);
  swapped.swap16();
  return swapped.toString('utf16le');
}

const XML_WHITESPACE = /^[ \t\r\n]*/;
/** XML NameStartChar, approximated: ASCII letters, `_`, `:`, or anything non-ASCII. */
const NAME_START = /^[A-Za-z_:\u00c0-\uffff]/;

function looksLikeXml(bytes: Buffer): boolean {
  const text = decodeHead(bytes);
  const rest = text.slice(XML_WHITESPACE.exec(text)?.[0].length ?? 0);
  if (rest.startsWith('<?xml')) return rest.length > 5 && /^[ \t\r\n?]/.test(rest.slice(5));
  if (rest.startsWith('<!--')) return true;
  if (/^<!DOCTYPE[ \t\r\n]/.test(rest)) return !/^<!DOCTYPE[ \t\r\n]+html[ \t\r\n>]/i.test(rest);
  if (rest.startsWith('<') && NAME_START.test(rest.slice(1))) return !/^<html[ \t\r\n>/]/i.test(rest);
  return false;
}

/** Declared spellings (lower case, without parameters) accepted for each sniffed type. */
const ALIASES: Record<string, SniffedType> = {
  'application/pdf': 'application/pdf',
  'application/x-pdf': 'application/pdf',
  'application/xml': 'application/xml',
  'text/xml': 'application/xml',
  'image/tiff': 'image/tiff',
  'image/tif': 'image/tiff',
  'image/x-tiff': 'image/tiff',
  'image/png': 'image/png',
  'image/x-png': 'image/png',
  'image/jpeg': 'image/jpeg',
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'image/gif': 'image/gif',
  'application/zip': 'application/zip',
  'application/x-zip': 'application/zip',
  'application/x-zip-compressed': 'application/zip',
};

/** RFC 9110 token characters for type and subtype. */
const MEDIA_TYPE = /^([!#$%&'*+.^_`|~0-9a-z-]+)\/([!#$%&'*+.^_`|~0-9a-z-]+)$/;

/**
 * The canonical type a declared `Content-Type`-style value stands for, or null when it is
 * malformed or names nothing the hub sniffs. Parameters and case are ignored; `text/xml`
 * and any `+xml` structured-syntax type (`application/st96+xml`) mean XML; `image/jpg` is JPEG.
 */
export function canonicalMediaType(declared: string): SniffedType | null {
  const essence = (declared.split(';', 1)[0] ?? '').trim().toLowerCase();
  const match = MEDIA_TYPE.exec(essence);
  if (match === null) return null;
  const alias = ALIASES[essence];
  if (alias !== undefined) return alias;
  const [, type, subtype = ''] = match;
  if ((type === 'application' || type === 'text') && subtype.endsWith('+xml') && subtype.length > 4) {
    return 'application/xml';
  }
  return null;
}

/** Whether the declared media type names what the bytes were sniffed as. */
export function declaredMatches(declared: string, sniffed: SniffedType): boolean {
  return canonicalMediaType(declared) === sniffed;
}

export interface SniffedStream {
  /** What the head announces; null when it matches no known signature. */
  mediaType: SniffedType | null;
  /** Replays the bytes read for sniffing, then the rest of the source, with back-pressure. */
  stream: Readable;
}

/**
 * Reads the first `bytes` bytes of `source` (fewer when it ends sooner) to sniff its media
 * type, and returns a stream that yields exactly the source's bytes from the start.
 *
 * Only the chunks holding the head are held in memory; the rest is pulled from the source
 * as the returned stream is read. Errors of the source surface on the returned stream
 * (or reject this promise while the head is being read); destroying the returned stream
 * destroys the source. Once called, read the source only through the returned stream.
 */
export async function sniffStream(source: Readable, bytes = SNIFF_BYTES): Promise<SniffedStream> {
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new RangeError(`bytes must be a positive integer, got ${bytes}`);
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<unknown>;
  const head: Buffer[] = [];
  let headLength = 0;
  let ended = false;
  try {
    while (headLength < bytes) {
      const next = await iterator.next();
      if (next.done === true) {
        ended = true;
        break;
      }
      const chunk = toBuffer(next.value);
      if (chunk.length === 0) continue;
      head.push(chunk);
      headLength += chunk.length;
    }
  } catch (error) {
    await iterator.return?.();
    throw error;
  }
  const first = head.length === 1 ? (head[0] as Buffer) : Buffer.concat(head, headLength);
  const mediaType = sniffMediaType(first.subarray(0, bytes));

  let pulling = false;
  const replay = new Readable({
    read(): void {
      void pull();
    },
    destroy(error, callback): void {
      // Propagates to the source (a pending next() then settles and is ignored).
      source.destroy(error ?? undefined);
      callback(error);
    },
  });
  /** Pushes the head, then source chunks one `next()` at a time until the reader has enough. */
  async function pull(): Promise<void> {
    if (pulling) return;
    pulling = true;
    try {
      for (;;) {
        const buffered = head.shift();
        if (buffered !== undefined) {
          if (!replay.push(buffered)) return;
          continue;
        }
        const next = ended ? { done: true as const, value: undefined } : await iterator.next();
        if (replay.destroyed) return;
        if (next.done === true) {
          ended = true;
          replay.push(null);
          return;
        }
        if (!replay.push(toBuffer(next.value))) return;
      }
    } catch (error) {
      replay.destroy(error as Error);
    } finally {
      pulling = false;
    }
  }
  // As guardedUpload's stream: the reader may have given up on a failure of its own when the source fails later.
  replay.on('error', () => undefined);
  return { mediaType, stream: replay };
}
