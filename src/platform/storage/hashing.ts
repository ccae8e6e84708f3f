import { createHash, type Hash } from 'node:crypto';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { BlobSizeMismatchError, BlobTooLargeError } from './errors.js';

export interface MeterOptions {
  /** Fail with BlobTooLargeError as soon as more than this many bytes have arrived. */
  maxBytes?: number;
  /**
   * The exact size announced for the stream: more bytes fail update() and fewer fail assertComplete(), both with
   * BlobSizeMismatchError. Above `maxBytes`, the constructor already throws BlobTooLargeError.
   */
  expectedBytes?: number;
  /** Reported in BlobTooLargeError and BlobSizeMismatchError. */
  key?: string;
}

function assertByteCount(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}

/**
 * SHA-256 + byte count over chunks as they arrive, enforcing `maxBytes` on the chunk that
 * crosses it (an oversized upload is cut off at the limit, not after it has all arrived).
 * Shared by the Transform below and drivers that consume a stream by hand (S3 parts).
 */
export class StreamMeter {
  readonly #hash: Hash = createHash('sha256');
  readonly #maxBytes: number | undefined;
  readonly #expectedBytes: number | undefined;
  readonly #key: string | undefined;
  #bytes = 0;
  #digest: string | undefined;

  constructor(options: MeterOptions = {}) {
    const { maxBytes, expectedBytes } = options;
    assertByteCount('maxBytes', maxBytes);
    assertByteCount('expectedBytes', expectedBytes);
    this.#maxBytes = maxBytes;
    this.#expectedBytes = expectedBytes;
    this.#key = options.key;
    // Announced too large: refuse before a byte is read, so the caller can answer at once.
    if (maxBytes !== undefined && expectedBytes !== undefined && expectedBytes > maxBytes) {
      throw new BlobTooLargeError(maxBytes, options.key);
    }
  }

  /**
   * Throws BlobTooLargeError when this chunk takes the total past maxBytes, and BlobSizeMismatchError when it
   * takes it past expectedBytes; either way before the chunk is hashed.
   */
  update(chunk: Buffer): void {
    if (this.#digest !== undefined) throw new Error('StreamMeter: update after digest');
    this.#bytes += chunk.length;
    if (this.#maxBytes !== undefined && this.#bytes > this.#maxBytes) {
      throw new BlobTooLargeError(this.#maxBytes, this.#key);
    }
    if (this.#expectedBytes !== undefined && this.#bytes > this.#expectedBytes) {
      throw new BlobSizeMismatchError(this.#expectedBytes, this.#bytes, this.#key);
    }
    this.#hash.update(chunk);
  }

  /** The exact size announced (expectedBytes), if any. */
  get expectedBytes(): number | undefined {
    return this.#expectedBytes;
  }

  /** At the end of the stream: throws BlobSizeMismatchError when fewer than expectedBytes arrived. */
  assertComplete(): void {
    if (this.#expectedBytes !== undefined && this.#bytes !== this.#expectedBytes) {
      throw new BlobSizeMismatchError(this.#expectedBytes, this.#bytes, this.#key);
    }
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Lower-case hex SHA-256 of everything passed to update(); finalises the meter. */
  digest(): string {
    this.#digest ??= this.#hash.digest('hex');
    return this.#digest;
  }
}

/** Normalises what a Readable may yield (Buffer, Uint8Array, or string in non-binary mode). */
export function toBuffer(chunk: unknown, encoding: BufferEncoding = 'utf8'): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding);
  throw new TypeError(`Blob bodies must yield bytes or strings, got ${typeof chunk}`);
}

/** Pass-through Transform flavour of StreamMeter for `pipeline(source, hasher, sink)`. */
export class HashingTransform extends Transform {
  readonly #meter: StreamMeter;
  #sha256: string | undefined;

  constructor(options: MeterOptions = {}) {
    super();
    this.#meter = new StreamMeter(options);
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.#meter.bytes;
  }

  /** Lower-case hex SHA-256; available once the stream has finished. */
  get sha256(): string {
    if (this.#sha256 === undefined) throw new Error('HashingTransform: digest read before the stream finished');
    return this.#sha256;
  }

  override _transform(chunk: unknown, encoding: BufferEncoding, callback: TransformCallback): void {
    let buf: Buffer;
    try {
      buf = toBuffer(chunk, encoding);
      this.#meter.update(buf);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback(null, buf);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#meter.assertComplete();
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.#sha256 = this.#meter.digest();
    callback();
  }
}

export function createHashingStream(options: MeterOptions = {}): HashingTransform {
  return new HashingTransform(options);
}

/**
 * Iterates a put body without destroying it when the put gives up early (maxBytes, storage
 * error): a caller streaming an HTTP request can then still answer 413 on a live connection
 * and decide itself whether to drain or destroy the rest. Errors *from* the body still propagate.
 */
export function sourceOf(body: Readable): AsyncIterable<unknown> {
  return { [Symbol.asyncIterator]: () => body.iterator({ destroyOnReturn: false }) };
}
