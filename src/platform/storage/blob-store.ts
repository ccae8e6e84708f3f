import type { Readable } from 'node:stream';

/** What a completed write produced: hashed and counted while streaming. */
export interface StoredBlob {
  key: string;
  size: number;
  /** Lower-case hex SHA-256 of the stored bytes. */
  sha256: string;
}

export interface BlobStat {
  key: string;
  size: number;
  lastModified: Date;
}

/** Inclusive byte range, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface PutOptions {
  contentType?: string;
  /** Refuse (BlobTooLargeError) and store nothing once more bytes than this arrive. */
  maxBytes?: number;
  /**
   * The body's exact size, when the caller knows it up front (an HTTP body's Content-Length). A driver may then
   * stream the bytes on to the store without buffering them (the S3 driver sends its parts straight through).
   * A body that ends short of it, or carries more, fails the put with BlobSizeMismatchError and nothing is
   * stored; an `expectedBytes` above `maxBytes` fails at once with BlobTooLargeError, before a byte is read.
   */
  expectedBytes?: number;
}

/**
 * The object store every module writes documents through. Implementations stream:
 * no method buffers a whole object in memory. A `put` is atomic: readers never see
 * a partial object, and a failed or aborted put leaves nothing behind.
 */
export interface BlobStore {
  readonly driver: 'filesystem' | 's3';
  put(key: string, body: Readable, options?: PutOptions): Promise<StoredBlob>;
  /** Throws BlobNotFoundError when the key does not exist. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Null when the key does not exist. */
  stat(key: string): Promise<BlobStat | null>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Every stored object whose key starts with `prefix` (used by the orphan sweeper). */
  list(prefix?: string): AsyncIterable<BlobStat>;
  /** Throws when the store cannot be reached; used by `GET /ready`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
