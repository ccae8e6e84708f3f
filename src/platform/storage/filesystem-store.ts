import { randomUUID } from 'node:crypto';
import { createWriteStream, type Dirent } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStat, BlobStore, ByteRange, PutOptions, StoredBlob } from './blob-store.js';
import { BlobNotFoundError, InvalidBlobRangeError } from './errors.js';
import { createHashingStream, sourceOf } from './hashing.js';
import { RESERVED_TEMP_SEGMENT, assertValidKey, assertValidPrefix, assertValidRange } from './keys.js';

export interface FilesystemStoreOptions {
  root: string;
}

export interface FilesystemBlobStore extends BlobStore {
  readonly driver: 'filesystem';
  /** Absolute path of the store's root directory. */
  readonly root: string;
  /**
   * Removes in-flight temp files older than `olderThanMs` (left behind by a crashed
   * process; a live put never leaves one). Returns how many were removed.
   */
  sweepTemp(olderThanMs: number): Promise<number>;
}

const SEGMENT = /^[A-Za-z0-9._-]+$/;
/** A put retries the mkdir+rename this often when a concurrent delete prunes its fresh parent dir. */
const RENAME_ATTEMPTS = 4;

function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** ENOENT, or ENOTDIR when a key segment names a file (`a/b` while `a` is a blob). */
function isMissing(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Blobs live at `<root>/<key>`; in-flight uploads in `<root>/.tmp/` (same filesystem, so rename is atomic). */
export async function createFilesystemStore(options: FilesystemStoreOptions): Promise<FilesystemBlobStore> {
  const root = path.resolve(options.root);
  const tmpDir = path.join(root, RESERVED_TEMP_SEGMENT);
  await fs.mkdir(tmpDir, { recursive: true });

  // Keys are validated (no `..`, no empty segments, no absolute paths) before reaching here.
  const pathOf = (key: string): string => path.join(root, ...key.split('/'));

  async function syncDir(dir: string): Promise<void> {
    // Makes the rename itself durable. Best effort: some platforms/filesystems refuse fsync on directories.
    let handle: FileHandle | undefined;
    try {
      handle = await fs.open(dir, 'r');
      await handle.sync();
    } catch {
      // ignore
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }

  async function renameIntoPlace(tmp: string, target: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await fs.mkdir(path.dirname(target), { recursive: true });
      try {
        await fs.rename(tmp, target);
        return;
      } catch (err) {
        // A concurrent delete may have pruned the just-created parent directory; recreate it and retry.
        if (errnoCode(err) !== 'ENOENT' || attempt >= RENAME_ATTEMPTS) throw err;
      }
    }
  }

  async function pruneEmptyParents(file: string): Promise<void> {
    // Keeps the tree from accumulating empty directories after deletes; stops at the first non-empty one.
    for (let dir = path.dirname(file); dir !== root && dir.startsWith(root + path.sep); dir = path.dirname(dir)) {
      try {
        await fs.rmdir(dir);
      } catch {
        return;
      }
    }
  }

  async function statFile(key: string, file: string): Promise<BlobStat | null> {
    try {
      const st = await fs.stat(file);
      return st.isFile() ? { key, size: st.size, lastModified: st.mtime } : null;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async function* walk(dir: string, keyPrefix: string, prefix: string): AsyncGenerator<BlobStat> {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    // Sorting by "name" for files and "name/" for directories yields keys in byte order, as S3 lists them.
    const sortName = (e: Dirent): string => (e.isDirectory() ? `${e.name}/` : e.name);
    entries.sort((a, b) => (sortName(a) < sortName(b) ? -1 : sortName(a) > sortName(b) ? 1 : 0));
    for (const entry of entries) {
      if (!SEGMENT.test(entry.name) || entry.name === '.' || entry.name === '..') continue;
      if (keyPrefix === '' && entry.name === RESERVED_TEMP_SEGMENT) continue;
      const key = keyPrefix + entry.name;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        const dirKey = `${key}/`;
        if (dirKey.startsWith(prefix) || prefix.startsWith(dirKey)) yield* walk(full, dirKey, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        // Null when deleted between readdir and stat: simply not listed.
        const stat = await statFile(key, full);
        if (stat) yield stat;
      }
    }
  }

  const store: FilesystemBlobStore = {
    driver: 'filesystem',
    root,

    async put(key: string, body: Readable, options: PutOptions = {}): Promise<StoredBlob> {
      assertValidKey(key);
      const target = pathOf(key);
      const tmp = path.join(tmpDir, `${randomUUID()}.part`);
      // Throws BlobTooLargeError here, before anything is read, when expectedBytes is above maxBytes.
      const hasher = createHashingStream({ maxBytes: options.maxBytes, expectedBytes: options.expectedBytes, key });
      try {
        // flush: fsync before close; pipeline settles only after that close, so the data is
        // durable before the rename publishes it. 'wx': never share a temp file.
        await pipeline(sourceOf(body), hasher, createWriteStream(tmp, { flags: 'wx', flush: true }));
        await renameIntoPlace(tmp, target);
      } catch (err) {
        await fs.rm(tmp, { force: true }).catch(() => undefined);
        throw err;
      }
      await syncDir(path.dirname(target));
      return { key, size: hasher.bytes, sha256: hasher.sha256 };
    },

    async get(key: string, range?: ByteRange): Promise<Readable> {
      assertValidKey(key);
      if (range) assertValidRange(key, range);
      let handle: FileHandle;
      try {
        handle = await fs.open(pathOf(key), 'r');
      } catch (err) {
        if (isMissing(err)) throw new BlobNotFoundError(key);
        throw err;
      }
      // Reading through the open handle means a concurrent overwrite or delete cannot tear this read.
      try {
        const st = await handle.stat();
        if (!st.isFile()) throw new BlobNotFoundError(key);
        if (!range) return handle.createReadStream();
        if (range.start >= st.size) throw new InvalidBlobRangeError(key, range, st.size);
        // Like HTTP (and S3), an end past the last byte is clamped rather than refused.
        return handle.createReadStream({ start: range.start, end: Math.min(range.end, st.size - 1) });
      } catch (err) {
        await handle.close().catch(() => undefined);
        throw err;
      }
    },

    async stat(key: string): Promise<BlobStat | null> {
      assertValidKey(key);
      return statFile(key, pathOf(key));
    },

    async delete(key: string): Promise<void> {
      assertValidKey(key);
      const file = pathOf(key);
      try {
        await fs.unlink(file);
      } catch (err) {
        const code = errnoCode(err);
        // EISDIR/EPERM: the key names a directory of other keys, i.e. there is no blob at it.
        if (isMissing(err) || code === 'EISDIR' || code === 'EPERM') return;
        throw err;
      }
      await pruneEmptyParents(file);
    },

    async *list(prefix = ''): AsyncIterable<BlobStat> {
      assertValidPrefix(prefix);
      // Start at the deepest directory the prefix names fully, so listing one dossier does not walk the store.
      const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
      const segments = dirPart === '' ? [] : dirPart.split('/');
      const impossible =
        segments.some((s) => s === '' || s === '.' || s === '..') || segments[0] === RESERVED_TEMP_SEGMENT;
      if (impossible) return; // no valid key can start with such a prefix
      yield* walk(path.join(root, ...segments), segments.length === 0 ? '' : `${dirPart}/`, prefix);
    },

    async ping(): Promise<void> {
      // A real write proves more than access(W_OK): it also catches a full or read-only-remounted disk.
      const probe = path.join(tmpDir, `ping-${randomUUID()}`);
      await fs.writeFile(probe, '');
      await fs.rm(probe, { force: true });
    },

    async close(): Promise<void> {
      // Nothing to release: every operation opens and closes its own handles.
    },

    async sweepTemp(olderThanMs: number): Promise<number> {
      const cutoff = Date.now() - olderThanMs;
      let removed = 0;
      for (const name of await fs.readdir(tmpDir)) {
        const file = path.join(tmpDir, name);
        try {
          const st = await fs.stat(file);
          if (st.mtimeMs < cutoff) {
            await fs.rm(file, { force: true, recursive: true });
            removed++;
          }
        } catch (err) {
          if (!isMissing(err)) throw err;
        }
      }
      return removed;
    },
  };
  return store;
}
