// OAuth clients on the admin API: the v1 representation and the body that registers one.
import { Type } from 'typebox';
import { Links, Nullable, StringEnum, Timestamp } from '../../kernel/schemas.ts';
import { clientGrantTypes, pinnableVersions } from './clients.ts';
import { oauthScopes } from './provider.ts';

// PostgreSQL text cannot hold U+0000, so no string may carry it on either storage (a 400, never a 500).
const noNul = '^[^\\u0000]*$';
const name = Type.String({ minLength: 1, maxLength: 200, pattern: noNul, examples: ['Shop app'] });
const RedirectUri = Type.String({
  format: 'uri',
  maxLength: 2000,
  pattern: noNul,
  description: 'Compared exactly, character for character, with the redirect_uri of each request.',
  examples: ['https://app.example.com/callback'],
});
const RedirectUris = Type.Array(RedirectUri, { maxItems: 10, uniqueItems: true });
const GrantTypes = Type.Array(StringEnum(clientGrantTypes), { minItems: 1, maxItems: 3, uniqueItems: true });
const Scopes = Type.Array(StringEnum(oauthScopes), { maxItems: oauthScopes.length, uniqueItems: true });
const ApiVersion = StringEnum(pinnableVersions, {
  description: "The API version unversioned paths (`/users`) serve the client's tokens when a request asks for none.",
});

export const OAuthClientRepresentation = Type.Object(
  {
    id: Type.String({ maxLength: 64, pattern: '^cli_[0-9a-z]{26}$', examples: ['cli_01jd2gq6f1e8x9v3k4m5n6p7q8'] }),
    name,
    redirectUris: RedirectUris,
    grantTypes: GrantTypes,
    scopes: Scopes,
    public: Type.Boolean({ description: 'A public client (browser or native app) has no secret: PKCE alone.' }),
    apiVersion: Nullable(ApiVersion),
    clientSecret: Nullable(
      Type.String({
        maxLength: 64,
        description: 'Only in the answer that registers a confidential client, null everywhere else. Keep it then.',
      }),
    ),
    createdAt: Timestamp,
    _links: Links,
  },
  { $id: 'OAuthClient', additionalProperties: false },
);

export const OAuthClientCreate = Type.Object(
  {
    name,
    redirectUris: Type.Optional(RedirectUris),
    grantTypes: Type.Optional(GrantTypes),
    scopes: Type.Optional(Scopes),
    public: Type.Optional(Type.Boolean()),
    apiVersion: Type.Optional(ApiVersion),
  },
  { additionalProperties: false },
);
