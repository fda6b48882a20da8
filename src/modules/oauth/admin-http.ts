// The admin API for OAuth clients under /v1: register (the secret in the 201, once), list, get, delete. Only an
// admin acting as themselves manages clients: a client acting for itself, or a customer, is refused.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Static } from 'typebox';
import { Type } from 'typebox';
import { bearerChallenge } from '../../edge/authentication.ts';
import { ApiError } from '../../kernel/errors.ts';
import { IdParam } from '../../kernel/schemas.ts';
import {
  createRoute,
  getRoute,
  listRoute,
  type Resource,
  type RestContext,
} from '../../transports/rest/crud-routes.ts';
import { errorResponses } from '../../transports/rest/error-responses.ts';
import type { OAuthClient, OAuthClientsService } from './clients.ts';
import { OAuthClientCreate, OAuthClientRepresentation } from './schema.ts';

export const oauthClientsPath = '/v1/oauth-clients';

type ShownClient = OAuthClient & { clientSecret?: string | null };

export function representOAuthClient(client: ShownClient, publicUrl: string) {
  const { version, clientSecret, ...fields } = client;
  const self = `${publicUrl}${oauthClientsPath}/${client.id}`;
  return {
    ...fields,
    clientSecret: clientSecret ?? null,
    _links: {
      self: { href: self },
      collection: { href: `${publicUrl}${oauthClientsPath}` },
      delete: { href: self, method: 'DELETE' as const, title: 'Delete the client and revoke its tokens' },
    },
  };
}

function requireAdmin(request: FastifyRequest): void {
  const principal = request.principal;
  if (!principal) {
    throw new ApiError('AUTHENTICATION_REQUIRED', 'Managing OAuth clients needs an administrator: authenticate.', {
      headers: { 'www-authenticate': bearerChallenge() },
    });
  }
  if (principal.role !== 'admin') {
    throw new ApiError('INSUFFICIENT_PERMISSIONS', 'Only an administrator manages OAuth clients.');
  }
}

export function oauthClientsRoutes(app: FastifyInstance, service: OAuthClientsService, context: RestContext): void {
  const { publicUrl } = context;
  const resource: Resource<ShownClient> = {
    kind: 'OAuth client',
    plural: 'OAuth clients',
    path: oauthClientsPath,
    scopes: { read: 'oauth-clients:read', write: 'oauth-clients:write' },
    cacheControl: 'private, no-cache',
    representation: OAuthClientRepresentation,
    represent: (client) => representOAuthClient(client, publicUrl),
  };

  listRoute(
    app,
    resource,
    {
      filters: {},
      sortFields: ['createdAt'],
      list: (_filters, page, request) => {
        requireAdmin(request);
        return service.list(page);
      },
    },
    context,
  );
  createRoute(
    app,
    resource,
    {
      body: OAuthClientCreate,
      create: async (body, _params, request) => {
        requireAdmin(request);
        const { client, clientSecret } = await service.create(body as Static<typeof OAuthClientCreate>);
        return { ...client, clientSecret };
      },
      errors: [401, 403],
      idempotency: false,
    },
    context,
  );
  getRoute(app, resource, (id, request) => {
    requireAdmin(request);
    return service.get(id);
  });

  app.delete(
    `${oauthClientsPath}/:id`,
    {
      config: { scope: resource.scopes.write },
      schema: {
        operationId: 'deleteOAuthClient',
        summary: 'Delete an OAuth client',
        description: 'Deletes the client and every grant, code and token issued to it, at once.',
        tags: ['OAuth clients'],
        params: IdParam,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      requireAdmin(request);
      await service.remove((request.params as { id: string }).id);
      return reply.code(204).send();
    },
  );
}
