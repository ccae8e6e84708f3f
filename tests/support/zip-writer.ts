/**
 * A tiny zip writer for tests, able to produce what no honest tool would: any entry name
 * (`../evil`, `/abs`, `C:\x`), symlink or device attributes, duplicate names, encryption
 * flags, precomputed compressed data (deflate bombs), and headers that lie about sizes or
 * CRCs. No zip64, no data descriptors: local and central headers carry the same values.
 */
import { writeFile } from 'node:fs/promises';
import { createDeflateRaw, crc32, deflateRawSync } from 'node:zlib';

export interface ZipWriterEntry {
  /** Written as given (UTF-8, flag 0x800 set when not ASCII); a Buffer is written raw. */
  name: string | Buffer;
  /** The uncompressed content; ignored when `raw` is given. */
  data?: Buffer;
  /** Default `deflate` (method 8); `store` is method 0. */
  method?: 'store' | 'deflate';
  /** Bytes written as the entry's (compressed) data verbatim, e.g. a precomputed bomb. */
  raw?: Buffer;
  /** Overrides: what the headers declare, true or not. */
  uncompressedSize?: number;
  compressedSize?: number;
  crc32?: number;
  compressionMethod?: number;
  /** General purpose flags OR-ed in (bit 0: encrypted). */
  flags?: number;
  /** Central directory external attributes; see `unixAttributes`. */
  externalAttributes?: number;
  /** Default 0x031e: made by Unix, spec 3.0. */
  versionMadeBy?: number;
  /**
   * Index of an earlier entry whose local record (header and data) this central record
   * points at, writing none of its own: the overlapping "non-recursive" zip bomb.
   */
  shareDataWith?: number;
}

export const UNIX_FILE = 0o100644;
export const UNIX_DIRECTORY = 0o040755;
export const UNIX_SYMLINK = 0o120777;
export const UNIX_FIFO = 0o010644;

/** External attributes carrying a Unix mode (upper 16 bits), as Info-ZIP writes them. */
export function unixAttributes(mode: number): number {
  return (mode << 16) >>> 0;
}

interface Prepared {
  name: Buffer;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  uncompressedSize: number;
  payload: Buffer;
  externalAttributes: number;
  versionMadeBy: number;
}

function prepare(entry: ZipWriterEntry): Prepared {
  const name = typeof entry.name === 'string' ? Buffer.from(entry.name, 'utf8') : entry.name;
  const utf8 = typeof entry.name === 'string' && /[^\x20-\x7e]/.test(entry.name) ? 0x800 : 0;
  const data = entry.data ?? Buffer.alloc(0);
  const method = entry.compressionMethod ?? (entry.method === 'store' ? 0 : 8);
  const payload = entry.raw ?? (method === 8 ? deflateRawSync(data) : data);
  return {
    name,
    flags: (entry.flags ?? 0) | utf8,
    method,
    crc: entry.crc32 ?? crc32(data),
    compressedSize: entry.compressedSize ?? payload.length,
    uncompressedSize: entry.uncompressedSize ?? data.length,
    payload,
    externalAttributes: entry.externalAttributes ?? unixAttributes(name.at(-1) === 0x2f ? UNIX_DIRECTORY : UNIX_FILE),
    versionMadeBy: entry.versionMadeBy ?? 0x031e,
  };
}

/** DOS date/time for 2024-01-01 00:00. */
const DOS_TIME = 0;
const DOS_DATE = ((2024 - 1980) << 9) | (1 << 5) | 1;

export function buildZip(entries: readonly ZipWriterEntry[], options: { comment?: string } = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  const offsets: number[] = [];
  let offset = 0;
  for (const entry of entries) {
    const p = prepare(entry);
    const shared = entry.shareDataWith === undefined ? undefined : offsets[entry.shareDataWith];
    if (entry.shareDataWith !== undefined && shared === undefined) throw new Error('shareDataWith must name an earlier entry');
    offsets.push(shared ?? offset);
    if (shared !== undefined) {
      central.push(centralRecord(p, shared), p.name);
      continue;
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(p.flags, 6);
    local.writeUInt16LE(p.method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(p.crc >>> 0, 14);
    local.writeUInt32LE(p.compressedSize, 18);
    local.writeUInt32LE(p.uncompressedSize, 22);
    local.writeUInt16LE(p.name.length, 26);
    local.writeUInt16LE(0, 28);
    parts.push(local, p.name, p.payload);
    central.push(centralRecord(p, offset), p.name);
    offset += local.length + p.name.length + p.payload.length;
  }
  const centralDirectory = Buffer.concat(central);
  const comment = Buffer.from(options.comment ?? '', 'utf8');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralDirectory.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(comment.length, 20);
  return Buffer.concat([...parts, centralDirectory, end, comment]);
}

function centralRecord(p: Prepared, offset: number): Buffer {
  const record = Buffer.alloc(46);
  record.writeUInt32LE(0x02014b50, 0);
  record.writeUInt16LE(p.versionMadeBy, 4);
  record.writeUInt16LE(20, 6);
  record.writeUInt16LE(p.flags, 8);
  record.writeUInt16LE(p.method, 10);
  record.writeUInt16LE(DOS_TIME, 12);
  record.writeUInt16LE(DOS_DATE, 14);
  record.writeUInt32LE(p.crc >>> 0, 16);
  record.writeUInt32LE(p.compressedSize, 20);
  record.writeUInt32LE(p.uncompressedSize, 24);
  record.writeUInt16LE(p.name.length, 28);
  record.writeUInt16LE(0, 30); // extra field length
  record.writeUInt16LE(0, 32); // comment length
  record.writeUInt16LE(0, 34); // disk number
  record.writeUInt16LE(0, 36); // internal attributes
  record.writeUInt32LE(p.externalAttributes >>> 0, 38);
  record.writeUInt32LE(offset, 42);
  return record;
}

export async function writeZip(path: string, entries: readonly ZipWriterEntry[]): Promise<void> {
  await writeFile(path, buildZip(entries));
}

/** Raw deflate of `bytes` zero bytes, produced in 1 MiB steps (never allocating them all). */
export async function deflateZeros(bytes: number): Promise<Buffer> {
  const deflate = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => out.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    deflate.once('end', resolve);
    deflate.once('error', reject);
  });
  const step = Buffer.alloc(1024 * 1024);
  for (let left = bytes; left > 0; left -= step.length) {
    const chunk = left >= step.length ? step : step.subarray(0, left);
    if (!deflate.write(chunk)) await new Promise((resolve) => deflate.once('drain', resolve));
  }
  deflate.end();
  await done;
  return Buffer.concat(out);
}

/** CRC-32 of `bytes` zero bytes, in 1 MiB steps. */
export function crc32OfZeros(bytes: number): number {
  const step = Buffer.alloc(1024 * 1024);
  let crc = 0;
  for (let left = bytes; left > 0; left -= step.length) crc = crc32(left >= step.length ? step : step.subarray(0, left), crc);
  return crc;
}
