// Refuses API keys in the query string, on every request and before any route or authenticator runs:
//   1. The parameters `api_key`, `apiKey`, `key` and `access_token` are looked at.
//   2. One holding something of the form of an API key (`sk_…`, `pk_…`) is a 400 naming the parameter, whether or
//      not the key is valid: the mistake is sending it there at all, since URLs end up in access logs, proxy logs
//      and browser history (the reason RFC 6750 §2.3 advises against tokens in URIs).
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../kernel/errors.ts';
import { looksLikeKey } from '../modules/identity/api-keys/index.ts';
import { requestStep } from './hook-steps.ts';

const credentialParameters = ['api_key', 'apiKey', 'key', 'access_token'];

export function refuseCredentialsInQuery(app: FastifyInstance): void {
  app.addHook(
    'onRequest',
    requestStep((request) => {
      if (!request.url.includes('?')) return;
      const query = request.query as Record<string, unknown>;
      for (const name of credentialParameters) {
        const values = [query[name]].flat();
        if (!values.some((value) => typeof value === 'string' && looksLikeKey(value))) continue;
        const message =
          'API keys must never be sent in a query string, because URLs end up in logs. Send the key in the ' +
          'Authorization header as "Bearer <key>" or in X-API-Key, and roll this one: it may have been logged.';
        throw new ApiError('VALIDATION_ERROR', message, {
          details: [{ field: name, code: 'CREDENTIAL_IN_QUERY', message: `${name} holds an API key.` }],
        });
      }
      return undefined;
    }),
  );
}
