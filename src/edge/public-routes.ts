// The one list of what anyone may call without credentials. A route is public when, and only when, it is listed
// here: the onRoute check (scopes.ts) marks listed routes public, refuses a route that calls itself public
// without being listed, and refuses any other route that declares no scope, so nothing is open by accident.
// An entry is `METHOD path`; `*` as the method means every method, and a path ending in `*` covers what follows.

export const publicRoutes: readonly string[] = [
  // Discovery, documentation and health.
  'GET /',
  'GET /healthz',
  'GET /readyz',
  'GET /docs*',
  'GET /v1/openapi.json',
  'GET /v2/openapi.json',
  // The catalog.
  'GET /v1/products',
  'GET /v1/products/:id',
  // Signing in, and what a client needs before it has credentials (the session routes answer 401 themselves
  // when there is no session, so that signing out of an expired one is not refused by the edge first).
  'POST /v1/auth/tokens',
  'POST /v1/auth/tokens/refresh',
  'POST /v1/auth/tokens/revoke',
  'POST /v1/auth/session',
  'GET /v1/auth/session',
  'DELETE /v1/auth/session',
  'GET /.well-known/jwks.json',
  // The OAuth 2.0 server authenticates its own clients and users (oidc-provider, and its sign-in pages).
  'GET /.well-known/oauth-authorization-server*',
  '* /oauth/*',
];

/** Whether `method url` is covered by an entry of `list`. */
export function isListed(list: readonly string[], method: string, url: string): boolean {
  return list.some((entry) => {
    const [listedMethod = '', path = ''] = entry.split(' ');
    if (listedMethod !== '*' && listedMethod !== method && !(method === 'HEAD' && listedMethod === 'GET')) {
      return false;
    }
    return path.endsWith('*') ? url.startsWith(path.slice(0, -1)) : url === path;
  });
}
