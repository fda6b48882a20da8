// The Authenticator for our access tokens: `Authorization: Bearer <JWT>`. A token is accepted only when (RFC 8725):
// 1. it has the shape of a compact JWS (three base64url segments); other bearer tokens (API keys, opaque OAuth
//    tokens) are left to their own authenticators;
// 2. it is at most 8 KiB, checked before anything is parsed;
// 3. its `kid` names one of our keys still verifying, found in memory and never used in a query or a path;
// 4. its `alg` is that key's algorithm, so no other algorithm (`none`, HS256 keyed with a public key) is tried;
// 5. its signature verifies (jose);
// 6. `typ` is `at+jwt` (RFC 9068 §2.1), `iss` and `aud` are ours;
// 7. `exp`, `nbf` and `iat` hold at the clock's time, give or take a small leeway, and it lived no longer than an
//    access token may;
// 8. `sub`, `jti` and `role` are present and well-formed; its scopes are cut to what the role may hold.
// Every failure is the same 401: the reason is never told. A token that passed all of this is remembered
// (verified-tokens.ts) and on its next use only rules 3 and 7 are checked again.
import { decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { type Authenticator, badCredentials, bearerToken } from '../../../edge/authentication.ts';
import type { Clock } from '../../../kernel/clock.ts';
import { type Principal, type Role, scopesOfRole } from '../principal.ts';
import { accessTokenTtlSeconds, clockToleranceSeconds, type Keyring } from './signing-keys.ts';
import type { TokenAudience } from './tokens.ts';
import { verifiedTokens } from './verified-tokens.ts';

export const maxAccessTokenBytes = 8 * 1024;

const jwsShape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const roles: readonly string[] = ['admin', 'customer'] satisfies Role[];

const invalidToken = () => badCredentials('access token');

export function jwtAuthenticator(keys: Keyring, audience: TokenAudience, clock: Clock): Authenticator {
  const verified = verifiedTokens();
  const keyOf = (kid: string) => keys.verificationKey(kid);
  return {
    name: 'jwt',
    authenticate(request) {
      const token = bearerToken(request);
      return token === null ? null : verify(token);
    },
  };

  async function verify(token: string): Promise<Principal | null> {
    const now = clock();
    // Only tokens of the right shape and size are ever remembered, so a remembered one needs no second look.
    const known = await verified.find(token, Math.floor(now.getTime() / 1000), keyOf);
    if (known) return known;
    if (!jwsShape.test(token)) return null;
    if (token.length > maxAccessTokenBytes) throw invalidToken();
    try {
      const { kid } = decodeProtectedHeader(token);
      if (typeof kid !== 'string') throw invalidToken();
      const key = await keys.verificationKey(kid);
      if (!key) throw invalidToken();
      const { payload } = await jwtVerify(token, key.key, {
        algorithms: [key.algorithm],
        typ: 'at+jwt',
        issuer: audience.issuer,
        audience: audience.audience,
        requiredClaims: ['sub', 'jti', 'exp', 'iat'],
        maxTokenAge: accessTokenTtlSeconds,
        clockTolerance: clockToleranceSeconds,
        currentDate: now,
      });
      const { sub, jti, role, scope, iat, exp, nbf } = payload;
      if (typeof sub !== 'string' || typeof jti !== 'string' || typeof role !== 'string' || !roles.includes(role))
        throw invalidToken();
      const allowed = new Set(scopesOfRole(role as Role));
      const granted = typeof scope === 'string' ? scope.split(' ').filter((s) => allowed.has(s)) : [];
      const principal: Principal = {
        method: 'jwt',
        userId: sub,
        role: role as Role,
        scopes: new Set(granted),
        credentialId: jti,
      };
      // jose required iat and exp and checked that each time claim is a number.
      verified.remember(token, { kid, key, times: { iat: iat as number, exp: exp as number, nbf }, principal });
      return { ...principal };
    } catch (error) {
      // A malformed header or claims set, a bad signature, a failed claim check: all the same 401.
      if (error instanceof errors.JOSEError) throw invalidToken();
      throw error;
    }
  }
}
