// Registered OAuth clients: what `portico oauth-clients create` and the admin API make, list and delete. A client
// is the metadata oidc-provider reads (checked by its own validator before it is stored), kept as the Client row
// of oauth_entries; its secret is returned once and stored only as a hash.
import { randomBytes } from 'node:crypto';
import type Provider from 'oidc-provider';
import { invalid, notFound } from '../../kernel/errors.ts';
import { newId } from '../../kernel/ids.ts';
import type { PageRequest, PageResult } from '../../kernel/pagination.ts';
import type { Storage } from '../../storage/database.ts';
import { paginate } from '../../storage/paginate.ts';
import { oauthTables } from './adapter.ts';
import { hashClientSecret, oauthScopes } from './provider.ts';

export const clientGrantTypes = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export type ClientGrantType = (typeof clientGrantTypes)[number];

/** The API versions a client may be pinned to, as an API key may (Principal.apiVersion). */
export const pinnableVersions = ['v1', 'v2'] as const;
export type PinnedVersion = (typeof pinnableVersions)[number];

export interface ClientInput {
  name: string;
  redirectUris?: string[];
  /** Default: authorization code and refresh when redirect URIs are given, client credentials otherwise. */
  grantTypes?: string[];
  /**
   * Required with client_credentials. Otherwise every scope by default: a user's consent narrows them to what the
   * user's role allows.
   */
  scopes?: string[];
  /** A public client (a browser or native app) has no secret and authenticates with PKCE alone. */
  public?: boolean;
  /** The version unversioned paths serve the client's tokens when a request asks for none; else the latest. */
  apiVersion?: string;
}

/** Clients never change once made (delete and make another), so every one is at version 1. */
export interface OAuthClient {
  id: string;
  version: 1;
  name: string;
  redirectUris: string[];
  grantTypes: ClientGrantType[];
  scopes: string[];
  public: boolean;
  apiVersion: PinnedVersion | null;
  createdAt: string;
}

/** A type rather than an interface, so it has the index signature oidc-provider's ClientMetadata asks for. */
type StoredMetadata = {
  client_id: string;
  client_name: string;
  client_id_issued_at: number;
  redirect_uris: string[];
  grant_types: ClientGrantType[];
  response_types: 'code'[];
  scope: string;
  token_endpoint_auth_method: 'none' | 'client_secret_basic';
  /** Ours, declared to oidc-provider as extra client metadata so that its Client objects carry it. */
  api_version?: PinnedVersion;
};

const toClient = (metadata: StoredMetadata): OAuthClient => ({
  id: metadata.client_id,
  version: 1,
  name: metadata.client_name,
  redirectUris: metadata.redirect_uris,
  grantTypes: metadata.grant_types,
  scopes: metadata.scope.split(' '),
  public: metadata.token_endpoint_auth_method === 'none',
  apiVersion: metadata.api_version ?? null,
  createdAt: new Date(metadata.client_id_issued_at * 1000).toISOString(),
});

export interface OAuthClientsService {
  create(input: ClientInput): Promise<{ client: OAuthClient; clientSecret: string | null }>;
  list(page: PageRequest): Promise<PageResult<OAuthClient>>;
  get(clientId: string): Promise<OAuthClient>;
  /** Deletes the client and every grant, code and token issued to it. */
  remove(clientId: string): Promise<void>;
}

function checkInput(input: ClientInput): {
  grantTypes: ClientGrantType[];
  scopes: string[];
  apiVersion: PinnedVersion | undefined;
} {
  const redirectUris = input.redirectUris ?? [];
  const grantTypes =
    input.grantTypes ?? (redirectUris.length > 0 ? ['authorization_code', 'refresh_token'] : ['client_credentials']);
  for (const grantType of grantTypes) {
    if (!(clientGrantTypes as readonly string[]).includes(grantType)) {
      throw invalid(
        'grantTypes',
        'UNSUPPORTED',
        `Grant type '${grantType}' is not offered; use ${clientGrantTypes.join(', ')}.`,
      );
    }
  }
  if (input.public && grantTypes.includes('client_credentials')) {
    throw invalid('grantTypes', 'PUBLIC_CLIENT', 'A public client has no secret, so it cannot use client_credentials.');
  }
  if (grantTypes.includes('authorization_code') !== redirectUris.length > 0) {
    throw invalid(
      'redirectUris',
      'REQUIRED',
      'Redirect URIs go with the authorization_code grant type, and it needs at least one.',
    );
  }
  // A user's consent narrows a delegated client's scopes to the user's role; nothing narrows a client acting for
  // itself, so it gets exactly the scopes it was registered with, and must be registered with some.
  if (input.scopes === undefined && grantTypes.includes('client_credentials')) {
    throw invalid('scopes', 'REQUIRED', 'A client_credentials client acts for itself: name the scopes it may have.');
  }
  const scopes = input.scopes ?? [...oauthScopes];
  for (const scope of scopes) {
    if (!oauthScopes.includes(scope)) throw invalid('scopes', 'UNKNOWN_SCOPE', `Scope '${scope}' does not exist.`);
  }
  const { apiVersion } = input;
  if (apiVersion !== undefined && !(pinnableVersions as readonly string[]).includes(apiVersion)) {
    throw invalid(
      'apiVersion',
      'UNSUPPORTED',
      `API version '${apiVersion}' does not exist; use ${pinnableVersions.join(', ')}.`,
    );
  }
  return { grantTypes: grantTypes as ClientGrantType[], scopes, apiVersion: apiVersion as PinnedVersion | undefined };
}

export function oauthClientsService(storage: Storage, provider: Provider): OAuthClientsService {
  const db = oauthTables(storage.db);
  const rows = () => db.selectFrom('oauth_entries').select('payload').where('model', '=', 'Client');

  return {
    async create(input) {
      const { grantTypes, scopes, apiVersion } = checkInput(input);
      const clientSecret = input.public ? null : randomBytes(32).toString('base64url');
      const metadata: StoredMetadata & { client_secret?: string } = {
        client_id: newId('cli'),
        client_name: input.name,
        client_id_issued_at: Math.floor(Date.now() / 1000),
        redirect_uris: input.redirectUris ?? [],
        grant_types: grantTypes,
        response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
        scope: scopes.join(' '),
        token_endpoint_auth_method: input.public ? 'none' : 'client_secret_basic',
        ...(apiVersion === undefined ? {} : { api_version: apiVersion }),
        ...(clientSecret === null ? {} : { client_secret: hashClientSecret(clientSecret) }),
      };
      try {
        await provider.Client.validate(metadata);
      } catch (error) {
        const description = (error as { error_description?: string }).error_description ?? String(error);
        throw invalid('client', 'INVALID_CLIENT_METADATA', description);
      }
      await db
        .insertInto('oauth_entries')
        .values({
          model: 'Client',
          id: metadata.client_id,
          payload: JSON.stringify(metadata),
          grant_id: null,
          client_id: null,
          user_code: null,
          uid: null,
          consumed_at: null,
          expires_at: null,
        })
        .execute();
      return { client: toClient(metadata), clientSecret };
    },
    async list(page) {
      // Client ids are time-ordered, so ordering by id is ordering by creation.
      const result = await paginate(rows().select('id'), page, 'id', (row) => row.id);
      return { ...result, items: result.items.map((row) => toClient(JSON.parse(row.payload) as StoredMetadata)) };
    },
    async get(clientId) {
      const row = await rows().where('id', '=', clientId).executeTakeFirst();
      if (!row) throw notFound('OAuth client', clientId);
      return toClient(JSON.parse(row.payload) as StoredMetadata);
    },
    async remove(clientId) {
      await storage.db.transaction().execute(async (trx) => {
        const tables = oauthTables(trx);
        const deleted = await tables
          .deleteFrom('oauth_entries')
          .where('model', '=', 'Client')
          .where('id', '=', clientId)
          .executeTakeFirst();
        if (Number(deleted.numDeletedRows) === 0) throw notFound('OAuth client', clientId);
        await tables.deleteFrom('oauth_entries').where('client_id', '=', clientId).execute();
      });
    },
  };
}
