// The OAuth module's door: the authorization server (oidc-provider over our storage), its HTTP routes, the
// authenticator for its access tokens, and client registration. Nothing else is imported from outside.

export { purgeExpired } from './adapter.ts';
export { oauthClientsPath, oauthClientsRoutes, representOAuthClient } from './admin-http.ts';
export { oauthAuthenticator } from './authenticator.ts';
export {
  type ClientInput,
  clientGrantTypes,
  type OAuthClient,
  type OAuthClientsService,
  oauthClientsService,
} from './clients.ts';
export { type OAuthRouteDependencies, oauthRoutes } from './http.ts';
export { buildProvider, oauthMountPath, oauthScopes, type ProviderDependencies } from './provider.ts';
export { OAuthClientCreate, OAuthClientRepresentation } from './schema.ts';
