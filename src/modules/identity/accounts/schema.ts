// Tokens: the bodies of the token endpoints and the token pair they answer.
import { type Static, Type } from 'typebox';

export const TokenCreate = Type.Object(
  {
    email: Type.String({ format: 'email', minLength: 3, maxLength: 254, examples: ['ada@example.com'] }),
    // Any length the accounts module accepts; what is tried is never checked for strength.
    password: Type.String({ minLength: 1, maxLength: 1024, examples: ['correct horse battery staple'] }),
  },
  { additionalProperties: false },
);
export type TokenCreate = Static<typeof TokenCreate>;

const refreshToken = Type.String({
  minLength: 1,
  maxLength: 512,
  description: 'Opaque; single-use: each refresh answers a new one, and using an old one again revokes them all.',
});

export const TokenRefresh = Type.Object({ refreshToken }, { additionalProperties: false });
export type TokenRefresh = Static<typeof TokenRefresh>;

export const TokenRevoke = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 8192, description: 'A refresh token (or an access token).' }) },
  { additionalProperties: false },
);
export type TokenRevoke = Static<typeof TokenRevoke>;

export const TokenPair = Type.Object(
  {
    accessToken: Type.String({
      maxLength: 8192,
      description: 'A JWT to send as `Authorization: Bearer …`; valid for expiresIn seconds.',
    }),
    refreshToken,
    tokenType: Type.Literal('Bearer'),
    expiresIn: Type.Integer({
      format: 'int32',
      minimum: 1,
      maximum: 86_400,
      description: 'Seconds until the access token expires.',
    }),
  },
  { additionalProperties: false },
);

export const JsonWebKeySet = Type.Object(
  { keys: Type.Array(Type.Object({ kid: Type.String(), kty: Type.String() }, { additionalProperties: true })) },
  { additionalProperties: false },
);
