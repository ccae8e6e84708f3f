/**
 * HTTP details of document downloads (RFC 9110): single byte ranges, entity tags, and a
 * Content-Disposition (RFC 6266) with an ASCII fallback name and an RFC 5987 UTF-8 name.
 */

export type RangeRequest = { kind: 'whole' } | { kind: 'range'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * Reads a `Range` header against an object of `size` bytes. Only one `bytes` range is served: a header
 * that is malformed, uses another unit or asks for several ranges is ignored (the whole object is sent),
 * as RFC 9110 §14.2 allows. A range starting at or past the end (or an empty suffix) is unsatisfiable.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'whole' };
  const match = /^bytes=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i.exec(header.trim());
  if (!match) return { kind: 'whole' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'whole' };
  if (first.length > 15 || last.length > 15) return { kind: 'unsatisfiable' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'whole' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}

/** Whether an `If-None-Match` header names this entity tag (weak comparison, `*` matches any). */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === opaque);
}

/** Whether an `If-Range` header still allows a partial answer: only a strong match of the current tag (or the date). */
export function ifRangeAllows(header: string | undefined, etag: string, lastModified: Date): boolean {
  if (header === undefined) return true;
  const value = header.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === etag;
  const date = Date.parse(value);
  return !Number.isNaN(date) && Math.floor(lastModified.getTime() / 1000) <= Math.floor(date / 1000);
}

const EXTENSIONS: Record<string, string> = {
  'application/pdf': 'pdf',
  'application/xml': 'xml',
  'image/tiff': 'tif',
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
};

/** RFC 5987 attr-char: percent-encode everything else, including ' ( ) * that encodeURIComponent leaves. */
function rfc5987(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * `attachment` with `filename` (plain ASCII: letters, digits, space, `.`, `_`, `-`; no quotes, slashes or control
 * characters) and `filename*` (the title in UTF-8). The name is the title, shortened, with the media type's extension.
 */
export function contentDisposition(title: string, mediaType: string, fallback: string): string {
  const extension = EXTENSIONS[mediaType] ?? 'bin';
  const printable = [...title.normalize('NFC')].map((char) => (char.charCodeAt(0) < 0x20 || char === '\u007f' || char === '/' || char === '\\' ? ' ' : char)).join('');
  const base = [...printable.replace(/\s+/g, ' ').trim()].slice(0, 100).join('').trim() || fallback;
  const ascii =
    base
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[^A-Za-z0-9 ._-]+/g, '_')
      .replace(/_+/g, '_')
      .replace(/^[ ._]+|[ ._]+$/g, '') || fallback;
  return `attachment; filename="${ascii}.${extension}"; filename*=UTF-8''${rfc5987(`${base}.${extension}`)}`;
}
