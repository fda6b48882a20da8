// Password hashing with argon2id (RFC 9106) at the OWASP baseline parameters @node-rs/argon2 uses by default
// (m=19456 KiB, t=2, p=1). Only the PHC string is ever stored; the password itself is never kept or logged.
import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { invalid } from '../../../kernel/errors.ts';

// argon2id is the library's default algorithm; naming it would need its ambient const enum (STACK §3f).
export const hashPassword = (password: string): Promise<string> => hash(password);

export const minPasswordLength = 8;
// Long enough for any passphrase or generated secret (NIST SP 800-63B §3.1.1.2 asks for at least 64), short
// enough that hashing cannot be made expensive by the input alone.
export const maxPasswordLength = 256;

/** A password we are willing to store: checked when one is set, never when one is tried. */
export function checkNewPassword(password: string, field = 'password'): void {
  const length = [...password].length;
  if (length < minPasswordLength || length > maxPasswordLength) {
    throw invalid(
      field,
      'INVALID_LENGTH',
      `A password must be ${minPasswordLength} to ${maxPasswordLength} characters long.`,
    );
  }
}

let dummyHash: Promise<string> | null = null;

/** The hash an unknown account is checked against; made once per process, ahead of the first sign-in. */
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(32).toString('base64url'));
  return dummyHash;
}

/**
 * True when `password` matches `stored`. With no stored hash (unknown email, no password set) it still runs one
 * argon2 verification, against a hash of a random secret, so the time taken does not reveal whether the account
 * exists.
 */
export async function verifyPassword(stored: string | null, password: string): Promise<boolean> {
  if (stored === null) {
    await verify(await dummyPasswordHash(), password).catch(() => false);
    return false;
  }
  return verify(stored, password).catch(() => false);
}
