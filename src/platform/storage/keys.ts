import type { ByteRange } from './blob-store.js';
import { InvalidBlobKeyError, InvalidBlobRangeError } from './errors.js';

export const MAX_KEY_LENGTH = 512;
/** NAME_MAX of common filesystems: a longer segment could not be stored by the filesystem driver. */
export const MAX_SEGMENT_LENGTH = 255;

/**
 * First segment reserved for the filesystem driver's in-flight uploads. Rejected for both
 * drivers so a key that works on one store never fails on the other.
 */
export const RESERVED_TEMP_SEGMENT = '.tmp';

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * Throws InvalidBlobKeyError unless `key` is a relative, `/`-separated path of segments
 * drawn from [A-Za-z0-9._-], with no empty, `.` or `..` segment, at most 512 characters
 * (segments at most 255).
 * The same rule for both drivers keeps keys portable and path-traversal-proof on disk.
 */
export function assertValidKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidBlobKeyError(String(key), 'must not be empty');
  if (key.length > MAX_KEY_LENGTH) throw new InvalidBlobKeyError(key, `must be at most ${MAX_KEY_LENGTH} characters`);
  if (key.startsWith('/')) throw new InvalidBlobKeyError(key, 'must be relative');
  const segments = key.split('/');
  for (const segment of segments) {
    if (segment === '') throw new InvalidBlobKeyError(key, 'must not contain empty segments');
    if (segment === '.' || segment === '..') throw new InvalidBlobKeyError(key, 'must not contain "." or ".." segments');
    if (!SEGMENT.test(segment)) throw new InvalidBlobKeyError(key, 'segments may only contain A-Z, a-z, 0-9, ".", "_" and "-"');
    if (segment.length > MAX_SEGMENT_LENGTH) throw new InvalidBlobKeyError(key, `segments must be at most ${MAX_SEGMENT_LENGTH} characters`);
  }
  if (segments[0] === RESERVED_TEMP_SEGMENT) throw new InvalidBlobKeyError(key, `"${RESERVED_TEMP_SEGMENT}" is reserved`);
}

/**
 * A list prefix may be any leading part of a valid key (so it may end in `/` or mid-segment).
 * Only the characters are checked; it never reaches the filesystem as a path on its own.
 */
export function assertValidPrefix(prefix: string): void {
  if (prefix.length > MAX_KEY_LENGTH) throw new InvalidBlobKeyError(prefix, `prefix must be at most ${MAX_KEY_LENGTH} characters`);
  if (!/^[A-Za-z0-9._/-]*$/.test(prefix)) throw new InvalidBlobKeyError(prefix, 'prefix contains characters keys cannot have');
}

/** Rejects ranges no object could satisfy: negative, fractional or reversed bounds. */
export function assertValidRange(key: string, range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new InvalidBlobRangeError(key, range);
  }
}
