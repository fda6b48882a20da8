// The API keys module's door: its service, its authenticator, its representation schema and its routes. Nothing
// else is imported from outside.

export { apiKeyAuthenticator } from './authenticator.ts';
export { apiKeysPath, apiKeysRoutes, representApiKey } from './http.ts';
export { ApiKey, ApiKeyCreate, type ApiKeyRecord, type IssuedApiKey } from './schema.ts';
export { looksLikeKey } from './secrets.ts';
export { type ApiKeysService, apiKeysService, type Caller, forgettingKeysOf } from './service.ts';
