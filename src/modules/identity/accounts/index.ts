// The accounts module's door: passwords and sign-in, access and refresh tokens, their routes and the JWT
// authenticator. Nothing else is imported from outside.
import type { FastifyInstance } from 'fastify';
import type { KeyValue } from '../../../adapters/kv/port.ts';
import type { AccessTokenConfig } from '../../../config.ts';
import type { Authenticator } from '../../../edge/authentication.ts';
import type { Clock } from '../../../kernel/clock.ts';
import type { Storage } from '../../../storage/database.ts';
import { tokenRoutes } from './http.ts';
import { jwtAuthenticator } from './jwt-authenticator.ts';
import { type LoginService, loginService } from './login.ts';
import { type Keyring, keyring } from './signing-keys.ts';
import { tokenAudience, tokenService } from './tokens.ts';

export { jwksPath, tokensPath } from './http.ts';
export { maxAccessTokenBytes } from './jwt-authenticator.ts';
export { badLogin, type LoginService, loginRateRules, loginService } from './login.ts';
export { checkNewPassword } from './passwords.ts';
export { setPassword } from './set-password.ts';
export { accessTokenTtlSeconds, rotateSigningKey } from './signing-keys.ts';
export { refreshTokenTtlMs, type TokenPair } from './tokens.ts';

export interface AccountsDependencies {
  storage: Storage;
  keyValue: KeyValue;
  clock: Clock;
  publicUrl: string;
  accessTokens: AccessTokenConfig;
}

export interface Accounts {
  login: LoginService;
  keys: Keyring;
  /** Accepts our access tokens as `Authorization: Bearer <JWT>`. */
  authenticator: Authenticator;
  /** The token endpoints and the JWK Set. */
  routes(app: FastifyInstance): void;
}

export function accounts({ storage, keyValue, clock, publicUrl, accessTokens }: AccountsDependencies): Accounts {
  const login = loginService({ storage, keyValue });
  const keys = keyring(storage, accessTokens, clock);
  const audience = tokenAudience(publicUrl);
  return {
    login,
    keys,
    authenticator: jwtAuthenticator(keys, audience, clock),
    routes: (app) => tokenRoutes(app, tokenService({ storage, clock, keys, login, audience }), keys),
  };
}
