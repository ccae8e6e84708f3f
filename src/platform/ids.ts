import { randomBytes } from 'node:crypto';

let lastMillis = 0;
let sequence = 0;

/** Random bytes are drawn from the CSPRNG in blocks: one call per 256 ids rather than per id (bulk ingest mints millions). */
const POOL_BYTES = 16 * 256;
let pool = Buffer.alloc(0);
let poolOffset = 0;

/** 16 fresh random bytes; each block is handed out once and never refilled in place, so the slices stay independent. */
function random16(): Buffer {
  if (poolOffset + 16 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  poolOffset += 16;
  return pool.subarray(poolOffset - 16, poolOffset);
}

/**
 * RFC 9562 UUIDv7: 48-bit Unix milliseconds, then random bits. Ids sort by creation time
 * (ties within one millisecond keep their order in this process through a 12-bit counter),
 * so they make good keyset-pagination keys without revealing a sequence.
 */
export function uuidv7(now: number = Date.now()): string {
  if (now > lastMillis) {
    lastMillis = now;
    sequence = random16().readUInt16BE(0) & 0x07ff;
  } else {
    // Same (or an earlier) millisecond: count on from the last id so order is kept.
    sequence += 1;
    if (sequence > 0x0fff) {
      lastMillis += 1;
      sequence = 0;
    }
  }
  const bytes = random16();
  bytes.writeUIntBE(lastMillis, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const UUID_REGEX = new RegExp(UUID_PATTERN);

export function isUuid(value: string): boolean {
  return UUID_REGEX.test(value);
}
