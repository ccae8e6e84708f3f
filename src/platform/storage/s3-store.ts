import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Client, type BucketItem, type ClientOptions } from 'minio';
import { DeadlineError, withTimeout } from '../timeout.js';
import type { BlobStat, BlobStore, ByteRange, PutOptions, StoredBlob } from './blob-store.js';
import { BlobNotFoundError, BlobSizeMismatchError, InvalidBlobRangeError } from './errors.js';
import { StreamMeter, sourceOf, toBuffer } from './hashing.js';
import { assertValidKey, assertValidPrefix, assertValidRange } from './keys.js';

const MiB = 1024 * 1024;
export const DEFAULT_PART_SIZE = 16 * MiB;
/** S3's floor for every part but the last. */
export const MIN_PART_SIZE = 5 * MiB;
const MAX_PART_SIZE = 5 * 1024 * MiB;
/** S3's ceiling on the parts of one upload. */
const MAX_PARTS = 10_000;
/**
 * How much of a streamed part waits in its Readable for the socket (on top of the socket's own buffers): enough
 * to keep the socket busy, small enough that ten concurrent uploads hold a few MiB between them.
 */
const STREAMED_PART_HIGH_WATER_MARK = 256 * 1024;
/**
 * Pooled connections idle longer than this are closed on our side, well before a server's own keep-alive timeout
 * (Node servers such as s3rver: 5 s, of which Node's agent otherwise keeps 4 s; S3 and MinIO announce none), so a
 * request seldom goes out on a connection the server is closing. A streamed part could not be resent.
 */
const FREE_SOCKET_TIMEOUT_MS = 2000;

export interface S3StoreOptions {
  endPoint: string;
  port: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  /** Default us-east-1. Setting it also spares minio a GetBucketLocation round trip. */
  region?: string;
  /**
   * Bytes per multipart part. Also the most a put of unknown size holds in memory; a put with `expectedBytes`
   * streams its parts through without holding them. Default 16 MiB, min 5 MiB.
   */
  partSize?: number;
  /** Create the bucket at startup when it does not exist. Default false. */
  createBucket?: boolean;
  /** Time allowed to establish a TCP/TLS connection, for every request. Default 3000 ms. */
  connectTimeoutMs?: number;
  /** Overall bound on ping(), so `/ready` answers promptly when the store is down. Default 3000 ms. */
  pingTimeoutMs?: number;
}

type Transport = NonNullable<ClientOptions['transport']>;


/**
 * http(s).request plus a connect timeout (and optionally an idle timeout). minio has no
 * timeout setting of its own, so without this a blackholed endpoint hangs a request for
 * as long as the OS keeps retrying SYNs.
 */
function timeoutTransport(useSSL: boolean, connectTimeoutMs: number, idleTimeoutMs?: number): Transport {
  const base = useSSL ? https : http;
  const request = (options: http.RequestOptions, callback?: (res: http.IncomingMessage) => void): http.ClientRequest => {
    const req = base.request(options, callback);
    req.once('socket', (socket) => {
      if (!socket.connecting) return; // reused keep-alive socket
      const timer = setTimeout(() => {
        req.destroy(new DeadlineError(`S3: no connection to ${String(options.host)}:${String(options.port)} within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      socket.once(useSSL ? 'secureConnect' : 'connect', () => clearTimeout(timer));
      req.once('close', () => clearTimeout(timer));
    });
    if (idleTimeoutMs !== undefined) {
      req.setTimeout(idleTimeoutMs, () => req.destroy(new DeadlineError(`S3: no response within ${idleTimeoutMs} ms`)));
    }
    return req;
  };
  // minio only ever calls request(options, callback); the cast covers http.request's other overloads.
  return { request: request as typeof http.request };
}


function s3Code(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function isNotFound(err: unknown): boolean {
  const code = s3Code(err);
  return code === 'NoSuchKey' || code === 'NotFound';
}

/**
 * Runs an idempotent request (no body, or a Buffer body) again once when its connection was reset before an answer:
 * typically a pooled connection the server closed just as it was reused. minio itself retries only on 5xx answers.
 */
async function resentOnReset<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (err) {
    const code = s3Code(err);
    if (code !== 'ECONNRESET' && code !== 'EPIPE') throw err;
    return request();
  }
}

/**
 * One part's worth of bytes, reused across parts so a put holds at most ~one part in memory.
 * Grows geometrically up to partSize so a small document does not reserve a whole part.
 */
class PartBuffer {
  #buf: Buffer = Buffer.alloc(0);
  #length = 0;

  /** `capacity`: the size to reserve up front when it is known (an object of known size under one part). */
  constructor(
    private readonly partSize: number,
    capacity = 0,
  ) {
    if (capacity > 0) this.#buf = Buffer.allocUnsafe(Math.min(capacity, partSize));
  }

  get length(): number {
    return this.#length;
  }

  /** A view of the buffered bytes; valid until the next append/reset. */
  view(): Buffer {
    return this.#buf.subarray(0, this.#length);
  }

  reset(): void {
    this.#length = 0;
  }

  /**
   * Appends `chunk`, handing each full part to `flush` before accepting more bytes. Flushing
   * lazily (only once more data arrives) means an object of exactly one part stays a single PUT.
   */
  async append(chunk: Buffer, flush: (part: Buffer) => Promise<void>): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#length === this.partSize) {
        await flush(this.view());
        this.reset();
      }
      const take = Math.min(chunk.length - offset, this.partSize - this.#length);
      this.#ensureCapacity(this.#length + take);
      chunk.copy(this.#buf, this.#length, offset, offset + take);
      this.#length += take;
      offset += take;
    }
  }

  #ensureCapacity(needed: number): void {
    if (needed <= this.#buf.length) return;
    const size = Math.min(this.partSize, Math.max(needed, this.#buf.length * 2, 64 * 1024));
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#length);
    this.#buf = next;
  }
}

/** AWS's URI encoding (RFC 3986 unreserved characters kept), as minio applies it to query values. */
function uriEscape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** An ETag header as the CompleteMultipartUpload body wants it: without its quotes. */
function bareETag(etag: string): string {
  return etag.replace(/^(?:"|&quot;|&#34;)|(?:"|&quot;|&#34;)$/g, '');
}

/**
 * The part size for a streamed upload of `size` bytes: the configured one, raised (to whole MiB) when it would
 * take more than S3's 10,000 parts.
 */
function streamedPartSize(size: number, partSize: number): number {
  const needed = Math.ceil(size / MAX_PARTS / MiB) * MiB;
  const chosen = Math.max(partSize, needed);
  if (chosen > MAX_PART_SIZE) throw new RangeError(`An object of ${size} bytes is too large for S3 (${MAX_PARTS} parts of at most ${MAX_PART_SIZE} bytes)`);
  return chosen;
}

/**
 * A put body of announced size, handed out as consecutive slices of exact lengths (the parts), each a Readable
 * that pulls from the body only as fast as its consumer (the part's socket) reads. Every chunk is metered
 * (hashed, counted, checked against maxBytes and expectedBytes) once, when it is pulled, i.e. before any of
 * its bytes are sent on. Only one slice may be read at a time, in order.
 */
class ExactSource {
  readonly #iterator: AsyncIterator<unknown>;
  readonly #meter: StreamMeter;
  readonly #key: string;
  #leftover: Buffer | undefined;

  constructor(body: Readable, meter: StreamMeter, key: string) {
    this.#iterator = sourceOf(body)[Symbol.asyncIterator]();
    this.#meter = meter;
    this.#key = key;
  }

  /** The next bytes of the body (what the previous slice left over first); null at its end. */
  async #next(): Promise<Buffer | null> {
    const leftover = this.#leftover;
    if (leftover !== undefined) {
      this.#leftover = undefined;
      return leftover;
    }
    for (;;) {
      const result = await this.#iterator.next();
      if (result.done === true) return null;
      const chunk = toBuffer(result.value);
      if (chunk.length === 0) continue;
      this.#meter.update(chunk); // BlobTooLargeError / BlobSizeMismatchError before the bytes go anywhere
      return chunk;
    }
  }

  #endedEarly(): BlobSizeMismatchError {
    return new BlobSizeMismatchError(this.#meter.expectedBytes ?? this.#meter.bytes, this.#meter.bytes, this.#key);
  }

  /**
   * The next `length` bytes of the body as a stream. `fed` resolves once all of them have been pulled from the
   * body (the next slice may then start) and rejects when the slice fails: the body erred, ended early or ran
   * past its limits, or the consumer destroyed the stream. The stream is destroyed with the same error.
   */
  slice(length: number): { stream: Readable; fed: Promise<void> } {
    let remaining = length;
    let settle!: (error?: Error) => void;
    const fed = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    fed.catch(() => undefined); // observed by the caller; never an unhandled rejection
    const pull = async (): Promise<void> => {
      try {
        const chunk = await this.#next();
        if (stream.destroyed) return;
        if (chunk === null) throw this.#endedEarly();
        let piece = chunk;
        if (chunk.length > remaining) {
          piece = chunk.subarray(0, remaining);
          this.#leftover = chunk.subarray(remaining);
        }
        remaining -= piece.length;
        stream.push(piece);
        if (remaining === 0) {
          stream.push(null);
          settle();
        }
      } catch (error) {
        stream.destroy(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const stream = new Readable({
      highWaterMark: STREAMED_PART_HIGH_WATER_MARK,
      // Readable calls read() again only after a push, so one pull is in flight at a time.
      read: () => void pull(),
      destroy: (error, callback) => {
        if (remaining > 0) settle(error ?? new Error('S3 part upload aborted'));
        callback(error);
      },
    });
    // Its errors reach the caller through `fed`; the request may not be listening yet when it is destroyed.
    stream.on('error', () => undefined);
    return { stream, fed };
  }

  /** After the last slice: resolves when the body ends there, having carried exactly the announced bytes. */
  async end(): Promise<void> {
    // More bytes already fail in #next (the meter knows expectedBytes); a leftover here would be a slicing bug.
    const extra = await this.#next();
    if (extra !== null) throw new BlobSizeMismatchError(this.#meter.bytes - extra.length, this.#meter.bytes, this.#key);
    this.#meter.assertComplete();
  }

  /** Lets go of the body without destroying it (the caller decides, e.g. to answer 413 on a live connection). */
  release(): void {
    // Not awaited: behind a pending read it settles only when the body next yields.
    void this.#iterator.return?.()?.catch(() => undefined);
  }
}

/**
 * Makes a ranged response yield exactly the requested bytes. HTTP lets a server (or a proxy
 * in front of it) ignore Range and send 200 with the whole body, or serve a wider range than
 * asked (s3rver does for `bytes=0-0`); passing that through would silently hand callers the
 * wrong bytes. The usual exact 206 is returned untouched.
 */
function exactRange(res: Readable, range: ByteRange): Readable {
  const { statusCode, headers } = res as Partial<http.IncomingMessage>;
  let servedStart = 0;
  let servedEnd = Number.POSITIVE_INFINITY;
  if (statusCode === 206) {
    const match = /^bytes (\d+)-(\d+)\//.exec(headers?.['content-range'] ?? '');
    if (match) {
      servedStart = Number(match[1]);
      servedEnd = Number(match[2]);
    } else {
      servedStart = range.start; // no usable Content-Range: trust the server, but still cap the length
    }
  }
  if (servedStart > range.start) {
    res.destroy();
    throw new Error(`S3 served bytes from ${servedStart} for a range starting at ${range.start}`);
  }
  if (servedStart === range.start && servedEnd <= range.end) return res;

  let skip = range.start - servedStart;
  let remaining = range.end - range.start + 1;
  async function* slice(): AsyncGenerator<Buffer> {
    // Leaving the loop early destroys `res`, which stops the surplus download.
    for await (const raw of res) {
      let chunk = toBuffer(raw);
      if (skip > 0) {
        const dropped = Math.min(skip, chunk.length);
        skip -= dropped;
        chunk = chunk.subarray(dropped);
      }
      if (chunk.length === 0) continue;
      if (chunk.length >= remaining) {
        yield chunk.subarray(0, remaining);
        return;
      }
      remaining -= chunk.length;
      yield chunk;
    }
  }
  return Readable.from(slice(), { objectMode: false });
}

export async function createS3Store(options: S3StoreOptions): Promise<BlobStore> {
  const {
    bucket,
    useSSL,
    partSize = DEFAULT_PART_SIZE,
    connectTimeoutMs = 3000,
    pingTimeoutMs = 3000,
  } = options;
  if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE || partSize > MAX_PART_SIZE) {
    throw new RangeError(`S3 partSize must be an integer from ${MIN_PART_SIZE} to ${MAX_PART_SIZE} bytes, got ${partSize}`);
  }
  const region = options.region ?? 'us-east-1';
  const AgentClass = useSSL ? https.Agent : http.Agent;
  // `timeout` applies to free sockets only (the agent destroys them); active requests merely get 'timeout' events.
  const agent = new AgentClass({ keepAlive: true, timeout: FREE_SOCKET_TIMEOUT_MS });
  // ping gets its own client: no keep-alive (a dead pooled socket must not mask an outage), no retries,
  // and an idle timeout, which would be wrong for streamed downloads on the main client.
  const pingAgent = new AgentClass({ keepAlive: false });

  const common = {
    endPoint: options.endPoint,
    port: options.port,
    useSSL,
    accessKey: options.accessKey,
    secretKey: options.secretKey,
    region,
  };
  const client = new Client({
    ...common,
    // Equal to ours so putObject's single-PUT path always applies to our (≤ one part) buffers.
    partSize,
    transport: timeoutTransport(useSSL, connectTimeoutMs),
    transportAgent: agent,
  });
  // Streamed parts: their bytes are not in hand when the request is signed, so they go as UNSIGNED-PAYLOAD (what
  // minio does for every request over https; over http the part's integrity then rests on TCP, and the object's
  // on the SHA-256 we compute). No retries: a retry would resend a body stream that has already been consumed.
  const streamClient = new Client({
    ...common,
    transport: timeoutTransport(useSSL, connectTimeoutMs),
    transportAgent: agent,
    retryOptions: { disableRetry: true },
  });
  streamClient.enableSHA256 = false;
  const pingClient = new Client({
    ...common,
    transport: timeoutTransport(useSSL, Math.min(connectTimeoutMs, pingTimeoutMs), pingTimeoutMs),
    transportAgent: pingAgent,
    retryOptions: { disableRetry: true },
  });

  /** Sends one streamed part as an UploadPart request and returns its ETag. */
  async function sendPart(key: string, uploadId: string, partNumber: number, length: number, stream: Readable): Promise<string> {
    const res = await streamClient.makeRequestStreamAsync(
      {
        method: 'PUT',
        bucketName: bucket,
        objectName: key,
        query: `partNumber=${partNumber}&uploadId=${uriEscape(uploadId)}`,
        headers: { 'content-length': String(length) },
      },
      stream,
      '', // with enableSHA256 off, minio signs the request as UNSIGNED-PAYLOAD
      [200],
      region,
    );
    const etag = res.headers.etag;
    res.resume(); // the (empty) body must be read for the socket to go back to the keep-alive pool
    await finished(res);
    if (typeof etag !== 'string' || etag === '') throw new Error(`S3 answered part ${partNumber} of ${key} without an ETag`);
    return bareETag(etag);
  }

  /**
   * A put of known size over one part: each part streams from the body straight into its UploadPart request
   * (exactly its length; the last one the remainder), so nothing is buffered beyond a slice's small high-water
   * mark and the sockets. The next part starts as soon as the previous one's bytes are all sent, while its answer
   * is still on the way: at most two part requests in flight. Only CompleteMultipartUpload, once the body has
   * ended with exactly `size` bytes, makes the object visible; any failure aborts the upload instead.
   */
  async function putStreamed(key: string, body: Readable, meter: StreamMeter, size: number, headers: Record<string, string>): Promise<void> {
    const partLength = streamedPartSize(size, partSize);
    const source = new ExactSource(body, meter, key);
    let uploadId: string | undefined;
    let current: Readable | undefined;
    const requests: Promise<{ part: number; etag: string }>[] = [];
    try {
      uploadId = await client.initiateNewMultipartUpload(bucket, key, { ...headers });
      for (let part = 1, offset = 0; offset < size; part += 1, offset += partLength) {
        const length = Math.min(partLength, size - offset);
        const { stream, fed } = source.slice(length);
        current = stream;
        const request = sendPart(key, uploadId, part, length, stream).then((etag) => ({ part, etag }));
        request.catch(() => undefined); // awaited below; an early failure must not be an unhandled rejection
        requests.push(request);
        // Waits for the part to be fed, failing fast when this or the previous part's request fails meanwhile.
        await Promise.race([fed, ...requests.slice(-2).map(async (inFlight) => inFlight.then(() => fed))]);
        // The previous part's answer must be in before the part after this one starts.
        if (requests.length >= 2) await requests[requests.length - 2];
      }
      current = undefined;
      await source.end();
      const etags = await Promise.all(requests);
      await client.completeMultipartUpload(bucket, key, uploadId, etags);
    } catch (err) {
      // Aborts the part in flight, if any (its request fails with the same error).
      current?.destroy(err instanceof Error ? err : new Error(String(err)));
      source.release();
      await Promise.allSettled(requests);
      if (uploadId !== undefined) {
        // Best effort, as in put: a lifecycle rule (AbortIncompleteMultipartUpload) reclaims what this leaves.
        await client.abortMultipartUpload(bucket, key, uploadId).catch(() => undefined);
      }
      throw err;
    }
  }

  if (options.createBucket) {
    if (!(await client.bucketExists(bucket))) {
      try {
        await client.makeBucket(bucket, region);
      } catch (err) {
        // Another instance may have created it between the check and now.
        const code = s3Code(err);
        if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw err;
      }
    }
  }

  return {
    driver: 's3',

    async put(key: string, body: Readable, putOptions: PutOptions = {}): Promise<StoredBlob> {
      assertValidKey(key);
      const { expectedBytes } = putOptions;
      // Throws BlobTooLargeError at once when expectedBytes is above maxBytes.
      const meter = new StreamMeter({ maxBytes: putOptions.maxBytes, expectedBytes, key });
      const headers: Record<string, string> = putOptions.contentType ? { 'Content-Type': putOptions.contentType } : {};
      if (expectedBytes !== undefined && expectedBytes > partSize) {
        await putStreamed(key, body, meter, expectedBytes, headers);
        return { key, size: meter.bytes, sha256: meter.digest() };
      }
      // Unknown size, or at most one part: buffer (at most one part), so that a single PUT only ever carries a
      // complete, checked body (a stream cut off mid-PUT is not discarded by every S3 server).
      const part = new PartBuffer(partSize, expectedBytes);
      const etags: { part: number; etag: string }[] = [];
      let uploadId: string | undefined;

      // Done by hand rather than via client.putObject: for objects over one part minio first calls
      // ListMultipartUploads (to resume), which s3rver and some gateways lack, and it needs the size up front.
      const uploadPart = async (bytes: Buffer): Promise<void> => {
        uploadId ??= await client.initiateNewMultipartUpload(bucket, key, { ...headers });
        const partNumber = etags.length + 1;
        const id = uploadId;
        const { etag } = await resentOnReset(async () =>
          client.uploadPart({ bucketName: bucket, objectName: key, uploadID: id, partNumber, headers: {} }, bytes),
        );
        etags.push({ part: partNumber, etag });
      };

      try {
        for await (const chunk of sourceOf(body)) {
          const buf = toBuffer(chunk);
          meter.update(buf); // throws BlobTooLargeError past maxBytes, before the bytes are sent
          await part.append(buf, uploadPart);
        }
        meter.assertComplete(); // fewer bytes than expectedBytes
        if (uploadId === undefined) {
          // Everything fit in one part: a single PUT is atomic by itself.
          await resentOnReset(async () => client.putObject(bucket, key, part.view(), part.length, headers));
        } else {
          // Lazy flushing guarantees the last part is non-empty.
          await uploadPart(part.view());
          // Only completion makes the object visible, so readers never see a partial upload.
          await client.completeMultipartUpload(bucket, key, uploadId, etags);
        }
      } catch (err) {
        if (uploadId !== undefined) {
          // Best effort: the original error matters more. Leftover parts are invisible to readers;
          // a bucket lifecycle rule (AbortIncompleteMultipartUpload) reclaims them if this fails.
          await client.abortMultipartUpload(bucket, key, uploadId).catch(() => undefined);
        }
        throw err;
      }
      return { key, size: meter.bytes, sha256: meter.digest() };
    },

    async get(key: string, range?: ByteRange): Promise<Readable> {
      assertValidKey(key);
      if (range) assertValidRange(key, range);
      try {
        if (!range) return await resentOnReset(async () => client.getObject(bucket, key));
        const res = await resentOnReset(async () => client.getPartialObject(bucket, key, range.start, range.end - range.start + 1));
        return exactRange(res, range);
      } catch (err) {
        if (isNotFound(err)) throw new BlobNotFoundError(key);
        if (range && s3Code(err) === 'InvalidRange') throw new InvalidBlobRangeError(key, range);
        throw err;
      }
    },

    async stat(key: string): Promise<BlobStat | null> {
      assertValidKey(key);
      try {
        const st = await resentOnReset(async () => client.statObject(bucket, key));
        return { key, size: st.size, lastModified: st.lastModified };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },

    async delete(key: string): Promise<void> {
      assertValidKey(key);
      try {
        await resentOnReset(async () => client.removeObject(bucket, key));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },

    async *list(prefix = ''): AsyncIterable<BlobStat> {
      assertValidPrefix(prefix);
      // recursive=true: no delimiter, so every item is an object, never a common prefix.
      const items = client.listObjectsV2(bucket, prefix, true) as unknown as AsyncIterable<BucketItem>;
      for await (const item of items) {
        if (item.name === undefined) continue;
        yield { key: item.name, size: item.size, lastModified: item.lastModified };
      }
    },

    async ping(): Promise<void> {
      const exists = await withTimeout(pingClient.bucketExists(bucket), pingTimeoutMs, `S3 ping timed out after ${pingTimeoutMs} ms`);
      if (!exists) throw new Error(`S3 bucket "${bucket}" does not exist`);
    },

    async close(): Promise<void> {
      agent.destroy();
      pingAgent.destroy();
    },
  };
}
