/**
 * Reading deposit packages (`POST /v1/packages`): a zip holding `manifest.json` and the
 * documents it lists. The upload is first streamed into the blob store; the package job
 * (package.job.ts) reads it as a local file (in place on the filesystem store, else a
 * temporary copy) through this module, with yauzl, treating every byte of it as hostile.
 *
 * Policy (what refuses what):
 * - Structural problems refuse the WHOLE package, and `openPackage` throws: not a zip
 *   (`PACKAGE_NOT_A_ZIP`), an unreadable or inconsistent central directory
 *   (`PACKAGE_CORRUPT`), more entries than allowed (`PACKAGE_TOO_MANY_ENTRIES`), a declared
 *   total of the acceptable entries above the cap (`PACKAGE_TOO_LARGE`), entries sharing
 *   their bytes (`PACKAGE_OVERLAPPING_ENTRIES`, the non-recursive zip bomb), and, from
 *   `readManifest`, a missing, oversized, refused or unparsable manifest (`MANIFEST_MISSING`,
 *   `MANIFEST_TOO_LARGE`, the manifest entry's own problem code, `MANIFEST_INVALID_JSON`).
 *   yauzl itself rejects the listing (hence `PACKAGE_CORRUPT`) for strong encryption
 *   (flag 0x40) and for stored entries whose two sizes disagree.
 * - Per-entry problems refuse THAT entry only: it is listed in `problems` (never in
 *   `entries`), `openEntry` refuses it without reading a byte, and the package job must
 *   refuse the manifest documents that reference it while the others proceed. Codes:
 *   `ZIP_ABSOLUTE_PATH`, `ZIP_PATH_TRAVERSAL`, `ZIP_INVALID_NAME`, `ZIP_SYMLINK`,
 *   `ZIP_SPECIAL_FILE`, `ZIP_DUPLICATE_NAME` (every entry sharing a name, compared
 *   case-insensitively after NFC, is refused: which one the manifest meant is ambiguous),
 *   `ZIP_ENCRYPTED`, `ZIP_UNSUPPORTED_COMPRESSION`, `ZIP_ENTRY_TOO_LARGE`,
 *   `ZIP_COMPRESSION_RATIO`; and from `checkManifestAgainstZip`: `MISSING_FROM_ZIP`,
 *   `NOT_IN_MANIFEST`.
 * - While streaming, the bytes that actually come out are counted: an entry whose header
 *   lies is cut off on the chunk that crosses its declared size (`ZIP_ENTRY_SIZE_MISMATCH`),
 *   the entry cap, the ratio cap or the package total (`PACKAGE_TOO_LARGE`, counted over
 *   everything this handle has streamed), before that chunk is passed on. A wrong CRC-32
 *   (`ZIP_CRC_MISMATCH`) or undecodable data (`ZIP_ENTRY_CORRUPT`) fail the stream at its
 *   end. The consumer (a blob `put`) therefore fails and stores nothing from that entry.
 * - An entry stream may be destroyed before its end (its deposit refused early): the raw
 *   compressed stream under it is then drained rather than destroyed (see `releaseRaw`), as
 *   destroying a yauzl stream with a queued read crashes the process.
 * - Directory entries are ignored (names still checked). Names are never used as file
 *   system paths: entries go to the blob store under generated keys; the path checks
 *   exist so that nothing hostile is accepted or echoed as a valid document path.
 *
 * yauzl runs with `decodeStrings: false` so that it does not abort the whole listing on the
 * first bad file name; names are decoded with its own strict decoder (`strictFileNames`,
 * backslashes kept) and judged here, entry by entry. Data is inflated here too, so that
 * every output byte passes the limiter and cleanup is deterministic.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createInflateRaw, crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { PayloadTooLargeError, UnprocessableError, type AppError } from '../platform/errors.js';

export interface PackageLimits {
  /** Central directory records (directories included) allowed in one package. */
  maxEntries: number;
  /** Cap on the declared sizes of the acceptable entries, summed, and on the bytes streamed. */
  maxTotalUncompressedBytes: number;
  maxEntryUncompressedBytes: number;
  /** uncompressed / compressed, enforced on entries above `ratioThresholdBytes`. */
  maxCompressionRatio: number;
  /** Entries up to this size are exempt from the ratio cap (1 KiB of spaces deflates ~100:1). Default 1 MiB. */
  ratioThresholdBytes?: number;
  /** Default 16 MiB. */
  maxManifestBytes?: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_PACKAGE_LIMITS: Required<PackageLimits> = {
  maxEntries: 10_000,
  maxTotalUncompressedBytes: 4096 * MiB,
  maxEntryUncompressedBytes: 512 * MiB,
  maxCompressionRatio: 100,
  ratioThresholdBytes: MiB,
  maxManifestBytes: 16 * MiB,
};

export const MANIFEST_NAME = 'manifest.json';

export interface ZipEntryInfo {
  /** The path inside the zip, `/`-separated, as the manifest must spell it. */
  name: string;
  /** As declared by the central directory; enforced while streaming. */
  uncompressedSize: number;
  compressedSize: number;
}

export type PackageProblemCode =
  | 'ZIP_ABSOLUTE_PATH'
  | 'ZIP_PATH_TRAVERSAL'
  | 'ZIP_INVALID_NAME'
  | 'ZIP_SYMLINK'
  | 'ZIP_SPECIAL_FILE'
  | 'ZIP_DUPLICATE_NAME'
  | 'ZIP_ENCRYPTED'
  | 'ZIP_UNSUPPORTED_COMPRESSION'
  | 'ZIP_ENTRY_TOO_LARGE'
  | 'ZIP_COMPRESSION_RATIO'
  | 'MISSING_FROM_ZIP'
  | 'NOT_IN_MANIFEST';

/** One refused entry (or manifest path); everything else in the package may proceed. */
export interface PackageProblem {
  /** The entry name (or manifest path) as decoded, possibly hostile: escape before display. */
  entry: string;
  errorCode: PackageProblemCode;
  detail: string;
}

export interface PackageHandle {
  /** Acceptable file entries, in central directory order; names are unique (case-insensitively). */
  readonly entries: readonly ZipEntryInfo[];
  /** Refused entries, one problem per entry. */
  readonly problems: readonly PackageProblem[];
  /**
   * Streams an acceptable entry's bytes, enforcing its declared size, the ratio and total caps
   * while streaming. Rejects (413/422 AppError with the problem's code) for a refused entry and
   * with `MISSING_FROM_ZIP` for a name the zip does not hold.
   */
  openEntry(name: string): Promise<Readable>;
  /** Reads and parses `manifest.json` (size-capped). */
  readManifest(): Promise<unknown>;
  /** Releases the file; streams already open finish first. Idempotent. */
  close(): void;
}

/** Whole-package refusal or an entry refused while streaming: the status says which kind. */
function tooLarge(errorCode: string, detail: string, extensions: Record<string, unknown> = {}): AppError {
  return new PayloadTooLargeError(errorCode, detail, extensions);
}
function unprocessable(errorCode: string, detail: string, extensions: Record<string, unknown> = {}): AppError {
  return new UnprocessableError(errorCode, detail, extensions);
}

/** The AppError that refusing this problem's entry throws. */
export function problemError(problem: PackageProblem): AppError {
  const make = problem.errorCode === 'ZIP_ENTRY_TOO_LARGE' ? tooLarge : unprocessable;
  return make(problem.errorCode, problem.detail, { entry: problem.entry });
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MAX_NAME_LENGTH = 1024;
/** Fixed part of a local file header: data starts at least this far after its offset. */
const LOCAL_HEADER_SIZE = 30;

interface RawEntry {
  entry: Entry;
  name: string;
  isDirectory: boolean;
  problem: PackageProblem | null;
}

/** Judges a decoded name; null when acceptable. */
function nameProblem(name: string): Omit<PackageProblem, 'entry'> | null {
  const bad = (errorCode: PackageProblemCode, detail: string): Omit<PackageProblem, 'entry'> => ({ errorCode, detail });
  // eslint-disable-next-line no-control-regex
  if (name.length === 0 || /[\u0000-\u001f\u007f]/.test(name)) return bad('ZIP_INVALID_NAME', 'Entry name is empty or holds control characters');
  if (name.length > MAX_NAME_LENGTH) return bad('ZIP_INVALID_NAME', `Entry name is longer than ${MAX_NAME_LENGTH} characters`);
  if (/^[/\\]/.test(name) || /^[A-Za-z]:/.test(name)) return bad('ZIP_ABSOLUTE_PATH', 'Entry name is an absolute path');
  const segments = name.split(/[/\\]/);
  if (segments.includes('..')) return bad('ZIP_PATH_TRAVERSAL', 'Entry name climbs out of the package with ".."');
  if (name.includes('\\')) return bad('ZIP_INVALID_NAME', 'Entry name uses "\\" (paths in a package are "/"-separated)');
  const inner = name.endsWith('/') ? segments.slice(0, -1) : segments;
  if (inner.some((segment) => segment === '' || segment === '.')) {
    return bad('ZIP_INVALID_NAME', 'Entry name has an empty or "." path segment');
  }
  return null;
}

function entryProblem(raw: Omit<RawEntry, 'problem'>, limits: Required<PackageLimits>): PackageProblem | null {
  const { entry, name } = raw;
  const named = (p: Omit<PackageProblem, 'entry'> | null): PackageProblem | null => (p === null ? null : { entry: name, ...p });
  const fromName = nameProblem(name);
  if (fromName !== null) return named(fromName);
  const fileType = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (fileType === S_IFLNK) return named({ errorCode: 'ZIP_SYMLINK', detail: 'Entry is a symbolic link' });
  if (fileType !== 0 && fileType !== S_IFREG && fileType !== S_IFDIR) {
    return named({ errorCode: 'ZIP_SPECIAL_FILE', detail: 'Entry is not a regular file (device, FIFO or socket)' });
  }
  if (raw.isDirectory) return null;
  if ((entry.generalPurposeBitFlag & 0x1) !== 0) return named({ errorCode: 'ZIP_ENCRYPTED', detail: 'Entry is encrypted' });
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
    return named({
      errorCode: 'ZIP_UNSUPPORTED_COMPRESSION',
      detail: `Entry uses compression method ${entry.compressionMethod}; only stored (0) and deflate (8) are accepted`,
    });
  }
  if (entry.uncompressedSize > limits.maxEntryUncompressedBytes) {
    return named({
      errorCode: 'ZIP_ENTRY_TOO_LARGE',
      detail: `Entry declares ${entry.uncompressedSize} bytes; the limit is ${limits.maxEntryUncompressedBytes}`,
    });
  }
  if (exceedsRatio(entry.uncompressedSize, entry.compressedSize, limits)) {
    return named({
      errorCode: 'ZIP_COMPRESSION_RATIO',
      detail: `Entry expands ${entry.compressedSize} bytes into ${entry.uncompressedSize}; the ratio limit is ${limits.maxCompressionRatio}`,
    });
  }
  return null;
}

function exceedsRatio(uncompressed: number, compressed: number, limits: Required<PackageLimits>): boolean {
  return uncompressed > limits.ratioThresholdBytes && uncompressed > Math.max(compressed, 1) * limits.maxCompressionRatio;
}

function duplicateKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

/**
 * Opens a package zip from a file path and judges every entry up front (no entry data is
 * read). Throws an AppError when the package as a whole is refused (see the policy above).
 */
export async function openPackage(path: string, limits: PackageLimits): Promise<PackageHandle> {
  const effective: Required<PackageLimits> = {
    ...limits,
    ratioThresholdBytes: limits.ratioThresholdBytes ?? DEFAULT_PACKAGE_LIMITS.ratioThresholdBytes,
    maxManifestBytes: limits.maxManifestBytes ?? DEFAULT_PACKAGE_LIMITS.maxManifestBytes,
  };
  let zipfile: ZipFile;
  try {
    zipfile = await yauzl.openPromise(path, {
      lazyEntries: true,
      autoClose: false,
      decodeStrings: false,
      validateEntrySizes: true,
      strictFileNames: true,
    });
  } catch (error) {
    throw openError(error);
  }
  // yauzl reports listing errors as events; after the listing no error may go unheard.
  zipfile.on('error', () => undefined);
  try {
    if (zipfile.entryCount > effective.maxEntries) {
      throw tooLarge('PACKAGE_TOO_MANY_ENTRIES', `The package holds ${zipfile.entryCount} entries; the limit is ${effective.maxEntries}`);
    }
    const raws = await readCentralDirectory(zipfile);
    checkOverlaps(raws);
    return new Package(zipfile, judge(raws, effective), effective);
  } catch (error) {
    zipfile.close();
    throw error;
  }
}

function openError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  // Operating system errors (ENOENT, EACCES, EMFILE...) are ours, not the depositor's.
  if ('code' in error && typeof error.code === 'string') return error;
  if (/end of central directory record signature not found/i.test(error.message)) {
    return unprocessable('PACKAGE_NOT_A_ZIP', 'The package is not a zip file');
  }
  return unprocessable('PACKAGE_CORRUPT', `The package zip cannot be read: ${error.message}`);
}

function readCentralDirectory(zipfile: ZipFile): Promise<Omit<RawEntry, 'problem'>[]> {
  return new Promise((resolve, reject) => {
    const raws: Omit<RawEntry, 'problem'>[] = [];
    const cleanup = (): void => {
      zipfile.off('entry', onEntry);
      zipfile.off('end', onEnd);
      zipfile.off('error', onError);
    };
    const onEntry = (entry: Entry): void => {
      // With decodeStrings false, yauzl leaves names undecoded and unjudged.
      const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
      raws.push({ entry, name, isDirectory: name.endsWith('/') });
      zipfile.readEntry();
    };
    const onEnd = (): void => {
      cleanup();
      resolve(raws);
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(unprocessable('PACKAGE_CORRUPT', `The package zip cannot be read: ${error.message}`));
    };
    zipfile.on('entry', onEntry);
    zipfile.once('end', onEnd);
    zipfile.once('error', onError);
    zipfile.readEntry();
  });
}

/** Two records whose data overlap (the same bytes counted again and again) refuse the package. */
function checkOverlaps(raws: readonly Omit<RawEntry, 'problem'>[]): void {
  const byOffset = raws.map((raw) => raw.entry).sort((a, b) => a.relativeOffsetOfLocalHeader - b.relativeOffsetOfLocalHeader);
  for (let i = 1; i < byOffset.length; i++) {
    const previous = byOffset[i - 1] as Entry;
    const current = byOffset[i] as Entry;
    // A lower bound of where the previous record ends: no false positives.
    if (current.relativeOffsetOfLocalHeader < previous.relativeOffsetOfLocalHeader + LOCAL_HEADER_SIZE + previous.compressedSize) {
      throw unprocessable('PACKAGE_OVERLAPPING_ENTRIES', 'Entries of the package share their data (an overlapping zip bomb)');
    }
  }
}

interface Judged {
  accepted: Map<string, Entry>;
  entries: ZipEntryInfo[];
  problems: PackageProblem[];
  refused: Map<string, PackageProblem>;
}

function judge(raws: readonly Omit<RawEntry, 'problem'>[], limits: Required<PackageLimits>): Judged {
  const judged: RawEntry[] = raws.map((raw) => ({ ...raw, problem: entryProblem(raw, limits) }));
  const files = judged.filter((raw) => !raw.isDirectory || raw.problem !== null);

  const byKey = new Map<string, RawEntry[]>();
  for (const raw of files) {
    if (raw.isDirectory) continue;
    const key = duplicateKey(raw.name);
    byKey.set(key, [...(byKey.get(key) ?? []), raw]);
  }
  for (const group of byKey.values()) {
    if (group.length < 2) continue;
    for (const raw of group) {
      raw.problem ??= {
        entry: raw.name,
        errorCode: 'ZIP_DUPLICATE_NAME',
        detail: `${group.length} entries share this name (compared case-insensitively)`,
      };
    }
  }

  const result: Judged = { accepted: new Map(), entries: [], problems: [], refused: new Map() };
  let total = 0;
  for (const raw of files) {
    if (raw.problem !== null) {
      result.problems.push(raw.problem);
      if (!result.refused.has(raw.name)) result.refused.set(raw.name, raw.problem);
      continue;
    }
    total += raw.entry.uncompressedSize;
    result.accepted.set(raw.name, raw.entry);
    result.entries.push({ name: raw.name, uncompressedSize: raw.entry.uncompressedSize, compressedSize: raw.entry.compressedSize });
  }
  if (total > limits.maxTotalUncompressedBytes) {
    throw tooLarge('PACKAGE_TOO_LARGE', `The package expands to ${total} bytes; the limit is ${limits.maxTotalUncompressedBytes}`);
  }
  return result;
}

class Package implements PackageHandle {
  readonly entries: readonly ZipEntryInfo[];
  readonly problems: readonly PackageProblem[];
  readonly #zipfile: ZipFile;
  readonly #judged: Judged;
  readonly #limits: Required<PackageLimits>;
  /** Bytes streamed out of this handle, all entries together. */
  readonly #streamed = { bytes: 0 };

  constructor(zipfile: ZipFile, judged: Judged, limits: Required<PackageLimits>) {
    this.#zipfile = zipfile;
    this.#judged = judged;
    this.#limits = limits;
    this.entries = judged.entries;
    this.problems = judged.problems;
  }

  async openEntry(name: string): Promise<Readable> {
    const refused = this.#judged.refused.get(name);
    if (refused !== undefined) throw problemError(refused);
    const entry = this.#judged.accepted.get(name);
    if (entry === undefined) throw unprocessable('MISSING_FROM_ZIP', 'The package holds no such entry', { entry: name });
    if (!this.#zipfile.isOpen) throw new Error('The package has been closed');

    let raw: Readable;
    try {
      // Raw (still compressed) bytes: inflating here keeps every output byte under our count.
      raw = await this.#zipfile.openReadStreamPromise(entry, { decodeFileData: false });
    } catch (error) {
      throw unprocessable('ZIP_ENTRY_CORRUPT', `The entry cannot be read: ${(error as Error).message}`, { entry: name });
    }
    const limiter = new EntryLimiter(name, entry, this.#limits, this.#streamed);
    const inflate = entry.compressionMethod === 8 ? createInflateRaw() : null;
    const upstream: Readable = inflate ?? raw;
    if (inflate !== null) {
      raw.on('error', (error) => inflate.destroy(error));
      raw.pipe(inflate);
    }
    upstream.on('error', (error) => limiter.destroy(entryStreamError(name, error)));
    limiter.once('close', () => {
      inflate?.destroy();
      releaseRaw(raw);
    });
    upstream.pipe(limiter);
    return limiter;
  }

  async readManifest(): Promise<unknown> {
    const maxBytes = this.#limits.maxManifestBytes;
    const refused = this.#judged.refused.get(MANIFEST_NAME);
    if (refused !== undefined) throw problemError(refused);
    const entry = this.#judged.accepted.get(MANIFEST_NAME);
    if (entry === undefined) throw unprocessable('MANIFEST_MISSING', `The package holds no ${MANIFEST_NAME} at its root`);
    if (entry.uncompressedSize > maxBytes) {
      throw tooLarge('MANIFEST_TOO_LARGE', `${MANIFEST_NAME} declares ${entry.uncompressedSize} bytes; the limit is ${maxBytes}`);
    }
    const stream = await this.openEntry(MANIFEST_NAME);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > maxBytes) {
        stream.destroy();
        throw tooLarge('MANIFEST_TOO_LARGE', `${MANIFEST_NAME} is larger than ${maxBytes} bytes`);
      }
      chunks.push(buf);
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks, size));
    } catch {
      throw unprocessable('MANIFEST_INVALID_JSON', `${MANIFEST_NAME} is not valid UTF-8`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw unprocessable('MANIFEST_INVALID_JSON', `${MANIFEST_NAME} is not valid JSON: ${(error as Error).message}`);
    }
  }

  close(): void {
    this.#zipfile.close();
  }
}

/**
 * Lets go of an entry's raw (compressed) stream once its reader is done with it. Destroying a yauzl read stream while
 * one of its reads waits in the zip file's read queue throws an uncaught TypeError inside yauzl (its fd-slicer reads
 * `context.fd` after `_destroy` has cleared it), which would take the process down: so the stream is instead left to
 * read to its end (at most the entry's compressed size) with its bytes dropped, and then releases the file itself.
 */
function releaseRaw(raw: Readable): void {
  if (raw.destroyed || raw.readableEnded) return;
  raw.unpipe();
  raw.on('error', () => undefined);
  raw.resume();
}

function entryStreamError(name: string, error: Error): Error {
  if ('errorCode' in error) return error; // already ours
  const zlibCode = (error as NodeJS.ErrnoException).code;
  if (typeof zlibCode === 'string' && zlibCode.startsWith('Z_')) {
    return unprocessable('ZIP_ENTRY_CORRUPT', `The entry's compressed data is invalid: ${error.message}`, { entry: name });
  }
  if (/unexpected EOF|end of file/i.test(error.message)) {
    return unprocessable('ZIP_ENTRY_CORRUPT', `The entry's data is truncated: ${error.message}`, { entry: name });
  }
  return error;
}

/**
 * Counts the bytes coming out of an entry and fails on the chunk that would cross a cap,
 * before passing any of it on; checks size and CRC-32 at the end.
 */
class EntryLimiter extends Transform {
  #bytes = 0;
  #crc = 0;

  constructor(
    readonly entryName: string,
    readonly entry: Entry,
    readonly limits: Required<PackageLimits>,
    readonly streamed: { bytes: number },
  ) {
    super();
  }

  /** The cap this many bytes out of the entry would cross, if any. */
  #crossed(bytes: number, added: number): AppError | null {
    const { entry, limits } = this;
    const ext = { entry: this.entryName };
    if (bytes > entry.uncompressedSize) {
      return unprocessable('ZIP_ENTRY_SIZE_MISMATCH', `The entry yields more than the ${entry.uncompressedSize} bytes its header declares`, ext);
    }
    if (bytes > limits.maxEntryUncompressedBytes) {
      return tooLarge('ZIP_ENTRY_TOO_LARGE', `The entry yields more than ${limits.maxEntryUncompressedBytes} bytes`, ext);
    }
    if (exceedsRatio(bytes, entry.compressedSize, limits)) {
      return unprocessable('ZIP_COMPRESSION_RATIO', `The entry expands beyond the ratio limit of ${limits.maxCompressionRatio}`, ext);
    }
    if (this.streamed.bytes + added > limits.maxTotalUncompressedBytes) {
      return tooLarge('PACKAGE_TOO_LARGE', `The package yields more than ${limits.maxTotalUncompressedBytes} bytes`, ext);
    }
    return null;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const bytes = this.#bytes + chunk.length;
    const crossed = this.#crossed(bytes, chunk.length);
    if (crossed !== null) {
      callback(crossed);
      return;
    }
    this.#bytes = bytes;
    this.streamed.bytes += chunk.length;
    this.#crc = crc32(chunk, this.#crc);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const ext = { entry: this.entryName };
    if (this.#bytes !== this.entry.uncompressedSize) {
      const detail = `The entry yields ${this.#bytes} bytes; its header declares ${this.entry.uncompressedSize}`;
      callback(unprocessable('ZIP_ENTRY_SIZE_MISMATCH', detail, ext));
      return;
    }
    if (this.#crc >>> 0 !== this.entry.crc32 >>> 0) {
      callback(unprocessable('ZIP_CRC_MISMATCH', 'The entry does not match its CRC-32', ext));
      return;
    }
    callback();
  }
}

/**
 * Cross-checks the paths the manifest lists against the zip's acceptable entry names.
 * Pass `handle.entries.map((e) => e.name)`: a manifest path whose entry was refused then also
 * reports `MISSING_FROM_ZIP` (its entry's own problem says why). `manifest.json` itself is
 * never reported. Comparison is exact (duplicates differing in case were refused already).
 */
export function checkManifestAgainstZip(manifestPaths: readonly string[], entryNames: readonly string[]): PackageProblem[] {
  const inZip = new Set(entryNames);
  const inManifest = new Set(manifestPaths);
  const problems: PackageProblem[] = [];
  for (const path of inManifest) {
    if (path === MANIFEST_NAME) continue;
    if (!inZip.has(path)) {
      problems.push({ entry: path, errorCode: 'MISSING_FROM_ZIP', detail: 'The manifest lists a path the package does not hold (or whose entry was refused)' });
    }
  }
  for (const name of inZip) {
    if (name === MANIFEST_NAME) continue;
    if (!inManifest.has(name)) {
      problems.push({ entry: name, errorCode: 'NOT_IN_MANIFEST', detail: 'The package holds an entry the manifest does not list' });
    }
  }
  return problems;
}
