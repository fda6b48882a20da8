// REST routes for an endpoint's delivery log under /v1/webhook-endpoints/{id}: the deliveries with their attempts,
// one delivery, retry, replay of a time range, and a test event. Whoever may see the endpoint may see its log, and
// whoever may change it may send to it (the endpoints' access policy). Thin: the rules are deliveries-service.ts's.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { IdParam, StringEnum } from '../../kernel/schemas.ts';
import { guardRecord } from '../../transports/rest/access.ts';
import { listRoute, type Resource, type RestContext } from '../../transports/rest/crud-routes.ts';
import { errorResponses } from '../../transports/rest/error-responses.ts';
import { webhookEndpointsAccess } from './access.ts';
import type { DeliveriesService } from './deliveries-service.ts';
import {
  type DeliveryWithAttempts,
  deliveryStatuses,
  ReplayRequest,
  ReplayResult,
  WebhookDelivery,
} from './delivery-schema.ts';
import { webhookEndpointsPath } from './http.ts';
import type { DeliveryStatus, WebhookEndpointRecord } from './schema.ts';
import type { WebhookEndpointsService } from './service.ts';

export function representDelivery(delivery: DeliveryWithAttempts, publicUrl: string) {
  const endpoint = `${publicUrl}${webhookEndpointsPath}/${delivery.endpointId}`;
  const self = `${endpoint}/deliveries/${delivery.id}`;
  return {
    id: delivery.id,
    endpointId: delivery.endpointId,
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    status: delivery.status,
    attemptCount: delivery.attempts,
    nextAttemptAt: delivery.nextAttemptAt,
    lastAttemptAt: delivery.lastAttemptAt,
    createdAt: delivery.createdAt,
    attempts: delivery.attemptLog.map(({ deliveryId, ...attempt }) => attempt),
    _links: {
      self: { href: self },
      endpoint: { href: endpoint, title: 'The webhook endpoint' },
      retry: { href: `${self}/retry`, method: 'POST' as const, title: 'Send this delivery again now' },
    },
  };
}

const DeliveryParams = Type.Object(
  { id: IdParam.properties.id, deliveryId: Type.String({ minLength: 1, maxLength: 255 }) },
  { additionalProperties: false },
);

export interface DeliveriesRoutesDependencies {
  deliveries: DeliveriesService;
  endpoints: WebhookEndpointsService;
}

export function webhookDeliveriesRoutes(
  app: FastifyInstance,
  { deliveries, endpoints }: DeliveriesRoutesDependencies,
  context: RestContext,
): void {
  const { publicUrl } = context;
  const scopes = { read: 'webhook-endpoints:read', write: 'webhook-endpoints:write' };
  const tags = ['Webhook endpoints'];
  const item = `${webhookEndpointsPath}/:id`;

  /** The endpoint, when the caller may see it (else 404) and, for `change`, act on it (else 403). */
  async function visibleEndpoint(request: FastifyRequest, change: boolean): Promise<WebhookEndpointRecord> {
    const { id } = request.params as { id: string };
    const endpoint = await endpoints.get(id);
    guardRecord(webhookEndpointsAccess, request, 'webhook endpoint', endpoint, change);
    return endpoint;
  }

  const resource: Resource<DeliveryWithAttempts> = {
    kind: 'webhook delivery',
    plural: 'webhook deliveries',
    path: `${item}/deliveries`,
    scopes,
    cacheControl: 'private, no-cache',
    representation: WebhookDelivery,
    represent: (delivery) => representDelivery(delivery, publicUrl),
  };
  listRoute(
    app,
    resource,
    {
      filters: { status: Type.Optional(StringEnum(deliveryStatuses)) },
      sortFields: ['createdAt'],
      list: (filters: { endpointId: string; status?: DeliveryStatus }, page) => deliveries.list(filters, page),
      nested: {
        path: `${item}/deliveries`,
        filtersFrom: async (_params, request) => ({ endpointId: (await visibleEndpoint(request, false)).id }),
        operationId: 'listWebhookDeliveries',
        summary: "List a webhook endpoint's deliveries, with every attempt",
      },
    },
    context,
  );

  app.get(
    `${item}/deliveries/:deliveryId`,
    {
      config: { scope: scopes.read },
      schema: {
        operationId: 'getWebhookDelivery',
        summary: 'Get a webhook delivery with every attempt',
        description:
          'One delivery of one event to this endpoint: its status, when it is next tried, and every attempt with ' +
          'its time, status code, latency and the start of the response body.',
        tags,
        params: DeliveryParams,
        response: { 200: Type.Ref('WebhookDelivery'), ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const { deliveryId } = request.params as { deliveryId: string };
      const delivery = await deliveries.get(await visibleEndpoint(request, false), deliveryId);
      reply.header('cache-control', 'private, no-cache');
      return representDelivery(delivery, publicUrl);
    },
  );

  app.post(
    `${item}/deliveries/:deliveryId/retry`,
    {
      config: { scope: scopes.write },
      schema: {
        operationId: 'retryWebhookDelivery',
        summary: 'Send a webhook delivery again',
        description:
          'Makes the delivery due now, whatever its state; it is sent with the same webhook-id and body. 409 when ' +
          'the endpoint is disabled.',
        tags,
        params: DeliveryParams,
        response: { 202: Type.Ref('WebhookDelivery'), ...errorResponses(404, 409) },
      },
    },
    async (request, reply) => {
      const { deliveryId } = request.params as { deliveryId: string };
      const delivery = await deliveries.retry(await visibleEndpoint(request, true), deliveryId);
      return reply.code(202).header('cache-control', 'no-store').send(representDelivery(delivery, publicUrl));
    },
  );

  app.post(
    `${item}/replay`,
    {
      config: { scope: scopes.write },
      schema: {
        operationId: 'replayWebhookEvents',
        summary: 'Send the events of a time range again',
        description:
          'Every event created in [from, to) that the endpoint subscribes to is delivered again (an event sent ' +
          'before keeps its webhook-id), or for the first time. 409 when the endpoint is disabled.',
        tags,
        params: IdParam,
        body: ReplayRequest,
        response: { 202: ReplayResult, ...errorResponses(400, 404, 409) },
      },
    },
    async (request, reply) => {
      const endpoint = await visibleEndpoint(request, true);
      const { from, to } = request.body as ReplayRequest;
      const events = await deliveries.replay(endpoint, from, to);
      const self = `${publicUrl}${webhookEndpointsPath}/${endpoint.id}`;
      return reply
        .code(202)
        .header('cache-control', 'no-store')
        .send({ events, _links: { self: { href: `${self}/replay` }, deliveries: { href: `${self}/deliveries` } } });
    },
  );

  app.post(
    `${item}/test`,
    {
      config: { scope: scopes.write },
      schema: {
        operationId: 'testWebhookEndpoint',
        summary: 'Send a test event to a webhook endpoint',
        description: `Queues a \`webhook_endpoint.test\` event for this endpoint alone. 409 when it is disabled.`,
        tags,
        params: IdParam,
        response: { 202: Type.Ref('WebhookDelivery'), ...errorResponses(404, 409) },
      },
    },
    async (request, reply) => {
      const delivery = await deliveries.sendTest(await visibleEndpoint(request, true));
      return reply
        .code(202)
        .header('cache-control', 'no-store')
        .header('location', `${publicUrl}${webhookEndpointsPath}/${delivery.endpointId}/deliveries/${delivery.id}`)
        .send(representDelivery(delivery, publicUrl));
    },
  );
}
