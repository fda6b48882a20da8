// Access tokens already verified, so that a client sending one token on every call pays for one signature check,
// not one per request (an Ed25519 verification through WebCrypto cost more than the rest of an authenticated GET /
// together; bench/README.md). Envoy's jwt_authn keeps such a cache for the same reason. Rules:
// 1. The entry is found by the whole compact token: the same bytes verify the same way under the same key. The map is
//    keyed by the signature alone, because hashing a string reads all of it (the whole token cost about 1 µs a
//    request), and a hit then compares the whole token.
// 2. A hit counts only while the key that verified the token is still the one its `kid` names: a retired or
//    replaced key's tokens are verified again (and fail) at once.
// 3. A hit counts only while the token's time claims hold at the clock's time, by the very tests jose applies
//    (`nbf`, `exp`, and `iat` within the longest lifetime), with the same leeway.
// 4. At most `capacity` tokens are kept, the oldest dropped first; an entry found out of its time is dropped.
import type { Principal } from '../principal.ts';
import { accessTokenTtlSeconds, clockToleranceSeconds } from './signing-keys.ts';

/** The time claims of a verified token, in epoch seconds as jose reads them. */
export interface TokenTimes {
  iat: number;
  exp: number;
  nbf: number | undefined;
}

interface Entry {
  token: string;
  kid: string;
  /** The key object that verified it; the keyring hands out the same object while the key is unchanged. */
  key: unknown;
  times: TokenTimes;
  principal: Principal;
}

/** jose's claim-time tests (validateClaimsSet) for the options the authenticator passes it. */
export function timesHold(times: TokenTimes, nowSeconds: number): boolean {
  const tolerance = clockToleranceSeconds;
  const age = nowSeconds - times.iat;
  return (
    (times.nbf === undefined || times.nbf <= nowSeconds + tolerance) &&
    times.exp > nowSeconds - tolerance &&
    age - tolerance <= accessTokenTtlSeconds &&
    age >= -tolerance
  );
}

const signatureOf = (token: string): string => token.slice(token.lastIndexOf('.') + 1);

export interface VerifiedTokens {
  /** The principal of a token verified before, if rules 2 and 3 still hold; `keyOf` finds the key a kid names now. */
  find(token: string, nowSeconds: number, keyOf: (kid: string) => Promise<unknown>): Promise<Principal | null>;
  remember(token: string, entry: Omit<Entry, 'token'>): void;
}

export function verifiedTokens(capacity = 10_000): VerifiedTokens {
  const entries = new Map<string, Entry>();
  return {
    async find(token, nowSeconds, keyOf) {
      const entry = entries.get(signatureOf(token));
      if (entry?.token !== token) return null;
      if (!timesHold(entry.times, nowSeconds) || (await keyOf(entry.kid)) !== entry.key) {
        entries.delete(signatureOf(token));
        return null;
      }
      // Each request gets its own principal object, so nothing one request does to it reaches another.
      return { ...entry.principal };
    },
    remember(token, entry) {
      if (entries.size >= capacity) entries.delete(entries.keys().next().value as string);
      entries.set(signatureOf(token), { ...entry, token });
    },
  };
}
