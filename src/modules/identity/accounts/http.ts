// REST routes for API clients' tokens under /v1/auth/tokens, and the public keys at /.well-known/jwks.json.
// They declare scope `public` because they authenticate by themselves: by password or by refresh token. Token
// answers are never cached (RFC 6749 §5.1) nor stored for Idempotency-Key replays.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errorResponses } from '../../../transports/rest/error-responses.ts';
import { JsonWebKeySet, TokenCreate, TokenPair, TokenRefresh, TokenRevoke } from './schema.ts';
import type { Keyring } from './signing-keys.ts';
import type { TokenService } from './tokens.ts';

export const tokensPath = '/v1/auth/tokens';
export const jwksPath = '/.well-known/jwks.json';

/** Verifiers may keep the set this long; one that meets a kid it does not know fetches the set again. */
const jwksMaxAgeSeconds = 300;

export function tokenRoutes(app: FastifyInstance, tokens: TokenService, keys: Keyring): void {
  const tags = ['Tokens'];
  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  const config = { scope: 'public', idempotency: false };

  app.post(
    tokensPath,
    {
      config,
      schema: {
        operationId: 'createTokens',
        summary: 'Sign in for an access token and a refresh token',
        description:
          'Checks the email and password and answers a JWT access token (15 minutes) and a refresh token. ' +
          'Answers 200, as OAuth token endpoints do (RFC 6749 §5.1): nothing addressable is created. A wrong email ' +
          'or password answers 401; too many attempts per account or per address answer 429 with Retry-After.',
        tags,
        // Anonymous by design: the body is the credential.
        security: [{}],
        body: TokenCreate,
        response: { 200: TokenPair, ...errorResponses(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const { email, password } = request.body as TokenCreate;
      noStore(reply);
      return tokens.issue({ email, password, ip: request.ip });
    },
  );

  app.post(
    `${tokensPath}/refresh`,
    {
      config,
      schema: {
        operationId: 'refreshTokens',
        summary: 'Trade a refresh token for a new pair',
        description:
          'Answers a new access token and a new refresh token; the one sent stops working. Sending a refresh ' +
          'token a second time revokes every token descended from the same sign-in (401).',
        tags,
        // Anonymous by design: the body is the credential.
        security: [{}],
        body: TokenRefresh,
        response: { 200: TokenPair, ...errorResponses(400, 401) },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return tokens.refresh((request.body as TokenRefresh).refreshToken);
    },
  );

  app.post(
    `${tokensPath}/revoke`,
    {
      config,
      schema: {
        operationId: 'revokeToken',
        summary: 'Revoke a refresh token',
        description:
          'Revokes the refresh token and every token descended from the same sign-in. Answers 200 with no body ' +
          'whatever the token was, as RFC 7009 §2.2 asks; access tokens are not revoked but expire within 15 minutes.',
        tags,
        // Anonymous by design: the body is the credential.
        security: [{}],
        body: TokenRevoke,
        response: { 200: { type: 'null', description: 'Revoked, or nothing to revoke.' }, ...errorResponses(400) },
      },
    },
    async (request, reply) => {
      await tokens.revoke((request.body as TokenRevoke).token);
      noStore(reply);
      return reply.code(200).send();
    },
  );

  app.get(
    jwksPath,
    {
      config: { scope: 'public' },
      schema: {
        operationId: 'getJsonWebKeySet',
        summary: 'Public keys of access tokens',
        description: 'The JWK Set (RFC 7517) that verifies access tokens, each key named by its kid.',
        tags,
        response: { 200: JsonWebKeySet },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', `public, max-age=${jwksMaxAgeSeconds}`);
      return keys.publicKeys();
    },
  );
}
