// Every API route declares the scope it needs, checked when the route is registered, so the identity module can
// switch access control on for all routes at once; the scopes also document each operation's security.
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a caller needs, as `resource:read` or `resource:write`; `public` for routes open to anyone. */
    scope?: string;
  }
}

const scopePattern = /^([a-z][a-z-]*:(read|write)|public)$/;

export const securitySchemes = {
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
} as const;

export function requireDeclaredScopes(app: FastifyInstance, prefixes: string[]): void {
  app.addHook('onRoute', (route) => {
    if (!prefixes.some((prefix) => route.url.startsWith(prefix))) return;
    const scope = route.config?.scope;
    if (scope === undefined || !scopePattern.test(scope)) {
      throw new Error(
        `Route ${String(route.method)} ${route.url} must declare config.scope as 'resource:read|write' or 'public'.`,
      );
    }
    if (scope !== 'public')
      route.schema = { ...route.schema, security: [{ bearerAuth: [scope] }, { apiKeyAuth: [scope] }] };
  });
}
