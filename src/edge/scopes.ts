// Every route declares the scope it needs or is listed public (public-routes.ts), checked when the route is
// registered; the edge enforces the scope (authorization.ts), and it documents each operation's security.
import type { FastifyInstance } from 'fastify';
import { allScopes } from '../modules/identity/principal.ts';
import { isListed } from './public-routes.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a caller needs, as `resource:read` or `resource:write`; `public` for routes open to anyone. */
    scope?: string;
  }
}

const scopePattern = /^([a-z][a-z-]*:(read|write)|public)$/;

/**
 * How a caller may authenticate, for the OpenAPI document. Scopes are listed on the OAuth 2.0 requirement, whose
 * flows define them; every other scheme carries the same scopes (a JWT's `scope` claim, an API key's scopes, a
 * session's role), named on that requirement.
 */
export const securitySchemes = (publicUrl: string) => {
  const scopes = Object.fromEntries(
    allScopes.map((scope) => {
      const [resource = '', access] = scope.split(':');
      const what = resource.replace('-', ' ');
      return [scope, access === 'read' ? `Read ${what}` : `Create, change and delete ${what}`];
    }),
  );
  return {
    bearerAuth: {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description:
        'An access token: a short-lived JWT following RFC8725 (JWT best current practices), renewed with a refresh token.',
    },
    apiKeyAuth: {
      type: 'apiKey',
      in: 'header',
      name: 'X-API-Key',
      description: 'A secret API key (sk_test_… or sk_live_…). Never in a query string.',
    },
    sessionCookie: {
      type: 'apiKey',
      in: 'cookie',
      name: 'portico_session',
      description:
        'A browser session from POST /v1/auth/session. POST, PUT, PATCH and DELETE made with it must send the ' +
        "session's CSRF token in X-CSRF-Token.",
    },
    oauth2: {
      type: 'oauth2',
      description:
        'Opaque access tokens from the OAuth 2.0 server under /oauth (metadata at ' +
        '/.well-known/oauth-authorization-server/oauth), introspectable and revocable; the ID tokens it signs follow ' +
        'RFC8725. Registered confidential clients may also use client credentials (RFC 6749 §4.4) at the same token ' +
        'URL, with the scopes they were registered with; those tokens are short-lived and requested again, not ' +
        'refreshed.',
      flows: {
        authorizationCode: {
          authorizationUrl: `${publicUrl}/oauth/auth`,
          tokenUrl: `${publicUrl}/oauth/token`,
          refreshUrl: `${publicUrl}/oauth/token`,
          scopes,
        },
      },
    },
  } as const;
};

/**
 * Every route either is listed in `publicRoutes` (and becomes public) or declares the scope it needs; a route that
 * calls itself public without being listed, or declares nothing, stops start-up. `publicRoutes` may be extended by
 * a host of the app (tests list their probe routes).
 */
export function requireDeclaredScopes(app: FastifyInstance, publicRoutes: readonly string[]): void {
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat().map(String);
    const name = `${methods.join(',')} ${route.url}`;
    const listed = methods.every((method) => isListed(publicRoutes, method, route.url));
    const declared = route.config?.scope;
    if (listed) {
      if (declared !== undefined && declared !== 'public') {
        throw new Error(`Route ${name} is listed public but declares the scope ${declared}.`);
      }
      route.config = { ...route.config, scope: 'public' };
      return;
    }
    if (declared === 'public') {
      throw new Error(`Route ${name} calls itself public, but only routes listed in src/edge/public-routes.ts are.`);
    }
    if (declared === undefined || !scopePattern.test(declared)) {
      throw new Error(`Route ${name} must declare config.scope as 'resource:read|write', or be listed public.`);
    }
    route.schema = {
      ...route.schema,
      security: [{ oauth2: [declared] }, { bearerAuth: [] }, { apiKeyAuth: [] }, { sessionCookie: [] }],
    };
  });
}
