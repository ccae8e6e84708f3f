import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat as fsStat, utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BlobNotFoundError,
  BlobSizeMismatchError,
  BlobTooLargeError,
  InvalidBlobKeyError,
  InvalidBlobRangeError,
  createBlobStore,
  createFilesystemStore,
  createS3Store,
  type BlobStat,
  type BlobStore,
  type FilesystemBlobStore,
} from '../../src/platform/storage/index.js';
import { startS3rver, type RunningS3rver } from '../support/s3rver.js';

const MiB = 1024 * 1024;
/** The S3 driver runs with the smallest legal part size so multipart kicks in at 5 MiB. */
const PART_SIZE = 5 * MiB;
const CHUNK = 64 * 1024;

// Lets the memory tests measure live (not yet collected) buffers deterministically.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;
/** Twice: the second collection also finishes sweeping the array buffers the first one freed. */
const gc = (): void => {
  collectGarbage();
  collectGarbage();
};

const sha256 = (buf: Buffer): string => createHash('sha256').update(buf).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A byte-mode stream over `buf`, split in a few chunks like a network body. */
function bodyOf(buf: Buffer, chunkSize = 1000): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunkSize) chunks.push(buf.subarray(i, i + chunkSize));
  return Readable.from(chunks, { objectMode: false });
}

/** Deterministic, position-dependent bytes (so misordered parts would change the hash). */
function patternChunk(index: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  const words = new Uint32Array(buf.buffer, buf.byteOffset, Math.floor(size / 4));
  for (let i = 0; i < words.length; i++) words[i] = Math.imul(index * 65_537 + i, 2_654_435_761) >>> 0;
  for (let i = words.length * 4; i < size; i++) buf[i] = (index + i) & 0xff;
  return buf;
}

interface Generated {
  body: Readable;
  /** SHA-256 of everything the body yielded; read after the put. */
  sha256(): string;
}

/**
 * Streams `total` bytes generated chunk by chunk (never one big buffer). With `failAfter`
 * the source errors once that many bytes have been yielded, like a truncated upload.
 */
function generated(total: number, opts: { failAfter?: number; onChunk?: (sent: number) => void } = {}): Generated {
  const hash = createHash('sha256');
  async function* produce(): AsyncGenerator<Buffer> {
    let sent = 0;
    for (let index = 0; sent < total; index++) {
      if (opts.failAfter !== undefined && sent >= opts.failAfter) throw new Error('upload truncated: connection reset');
      const chunk = patternChunk(index, Math.min(CHUNK, total - sent));
      hash.update(chunk);
      sent += chunk.length;
      opts.onChunk?.(sent);
      yield chunk;
    }
    if (opts.failAfter !== undefined) throw new Error('upload truncated: connection reset');
  }
  return { body: Readable.from(produce(), { objectMode: false }), sha256: () => hash.digest('hex') };
}

/** Bytes `start`..`end` (inclusive, clamped to the end) of what `generated(total)` yields. */
function generatedSlice(total: number, start: number, end: number): Buffer {
  const last = Math.min(end, total - 1);
  const first = Math.floor(start / CHUNK);
  const chunks: Buffer[] = [];
  for (let index = first; index * CHUNK <= last; index++) chunks.push(patternChunk(index, Math.min(CHUNK, total - index * CHUNK)));
  const from = start - first * CHUNK;
  return Buffer.concat(chunks).subarray(from, from + last - start + 1);
}

async function collect(iterable: AsyncIterable<BlobStat>): Promise<BlobStat[]> {
  const out: BlobStat[] = [];
  for await (const item of iterable) out.push(item);
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

const keysOf = async (store: BlobStore, prefix?: string): Promise<string[]> =>
  (await collect(store.list(prefix))).map((s) => s.key);

interface Harness {
  store: BlobStore;
  close(): Promise<void>;
}

const drivers: { name: string; open(): Promise<Harness> }[] = [
  {
    name: 'filesystem',
    async open() {
      const root = await mkdtemp(path.join(tmpdir(), 'blobs-'));
      const store = await createBlobStore({ driver: 'filesystem', root: path.join(root, 'store') });
      return {
        store,
        async close() {
          await store.close();
          await rm(root, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 's3',
    async open() {
      const s3 = await startS3rver();
      try {
        const store = await createBlobStore({ driver: 's3', ...s3, useSSL: false, partSize: PART_SIZE });
        return {
          store,
          async close() {
            await store.close();
            await s3.close();
          },
        };
      } catch (err) {
        await s3.close();
        throw err;
      }
    },
  },
];

describe.each(drivers)('BlobStore contract: $name', ({ open }) => {
  let harness: Harness | undefined;
  let store: BlobStore;

  beforeAll(async () => {
    harness = await open();
    store = harness.store;
  });
  afterAll(async () => {
    await harness?.close();
  });

  const bytes1000 = patternChunk(7, 1000);

  it('put then get returns identical bytes with the right sha256 and size', async () => {
    const stored = await store.put('rt/doc.pdf', bodyOf(bytes1000), { contentType: 'application/pdf' });
    expect(stored).toEqual({ key: 'rt/doc.pdf', size: 1000, sha256: sha256(bytes1000) });
    const back = await readAll(await store.get('rt/doc.pdf'));
    expect(back.equals(bytes1000)).toBe(true);
  });

  it('stores an empty object', async () => {
    const stored = await store.put('rt/empty', bodyOf(Buffer.alloc(0)));
    expect(stored).toEqual({ key: 'rt/empty', size: 0, sha256: sha256(Buffer.alloc(0)) });
    expect((await readAll(await store.get('rt/empty'))).length).toBe(0);
    expect((await store.stat('rt/empty'))?.size).toBe(0);
  });

  it('stat reports size and a recent lastModified', async () => {
    const before = Date.now();
    await store.put('stat/one', bodyOf(bytes1000));
    const st = await store.stat('stat/one');
    expect(st?.key).toBe('stat/one');
    expect(st?.size).toBe(1000);
    expect(st?.lastModified).toBeInstanceOf(Date);
    // S3 timestamps have 1 s resolution.
    expect(st!.lastModified.getTime()).toBeGreaterThanOrEqual(before - 2000);
    expect(st!.lastModified.getTime()).toBeLessThanOrEqual(Date.now() + 2000);
  });

  describe('range reads', () => {
    beforeAll(async () => {
      await store.put('range/blob', bodyOf(bytes1000));
    });
    it.each([
      ['first byte', 0, 0],
      ['middle', 100, 199],
      ['last byte', 999, 999],
      ['whole', 0, 999],
    ])('%s (%i-%i)', async (_label, start, end) => {
      const got = await readAll(await store.get('range/blob', { start, end }));
      expect(got.equals(bytes1000.subarray(start, end + 1))).toBe(true);
    });
    it('clamps an end past the last byte, as HTTP does', async () => {
      const got = await readAll(await store.get('range/blob', { start: 990, end: 5000 }));
      expect(got.equals(bytes1000.subarray(990))).toBe(true);
    });
    it('rejects unsatisfiable or malformed ranges', async () => {
      await expect(store.get('range/blob', { start: 1000, end: 1200 })).rejects.toBeInstanceOf(InvalidBlobRangeError);
      await expect(store.get('range/blob', { start: 5, end: 2 })).rejects.toBeInstanceOf(InvalidBlobRangeError);
      await expect(store.get('range/blob', { start: -1, end: 2 })).rejects.toBeInstanceOf(InvalidBlobRangeError);
    });
  });

  it('get/stat of a missing key', async () => {
    await expect(store.get('missing/nope')).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.get('missing/nope', { start: 0, end: 9 })).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.get('missing/nope')).rejects.toMatchObject({ code: 'BLOB_NOT_FOUND', key: 'missing/nope' });
    expect(await store.stat('missing/nope')).toBeNull();
  });

  it('delete removes the object; deleting a missing key is fine', async () => {
    await store.put('del/a/b', bodyOf(bytes1000));
    await store.delete('del/a/b');
    expect(await store.stat('del/a/b')).toBeNull();
    await expect(store.get('del/a/b')).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(await keysOf(store, 'del/')).toEqual([]);
    await expect(store.delete('del/a/b')).resolves.toBeUndefined();
    await expect(store.delete('del/never/existed')).resolves.toBeUndefined();
  });

  it('lists by prefix with sizes', async () => {
    const keys = ['list/a/1', 'list/a/2', 'list/b/1', 'list/ab', 'listx'];
    for (const [i, key] of keys.entries()) await store.put(key, bodyOf(Buffer.alloc(i + 1, 1)));
    expect(await keysOf(store, 'list/a/')).toEqual(['list/a/1', 'list/a/2']);
    expect(await keysOf(store, 'list/a')).toEqual(['list/a/1', 'list/a/2', 'list/ab']);
    expect(await keysOf(store, 'list/')).toEqual(['list/a/1', 'list/a/2', 'list/ab', 'list/b/1']);
    expect(await keysOf(store, 'list')).toEqual(['list/a/1', 'list/a/2', 'list/ab', 'list/b/1', 'listx']);
    expect(await keysOf(store, 'list/zz')).toEqual([]);
    const stats = await collect(store.list('list/b/'));
    expect(stats).toHaveLength(1);
    expect(stats[0]).toMatchObject({ key: 'list/b/1', size: 3 });
    expect(stats[0]?.lastModified).toBeInstanceOf(Date);
    const all = await keysOf(store);
    expect(all).toEqual(expect.arrayContaining(keys));
  });

  it('overwrite replaces the content', async () => {
    await store.put('ow/k', bodyOf(Buffer.from('first version')));
    const second = Buffer.from('the second, longer version');
    const stored = await store.put('ow/k', bodyOf(second));
    expect(stored.sha256).toBe(sha256(second));
    expect((await readAll(await store.get('ow/k'))).toString()).toBe(second.toString());
    expect((await store.stat('ow/k'))?.size).toBe(second.length);
  });

  it('rejects invalid keys everywhere and stores nothing', async () => {
    const before = await keysOf(store);
    const invalid = ['../x', '/abs', 'a//b', '', 'a/./b', 'a/../b', 'a/b/', 'with space', 'ümlaut', '.tmp/x', 'k'.repeat(513), `a/${'s'.repeat(256)}`];
    for (const key of invalid) {
      await expect(store.put(key, bodyOf(bytes1000)), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.get(key), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.stat(key), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.delete(key), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
    }
    await expect(store.put('../x', bodyOf(bytes1000))).rejects.toMatchObject({ code: 'INVALID_BLOB_KEY' });
    expect(await keysOf(store)).toEqual(before);
    // The longest legal key still works (segments kept under s3rver's own file-name headroom).
    const longest = `${'k'.repeat(170)}/${'v'.repeat(170)}/${'w'.repeat(170)}`;
    expect(longest).toHaveLength(512);
    await store.put(longest, bodyOf(bytes1000));
    expect((await store.stat(longest))?.size).toBe(1000);
    await store.delete(longest);
  });

  it('maxBytes exceeded → BlobTooLargeError, nothing stored, body left to the caller', async () => {
    const body = bodyOf(bytes1000, 100);
    const err = await store.put('big/one', body, { maxBytes: 999 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobTooLargeError);
    expect(err).toMatchObject({ code: 'BLOB_TOO_LARGE', limit: 999 });
    // Not destroyed: an HTTP handler can still answer 413 on the live connection.
    expect(body.destroyed).toBe(false);
    body.destroy();
    expect(await store.stat('big/one')).toBeNull();
    expect(await keysOf(store, 'big/')).toEqual([]);
    // Exactly at the limit is fine.
    const ok = await store.put('big/exact', bodyOf(bytes1000), { maxBytes: 1000 });
    expect(ok.size).toBe(1000);
  });

  it('maxBytes crossed after several parts → nothing stored (multipart aborted)', async () => {
    const src = generated(3 * PART_SIZE);
    await expect(store.put('big/multi', src.body, { maxBytes: 2 * PART_SIZE + 123 })).rejects.toBeInstanceOf(
      BlobTooLargeError,
    );
    expect(await store.stat('big/multi')).toBeNull();
    expect(await keysOf(store, 'big/multi')).toEqual([]);
  }, 60_000);

  it('a source that errors midway rejects and stores nothing', async () => {
    // Errors after yielding all its bytes, i.e. before a clean end.
    const small = generated(10_000, { failAfter: 5000 });
    await expect(store.put('trunc/small', small.body)).rejects.toThrow(/truncated/);
    expect(await store.stat('trunc/small')).toBeNull();
    const src = generated(100 * CHUNK, { failAfter: 40 * CHUNK });
    await expect(store.put('trunc/one', src.body)).rejects.toThrow(/truncated/);
    expect(await store.stat('trunc/one')).toBeNull();
    expect(await keysOf(store, 'trunc/')).toEqual([]);
  });

  it('a failed multipart-sized upload stores nothing and keeps the previous version', async () => {
    await store.put('trunc/keep', bodyOf(bytes1000));
    // Fails after two full parts have been uploaded.
    const src = generated(4 * PART_SIZE, { failAfter: 2 * PART_SIZE + 10 * CHUNK });
    await expect(store.put('trunc/keep', src.body)).rejects.toThrow(/truncated/);
    const fresh = generated(4 * PART_SIZE, { failAfter: 2 * PART_SIZE + 10 * CHUNK });
    await expect(store.put('trunc/multi', fresh.body)).rejects.toThrow(/truncated/);
    expect(await store.stat('trunc/multi')).toBeNull();
    expect((await readAll(await store.get('trunc/keep'))).equals(bytes1000)).toBe(true);
    expect(await keysOf(store, 'trunc/')).toEqual(['trunc/keep']);
  }, 60_000);

  it.each([
    ['exactly one part', PART_SIZE],
    ['one part + 1 byte', PART_SIZE + 1],
    ['12 MiB (three parts)', 12 * MiB],
  ])('round-trips an object of %s with the right hash', async (_label, size) => {
    const key = `large/${size}`;
    const src = generated(size);
    const stored = await store.put(key, src.body);
    const expected = src.sha256();
    expect(stored).toEqual({ key, size, sha256: expected });
    const back = await store.get(key);
    const hash = createHash('sha256');
    let n = 0;
    for await (const chunk of back) {
      hash.update(chunk as Buffer);
      n += (chunk as Buffer).length;
    }
    expect(n).toBe(size);
    expect(hash.digest('hex')).toBe(expected);
    expect((await store.stat(key))?.size).toBe(size);
    // A range spanning the part boundary.
    const range = await readAll(await store.get(key, { start: PART_SIZE - 3, end: PART_SIZE }));
    expect(range.length).toBe(Math.min(4, size - (PART_SIZE - 3)));
    await store.delete(key);
  }, 60_000);

  describe('expectedBytes (the size known up front, e.g. a Content-Length)', () => {
    /** Reads the object back and returns its size and hash, chunk by chunk. */
    async function digestOf(key: string): Promise<{ size: number; sha256: string }> {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of await store.get(key)) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      return { size, sha256: hash.digest('hex') };
    }

    it.each([
      ['a small object', 1000],
      ['exactly one part', PART_SIZE],
      ['one part + 1 byte', PART_SIZE + 1],
      ['exactly two parts', 2 * PART_SIZE],
      ['12 MiB + 5 bytes (three parts, the last short)', 12 * MiB + 5],
    ])('stores %s with the right hash, size and ranges', async (_label, size) => {
      const key = `exact/${size}`;
      const src = generated(size);
      const stored = await store.put(key, src.body, { expectedBytes: size, maxBytes: size, contentType: 'application/pdf' });
      const expected = src.sha256();
      expect(stored).toEqual({ key, size, sha256: expected });
      expect(await digestOf(key)).toEqual({ size, sha256: expected });
      expect((await store.stat(key))?.size).toBe(size);
      // Bytes on both sides of each part boundary, in place.
      for (let boundary = PART_SIZE; boundary < size; boundary += PART_SIZE) {
        const got = await readAll(await store.get(key, { start: boundary - 2, end: boundary + 1 }));
        expect(got.equals(generatedSlice(size, boundary - 2, boundary + 1))).toBe(true);
      }
      await store.delete(key);
    }, 60_000);

    it('stores an empty object announced as empty', async () => {
      const stored = await store.put('exact/empty', bodyOf(Buffer.alloc(0)), { expectedBytes: 0 });
      expect(stored).toEqual({ key: 'exact/empty', size: 0, sha256: sha256(Buffer.alloc(0)) });
      expect((await store.stat('exact/empty'))?.size).toBe(0);
      await store.delete('exact/empty');
    });

    it.each([
      ['in the only part', 1000, 999],
      ['in the first of three parts', 12 * MiB, PART_SIZE - 3 * CHUNK],
      ['at a part boundary', 12 * MiB, 2 * PART_SIZE],
      ['in the last part', 12 * MiB + 5, 12 * MiB],
      ['with nothing at all', 12 * MiB, 0],
    ])('a body that ends early (%s) → BlobSizeMismatchError, nothing stored', async (_label, announced, actual) => {
      const key = `short/${announced}-${actual}`;
      const err = await store.put(key, generated(actual).body, { expectedBytes: announced }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BlobSizeMismatchError);
      expect(err).toMatchObject({ code: 'BLOB_SIZE_MISMATCH', expected: announced, received: actual, key });
      expect(await store.stat(key)).toBeNull();
      expect(await keysOf(store, 'short/')).toEqual([]);
    }, 60_000);

    it.each([
      ['within its last chunk', 1000, 1001],
      ['within the last chunk of a multi-part body', 12 * MiB + 5, 12 * MiB + 6],
      ['by a whole chunk after the announced end', 2 * PART_SIZE, 2 * PART_SIZE + CHUNK],
      ['by far', 6 * MiB, 12 * MiB],
    ])('a body that runs on (%s) → BlobSizeMismatchError, nothing stored, body left to the caller', async (_label, announced, actual) => {
      const key = `long/${announced}-${actual}`;
      const src = generated(actual);
      const err = await store.put(key, src.body, { expectedBytes: announced }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BlobSizeMismatchError);
      expect(err).toMatchObject({ code: 'BLOB_SIZE_MISMATCH', expected: announced, key });
      expect((err as BlobSizeMismatchError).received).toBeGreaterThan(announced);
      expect(src.body.destroyed).toBe(false);
      src.body.destroy();
      expect(await store.stat(key)).toBeNull();
      expect(await keysOf(store, 'long/')).toEqual([]);
    }, 60_000);

    it('maxBytes still applies: an expectedBytes above it fails at once, before a byte is read', async () => {
      const src = generated(12 * MiB);
      const err = await store.put('exact/over', src.body, { expectedBytes: 12 * MiB, maxBytes: 12 * MiB - 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BlobTooLargeError);
      expect(err).toMatchObject({ limit: 12 * MiB - 1 });
      expect(src.body.readableDidRead).toBe(false);
      expect(src.body.destroyed).toBe(false);
      src.body.destroy();
      expect(await store.stat('exact/over')).toBeNull();
    });

    it('rejects an expectedBytes that is not a byte count', async () => {
      for (const expectedBytes of [-1, 1.5, Number.NaN]) {
        await expect(store.put('exact/bad', bodyOf(bytes1000), { expectedBytes }), String(expectedBytes)).rejects.toBeInstanceOf(RangeError);
      }
      expect(await store.stat('exact/bad')).toBeNull();
    });

    it('a body that errors midway stores nothing and keeps the previous version', async () => {
      await store.put('exact/keep', bodyOf(bytes1000));
      const src = generated(4 * PART_SIZE, { failAfter: 2 * PART_SIZE + 10 * CHUNK });
      await expect(store.put('exact/keep', src.body, { expectedBytes: 4 * PART_SIZE })).rejects.toThrow(/truncated/);
      expect((await readAll(await store.get('exact/keep'))).equals(bytes1000)).toBe(true);
      const fresh = generated(4 * PART_SIZE, { failAfter: PART_SIZE / 2 });
      await expect(store.put('exact/never', fresh.body, { expectedBytes: 4 * PART_SIZE })).rejects.toThrow(/truncated/);
      expect(await store.stat('exact/never')).toBeNull();
      await store.delete('exact/keep');
    }, 60_000);

    it('concurrent puts of known size do not mix their bytes', async () => {
      const sizes = [11 * MiB + 1, 7 * MiB, 13 * MiB + 17];
      const sources = sizes.map((size) => generated(size));
      const stored = await Promise.all(sizes.map((size, i) => store.put(`exact/concurrent/${i}`, sources[i]!.body, { expectedBytes: size })));
      for (const [i, size] of sizes.entries()) {
        const expected = sources[i]!.sha256();
        expect(stored[i]).toEqual({ key: `exact/concurrent/${i}`, size, sha256: expected });
        expect(await digestOf(`exact/concurrent/${i}`)).toEqual({ size, sha256: expected });
        await store.delete(`exact/concurrent/${i}`);
      }
    }, 60_000);

    it('streams a 64 MiB put of known size holding far less than one part', async () => {
      const total = 64 * MiB;
      gc();
      const base = process.memoryUsage();
      let peakRss = 0;
      let peakArrayBuffers = 0;
      const src = generated(total, {
        onChunk(sent) {
          if (sent % MiB !== 0) return;
          gc();
          const now = process.memoryUsage();
          peakRss = Math.max(peakRss, now.rss - base.rss);
          peakArrayBuffers = Math.max(peakArrayBuffers, now.arrayBuffers - base.arrayBuffers);
        },
      });
      const stored = await store.put('mem/64-known', src.body, { expectedBytes: total });
      expect(stored.size).toBe(total);
      expect(stored.sha256).toBe(src.sha256());
      // Buffering would hold a whole part (5 MiB here, of 13) at every sample after the first part; streaming holds
      // a few chunks. Live buffers include this process's S3 server (s3rver) too, so the bound is not the driver's alone.
      expect(peakArrayBuffers).toBeLessThan(PART_SIZE / 2);
      expect(peakRss).toBeLessThan(32 * MiB);
      await store.delete('mem/64-known');
    }, 120_000);
  });

  it('streams a 64 MiB put without buffering the whole object', async () => {
    const total = 64 * MiB;
    gc();
    const base = process.memoryUsage();
    let peakRss = 0;
    let peakArrayBuffers = 0;
    const src = generated(total, {
      onChunk(sent) {
        if (sent % (2 * MiB) !== 0) return;
        gc();
        const now = process.memoryUsage();
        peakRss = Math.max(peakRss, now.rss - base.rss);
        peakArrayBuffers = Math.max(peakArrayBuffers, now.arrayBuffers - base.arrayBuffers);
      },
    });
    const stored = await store.put('mem/64', src.body);
    expect(stored.size).toBe(total);
    expect(stored.sha256).toBe(src.sha256());
    // Generous bounds: the point is "well below 64 MiB", not an exact budget.
    expect(peakArrayBuffers).toBeLessThan(48 * MiB);
    expect(peakRss).toBeLessThan(48 * MiB);
    await store.delete('mem/64');
  }, 120_000);
});

describe('filesystem driver specifics', () => {
  let dir: string;
  let store: FilesystemBlobStore;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'blobs-fs-'));
    store = await createFilesystemStore({ root: path.join(dir, 'nested', 'root') });
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the root, pings, and leaves no temp files after failures', async () => {
    await store.ping();
    await expect(store.put('x/big', bodyOf(Buffer.alloc(5000)), { maxBytes: 10 })).rejects.toBeInstanceOf(BlobTooLargeError);
    await expect(store.put('x/trunc', generated(20 * CHUNK, { failAfter: 5 * CHUNK }).body)).rejects.toThrow(/truncated/);
    // Errors before the first byte, i.e. possibly before the temp file is even open.
    await expect(store.put('x/early', generated(20 * CHUNK, { failAfter: 0 }).body)).rejects.toThrow(/truncated/);
    expect(await readdir(path.join(store.root, '.tmp'))).toEqual([]);
    expect(await keysOf(store)).toEqual([]);
  });

  it('never writes outside the root for a traversal key', async () => {
    await expect(store.put('../escape', bodyOf(Buffer.from('x')))).rejects.toBeInstanceOf(InvalidBlobKeyError);
    await expect(fsStat(path.join(store.root, '..', 'escape'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('prunes empty directories on delete', async () => {
    await store.put('p/q/r/file', bodyOf(Buffer.from('x')));
    await store.delete('p/q/r/file');
    await expect(fsStat(path.join(store.root, 'p'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('sweepTemp removes only stale temp files', async () => {
    const tmp = path.join(store.root, '.tmp');
    await writeFile(path.join(tmp, 'crashed.part'), 'left over by a crash');
    const anHourAgo = new Date(Date.now() - 3_600_000);
    await utimes(path.join(tmp, 'crashed.part'), anHourAgo, anHourAgo);
    await writeFile(path.join(tmp, 'inflight.part'), 'being written right now');
    expect(await store.sweepTemp(60_000)).toBe(1);
    expect(await readdir(tmp)).toEqual(['inflight.part']);
    // Temp files are never listed as blobs.
    expect(await keysOf(store)).toEqual([]);
    await rm(path.join(tmp, 'inflight.part'));
  });

  it('ping fails when the root is gone', async () => {
    const other = await createFilesystemStore({ root: path.join(dir, 'doomed') });
    await rm(path.join(dir, 'doomed'), { recursive: true, force: true });
    await expect(other.ping()).rejects.toThrow();
  });
});

describe('s3 driver specifics', () => {
  let s3: RunningS3rver | undefined;
  beforeAll(async () => {
    s3 = await startS3rver('specifics');
  });
  afterAll(async () => {
    await s3?.close();
  });

  it('pings a live bucket and rejects a missing one', async () => {
    const live = await createS3Store({ ...s3!, useSSL: false });
    await live.ping();
    await live.close();
    const missing = await createS3Store({ ...s3!, bucket: 'no-such-bucket', useSSL: false });
    await expect(missing.ping()).rejects.toThrow(/does not exist/);
    await missing.close();
  });

  it('createBucket creates a missing bucket', async () => {
    const store = await createS3Store({ ...s3!, bucket: 'made-on-start', useSSL: false, createBucket: true });
    await store.ping();
    await store.put('k', bodyOf(Buffer.from('hello')));
    expect((await store.stat('k'))?.size).toBe(5);
    await store.close();
  });

  describe('a store that fails a part midway', () => {
    /** What the proxy saw, and how it fails part 2 of every multipart upload. */
    const seen: string[] = [];
    let failure: 'status' | 'reset' = 'status';
    /** Requests (GET/HEAD/DELETE) whose connection the proxy resets before answering, as a server closing it would. */
    let resetReads = 0;
    let proxy: http.Server | undefined;
    let proxyPort = 0;
    beforeAll(async () => {
      // Forwards to s3rver untouched (the Host header is the proxy's, which is what the client signed).
      proxy = http.createServer((req, res) => {
        seen.push(`${req.method} ${req.url}`);
        if (resetReads > 0 && ['GET', 'HEAD', 'DELETE'].includes(req.method ?? '') && (req.url ?? '').includes('/reads/')) {
          resetReads -= 1;
          req.socket.destroy();
          return;
        }
        if (req.method === 'PUT' && /[?&]partNumber=2(&|$)/.test(req.url ?? '')) {
          if (failure === 'reset') {
            let received = 0;
            req.on('data', (chunk: Buffer) => {
              received += chunk.length;
              if (received > MiB) req.socket.destroy();
            });
          } else {
            res.writeHead(500, { 'content-type': 'application/xml', connection: 'close' });
            res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected</Message></Error>');
          }
          return;
        }
        const upstream = http.request({ host: s3!.endPoint, port: s3!.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        upstream.on('error', () => res.destroy());
        req.pipe(upstream);
      });
      await new Promise<void>((resolve) => proxy!.listen(0, '127.0.0.1', resolve));
      proxyPort = (proxy.address() as net.AddressInfo).port;
    });
    afterAll(async () => {
      proxy?.closeAllConnections();
      await new Promise<void>((resolve) => proxy?.close(() => resolve()) ?? resolve());
    });

    it.each([
      ['answers 500 to part 2', 'status', true],
      ['resets the connection during part 2', 'reset', true],
      ['answers 500 to part 2 (size unknown: buffered parts)', 'status', false],
      ['resets the connection during part 2 (size unknown: buffered parts)', 'reset', false],
    ] as const)('%s → the put rejects, the upload is aborted, nothing is stored', async (_label, mode, known) => {
      failure = mode;
      seen.length = 0;
      const through = await createS3Store({ ...s3!, port: proxyPort, useSSL: false, partSize: PART_SIZE });
      const direct = await createS3Store({ ...s3!, useSSL: false, partSize: PART_SIZE });
      try {
        const size = 4 * PART_SIZE + 7;
        const key = `failing/${mode}-${known}`;
        await expect(through.put(key, generated(size).body, known ? { expectedBytes: size } : {})).rejects.toThrow();
        expect(await direct.stat(key)).toBeNull();
        expect(seen.some((line) => line.startsWith('DELETE ') && line.includes('uploadId='))).toBe(true);
        // The store still works through the same client afterwards.
        failure = 'status';
        const small = await through.put(`${key}-after`, bodyOf(Buffer.from('still fine')), { expectedBytes: 10 });
        expect(small.size).toBe(10);
      } finally {
        await through.close();
        await direct.close();
      }
    }, 60_000);

    it('reads and deletes are sent again once when their connection is reset before an answer', async () => {
      const through = await createS3Store({ ...s3!, port: proxyPort, useSSL: false });
      const content = patternChunk(3, 1000);
      try {
        await through.put('reads/k', bodyOf(content));
        resetReads = 1;
        expect((await readAll(await through.get('reads/k'))).equals(content)).toBe(true);
        resetReads = 1;
        expect((await readAll(await through.get('reads/k', { start: 10, end: 19 }))).equals(content.subarray(10, 20))).toBe(true);
        resetReads = 1;
        expect((await through.stat('reads/k'))?.size).toBe(1000);
        resetReads = 1;
        await through.delete('reads/k');
        expect(await through.stat('reads/k')).toBeNull();
        // Only once: a second reset in a row is an error.
        resetReads = 2;
        await expect(through.stat('reads/k')).rejects.toMatchObject({ code: 'ECONNRESET' });
      } finally {
        resetReads = 0;
        await through.close();
      }
    });
  });

  it('rejects a part size below 5 MiB', async () => {
    await expect(createS3Store({ ...s3!, useSSL: false, partSize: 4 * MiB })).rejects.toBeInstanceOf(RangeError);
  });

  it('ping on a dead endpoint (nothing listening) rejects quickly', async () => {
    const port = await unusedPort();
    const store = await createS3Store({ ...s3!, port, useSSL: false });
    const started = Date.now();
    await expect(store.ping()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5000);
    await store.close();
  });

  it('ping on an endpoint that accepts but never answers times out within a few seconds', async () => {
    const sockets = new Set<net.Socket>();
    const blackhole = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blackhole.address() as net.AddressInfo;
      const store = await createS3Store({ ...s3!, port, useSSL: false, pingTimeoutMs: 1500 });
      const started = Date.now();
      await expect(store.ping()).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(1400);
      expect(elapsed).toBeLessThan(4000);
      await store.close();
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => blackhole.close(() => resolve()));
    }
  }, 15_000);
});

async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
