// Who is calling: what every means of authentication (session cookie, JWT, API key, OAuth token) resolves to, and
// all that authorization looks at. Routes and services see a Principal, never the credential it came from.

export type Role = 'admin' | 'customer';

export type AuthMethod = 'session' | 'jwt' | 'api-key' | 'oauth';

/** Rate-limit tiers, from the smallest allowance; `internal` is for admins' credentials and has no daily quota. */
export const tiers = ['free', 'basic', 'pro', 'enterprise', 'internal'] as const;
export type Tier = (typeof tiers)[number];

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
  /** The API version the credential is pinned to (`v1`), served on unversioned paths that ask for none. */
  apiVersion?: 'v1' | 'v2';
  /** The rate-limit tier the credential carries itself (an API key's); otherwise its role's, see tierOf. */
  tier?: Tier;
}

/** The tier a caller is limited by: the credential's own, else admins `internal` and everyone else `free`. */
export const tierOf = (principal: Principal): Tier =>
  principal.tier ?? (principal.role === 'admin' ? 'internal' : 'free');

/**
 * Who a caller's allowance belongs to: an API key counts on its own, a user's sessions, JWTs and OAuth tokens share
 * the user's, and an OAuth client acting for itself has its own.
 */
export function rateSubjectOf(principal: Principal): string {
  if (principal.method === 'api-key') return `key:${principal.credentialId}`;
  if (principal.userId !== null) return `user:${principal.userId}`;
  return `client:${principal.clientId ?? principal.credentialId}`;
}

/** Every scope a route may declare, by resource; admin credentials get all of them. */
export const resourceScopes = [
  'users',
  'products',
  'orders',
  'posts',
  'comments',
  'api-keys',
  'webhook-endpoints',
  'oauth-clients',
  // Who still calls deprecated API versions (edge/deprecated-usage.ts): for operators.
  'api-usage',
  // The Prometheus scrape (edge/metrics.ts): it names every caller of deprecated versions, so for operators.
  'metrics',
  // The whole shop's activity (GET /v1/events): for operators; customers get their events through webhooks.
  'events',
] as const;

export const allScopes: readonly string[] = resourceScopes.flatMap((resource) => [
  `${resource}:read`,
  `${resource}:write`,
]);

/**
 * What a customer's credentials may carry at most: reading and writing their own things (object-level checks
 * narrow each to the owner), reading the catalog. Writing products, managing OAuth clients, reading API usage,
 * scraping metrics and reading the events log are for admins.
 */
const adminResources = ['oauth-clients:', 'api-usage:', 'metrics:', 'events:'];
export const customerScopes: readonly string[] = allScopes.filter(
  (scope) => scope !== 'products:write' && !adminResources.some((resource) => scope.startsWith(resource)),
);

/** The scopes a role may hold; a credential carries these, or the subset it was issued with. */
export const scopesOfRole = (role: Role): readonly string[] => (role === 'admin' ? allScopes : customerScopes);
