// Authentication by API key:
//   1. The key comes in `X-API-Key`, or as `Authorization: Bearer sk_…|pk_…`; a Bearer token of another form is
//      left to the other authenticators.
//   2. A key that is malformed, unknown, revoked, expired, rolled past its grace period, or whose owner is gone or
//      inactive is one and the same 401: the caller learns nothing about which.
//   3. A key is never read from the query string (edge/credentials-in-query.ts refuses it there).
import type { FastifyRequest } from 'fastify';
import { type Authenticator, badCredentials, bearerToken } from '../../../edge/authentication.ts';
import type { Principal } from '../principal.ts';
import { looksLikeKey } from './secrets.ts';
import type { ApiKeysService } from './service.ts';

const apiKeyHeader = 'x-api-key';

function presentedKey(request: FastifyRequest): string | null {
  const header = request.headers[apiKeyHeader];
  // Sent twice, the header is an array: not one key, so not a valid one.
  if (header !== undefined) return typeof header === 'string' ? header : '';
  const token = bearerToken(request);
  return token !== null && looksLikeKey(token) ? token : null;
}

export function apiKeyAuthenticator(service: ApiKeysService): Authenticator {
  return {
    name: 'api-key',
    authenticate(request) {
      const key = presentedKey(request);
      if (key === null) return null;
      return service.authenticate(key).then((principal): Principal => {
        if (!principal) throw badCredentials('API key');
        return principal;
      });
    },
  };
}
