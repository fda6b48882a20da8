// REST routes for orders under /v1: the list, get and create builders (flat and under a user), one POST
// sub-resource per action (If-Match honoured, 200 with the new ETag), and the tracking resource. Thin: every rule is
// the service's.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { notFound } from '../../kernel/errors.ts';
import { entityTag } from '../../kernel/etag.ts';
import { IdParam } from '../../kernel/schemas.ts';
import { guardRecord, restrictedCustomer } from '../../transports/rest/access.ts';
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
import { notModified } from '../../transports/rest/representation.ts';
import { type ProductsService, representProduct } from '../catalog/index.ts';
import { isSelf, representUser, type UsersService, usersPath } from '../users/index.ts';
import { guardAction, ordersAccess } from './access.ts';
import {
  CustomerOrderCreate,
  Order,
  OrderCreate,
  type OrderRecord,
  OrderShipment,
  OrderTracking,
  orderFilters,
  orderSortFields,
  type TrackingInfo,
} from './schema.ts';
import type { OrdersService } from './service.ts';
import { allowedActions, hasTracking, type OrderAction, orderActions, transitions } from './state-machine.ts';

export const ordersPath = '/v1/orders';
const customerOrdersPath = `${usersPath}/:id/orders`;

// Orders are personal data: only the client may keep them, and must revalidate before reuse.
const cacheControl = 'private, no-cache';

interface Link {
  href: string;
  method?: 'POST';
  title?: string;
}

/** Links that say what can be done next: exactly the actions the status allows, each followed with POST. */
export function representOrder(order: OrderRecord, publicUrl: string) {
  const { version, ...fields } = order;
  const self = `${publicUrl}${ordersPath}/${order.id}`;
  const links: Record<string, Link> = {
    self: { href: self },
    collection: { href: `${publicUrl}${ordersPath}` },
    customer: { href: `${publicUrl}${usersPath}/${order.customerId}`, title: 'The customer' },
  };
  for (const action of allowedActions(order.status)) {
    links[action] = { href: `${self}/${action}`, method: 'POST', title: transitions[action].title };
  }
  if (hasTracking(order.status)) links.track = { href: `${self}/tracking`, title: 'Where the parcel is' };
  return { ...fields, _links: links };
}

function representTracking(order: OrderRecord, tracking: TrackingInfo, publicUrl: string) {
  const orderUrl = `${publicUrl}${ordersPath}/${order.id}`;
  return {
    carrier: tracking.carrier,
    trackingNumber: tracking.trackingNumber,
    status: order.status,
    shippedAt: order.shippedAt ?? order.updatedAt,
    deliveredAt: order.deliveredAt,
    _links: { self: { href: `${orderUrl}/tracking` }, order: { href: orderUrl } },
  };
}

const IfMatch = Type.Object({
  'If-Match': Type.Optional(
    Type.String({
      maxLength: 2048,
      description: 'The ETag you read; the action answers 412 if the order has changed since.',
    }),
  ),
});

const actionDescriptions: Record<OrderAction, string> = {
  pay: 'Pays a pending order.',
  cancel: 'Cancels a pending or paid order and puts its stock back; a paid order is refunded (refundedAt is set).',
  ship: 'Ships a paid order. Name the carrier and tracking number, or leave them out to have them assigned.',
  deliver: 'Records that a shipped order was delivered.',
  return: 'Records that the goods of a delivered order came back; their stock is put back.',
  refund: 'Refunds a returned order.',
};

export interface OrdersRoutesDependencies {
  service: OrdersService;
  users: UsersService;
  products: ProductsService;
}

/** A user's orders are reached through the user, which a customer sees only when it is themself (404 otherwise). */
function visibleUser(id: string, request: FastifyRequest): string {
  const customer = restrictedCustomer(request);
  if (customer && !isSelf(customer, { id })) throw notFound('user', id);
  return id;
}

export function ordersRoutes(
  app: FastifyInstance,
  { service, users, products }: OrdersRoutesDependencies,
  context: RestContext,
): void {
  const { publicUrl } = context;
  const resource: Resource<OrderRecord> = {
    kind: 'order',
    plural: 'orders',
    path: ordersPath,
    scopes: { read: 'orders:read', write: 'orders:write' },
    cacheControl,
    representation: Order,
    represent: (order) => representOrder(order, publicUrl),
    access: ordersAccess,
    // One query per path for a whole page: the users and the catalog each answer a list of ids at once.
    expansions: [
      {
        path: 'customer',
        load: async (ids) =>
          new Map((await users.getMany(ids)).map((user) => [user.id, representUser(user, publicUrl)])),
        visibleTo: isSelf,
      },
      {
        path: 'items.product',
        load: async (ids) =>
          new Map((await products.getMany(ids)).map((product) => [product.id, representProduct(product, publicUrl)])),
      },
    ],
  };
  const tags = ['Orders'];

  listRoute(app, resource, { filters: orderFilters, sortFields: orderSortFields, list: service.list }, context);
  listRoute(
    app,
    resource,
    {
      filters: orderFilters,
      sortFields: orderSortFields,
      list: service.list,
      nested: {
        path: customerOrdersPath,
        filtersFrom: ({ id }, request) => service.customerFilter(visibleUser(id, request)),
        operationId: 'listUserOrders',
        summary: "List a user's orders",
      },
    },
    context,
  );
  createRoute(
    app,
    resource,
    { body: OrderCreate, create: (body) => service.create(body as OrderCreate), errors: [409] },
    context,
  );
  createRoute(
    app,
    resource,
    {
      body: CustomerOrderCreate,
      create: (body, params, request) =>
        service.createForCustomer(visibleUser(params.id ?? '', request), body as CustomerOrderCreate),
      nested: { path: customerOrdersPath, operationId: 'createUserOrder', summary: 'Place an order for a user' },
      errors: [404, 409],
    },
    context,
  );
  getRoute(app, resource, service.get);

  for (const action of orderActions) {
    const takesBody = action === 'ship';
    app.post(
      `${ordersPath}/:id/${action}`,
      {
        config: { scope: resource.scopes.write },
        // The shipment is optional: no body at all means "assign carrier and tracking number".
        ...(takesBody
          ? {
              preValidation: async (request: { body: unknown }) => {
                request.body ??= {};
              },
            }
          : {}),
        schema: {
          operationId: `${action}Order`,
          summary: `${action[0]?.toUpperCase()}${action.slice(1)} an order`,
          description:
            `${actionDescriptions[action]} Allowed only from ${transitions[action].from.join(' or ')}: otherwise ` +
            '409 INVALID_STATE_TRANSITION names the actions the order allows. Answers the order with its new ETag.',
          tags,
          params: IdParam,
          headers: IfMatch,
          ...(takesBody ? { body: OrderShipment } : {}),
          response: { 200: Type.Ref('Order'), ...errorResponses(400, 404, 409, 412) },
        },
      },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const shipment = takesBody ? (request.body as OrderShipment) : undefined;
        const precondition = preconditionFrom(request, resource);
        const customer = restrictedCustomer(request);
        const order = await service.act(
          id,
          action,
          (current) => {
            const matches = precondition(current);
            if (customer) guardAction(action);
            return matches;
          },
          shipment,
        );
        writeHeaders(reply, order);
        return representOrder(order, publicUrl);
      },
    );
  }

  app.get(
    `${ordersPath}/:id/tracking`,
    {
      config: { scope: resource.scopes.read },
      schema: {
        operationId: 'getOrderTracking',
        summary: 'Track an order',
        description: 'Carrier, tracking number and progress of a shipped order; 404 until the order has shipped.',
        tags,
        params: IdParam,
        response: { 200: OrderTracking, ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      // Whose order it is comes first: a customer must not learn how far someone else's order has got.
      if (restrictedCustomer(request)) guardRecord(ordersAccess, request, 'order', await service.get(id), false);
      const { order, tracking } = await service.tracked(id);
      if (notModified(request, reply, { etag: entityTag(order.id, order.version, 'tracking'), cacheControl })) {
        return reply;
      }
      return representTracking(order, tracking, publicUrl);
    },
  );
}
