// REST routes for webhook endpoints under /v1: create (the secret in the 201, once), list and get (secret null),
// PATCH, DELETE, and rotate-secret (the new secret once; the previous one keeps signing for 24 hours).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { mergePatchType } from '../../edge/content-types.ts';
import { invalid } from '../../kernel/errors.ts';
import { IdParam } from '../../kernel/schemas.ts';
import {
  createRoute,
  getRoute,
  listRoute,
  preconditionFrom,
  type Resource,
  type RestContext,
  writeHeaders,
} from '../../transports/rest/crud-routes.ts';
import { errorResponses } from '../../transports/rest/error-responses.ts';
import { usersPath } from '../users/index.ts';
import { webhookEndpointsAccess } from './access.ts';
import {
  type EndpointFilters,
  endpointSortFields,
  WebhookEndpoint,
  WebhookEndpointCreate,
  WebhookEndpointPatch,
  type WebhookEndpointRecord,
} from './schema.ts';
import type { WebhookEndpointsService } from './service.ts';

export const webhookEndpointsPath = '/v1/webhook-endpoints';

/** A record and, in the answers to create and rotate-secret only, its secret. */
type ShownEndpoint = WebhookEndpointRecord & { secret?: string };

export function representWebhookEndpoint(endpoint: ShownEndpoint, publicUrl: string) {
  const { version, secret, ...fields } = endpoint;
  const self = `${publicUrl}${webhookEndpointsPath}/${endpoint.id}`;
  return {
    ...fields,
    secret: secret ?? null,
    _links: {
      self: { href: self },
      collection: { href: `${publicUrl}${webhookEndpointsPath}` },
      owner: { href: `${publicUrl}${usersPath}/${endpoint.ownerId}`, title: 'The user the endpoint belongs to' },
      'rotate-secret': {
        href: `${self}/rotate-secret`,
        method: 'POST' as const,
        title: 'Replace the signing secret; the previous one keeps signing for 24 hours',
      },
    },
  };
}

/** The owner of a new endpoint: the one named (a customer may only name themself), else the caller. */
function ownerOf(request: FastifyRequest, body: WebhookEndpointCreate): string {
  const owner = body.ownerId ?? request.principal?.userId;
  if (!owner) throw invalid('ownerId', 'REQUIRED', 'name the user the endpoint belongs to in ownerId.');
  return owner;
}

export function webhookEndpointsRoutes(
  app: FastifyInstance,
  service: WebhookEndpointsService,
  context: RestContext,
): void {
  const { publicUrl } = context;
  const resource: Resource<ShownEndpoint> = {
    kind: 'webhook endpoint',
    plural: 'webhook endpoints',
    path: webhookEndpointsPath,
    scopes: { read: 'webhook-endpoints:read', write: 'webhook-endpoints:write' },
    cacheControl: 'private, no-cache',
    representation: WebhookEndpoint,
    represent: (endpoint) => representWebhookEndpoint(endpoint, publicUrl),
    access: webhookEndpointsAccess,
  };
  const tags = ['Webhook endpoints'];
  const item = `${webhookEndpointsPath}/:id`;

  listRoute(
    app,
    resource,
    {
      filters: {
        ownerId: Type.Optional(
          Type.String({ maxLength: 64, description: "Admins: one user's endpoints. Customers see only their own." }),
        ),
      },
      sortFields: endpointSortFields,
      list: (filters: EndpointFilters, page) => service.list(filters, page),
    },
    context,
  );
  createRoute(
    app,
    resource,
    {
      body: WebhookEndpointCreate,
      create: async (body, _params, request) => {
        const input = body as WebhookEndpointCreate;
        const { endpoint, secret } = await service.create(ownerOf(request, input), input);
        return { ...endpoint, secret };
      },
      errors: [403],
      // The answer carries the secret, which must be neither stored nor replayed.
      idempotency: false,
    },
    context,
  );
  getRoute(app, resource, (id) => service.get(id));

  app.patch(
    item,
    {
      config: { scope: resource.scopes.write, bodyTypes: [mergePatchType, 'application/json'] },
      schema: {
        operationId: 'updateWebhookEndpoint',
        summary: 'Update a webhook endpoint',
        description:
          'Changes url, events, description or enabled (JSON Merge Patch); a new url is checked as at creation. ' +
          'Send If-Match to avoid lost updates.',
        tags,
        params: IdParam,
        body: WebhookEndpointPatch,
        response: { 200: Type.Ref('WebhookEndpoint'), ...errorResponses(400, 403, 404, 412, 413, 415) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const body = request.body as WebhookEndpointPatch;
      const endpoint = await service.patch(id, body, preconditionFrom(request, resource, body));
      writeHeaders(reply, endpoint);
      return representWebhookEndpoint(endpoint, publicUrl);
    },
  );

  app.delete(
    item,
    {
      config: { scope: resource.scopes.write },
      schema: {
        operationId: 'deleteWebhookEndpoint',
        summary: 'Delete a webhook endpoint',
        description: 'Deletes the endpoint and its delivery log; nothing more is sent to it. Again: 404.',
        tags,
        params: IdParam,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(404, 412) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      await service.remove(id, preconditionFrom(request, resource));
      return reply.code(204).send();
    },
  );

  app.post(
    `${item}/rotate-secret`,
    {
      config: { scope: resource.scopes.write, idempotency: false },
      schema: {
        operationId: 'rotateWebhookEndpointSecret',
        summary: "Rotate a webhook endpoint's signing secret",
        description:
          'Answers the endpoint with a new secret, shown this once. For 24 hours deliveries carry signatures made ' +
          'with both the new and the previous secret, so the receiver can switch without missing one.',
        tags,
        params: IdParam,
        response: { 200: Type.Ref('WebhookEndpoint'), ...errorResponses(404, 412) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const { endpoint, secret } = await service.rotateSecret(id, preconditionFrom(request, resource));
      writeHeaders(reply, endpoint);
      return representWebhookEndpoint({ ...endpoint, secret }, publicUrl);
    },
  );
}
