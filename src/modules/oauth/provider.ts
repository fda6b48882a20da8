// The OAuth 2.0 authorization server: oidc-provider configured for what Portico offers and nothing more.
// Authorization code with PKCE (S256, every client), client credentials, refresh tokens rotated on every use,
// introspection (RFC 7662) and revocation (RFC 7009). Access tokens are opaque, so both of those work on them.
// No implicit flow (response type `code` only) and no password grant (oidc-provider has none): both are refused
// with the standard unsupported_response_type / unsupported_grant_type errors.
import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import Provider, { type Configuration, type JWK } from 'oidc-provider';
import type { UsersService } from '../../modules/users/index.ts';
import type { Storage } from '../../storage/database.ts';
import { sharedSecret, sharedValue } from '../../storage/settings.ts';
import { allScopes } from '../identity/principal.ts';
import { type Now, storageAdapter } from './adapter.ts';
import { errorPage, pageSecurityPolicy } from './pages.ts';

export const oauthMountPath = '/oauth';
export const interactionPath = `${oauthMountPath}/interaction`;
/** What a client may ask for: the API's resource scopes, and offline_access for a refresh token. */
export const oauthScopes: readonly string[] = [...allScopes, 'offline_access'];

export const accessTokenSeconds = 15 * 60;
const refreshTokenSeconds = 14 * 24 * 3600;

export interface ProviderDependencies {
  storage: Storage;
  publicUrl: string;
  users: UsersService;
  /** Follow X-Forwarded-Proto/Host for endpoint URLs: only behind a proxy that overwrites them. */
  behindProxy: boolean;
  now?: Now;
}

/**
 * The id token signing key (Ed25519), made once and kept in the settings table so every process signs with the
 * same key. Only clients asking for `openid` get id tokens; access tokens are opaque and not signed.
 */
async function signingKey(storage: Storage): Promise<JWK> {
  const stored = await sharedValue(storage, 'oauth-signing-key', () => {
    const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
    return JSON.stringify({ ...jwk, kid: randomBytes(8).toString('base64url'), alg: 'EdDSA', use: 'sig' });
  });
  return JSON.parse(stored) as JWK;
}

/**
 * Client secrets are 256-bit random values, so a fast hash resists guessing as well as a slow one would; the
 * stored client_secret metadata is `sha256:` and that hash, and the provider compares against it (see below).
 */
export const hashClientSecret = (secret: string): string =>
  `sha256:${createHash('sha256').update(secret).digest('base64url')}`;

function secretMatches(stored: string | undefined, presented: string): boolean {
  if (!stored?.startsWith('sha256:')) return false;
  const expected = Buffer.from(stored);
  const actual = Buffer.from(hashClientSecret(presented));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export async function buildProvider({
  storage,
  publicUrl,
  users,
  behindProxy,
  now = Date.now,
}: ProviderDependencies): Promise<Provider> {
  const configuration: Configuration = {
    adapter: storageAdapter(storage, now),
    async findAccount(_ctx, id) {
      const [user] = await users.getMany([id]);
      if (user?.status !== 'active') return undefined;
      return { accountId: user.id, claims: () => ({ sub: user.id, email: user.email }) };
    },
    jwks: { keys: [await signingKey(storage)] },
    // Signed, so the interaction and session cookies cannot be forged (oidc-provider signs nothing without keys).
    cookies: { keys: [await sharedSecret(storage, 'oauth-cookie-secret')] },
    // The default (RS256) would fail every client at its first token request, as the only key is Ed25519.
    clientDefaults: {
      id_token_signed_response_alg: 'EdDSA',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    // A client's pinned API version (clients.ts checks it): declared, so the Client objects the provider finds keep it.
    extraClientMetadata: { properties: ['api_version'] },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    scopes: [...oauthScopes],
    rotateRefreshToken: true,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // Portico is its own resource server (it reads its tokens from storage), so no client needs to see or end
      // another client's tokens: each introspects and revokes only its own (RFC 7662 §4, RFC 7009 §2.1).
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      // Resource scopes are granted as the provider's own scopes, so access tokens stay opaque and introspectable.
      resourceIndicators: { enabled: false },
    },
    // A request too broken to send back to the client (an unknown client, a redirect URI not registered) is
    // answered here, on our own page; the error code is all it shows.
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.set('content-security-policy', pageSecurityPolicy);
      ctx.body = errorPage(`The application's request was refused (${String(out.error)}).`);
    },
    interactions: { url: (_ctx, interaction) => `${interactionPath}/${interaction.uid}` },
    ttl: {
      AccessToken: accessTokenSeconds,
      ClientCredentials: accessTokenSeconds,
      AuthorizationCode: 60,
      IdToken: accessTokenSeconds,
      RefreshToken: refreshTokenSeconds,
      Grant: refreshTokenSeconds,
      Session: refreshTokenSeconds,
      Interaction: 3600,
    },
  };
  const provider = new Provider(`${publicUrl}${oauthMountPath}`, configuration);
  provider.proxy = behindProxy;
  // oidc-provider compares client_secret as stored; ours are stored hashed, so the comparison hashes first.
  Object.defineProperty(provider.Client.prototype, 'compareClientSecret', {
    value(this: { clientSecret?: string }, presented: string) {
      return secretMatches(this.clientSecret, presented);
    },
  });
  return provider;
}
