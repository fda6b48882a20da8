// The keys access tokens are signed with. An asymmetric key pair is made on first use and kept in the database
// (the private half as a JWK), so every process sharing the database signs and verifies alike; the newest key
// signs, and a superseded key keeps verifying until every token it signed has expired. With HS256 the configured
// secret signs instead and is never published.
import { randomUUID } from 'node:crypto';
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { AccessTokenConfig } from '../../../config.ts';
import type { Clock } from '../../../kernel/clock.ts';
import type { Storage } from '../../../storage/database.ts';
import { insertCurrentSigningKey, listSigningKeys } from './repository.ts';

export const accessTokenTtlSeconds = 15 * 60;
/** Leeway for clocks of other machines that verify our tokens, in exp, nbf and iat checks. */
export const clockToleranceSeconds = 10;
/** How long a superseded key keeps verifying: the lifetime of the last token it signed, plus the leeway. */
const verifyingAfterSupersededMs = (accessTokenTtlSeconds + clockToleranceSeconds) * 1000;
/** Keys are read again this often, so a key rotated by another process is used and published. */
const reloadEveryMs = 60_000;
/** A token naming a kid we do not know makes us read the keys again, but no more often than this. */
const unknownKidReloadMs = 5_000;

export type AsymmetricAlgorithm = 'EdDSA' | 'ES256' | 'RS256';

export interface VerificationKey {
  kid: string;
  algorithm: AccessTokenConfig['algorithm'];
  key: CryptoKey | Uint8Array;
}

export interface Keyring {
  /** The key that signs new tokens. */
  signingKey(): Promise<VerificationKey>;
  /** The key a token's `kid` names, among those still verifying; null for any other kid. */
  verificationKey(kid: string): Promise<VerificationKey | null>;
  /** The public keys still verifying, as a JWK Set (RFC 7517 §5). */
  publicKeys(): Promise<{ keys: JWK[] }>;
}

/** Makes a new key pair of `algorithm` and makes it the current signing key; returns its kid. */
export async function rotateSigningKey(
  storage: Storage,
  algorithm: AsymmetricAlgorithm,
  clock: Clock,
): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair(algorithm, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  // RFC 7638 thumbprint plus a random part: unique even if a key were ever imported twice.
  const kid = `${(await calculateJwkThumbprint(publicJwk)).slice(0, 16)}-${randomUUID().slice(0, 8)}`;
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: algorithm };
  await storage.db.transaction().execute((trx) =>
    insertCurrentSigningKey(trx, {
      kid,
      algorithm,
      privateJwk: JSON.stringify(privateJwk),
      publicJwk: JSON.stringify({ ...publicJwk, kid, alg: algorithm, use: 'sig' }),
      createdAt: clock().toISOString(),
      supersededAt: null,
    }),
  );
  return kid;
}

interface Loaded {
  atMs: number;
  current: VerificationKey | null;
  byKid: Map<string, VerificationKey>;
  published: JWK[];
}

export function keyring(storage: Storage, config: AccessTokenConfig, clock: Clock): Keyring {
  const hs256 = config.hs256Secret;
  const hs256Key: Promise<VerificationKey> | null = hs256
    ? calculateJwkThumbprint({ kty: 'oct', k: Buffer.from(hs256).toString('base64url') }).then((thumbprint) => ({
        kid: `hs256-${thumbprint.slice(0, 16)}`,
        algorithm: 'HS256',
        key: hs256,
      }))
    : null;
  let loaded: Loaded | null = null;
  let loading: Promise<Loaded> | null = null;
  let creating: Promise<string> | null = null;

  async function read(): Promise<Loaded> {
    const nowMs = clock().getTime();
    const rows = await listSigningKeys(storage.db, new Date(nowMs - verifyingAfterSupersededMs).toISOString());
    const byKid = new Map<string, VerificationKey>();
    const published: JWK[] = [];
    let current: VerificationKey | null = null;
    for (const row of rows) {
      const algorithm = row.algorithm as AsymmetricAlgorithm;
      const publicJwk = JSON.parse(row.publicJwk) as JWK;
      byKid.set(row.kid, { kid: row.kid, algorithm, key: (await importJWK(publicJwk, algorithm)) as CryptoKey });
      published.push(publicJwk);
      if (row.supersededAt === null && current === null && algorithm === config.algorithm) {
        current = {
          kid: row.kid,
          algorithm,
          key: (await importJWK(JSON.parse(row.privateJwk), algorithm)) as CryptoKey,
        };
      }
    }
    return { atMs: nowMs, current, byKid, published };
  }

  /** The keys as read at most `maxAgeMs` ago; concurrent callers share one read. */
  async function keys(maxAgeMs = reloadEveryMs): Promise<Loaded> {
    if (loaded && clock().getTime() - loaded.atMs < maxAgeMs) return loaded;
    loading ??= read().finally(() => {
      loading = null;
    });
    loaded = await loading;
    return loaded;
  }

  return {
    async signingKey() {
      if (hs256Key) return hs256Key;
      const found = (await keys()).current;
      if (found) return found;
      // First use, or the configured algorithm changed: a new key of that algorithm becomes current.
      creating ??= rotateSigningKey(storage, config.algorithm as AsymmetricAlgorithm, clock).finally(() => {
        creating = null;
      });
      await creating;
      const reread = (await keys(0)).current;
      if (!reread) throw new Error('the signing key just made could not be read back');
      return reread;
    },
    async verificationKey(kid) {
      if (hs256Key && kid === (await hs256Key).kid) return hs256Key;
      const known = (await keys()).byKid.get(kid);
      if (known) return known;
      return (await keys(unknownKidReloadMs)).byKid.get(kid) ?? null;
    },
    async publicKeys() {
      return { keys: (await keys()).published };
    },
  };
}
