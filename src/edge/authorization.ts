// Authorization at the edge, the route-level half; the object-level half (whose order is this?) is each
// resource's access policy, checked against the record itself (transports/rest/access.ts).
//   1. A route declared `public` serves anyone. A credential that was sent must still be valid: authentication
//      already refused a bad one with 401, so a public route never serves a forged token as anonymous.
//   2. Any other route needs a principal; without one it is 401 AUTHENTICATION_REQUIRED with the Bearer
//      challenge (RFC 6750 §3: no error code when no credential was sent).
//   3. The principal must hold the route's scope; otherwise 403 INSUFFICIENT_PERMISSIONS, with
//      `error="insufficient_scope"` and the scope needed, so a client knows what to ask for.
// The 404 and 405 answers (no route matched) declare no scope and pass: they reveal nothing a route would guard.
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../kernel/errors.ts';
import { bearerChallenge, bearerRealm } from './authentication.ts';
import { requestStep } from './hook-steps.ts';

export function installAuthorization(app: FastifyInstance): void {
  app.addHook(
    'preValidation',
    requestStep((request) => {
      const scope = request.routeOptions.config?.scope;
      if (scope === undefined || scope === 'public') return;
      const principal = request.principal;
      if (principal === null) {
        throw new ApiError(
          'AUTHENTICATION_REQUIRED',
          'This operation needs credentials: a Bearer token, an API key or a session.',
          {
            headers: { 'www-authenticate': bearerChallenge() },
          },
        );
      }
      if (!principal.scopes.has(scope)) {
        throw new ApiError(
          'INSUFFICIENT_PERMISSIONS',
          `Your credentials do not carry the scope this operation needs: ${scope}.`,
          {
            headers: {
              'www-authenticate': `Bearer realm="${bearerRealm}", error="insufficient_scope", scope="${scope}"`,
            },
          },
        );
      }
      return undefined;
    }),
  );
}
