/**
 * Storage-layer errors. Deliberately plain Error subclasses (not AppError): the storage
 * drivers know nothing about HTTP; the app maps `code` to a status where it calls them.
 */

export class BlobNotFoundError extends Error {
  readonly code = 'BLOB_NOT_FOUND';
  constructor(readonly key: string) {
    super(`Blob not found: ${key}`);
    this.name = 'BlobNotFoundError';
  }
}

export class BlobTooLargeError extends Error {
  readonly code = 'BLOB_TOO_LARGE';
  constructor(
    /** The configured limit in bytes that the upload exceeded. */
    readonly limit: number,
    readonly key?: string,
  ) {
    super(`Blob exceeds the limit of ${limit} bytes${key === undefined ? '' : `: ${key}`}`);
    this.name = 'BlobTooLargeError';
  }
}

/**
 * A put whose body did not carry exactly the `expectedBytes` announced for it (it ended early, or ran on past
 * them): nothing was stored. `received` is what had arrived when the mismatch showed, so for a body that ran on
 * it is a lower bound.
 */
export class BlobSizeMismatchError extends Error {
  readonly code = 'BLOB_SIZE_MISMATCH';
  constructor(
    readonly expected: number,
    readonly received: number,
    readonly key?: string,
  ) {
    super(
      `Blob body ${received < expected ? `ended after ${received} bytes` : `ran past ${expected} bytes`} of the ${expected} announced${key === undefined ? '' : `: ${key}`}`,
    );
    this.name = 'BlobSizeMismatchError';
  }
}

export class InvalidBlobKeyError extends Error {
  readonly code = 'INVALID_BLOB_KEY';
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`Invalid blob key ${JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key)}: ${reason}`);
    this.name = 'InvalidBlobKeyError';
  }
}

/** A range that is malformed or starts at/after the end of the object (HTTP 416 territory). */
export class InvalidBlobRangeError extends Error {
  readonly code = 'INVALID_BLOB_RANGE';
  constructor(
    readonly key: string,
    readonly range: { start: number; end: number },
    /** Object size when known (the filesystem driver knows it; S3 reports only "unsatisfiable"). */
    readonly size?: number,
  ) {
    super(`Range ${range.start}-${range.end} is not satisfiable for blob ${key}${size === undefined ? '' : ` (size ${size})`}`);
    this.name = 'InvalidBlobRangeError';
  }
}
