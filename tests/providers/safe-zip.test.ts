import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/platform/errors.js';
import {
  checkManifestAgainstZip,
  openPackage,
  type PackageHandle,
  type PackageLimits,
  type PackageProblem,
} from '../../src/providers/safe-zip.js';
import {
  UNIX_FIFO,
  UNIX_SYMLINK,
  buildZip,
  crc32OfZeros,
  deflateZeros,
  unixAttributes,
  type ZipWriterEntry,
} from '../support/zip-writer.js';

const MiB = 1024 * 1024;
const LIMITS: PackageLimits = {
  maxEntries: 100,
  maxTotalUncompressedBytes: 600 * MiB,
  maxEntryUncompressedBytes: 512 * MiB,
  maxCompressionRatio: 100,
};

let dir: string;
let counter = 0;
/** ~200 KiB of raw deflate that inflates to 200 MiB of zeros. */
let bomb: Buffer;
const BOMB_SIZE = 200 * MiB;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dx-safe-zip-'));
  bomb = await deflateZeros(BOMB_SIZE);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function zipFile(entries: readonly ZipWriterEntry[]): Promise<string> {
  const file = path.join(dir, `package-${++counter}.zip`);
  await writeFile(file, buildZip(entries));
  return file;
}

async function open(entries: readonly ZipWriterEntry[], limits: PackageLimits = LIMITS): Promise<PackageHandle> {
  return openPackage(await zipFile(entries), limits);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Consumes a stream expected to fail; reports the bytes that came out before the error. */
async function drainToError(stream: Readable): Promise<{ bytes: number; error: unknown }> {
  let bytes = 0;
  try {
    for await (const chunk of stream) bytes += (chunk as Buffer).length;
  } catch (error) {
    return { bytes, error };
  }
  return { bytes, error: null };
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a rejection');
}

function codes(problems: readonly PackageProblem[]): Record<string, string> {
  return Object.fromEntries(problems.map((p) => [p.entry, p.errorCode]));
}

const sha256 = (buf: Buffer): string => createHash('sha256').update(buf).digest('hex');

describe('a valid package', () => {
  const manifest = {
    applications: [{ officeCode: 'CN', applicationNumber: '202310001234.7' }],
    documents: [
      { path: 'docs/search-report.pdf', documentCode: 'searchReport' },
      { path: 'docs/claims.xml', documentCode: 'claims' },
    ],
    citations: [],
  };
  const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(300_000)]);
  const xml = Buffer.from('<?xml version="1.0"?><claims><claim>A widget.</claim></claims>'.repeat(1000));

  it('lists its entries, streams their exact bytes, and reads the manifest', async () => {
    const pkg = await open([
      { name: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) },
      { name: 'docs/', data: Buffer.alloc(0), method: 'store' },
      { name: 'docs/search-report.pdf', data: pdf, method: 'store' },
      { name: 'docs/claims.xml', data: xml },
    ]);
    try {
      expect(pkg.problems).toEqual([]);
      expect(pkg.entries.map((e) => e.name)).toEqual(['manifest.json', 'docs/search-report.pdf', 'docs/claims.xml']);
      const claims = pkg.entries.find((e) => e.name === 'docs/claims.xml');
      expect(claims?.uncompressedSize).toBe(xml.length);
      expect(claims?.compressedSize).toBeLessThan(xml.length);

      expect(await pkg.readManifest()).toEqual(manifest);
      expect(sha256(await readAll(await pkg.openEntry('docs/search-report.pdf')))).toBe(sha256(pdf));
      expect(sha256(await readAll(await pkg.openEntry('docs/claims.xml')))).toBe(sha256(xml));

      const paths = manifest.documents.map((d) => d.path);
      expect(checkManifestAgainstZip(paths, pkg.entries.map((e) => e.name))).toEqual([]);
    } finally {
      pkg.close();
      pkg.close(); // idempotent
    }
  });

  it('accepts non-ASCII names (UTF-8 flag) and reads entries concurrently', async () => {
    const pkg = await open([
      { name: 'manifest.json', data: Buffer.from('{}') },
      { name: '检索报告.pdf', data: pdf },
      { name: 'Prüfbescheid.pdf', data: xml },
    ]);
    try {
      expect(pkg.problems).toEqual([]);
      const [a, b] = await Promise.all([pkg.openEntry('检索报告.pdf'), pkg.openEntry('Prüfbescheid.pdf')]);
      const [bytesA, bytesB] = await Promise.all([readAll(a), readAll(b)]);
      expect(bytesA.equals(pdf)).toBe(true);
      expect(bytesB.equals(xml)).toBe(true);
    } finally {
      pkg.close();
    }
  });
});

describe('hostile entries are refused one by one', () => {
  it('refuses absolute paths and traversal, with slashes or backslashes', async () => {
    const hostile = [
      ['../evil', 'ZIP_PATH_TRAVERSAL'],
      ['docs/../../evil', 'ZIP_PATH_TRAVERSAL'],
      ['..\\evil', 'ZIP_PATH_TRAVERSAL'],
      ['docs\\..\\..\\evil', 'ZIP_PATH_TRAVERSAL'],
      ['docs/..', 'ZIP_PATH_TRAVERSAL'],
      ['/abs', 'ZIP_ABSOLUTE_PATH'],
      ['/etc/passwd', 'ZIP_ABSOLUTE_PATH'],
      ['C:\\x', 'ZIP_ABSOLUTE_PATH'],
      ['c:/windows/x', 'ZIP_ABSOLUTE_PATH'],
      ['\\\\server\\share\\x', 'ZIP_ABSOLUTE_PATH'],
      ['//server/share/x', 'ZIP_ABSOLUTE_PATH'],
      ['docs\\a.pdf', 'ZIP_INVALID_NAME'],
      ['docs//a.pdf', 'ZIP_INVALID_NAME'],
      ['./a.pdf', 'ZIP_INVALID_NAME'],
      ['a\u0000.pdf', 'ZIP_INVALID_NAME'],
      ['a\n.pdf', 'ZIP_INVALID_NAME'],
    ] as const;
    const pkg = await open([
      { name: 'manifest.json', data: Buffer.from('{}') },
      { name: 'docs/ok.pdf', data: Buffer.from('%PDF-1.4 ok') },
      ...hostile.map(([name]) => ({ name, data: Buffer.from('payload') })),
    ]);
    try {
      expect(codes(pkg.problems)).toEqual(Object.fromEntries(hostile));
      expect(pkg.entries.map((e) => e.name)).toEqual(['manifest.json', 'docs/ok.pdf']);
      // Nothing of a refused entry can be read: the refusal carries its code.
      const error = await rejection(pkg.openEntry('../evil'));
      expect(error.errorCode).toBe('ZIP_PATH_TRAVERSAL');
      expect(error.status).toBe(422);
      expect((await readAll(await pkg.openEntry('docs/ok.pdf'))).toString()).toBe('%PDF-1.4 ok');
    } finally {
      pkg.close();
    }
  });

  it('refuses symlinks and other special files, ignores directories', async () => {
    const pkg = await open([
      { name: 'link.pdf', data: Buffer.from('/etc/passwd'), method: 'store', externalAttributes: unixAttributes(UNIX_SYMLINK) },
      { name: 'fifo', data: Buffer.alloc(0), method: 'store', externalAttributes: unixAttributes(UNIX_FIFO) },
      { name: 'docs/', data: Buffer.alloc(0), method: 'store' },
      { name: 'docs/sub/', data: Buffer.alloc(0), method: 'store' },
      { name: 'plain.pdf', data: Buffer.from('%PDF-'), externalAttributes: 0x20 /* DOS archive bit, no Unix mode */, versionMadeBy: 0x0014 },
    ]);
    try {
      expect(codes(pkg.problems)).toEqual({ 'link.pdf': 'ZIP_SYMLINK', fifo: 'ZIP_SPECIAL_FILE' });
      expect(pkg.entries.map((e) => e.name)).toEqual(['plain.pdf']);
      expect((await rejection(pkg.openEntry('link.pdf'))).errorCode).toBe('ZIP_SYMLINK');
    } finally {
      pkg.close();
    }
  });

  it('refuses every entry of a duplicated name, case-insensitively and after Unicode normalisation', async () => {
    const pkg = await open([
      { name: 'a.pdf', data: Buffer.from('first') },
      { name: 'a.pdf', data: Buffer.from('second') },
      { name: 'Docs/B.PDF', data: Buffer.from('upper') },
      { name: 'docs/b.pdf', data: Buffer.from('lower') },
      { name: 'caf\u00e9.pdf', data: Buffer.from('composed') },
      { name: 'cafe\u0301.pdf', data: Buffer.from('decomposed') },
      { name: 'c.pdf', data: Buffer.from('unique') },
    ]);
    try {
      expect(pkg.problems.map((p) => [p.entry, p.errorCode])).toEqual([
        ['a.pdf', 'ZIP_DUPLICATE_NAME'],
        ['a.pdf', 'ZIP_DUPLICATE_NAME'],
        ['Docs/B.PDF', 'ZIP_DUPLICATE_NAME'],
        ['docs/b.pdf', 'ZIP_DUPLICATE_NAME'],
        ['caf\u00e9.pdf', 'ZIP_DUPLICATE_NAME'],
        ['cafe\u0301.pdf', 'ZIP_DUPLICATE_NAME'],
      ]);
      expect(pkg.entries.map((e) => e.name)).toEqual(['c.pdf']);
      expect((await rejection(pkg.openEntry('a.pdf'))).errorCode).toBe('ZIP_DUPLICATE_NAME');
    } finally {
      pkg.close();
    }
  });

  it('refuses encrypted entries and unsupported compression methods', async () => {
    const pkg = await open([
      { name: 'secret.pdf', data: Buffer.from('x'.repeat(100)), raw: randomBytes(112), compressedSize: 112, flags: 0x1, method: 'store' },
      { name: 'bzip2.pdf', data: Buffer.from('x'), raw: randomBytes(40), compressionMethod: 12 },
    ]);
    try {
      expect(codes(pkg.problems)).toEqual({ 'secret.pdf': 'ZIP_ENCRYPTED', 'bzip2.pdf': 'ZIP_UNSUPPORTED_COMPRESSION' });
    } finally {
      pkg.close();
    }
  });

  it('refuses an entry above the per-entry cap, with 413', async () => {
    const pkg = await open(
      [
        { name: 'big.pdf', data: randomBytes(2000) },
        { name: 'small.pdf', data: randomBytes(1000) },
      ],
      { ...LIMITS, maxEntryUncompressedBytes: 1500 },
    );
    try {
      expect(codes(pkg.problems)).toEqual({ 'big.pdf': 'ZIP_ENTRY_TOO_LARGE' });
      expect((await rejection(pkg.openEntry('big.pdf'))).status).toBe(413);
      expect((await readAll(await pkg.openEntry('small.pdf'))).length).toBe(1000);
    } finally {
      pkg.close();
    }
  });

  it('refuses an honest deflate bomb by its ratio without inflating it', async () => {
    expect(bomb.length).toBeLessThan(300 * 1024);
    const pkg = await open([
      { name: 'manifest.json', data: Buffer.from('{}') },
      { name: 'bomb.xml', raw: bomb, uncompressedSize: BOMB_SIZE, crc32: crc32OfZeros(BOMB_SIZE) },
    ]);
    try {
      expect(codes(pkg.problems)).toEqual({ 'bomb.xml': 'ZIP_COMPRESSION_RATIO' });
      expect(pkg.entries.map((e) => e.name)).toEqual(['manifest.json']);
      expect((await rejection(pkg.openEntry('bomb.xml'))).errorCode).toBe('ZIP_COMPRESSION_RATIO');
    } finally {
      pkg.close();
    }
  });

  it('does not hold small, highly compressible entries to the ratio', async () => {
    const spaces = Buffer.alloc(64 * 1024, 0x20);
    const pkg = await open([{ name: 'blank.xml', data: spaces }]);
    try {
      expect(pkg.problems).toEqual([]);
      expect((await readAll(await pkg.openEntry('blank.xml'))).equals(spaces)).toBe(true);
    } finally {
      pkg.close();
    }
  });
});

describe('abandoned entries', () => {
  it('can be destroyed mid-read, many at once, without crashing the process (yauzl read queue)', async () => {
    const entries = Array.from({ length: 12 }, (_, i) => ({ name: `e${i}.pdf`, data: randomBytes(200_000) }));
    const pkg = await open(entries);
    try {
      for (let round = 0; round < 10; round++) {
        const streams = await Promise.all(entries.map((entry) => pkg.openEntry(entry.name)));
        for (const stream of streams) {
          stream.on('error', () => undefined);
          stream.resume();
        }
        await new Promise((resolve) => setImmediate(resolve));
        for (const stream of streams) stream.destroy();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // The handle still reads whole entries afterwards.
      expect((await readAll(await pkg.openEntry('e3.pdf'))).equals(entries[3]?.data ?? Buffer.alloc(0))).toBe(true);
    } finally {
      pkg.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  });
});

describe('streaming caps: what the headers say is not believed', () => {
  it('cuts off a bomb whose header lies about its size, never yielding more than declared', async () => {
    const declared = MiB;
    const pkg = await open([{ name: 'liar.xml', raw: bomb, uncompressedSize: declared, crc32: 0 }]);
    try {
      // 1 MiB from ~200 KiB is within the ratio: nothing gives it away up front.
      expect(pkg.problems).toEqual([]);
      const started = Date.now();
      const { bytes, error } = await drainToError(await pkg.openEntry('liar.xml'));
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).errorCode).toBe('ZIP_ENTRY_SIZE_MISMATCH');
      expect(bytes).toBeLessThanOrEqual(declared);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      pkg.close();
    }
  });

  it('fails an entry that yields fewer bytes than declared', async () => {
    const data = randomBytes(1000);
    const pkg = await open([{ name: 'short.pdf', data, uncompressedSize: 1200 }]);
    try {
      const { bytes, error } = await drainToError(await pkg.openEntry('short.pdf'));
      expect((error as AppError).errorCode).toBe('ZIP_ENTRY_SIZE_MISMATCH');
      expect(bytes).toBe(1000);
    } finally {
      pkg.close();
    }
  });

  it('fails an entry whose bytes do not match its CRC-32, at its end', async () => {
    const pkg = await open([{ name: 'tampered.pdf', data: randomBytes(5000), crc32: 0xdeadbeef }]);
    try {
      const { error } = await drainToError(await pkg.openEntry('tampered.pdf'));
      expect((error as AppError).errorCode).toBe('ZIP_CRC_MISMATCH');
    } finally {
      pkg.close();
    }
  });

  it('fails an entry whose compressed data is not deflate', async () => {
    const pkg = await open([{ name: 'garbage.pdf', raw: Buffer.alloc(64, 0xff), uncompressedSize: 100, crc32: 0 }]);
    try {
      const { error } = await drainToError(await pkg.openEntry('garbage.pdf'));
      expect((error as AppError).errorCode).toBe('ZIP_ENTRY_CORRUPT');
    } finally {
      pkg.close();
    }
  });

  it('counts the bytes streamed by the handle against the package total', async () => {
    const data = randomBytes(100_000);
    const pkg = await open([{ name: 'a.pdf', data }], { ...LIMITS, maxTotalUncompressedBytes: 150_000 });
    try {
      expect((await readAll(await pkg.openEntry('a.pdf'))).equals(data)).toBe(true);
      const { bytes, error } = await drainToError(await pkg.openEntry('a.pdf'));
      expect((error as AppError).errorCode).toBe('PACKAGE_TOO_LARGE');
      expect((error as AppError).status).toBe(413);
      expect(bytes).toBeLessThanOrEqual(50_000);
    } finally {
      pkg.close();
    }
  });
});

describe('structural problems refuse the whole package', () => {
  it('refuses something that is not a zip', async () => {
    const file = path.join(dir, 'not-a-zip.zip');
    await writeFile(file, '%PDF-1.4 certainly not a zip');
    const error = await rejection(openPackage(file, LIMITS));
    expect(error.errorCode).toBe('PACKAGE_NOT_A_ZIP');
    expect(error.status).toBe(422);
    const empty = path.join(dir, 'empty.zip');
    await writeFile(empty, '');
    expect((await rejection(openPackage(empty, LIMITS))).errorCode).toBe('PACKAGE_NOT_A_ZIP');
  });

  it('refuses an unreadable central directory', async () => {
    const zip = buildZip([{ name: 'a.pdf', data: Buffer.from('hello') }]);
    const centralAt = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip[centralAt + 1] = 0x00; // break the central directory record signature
    const file = path.join(dir, 'corrupt.zip');
    await writeFile(file, zip);
    expect((await rejection(openPackage(file, LIMITS))).errorCode).toBe('PACKAGE_CORRUPT');
  });

  it('refuses a stored entry whose two sizes disagree', async () => {
    const error = await rejection(open([{ name: 'a.pdf', data: Buffer.from('hello'), method: 'store', uncompressedSize: 50 }]));
    expect(error.errorCode).toBe('PACKAGE_CORRUPT');
  });

  it('refuses too many entries before reading them', async () => {
    const entries = Array.from({ length: 6 }, (_, i) => ({ name: `d${i}.pdf`, data: Buffer.from('x') }));
    const error = await rejection(open(entries, { ...LIMITS, maxEntries: 5 }));
    expect(error.errorCode).toBe('PACKAGE_TOO_MANY_ENTRIES');
    expect(error.status).toBe(413);
  });

  it('refuses a total of declared sizes above the cap', async () => {
    const entries = [
      { name: 'a.pdf', data: randomBytes(600) },
      { name: 'b.pdf', data: randomBytes(600) },
    ];
    const error = await rejection(open(entries, { ...LIMITS, maxTotalUncompressedBytes: 1000 }));
    expect(error.errorCode).toBe('PACKAGE_TOO_LARGE');
    expect(error.status).toBe(413);
  });

  it('refuses entries that share their data (overlapping zip bomb)', async () => {
    const data = randomBytes(10_000);
    const entries: ZipWriterEntry[] = [{ name: 'a.pdf', data }];
    for (let i = 0; i < 20; i++) entries.push({ name: `copy-${i}.pdf`, data, shareDataWith: 0 });
    expect((await rejection(open(entries))).errorCode).toBe('PACKAGE_OVERLAPPING_ENTRIES');
  });
});

describe('the manifest', () => {
  it('must be present', async () => {
    const pkg = await open([{ name: 'a.pdf', data: Buffer.from('x') }]);
    try {
      expect((await rejection(pkg.readManifest())).errorCode).toBe('MANIFEST_MISSING');
    } finally {
      pkg.close();
    }
  });

  it('must be JSON, and says where it is not', async () => {
    const pkg = await open([{ name: 'manifest.json', data: Buffer.from('{"documents": [') }]);
    try {
      const error = await rejection(pkg.readManifest());
      expect(error.errorCode).toBe('MANIFEST_INVALID_JSON');
      expect(error.status).toBe(422);
      expect(error.detail).toMatch(/not valid JSON/);
    } finally {
      pkg.close();
    }
  });

  it('is size-capped', async () => {
    const pkg = await open([{ name: 'manifest.json', data: Buffer.from(JSON.stringify({ pad: 'x'.repeat(5000) })) }], {
      ...LIMITS,
      maxManifestBytes: 1000,
    });
    try {
      const error = await rejection(pkg.readManifest());
      expect(error.errorCode).toBe('MANIFEST_TOO_LARGE');
      expect(error.status).toBe(413);
    } finally {
      pkg.close();
    }
  });

  it('is refused when duplicated', async () => {
    const pkg = await open([
      { name: 'manifest.json', data: Buffer.from('{}') },
      { name: 'MANIFEST.JSON', data: Buffer.from('{"evil": true}') },
    ]);
    try {
      expect((await rejection(pkg.readManifest())).errorCode).toBe('ZIP_DUPLICATE_NAME');
    } finally {
      pkg.close();
    }
  });
});

describe('checkManifestAgainstZip', () => {
  it('reports manifest paths missing from the zip and entries missing from the manifest', () => {
    const problems = checkManifestAgainstZip(['docs/a.pdf', 'docs/b.pdf', 'docs/a.pdf'], ['manifest.json', 'docs/a.pdf', 'docs/extra.pdf']);
    expect(problems.map((p) => [p.entry, p.errorCode])).toEqual([
      ['docs/b.pdf', 'MISSING_FROM_ZIP'],
      ['docs/extra.pdf', 'NOT_IN_MANIFEST'],
    ]);
  });

  it('never reports manifest.json itself, and compares exactly', () => {
    expect(checkManifestAgainstZip([], ['manifest.json'])).toEqual([]);
    expect(checkManifestAgainstZip(['Docs/A.pdf'], ['docs/a.pdf']).map((p) => p.errorCode)).toEqual(['MISSING_FROM_ZIP', 'NOT_IN_MANIFEST']);
  });
});
