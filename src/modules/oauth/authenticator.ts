// OAuth access tokens as Bearer credentials on the API. They are opaque (neither JWT-shaped nor an API key's
// sk_/pk_), so the provider's own store says whether one is live: expired, revoked and unknown tokens look alike.
import type Provider from 'oidc-provider';
import { type Authenticator, badCredentials, bearerToken } from '../../edge/authentication.ts';
import { allScopes, type Principal, scopesOfRole } from '../identity/principal.ts';
import type { UsersService } from '../users/index.ts';
import { tokenDigest } from './adapter.ts';
import type { PinnedVersion } from './clients.ts';

const apiScopes = new Set(allScopes);

/** JWTs have dots; API keys have their prefix; every other Bearer token is an OAuth access token or nothing. */
const isOpaque = (token: string) => !token.includes('.') && !/^(sk|pk)_/.test(token);

/** The API version the client was registered with (clients.ts), if any. */
async function pinnedVersion(provider: Provider, clientId: string): Promise<PinnedVersion | undefined> {
  const client = (await provider.Client.find(clientId)) as { api_version?: PinnedVersion } | undefined;
  return client?.api_version;
}

export function oauthAuthenticator(provider: Provider, users: UsersService): Authenticator {
  const rejected = () => badCredentials('OAuth access token');
  return {
    name: 'oauth',
    async authenticate(request) {
      const token = bearerToken(request);
      if (token === null || !isOpaque(token)) return null;
      // Tokens for a user come from the authorization code flow; tokens for a client acting for itself from
      // client credentials. Each model's find checks the token's format and expiry.
      const found = (await provider.AccessToken.find(token)) ?? (await provider.ClientCredentials.find(token));
      if (!found?.jti || !found.clientId) throw rejected();
      const scopes = [...found.scopes].filter((scope) => apiScopes.has(scope));
      const apiVersion = await pinnedVersion(provider, found.clientId);
      const principal: Principal = {
        method: 'oauth',
        userId: null,
        role: null,
        scopes: new Set(scopes),
        // The token's digest, never the token: this name ends up in logs.
        credentialId: tokenDigest(token),
        clientId: found.clientId,
        ...(apiVersion === undefined ? {} : { apiVersion }),
      };
      const accountId = 'accountId' in found ? found.accountId : undefined;
      if (accountId === undefined) return principal;
      const [user] = await users.getMany([accountId]);
      if (user?.status !== 'active') throw rejected();
      // The user's role may have changed since consent: the token never carries more than the role allows now.
      const allowed = new Set(scopesOfRole(user.role));
      return { ...principal, userId: user.id, role: user.role, scopes: new Set(scopes.filter((s) => allowed.has(s))) };
    },
  };
}
