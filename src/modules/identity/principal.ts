// Who is calling: what every means of authentication (session cookie, JWT, API key, OAuth token) resolves to, and
// all that authorization looks at. Routes and services see a Principal, never the credential it came from.

export type Role = 'admin' | 'customer';

export type AuthMethod = 'session' | 'jwt' | 'api-key' | 'oauth';

export interface Principal {
  method: AuthMethod;
  /** The user acting; null for an OAuth client acting for itself (client credentials). */
  userId: string | null;
  /** The user's role; null for an OAuth client acting for itself. */
  role: Role | null;
  /** What the credential allows (`orders:read`, …); the route's declared scope must be among them. */
  scopes: ReadonlySet<string>;
  /** The credential, as logs and rate limits name it: session id hash, `jti`, API key id, OAuth client id. */
  credentialId: string;
  /** A publishable API key (`pk_…`) may only read the public catalog. */
  publishable?: boolean;
  /** An API key's mode. */
  mode?: 'test' | 'live';
  /** The OAuth client the token was issued to. */
  clientId?: string;
}

/** Every scope a route may declare, by resource; admin credentials get all of them. */
export const resourceScopes = [
  'users',
  'products',
  'orders',
  'posts',
  'comments',
  'api-keys',
  'oauth-clients',
] as const;

export const allScopes: readonly string[] = resourceScopes.flatMap((resource) => [
  `${resource}:read`,
  `${resource}:write`,
]);

/**
 * What a customer's credentials may carry at most: reading and writing their own things (object-level checks
 * narrow each to the owner), reading the catalog. Writing products and managing OAuth clients are for admins.
 */
export const customerScopes: readonly string[] = allScopes.filter(
  (scope) => scope !== 'products:write' && !scope.startsWith('oauth-clients:'),
);

/** The scopes a role may hold; a credential carries these, or the subset it was issued with. */
export const scopesOfRole = (role: Role): readonly string[] => (role === 'admin' ? allScopes : customerScopes);
