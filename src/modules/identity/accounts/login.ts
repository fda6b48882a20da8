// Signing in with email and password, the one check every password-based entry point (tokens, sessions, the
// OAuth login page) goes through. Rules, in order:
// 1. attempts are throttled per client address, then per account, before any password is checked (429);
// 2. an unknown email, a user without a password, a wrong password and an inactive user all fail alike: the same
//    401 and message, and one argon2 verification each, so neither the answer nor its timing reveals an account.
import type { KeyValue, RateRule } from '../../../adapters/kv/port.ts';
import { bearerChallenge } from '../../../edge/authentication.ts';
import { ApiError } from '../../../kernel/errors.ts';
import type { Storage } from '../../../storage/database.ts';
import type { Role } from '../principal.ts';
import { dummyPasswordHash, verifyPassword } from './passwords.ts';
import { findAccountByEmail } from './repository.ts';

export interface LoginService {
  login(input: { email: string; password: string; ip: string }): Promise<{ userId: string; role: Role }>;
}

export interface LoginDependencies {
  storage: Storage;
  keyValue: KeyValue;
}

/**
 * Every attempt counts, successful or not: the key-value port can count but not peek, and counting every attempt
 * also bounds the argon2 work one address or one account can cause. An account gets a burst of 10 and one more
 * every 90 s; an address, which may be a whole office behind one NAT, a burst of 50 and one more every 18 s.
 */
export const loginRateRules = {
  account: { limit: 10, windowMs: 15 * 60_000 },
  address: { limit: 50, windowMs: 15 * 60_000 },
} as const satisfies Record<string, RateRule>;

/** RFC 9110 §15.5.2: a 401 carries a challenge; no `error` in it, since no token was sent. */
export const badLogin = (): ApiError =>
  new ApiError('AUTHENTICATION_REQUIRED', 'The email or password is not correct.', {
    headers: { 'www-authenticate': bearerChallenge() },
  });

async function throttle(keyValue: KeyValue, key: string, rule: RateRule): Promise<void> {
  const decision = await keyValue.consumeRate(key, rule);
  if (decision.allowed) return;
  const retryAfter = String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000)));
  throw new ApiError('RATE_LIMITED', `Too many sign-in attempts; retry in ${retryAfter} s.`, {
    headers: { 'retry-after': retryAfter },
  });
}

export function loginService({ storage, keyValue }: LoginDependencies): LoginService {
  // Made now, so the first unknown email is not slower than the attempts after it.
  void dummyPasswordHash();
  return {
    async login({ email, password, ip }) {
      const emailKey = email.toLowerCase();
      await throttle(keyValue, `login:address:${ip}`, loginRateRules.address);
      await throttle(keyValue, `login:account:${emailKey}`, loginRateRules.account);
      const account = await findAccountByEmail(storage.db, emailKey);
      const matches = await verifyPassword(account?.passwordHash ?? null, password);
      if (!account || !matches || !account.active) throw badLogin();
      return { userId: account.userId, role: account.role };
    },
  };
}
