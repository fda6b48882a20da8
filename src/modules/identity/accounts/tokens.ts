// Access and refresh tokens for API clients. Rules:
// 1. an access token is a JWT (RFC 9068 profile, `typ: at+jwt`) signed with the current key, carrying iss, aud,
//    sub, iat, exp (15 minutes), jti, the user's role and the scopes of that role;
// 2. a refresh token is 32 random bytes, shown once; only its SHA-256 is stored;
// 3. a refresh token is single-use: refreshing marks it used and issues a new pair in the same family;
// 4. presenting a used or revoked refresh token revokes its whole family, since either the client or a thief
//    holds a copy (RFC 9700 §4.14.2); so does refreshing for a user who is gone or inactive;
// 5. revoking (RFC 7009) a refresh token revokes its family; an unknown token or an access token is answered
//    alike, and an access token simply runs out within 15 minutes.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { badCredentials } from '../../../edge/authentication.ts';
import type { Clock } from '../../../kernel/clock.ts';
import type { AnyDb, Storage } from '../../../storage/database.ts';
import { type Role, scopesOfRole } from '../principal.ts';
import type { LoginService } from './login.ts';
import {
  findAccount,
  findRefreshToken,
  insertRefreshToken,
  markRefreshTokenUsed,
  revokeRefreshFamily,
} from './repository.ts';
import { accessTokenTtlSeconds, type Keyring } from './signing-keys.ts';

export const refreshTokenTtlMs = 30 * 24 * 60 * 60 * 1000;

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  expiresIn: number;
}

export interface TokenService {
  issue(input: { email: string; password: string; ip: string }): Promise<TokenPair>;
  refresh(refreshToken: string): Promise<TokenPair>;
  revoke(token: string): Promise<void>;
}

/** Who may verify our access tokens: `iss` and `aud` as both the issuer and the authenticator use them. */
export interface TokenAudience {
  issuer: string;
  audience: string;
}

export const tokenAudience = (publicUrl: string): TokenAudience => ({ issuer: publicUrl, audience: `${publicUrl}/v1` });

const hashOf = (token: string): string => createHash('sha256').update(token).digest('hex');

const badRefreshToken = () => badCredentials('refresh token');

export interface TokenDependencies {
  storage: Storage;
  clock: Clock;
  keys: Keyring;
  login: LoginService;
  audience: TokenAudience;
}

export function tokenService({ storage, clock, keys, login, audience }: TokenDependencies): TokenService {
  async function accessToken(userId: string, role: Role, now: Date): Promise<string> {
    const key = await keys.signingKey();
    const issuedAt = Math.floor(now.getTime() / 1000);
    return new SignJWT({ scope: scopesOfRole(role).join(' '), role })
      .setProtectedHeader({ alg: key.algorithm, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(audience.issuer)
      .setAudience(audience.audience)
      .setSubject(userId)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + accessTokenTtlSeconds)
      .setJti(randomUUID())
      .sign(key.key);
  }

  /** Stores a new refresh token of `familyId` through `db` (perhaps a transaction) and returns it. */
  async function newRefreshToken(db: AnyDb, userId: string, familyId: string, now: Date): Promise<string> {
    const refreshToken = randomBytes(32).toString('base64url');
    await insertRefreshToken(db, {
      id: randomUUID(),
      tokenHash: hashOf(refreshToken),
      familyId,
      userId,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + refreshTokenTtlMs).toISOString(),
      usedAt: null,
      revokedAt: null,
    });
    return refreshToken;
  }

  // Signed outside any transaction: reading the keys may need the connection a transaction would hold.
  const pair = async (userId: string, role: Role, refreshToken: string, now: Date): Promise<TokenPair> => ({
    accessToken: await accessToken(userId, role, now),
    refreshToken,
    tokenType: 'Bearer',
    expiresIn: accessTokenTtlSeconds,
  });

  return {
    async issue(input) {
      const { userId, role } = await login.login(input);
      const now = clock();
      return pair(userId, role, await newRefreshToken(storage.db, userId, randomUUID(), now), now);
    },

    async refresh(refreshToken) {
      const stored = await findRefreshToken(storage.db, hashOf(refreshToken));
      const now = clock();
      const at = now.toISOString();
      if (!stored || stored.revokedAt !== null || stored.expiresAt <= at) throw badRefreshToken();
      const account = await findAccount(storage.db, stored.userId);
      const rotated = await storage.db.transaction().execute(async (trx) => {
        if (!(await markRefreshTokenUsed(trx, stored.id, at)) || !account?.active) return null;
        return newRefreshToken(trx, account.userId, stored.familyId, now);
      });
      if (rotated === null || !account) {
        await revokeRefreshFamily(storage.db, stored.familyId, at);
        throw badRefreshToken();
      }
      return pair(account.userId, account.role, rotated, now);
    },

    async revoke(token) {
      const stored = await findRefreshToken(storage.db, hashOf(token));
      if (stored) await revokeRefreshFamily(storage.db, stored.familyId, clock().toISOString());
    },
  };
}
