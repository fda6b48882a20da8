// REST routes for API keys under /v1: create (the secret in the 201, once), list and get (masked), roll, revoke.
// Every route acts for the authenticated user; without one it is a 401, whatever access control allows.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { bearerChallenge } from '../../../edge/authentication.ts';
import { ApiError } from '../../../kernel/errors.ts';
import { IdParam } from '../../../kernel/schemas.ts';
import {
  createRoute,
  getRoute,
  listRoute,
  type Resource,
  type RestContext,
  writeHeaders,
} from '../../../transports/rest/crud-routes.ts';
import { errorResponses } from '../../../transports/rest/error-responses.ts';
import { usersPath } from '../../users/index.ts';
import { ApiKey, ApiKeyCreate, type ApiKeyRecord, ApiKeyRoll, apiKeySortFields } from './schema.ts';
import type { ApiKeysService, Caller } from './service.ts';

export const apiKeysPath = '/v1/api-keys';

/** A record and, in the answers to create and roll only, its secret. */
type ShownKey = ApiKeyRecord & { secret?: string };

export function representApiKey(key: ShownKey, publicUrl: string) {
  const { version, secret, ...fields } = key;
  const self = `${publicUrl}${apiKeysPath}/${key.id}`;
  return {
    ...fields,
    secret: secret ?? null,
    _links: {
      self: { href: self },
      collection: { href: `${publicUrl}${apiKeysPath}` },
      owner: { href: `${publicUrl}${usersPath}/${key.ownerId}`, title: 'The user the key acts for' },
      ...(key.revokedAt === null
        ? {
            roll: { href: `${self}/roll`, method: 'POST' as const, title: 'Replace the secret' },
            revoke: { href: self, method: 'DELETE' as const, title: 'Revoke the key at once' },
          }
        : {}),
    },
  };
}

/** Keys always belong to a user: an anonymous caller, or an OAuth client acting for itself, has none. */
function callerOf(request: FastifyRequest): Caller {
  const principal = request.principal;
  if (!principal?.userId) {
    throw new ApiError('AUTHENTICATION_REQUIRED', 'API keys belong to a user: authenticate as one to manage them.', {
      headers: { 'www-authenticate': bearerChallenge() },
    });
  }
  // A publishable key is public by design (it ships in web pages): whoever holds it must not mint keys with it.
  if (principal.publishable) {
    throw new ApiError('INSUFFICIENT_PERMISSIONS', 'A publishable key cannot manage API keys: use a secret key.');
  }
  return { userId: principal.userId, role: principal.role, scopes: principal.scopes };
}

export function apiKeysRoutes(app: FastifyInstance, service: ApiKeysService, context: RestContext): void {
  const { publicUrl } = context;
  const resource: Resource<ShownKey> = {
    kind: 'API key',
    plural: 'API keys',
    path: apiKeysPath,
    scopes: { read: 'api-keys:read', write: 'api-keys:write' },
    // Credentials' metadata: never kept by a shared cache, and revalidated before reuse.
    cacheControl: 'private, no-cache',
    representation: ApiKey,
    represent: (key) => representApiKey(key, publicUrl),
  };
  const tags = ['API keys'];

  listRoute(
    app,
    resource,
    {
      filters: {
        ownerId: Type.Optional(
          Type.String({ maxLength: 64, description: "Admins only: list another user's keys (default: your own)." }),
        ),
      },
      sortFields: apiKeySortFields,
      list: (filters: { ownerId?: string }, page, request) => service.list(callerOf(request), filters, page),
    },
    context,
  );
  createRoute(
    app,
    resource,
    {
      body: ApiKeyCreate,
      create: async (body, _params, request) => {
        const { key, secret } = await service.create(callerOf(request), body as ApiKeyCreate);
        return { ...key, secret };
      },
      errors: [401, 403],
      idempotency: false,
    },
    context,
  );
  getRoute(app, resource, (id, request) => service.get(callerOf(request), id));

  app.post(
    `${apiKeysPath}/:id/roll`,
    {
      config: { scope: resource.scopes.write, idempotency: false },
      // The body is optional: none at all means the default grace period.
      preValidation: async (request: { body: unknown }) => {
        request.body ??= {};
      },
      schema: {
        operationId: 'rollApiKey',
        summary: 'Roll an API key',
        description:
          'Replaces the secret and answers the key with the new one, shown this once. The old secret keeps working ' +
          'for `gracePeriodSeconds` (default one day, at most seven; 0 ends it at once), so it can be replaced ' +
          'everywhere it is used without an outage.',
        tags,
        params: IdParam,
        body: ApiKeyRoll,
        response: { 200: Type.Ref('ApiKey'), ...errorResponses(400, 401, 403, 404, 409, 415) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const { key, secret } = await service.roll(callerOf(request), id, request.body as ApiKeyRoll);
      writeHeaders(reply, key);
      return representApiKey({ ...key, secret }, publicUrl);
    },
  );

  app.delete(
    `${apiKeysPath}/:id`,
    {
      config: { scope: resource.scopes.write },
      schema: {
        operationId: 'revokeApiKey',
        summary: 'Revoke an API key',
        description:
          'Revokes the key and every secret it had, at once. The key stays listed with its `revokedAt`; revoking it ' +
          'again changes nothing.',
        tags,
        params: IdParam,
        response: { 204: Type.Null({ description: 'Revoked.' }), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      await service.revoke(callerOf(request), id);
      return reply.code(204).send();
    },
  );
}
