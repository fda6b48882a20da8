// Prefixed, time-sortable identifiers in the TypeID format: `usr_` + the 26-character Crockford base32 of a UUIDv7.
import { randomFillSync } from 'node:crypto';

const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
const suffixPattern = /^[0-7][0-9a-hjkmnp-tv-z]{25}$/;

export const idPrefixes = {
  user: 'usr',
  product: 'prd',
  order: 'ord',
  post: 'pst',
  comment: 'cmt',
  event: 'evt',
  request: 'req',
  session: 'ses',
  apiKey: 'key',
  oauthClient: 'cli',
  webhookEndpoint: 'whe',
  webhookDelivery: 'whd',
} as const;
export type IdPrefix = (typeof idPrefixes)[keyof typeof idPrefixes];

let lastMs = 0;
let sequence = 0;

// Random bytes are drawn 256 ids at a time: one CSPRNG call per id cost more than the rest of newId together.
const pool = Buffer.alloc(16 * 256);
let poolOffset = pool.length;

function randomBytes16(): Buffer {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += 16;
  return pool.subarray(poolOffset - 16, poolOffset);
}

/** A UUIDv7 (RFC 9562 §5.7): 48-bit Unix milliseconds, then a 12-bit counter so ids made in one millisecond stay ordered. */
function uuidV7Bytes(nowMs: number): Uint8Array {
  const bytes = randomBytes16();
  if (nowMs <= lastMs) {
    sequence = (sequence + 1) & 0xfff;
    if (sequence === 0) lastMs += 1;
    nowMs = lastMs;
  } else {
    lastMs = nowMs;
    sequence = bytes.readUInt16BE(6) & 0x7ff;
  }
  bytes.writeUIntBE(nowMs, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  return bytes;
}

const alphabetCodes = Buffer.from(alphabet, 'latin1');
// Characters are written here and read out as one string: appending them one at a time built a chain of 26 strings
// that had to be flattened again wherever the id was used (every request's id is one).
const encoded = Buffer.alloc(26);

/** Crockford base32 of 128 bits as 26 characters, the first carrying only 3 bits (TypeID spec). */
function encodeBase32(bytes: Uint8Array): string {
  // 26 × 5 = 130 bits: the two bits in front of the 128 are zero, so reading starts with them in the buffer.
  let buffer = 0;
  let bits = 2;
  let at = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0x1fff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      encoded[at++] = alphabetCodes[(buffer >> bits) & 31] ?? 0;
    }
  }
  return encoded.toString('latin1', 0, at);
}

export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  return `${prefix}_${encodeBase32(uuidV7Bytes(nowMs))}`;
}

export function isId(prefix: IdPrefix, value: string): boolean {
  return value.length === prefix.length + 27 && value.startsWith(`${prefix}_`) && suffixPattern.test(value.slice(-26));
}

/**
 * The id for given Unix milliseconds and 10 given random bytes, laid out as a UUIDv7 like newId's: a deterministic
 * generator (the seeder) gets the same id from the same inputs, still sorted by time.
 */
export function idFromParts(prefix: IdPrefix, ms: number, random: Uint8Array): string {
  const bytes = new Uint8Array(16);
  // 48 bits of milliseconds, big-endian; the top 16 bits are split off first since bitwise operators work on 32.
  const high = Math.floor(ms / 0x1_0000_0000);
  bytes[0] = (high >>> 8) & 0xff;
  bytes[1] = high & 0xff;
  bytes[2] = (ms >>> 24) & 0xff;
  bytes[3] = (ms >>> 16) & 0xff;
  bytes[4] = (ms >>> 8) & 0xff;
  bytes[5] = ms & 0xff;
  for (let i = 0; i < 10; i++) bytes[6 + i] = random[i] ?? 0;
  bytes[6] = 0x70 | ((random[0] ?? 0) & 0x0f);
  bytes[8] = 0x80 | ((random[2] ?? 0) & 0x3f);
  return `${prefix}_${encodeBase32(bytes)}`;
}
