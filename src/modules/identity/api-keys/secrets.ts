// The form of an API key's secret: `sk_` or `pk_`, the mode, then 43 base62 characters (256 random bits); and the
// hash that is all the database keeps of it.
import { hash, randomBytes } from 'node:crypto';

export type KeyType = 'secret' | 'publishable';
export type KeyMode = 'test' | 'live';

const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 43 × log2(62) ≈ 256.03 bits: at least the 32 random bytes a secret needs. */
const randomLength = 43;
const keyPattern = /^(sk|pk)_(test|live)_([0-9A-Za-z]{43})$/;
/** What a caller meant as an API key, well formed or not: decides which authenticator answers. */
const keyLike = /^(sk|pk)_/;

export const prefixOf = (type: KeyType, mode: KeyMode): string => `${type === 'secret' ? 'sk' : 'pk'}_${mode}_`;

/**
 * Base62 keeps the key one word (a double click selects it whole). Bytes of 248 and above are dropped so every
 * character is equally likely (248 = 4 × 62): taking them modulo 62 would favour the first eight characters.
 */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(64)) {
      if (byte < 248 && out.length < length) out += alphabet[byte % 62];
    }
  }
  return out;
}

export function generateSecret(type: KeyType, mode: KeyMode): string {
  return `${prefixOf(type, mode)}${randomBase62(randomLength)}`;
}

/** The type and mode a well-formed key names, or null for anything else. */
export function parseKey(text: string): { type: KeyType; mode: KeyMode } | null {
  const match = keyPattern.exec(text);
  if (!match) return null;
  return { type: match[1] === 'sk' ? 'secret' : 'publishable', mode: match[2] as KeyMode };
}

export const looksLikeKey = (text: string): boolean => keyLike.test(text);

/**
 * SHA-256, unsalted and fast, on purpose. A slow salted hash (argon2) exists to make guessing a low-entropy password
 * from its hash expensive; a key carries 256 random bits, which no amount of guessing covers, so the slowness would
 * buy nothing and cost every request tens of milliseconds. Unsalted, the hash is also a lookup key: the secret is
 * found by an index, never by comparing against each stored hash in turn.
 */
export const hashSecret = (secret: string): string => hash('sha256', secret, 'hex');

export const lastFourOf = (secret: string): string => secret.slice(-4);
