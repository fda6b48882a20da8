// Prefixed, time-sortable identifiers in the TypeID format: `usr_` + the 26-character Crockford base32 of a UUIDv7.
import { randomBytes } from 'node:crypto';

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
} as const;
export type IdPrefix = (typeof idPrefixes)[keyof typeof idPrefixes];

let lastMs = 0;
let sequence = 0;

/** A UUIDv7 (RFC 9562 §5.7): 48-bit Unix milliseconds, then a 12-bit counter so ids made in one millisecond stay ordered. */
function uuidV7Bytes(nowMs: number): Uint8Array {
  const bytes = randomBytes(16);
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

/** Crockford base32 of 128 bits as 26 characters, the first carrying only 3 bits (TypeID spec). */
function encodeBase32(bytes: Uint8Array): string {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let out = '';
  for (let i = 0; i < 26; i++) {
    out = alphabet[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return out;
}

export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  return `${prefix}_${encodeBase32(uuidV7Bytes(nowMs))}`;
}

export function isId(prefix: IdPrefix, value: string): boolean {
  return value.length === prefix.length + 27 && value.startsWith(`${prefix}_`) && suffixPattern.test(value.slice(-26));
}
