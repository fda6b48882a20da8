// Orders end to end, on SQLite and PostgreSQL: placing an order takes stock atomically, the state machine and its
// one event per change, state-aware links a client can follow from the root, If-Match on actions, tracking,
// filters and sorts, batched expansion, and every hostile input of the issue answered with a clear 4xx.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import {
  type ApiResponse,
  client,
  expectEnvelope,
  isBookkeeping,
  type StorageKind,
  startServer,
  storageKinds,
  type TestServer,
} from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read freely and asserted on.
type Body = any;
type Api = ReturnType<typeof client>;

const actions = ['pay', 'cancel', 'ship', 'deliver', 'return', 'refund'] as const;
type Action = (typeof actions)[number];

/** What each status allows, as the contract states it. */
const allowed: Record<string, Action[]> = {
  pending: ['pay', 'cancel'],
  paid: ['cancel', 'ship'],
  shipped: ['deliver'],
  delivered: ['return'],
  returned: ['refund'],
  refunded: [],
  cancelled: [],
};
/** The actions that lead from a new order to each status. */
const pathTo: Record<string, Action[]> = {
  pending: [],
  paid: ['pay'],
  shipped: ['pay', 'ship'],
  delivered: ['pay', 'ship', 'deliver'],
  returned: ['pay', 'ship', 'deliver', 'return'],
  refunded: ['pay', 'ship', 'deliver', 'return', 'refund'],
  cancelled: ['cancel'],
};
const eventOf: Record<Action, string> = {
  pay: 'order.paid',
  cancel: 'order.cancelled',
  ship: 'order.shipped',
  deliver: 'order.delivered',
  return: 'order.returned',
  refund: 'order.refunded',
};
const stampOf: Record<Action, string> = {
  pay: 'paidAt',
  cancel: 'cancelledAt',
  ship: 'shippedAt',
  deliver: 'deliveredAt',
  return: 'returnedAt',
  refund: 'refundedAt',
};

let unique = 0;
const nextName = () => `${Date.now().toString(36)}-${++unique}`;

/** A test's own world: a fresh customer and products, so filters and counts see only what the test made. */
function fixtures(api: Api) {
  return {
    async user(status: 'active' | 'inactive' = 'active'): Promise<Body> {
      const response = await api('POST', '/v1/users', {
        body: { email: `buyer-${nextName()}@example.com`, name: 'Buyer', status },
      });
      assert.equal(response.status, 201, response.text);
      return response.body;
    },
    async product(
      options: { stock?: number; amount?: number; currency?: string; status?: 'active' | 'archived' } = {},
    ): Promise<Body> {
      const response = await api('POST', '/v1/products', {
        body: {
          name: `Thing ${nextName()}`,
          category: 'kitchen',
          price: { amount: options.amount ?? 1250, currency: options.currency ?? 'EUR' },
          stock: options.stock ?? 100,
          status: options.status ?? 'active',
        },
      });
      assert.equal(response.status, 201, response.text);
      return response.body;
    },
    async order(customerId: string, items: { productId: string; quantity: number }[]): Promise<Body> {
      const response = await api('POST', '/v1/orders', { body: { customerId, items } });
      assert.equal(response.status, 201, response.text);
      return response.body;
    },
  };
}

async function stockOf(api: Api, productId: string): Promise<number> {
  const response = await api('GET', `/v1/products/${productId}`);
  assert.equal(response.status, 200, response.text);
  return response.body.stock;
}

/** The outbox rows about one aggregate, oldest first, with their payload parsed. */
async function eventsFor(server: TestServer, aggregateId: string): Promise<{ type: string; data: Body }[]> {
  const rows = await sql<{ type: string; payload: string }>`
    select type, payload from outbox where aggregate_id = ${aggregateId} order by position`.execute(server.storage.db);
  return rows.rows.map((row) => ({ type: row.type, data: JSON.parse(row.payload) }));
}

async function countRows(server: TestServer, query: ReturnType<typeof sql<{ n: number | string }>>): Promise<number> {
  const rows = await query.execute(server.storage.db);
  return Number(rows.rows[0]?.n ?? 0);
}

const withoutLinks = ({ _links, ...rest }: Body) => rest;

/** Follows an action link the way a client would: the href and method it names. */
async function follow(api: Api, link: { href: string; method?: string }, headers: Record<string, string> = {}) {
  return api(link.method ?? 'GET', link.href, { headers });
}

async function act(api: Api, order: Body, action: Action, options: { body?: unknown } = {}): Promise<ApiResponse> {
  return api('POST', `/v1/orders/${order.id}/${action}`, options.body === undefined ? {} : { body: options.body });
}

/** RFC 6570 form-style query expansion (`{?a,b}`) and simple `{id}` expansion, for templated links. */
function expandTemplate(href: string, values: Record<string, string> = {}): string {
  return href
    .replace(/\{\?([^}]*)\}/, (_, names: string) => {
      const pairs = names
        .split(',')
        .filter((name) => values[name] !== undefined)
        .map((name) => `${name}=${encodeURIComponent(values[name] ?? '')}`);
      return pairs.length > 0 ? `?${pairs.join('&')}` : '';
    })
    .replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name] ?? ''));
}

function ordersSuite(kind: StorageKind): void {
  describe(`orders on ${kind}`, () => {
    let server: TestServer;
    let api: Api;
    let make: ReturnType<typeof fixtures>;
    before(async () => {
      server = await startServer({ storage: kind });
      api = client(server);
      make = fixtures(api);
    });
    after(() => server.close());

    test('placing an order captures unit prices and totals, takes the stock, changes the product ETag and writes order.created', async () => {
      const customer = await make.user();
      const lamp = await make.product({ stock: 7, amount: 4500 });
      const mug = await make.product({ stock: 3, amount: 1299 });
      const lampTag = (await api('GET', `/v1/products/${lamp.id}`)).headers.get('etag');

      const created = await api('POST', '/v1/orders', {
        body: {
          customerId: customer.id,
          items: [
            { productId: lamp.id, quantity: 2 },
            { productId: mug.id, quantity: 3 },
          ],
        },
      });
      assert.equal(created.status, 201, created.text);
      const order = created.body;
      assert.match(order.id, /^ord_[0-9a-z]{26}$/);
      assert.equal(created.headers.get('location'), `${server.url}/v1/orders/${order.id}`);
      assert.ok(created.headers.get('etag'));
      assert.equal(order.status, 'pending');
      assert.equal(order.customerId, customer.id);
      assert.deepEqual(order.items, [
        {
          productId: lamp.id,
          productName: lamp.name,
          quantity: 2,
          unitPrice: { amount: 4500, currency: 'EUR' },
          lineTotal: { amount: 9000, currency: 'EUR' },
        },
        {
          productId: mug.id,
          productName: mug.name,
          quantity: 3,
          unitPrice: { amount: 1299, currency: 'EUR' },
          lineTotal: { amount: 3897, currency: 'EUR' },
        },
      ]);
      assert.deepEqual(order.total, { amount: 12897, currency: 'EUR' });
      assert.equal(order.currency, 'EUR');
      assert.equal(order.tracking, null);
      for (const stamp of Object.values(stampOf)) assert.equal(order[stamp], null, `${stamp} is null, not omitted`);
      assert.equal(order.createdAt, order.updatedAt);

      assert.equal(await stockOf(api, lamp.id), 5);
      assert.equal(await stockOf(api, mug.id), 0);
      assert.notEqual((await api('GET', `/v1/products/${lamp.id}`)).headers.get('etag'), lampTag);

      // A later price change does not rewrite what the customer bought.
      await api('PATCH', `/v1/products/${lamp.id}`, { body: { price: { amount: 9900 } } });
      const read = await api('GET', `/v1/orders/${order.id}`);
      assert.equal(read.body.items[0].unitPrice.amount, 4500);
      assert.equal(read.headers.get('cache-control'), 'private, no-cache');
      assert.equal(read.headers.get('etag'), created.headers.get('etag'));

      const events = await eventsFor(server, order.id);
      assert.deepEqual(
        events.map((event) => event.type),
        ['order.created'],
      );
      assert.deepEqual(events[0]?.data, withoutLinks(order));
    });

    test('every allowed transition answers 200 with the new ETag, stamps its time and writes exactly one event', async () => {
      const customer = await make.user();
      const product = await make.product({ stock: 10 });
      const walks: Action[][] = [['pay', 'ship', 'deliver', 'return', 'refund'], ['cancel'], ['pay', 'cancel']];
      for (const walk of walks) {
        let order = await make.order(customer.id, [{ productId: product.id, quantity: 1 }]);
        for (const action of walk) {
          const before = await eventsFor(server, order.id);
          const response = await act(api, order, action);
          assert.equal(response.status, 200, `${action}: ${response.text}`);
          const next = response.body;
          assert.equal(
            next.status,
            {
              pay: 'paid',
              cancel: 'cancelled',
              ship: 'shipped',
              deliver: 'delivered',
              return: 'returned',
              refund: 'refunded',
            }[action],
          );
          assert.ok(next[stampOf[action]], `${action} sets ${stampOf[action]}`);
          assert.equal(next.updatedAt, next[stampOf[action]]);
          assert.equal(response.headers.get('cache-control'), 'no-store');
          const read = await api('GET', `/v1/orders/${order.id}`);
          assert.equal(response.headers.get('etag'), read.headers.get('etag'), 'the action answers the new ETag');
          assert.deepEqual(read.body, next);

          const events = await eventsFor(server, order.id);
          assert.equal(events.length, before.length + 1, `${action} writes exactly one event`);
          const event = events.at(-1);
          assert.equal(event?.type, eventOf[action]);
          const { refunded, ...data } = event?.data ?? {};
          assert.deepEqual(data, withoutLinks(next));
          if (action === 'cancel') assert.equal(refunded, order.status === 'paid');
          order = next;
        }
      }
      // pay then cancel: the paid order was refunded as it was cancelled.
      const lastEvents = await eventsFor(
        server,
        (await api('GET', `/v1/orders?customerId=${customer.id}`)).body.data[0].id,
      );
      assert.deepEqual(
        lastEvents.map((event) => event.type),
        ['order.created', 'order.paid', 'order.cancelled'],
      );
      assert.equal(lastEvents[2]?.data.refunded, true);
      assert.ok(lastEvents[2]?.data.refundedAt);
    });

    test('every transition the state does not allow answers 409 naming the allowed actions, and changes nothing', async () => {
      const customer = await make.user();
      const product = await make.product({ stock: 50 });
      for (const [status, steps] of Object.entries(pathTo)) {
        let order = await make.order(customer.id, [{ productId: product.id, quantity: 1 }]);
        for (const step of steps) order = (await act(api, order, step)).body;
        assert.equal(order.status, status);
        const tag = (await api('GET', `/v1/orders/${order.id}`)).headers.get('etag');
        const events = (await eventsFor(server, order.id)).length;
        const stock = await stockOf(api, product.id);
        for (const action of actions.filter((a) => !allowed[status]?.includes(a))) {
          const error = expectEnvelope(await act(api, order, action), 409, 'INVALID_STATE_TRANSITION');
          assert.match(error.message, new RegExp(`An order that is ${status} cannot be`));
          const offered = allowed[status] ?? [];
          if (offered.length > 0) assert.match(error.message, new RegExp(`allowed actions: ${offered.join(', ')}\\.`));
          else assert.match(error.message, /no action is allowed/);
          assert.deepEqual(error.details, [
            { field: 'status', code: 'TRANSITION_NOT_ALLOWED', message: error.message },
          ]);
        }
        const after = await api('GET', `/v1/orders/${order.id}`);
        assert.equal(after.headers.get('etag'), tag, `${status}: the order is unchanged`);
        assert.equal((await eventsFor(server, order.id)).length, events, `${status}: no event`);
        assert.equal(await stockOf(api, product.id), stock, `${status}: stock unchanged`);
      }
    });

    test("each order's links offer exactly the actions its status allows, each with POST", async () => {
      const customer = await make.user();
      const product = await make.product();
      for (const [status, steps] of Object.entries(pathTo)) {
        let order = await make.order(customer.id, [{ productId: product.id, quantity: 1 }]);
        for (const step of steps) order = (await act(api, order, step)).body;
        const links = order._links;
        const tracked = ['shipped', 'delivered', 'returned', 'refunded'].includes(status);
        assert.deepEqual(
          Object.keys(links).sort(),
          ['self', 'collection', 'customer', ...(allowed[status] ?? []), ...(tracked ? ['track'] : [])].sort(),
          status,
        );
        assert.equal(links.self.href, `${server.url}/v1/orders/${order.id}`);
        assert.equal(links.collection.href, `${server.url}/v1/orders`);
        assert.equal(links.customer.href, `${server.url}/v1/users/${customer.id}`);
        for (const action of allowed[status] ?? []) {
          assert.equal(links[action].method, 'POST');
          assert.equal(links[action].href, `${server.url}/v1/orders/${order.id}/${action}`);
          assert.ok(links[action].title);
        }
        if (tracked) {
          assert.equal(links.track.href, `${server.url}/v1/orders/${order.id}/tracking`);
          assert.equal(links.track.method, undefined, 'tracking is read with GET');
        }
      }
    });

    test('cancelling a pending or paid order and returning a delivered one put the stock back; refunding does not', async () => {
      const customer = await make.user();
      const product = await make.product({ stock: 20 });
      const line = [{ productId: product.id, quantity: 4 }];

      const pending = await make.order(customer.id, line);
      assert.equal(await stockOf(api, product.id), 16);
      await act(api, pending, 'cancel');
      assert.equal(await stockOf(api, product.id), 20);

      const paid = await make.order(customer.id, line);
      await act(api, paid, 'pay');
      const cancelled = (await act(api, paid, 'cancel')).body;
      assert.equal(await stockOf(api, product.id), 20);
      assert.ok(cancelled.refundedAt, 'a paid order is refunded as it is cancelled');
      assert.equal(cancelled.refundedAt, cancelled.cancelledAt);

      const delivered = await make.order(customer.id, line);
      for (const step of ['pay', 'ship', 'deliver'] as const) await act(api, delivered, step);
      assert.equal(await stockOf(api, product.id), 16);
      await act(api, delivered, 'return');
      assert.equal(await stockOf(api, product.id), 20);
      await act(api, delivered, 'refund');
      assert.equal(await stockOf(api, product.id), 20);
    });

    test('50 concurrent orders that are then paid, against a product with stock 10, leave exactly 10 paid and stock 0', async () => {
      const customer = await make.user();
      const product = await make.product({ stock: 10 });
      const attempts = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const created = await api('POST', '/v1/orders', {
            body: { customerId: customer.id, items: [{ productId: product.id, quantity: 1 }] },
          });
          if (created.status !== 201) return created;
          return api('POST', created.body._links.pay.href);
        }),
      );
      const paid = attempts.filter((response) => response.status === 200);
      const refused = attempts.filter((response) => response.status !== 200);
      assert.equal(paid.length, 10);
      for (const response of paid) assert.equal(response.body.status, 'paid');
      for (const response of refused) {
        const error = expectEnvelope(response, 409, 'CONFLICT');
        assert.deepEqual(
          error.details.map((detail: Body) => [detail.field, detail.code]),
          [['items.0.quantity', 'INSUFFICIENT_STOCK']],
        );
      }
      assert.equal(await stockOf(api, product.id), 0);
      const listed = await api('GET', `/v1/users/${customer.id}/orders?limit=100`);
      assert.equal(listed.body.data.length, 10, 'no order was left behind by a refused attempt');
      const negative = await countRows(server, sql<{ n: number }>`select count(*) as n from products where stock < 0`);
      assert.equal(negative, 0);
    });

    test('ten concurrent payments of one order pay it once; the others answer 409 and write no event', async () => {
      const customer = await make.user();
      const product = await make.product();
      const order = await make.order(customer.id, [{ productId: product.id, quantity: 1 }]);
      const answers = await Promise.all(Array.from({ length: 10 }, () => act(api, order, 'pay')));
      assert.equal(answers.filter((response) => response.status === 200).length, 1);
      for (const response of answers.filter((r) => r.status !== 200)) {
        expectEnvelope(response, 409, 'INVALID_STATE_TRANSITION');
      }
      assert.deepEqual(
        (await eventsFor(server, order.id)).map((event) => event.type),
        ['order.created', 'order.paid'],
      );
    });

    test('an action with a stale If-Match answers 412 and changes nothing; the current ETag lets it through', async () => {
      const customer = await make.user();
      const product = await make.product({ stock: 5 });
      const created = await api('POST', '/v1/orders', {
        body: { customerId: customer.id, items: [{ productId: product.id, quantity: 2 }] },
      });
      const firstTag = created.headers.get('etag') ?? '';
      const paid = await api('POST', created.body._links.pay.href, { headers: { 'if-match': firstTag } });
      assert.equal(paid.status, 200, paid.text);
      const paidTag = paid.headers.get('etag') ?? '';
      assert.notEqual(paidTag, firstTag);

      const stale = await api('POST', paid.body._links.cancel.href, { headers: { 'if-match': firstTag } });
      expectEnvelope(stale, 412, 'PRECONDITION_FAILED');
      const read = await api('GET', `/v1/orders/${created.body.id}`);
      assert.equal(read.body.status, 'paid');
      assert.equal(read.headers.get('etag'), paidTag);
      assert.equal(await stockOf(api, product.id), 3);
      assert.equal((await eventsFor(server, created.body.id)).length, 2);

      const weak = await api('POST', paid.body._links.cancel.href, { headers: { 'if-match': `W/${paidTag}` } });
      expectEnvelope(weak, 412, 'PRECONDITION_FAILED');
      const current = await api('POST', paid.body._links.cancel.href, { headers: { 'if-match': paidTag } });
      assert.equal(current.status, 200, current.text);
      assert.equal(current.body.status, 'cancelled');
    });

    test('hostile order bodies each answer a clear 4xx with details, and leave no order and no changed stock', async () => {
      const customer = await make.user();
      const inactive = await make.user('inactive');
      const euro = await make.product({ stock: 5 });
      const other = await make.product({ stock: 5 });
      const dollar = await make.product({ stock: 5, currency: 'USD' });
      const archived = await make.product({ stock: 5, status: 'archived' });
      const scarce = await make.product({ stock: 1 });
      const ordersBefore = await countRows(server, sql<{ n: number }>`select count(*) as n from orders`);
      const eventsBefore = await countRows(
        server,
        sql<{ n: number }>`select count(*) as n from outbox where type like 'order.%'`,
      );
      const missingProduct = 'prd_01jd2gq6f1e8x9v3k4m5n6p7q8';
      const missingUser = 'usr_01jd2gq6f1e8x9v3k4m5n6p7q8';
      const line = (productId: string, quantity: unknown) => ({ productId, quantity });
      const body = (items: unknown[], customerId: string = customer.id) => ({ customerId, items });

      const cases: Array<[string, unknown, number, string, Array<[string, string]>]> = [
        ['quantity 0', body([line(euro.id, 0)]), 400, 'VALIDATION_ERROR', [['items.0.quantity', 'TOO_SMALL']]],
        [
          'a negative quantity',
          body([line(euro.id, -3)]),
          400,
          'VALIDATION_ERROR',
          [['items.0.quantity', 'TOO_SMALL']],
        ],
        [
          'a fractional quantity',
          body([line(euro.id, 1.5)]),
          400,
          'VALIDATION_ERROR',
          [['items.0.quantity', 'INVALID_TYPE']],
        ],
        ['a huge quantity', body([line(euro.id, 1e12)]), 400, 'VALIDATION_ERROR', [['items.0.quantity', 'TOO_LARGE']]],
        [
          'a quantity as text',
          body([line(euro.id, '2')]),
          400,
          'VALIDATION_ERROR',
          [['items.0.quantity', 'INVALID_TYPE']],
        ],
        ['no lines', body([]), 400, 'VALIDATION_ERROR', [['items', 'TOO_FEW_ITEMS']]],
        [
          '51 lines',
          body(Array.from({ length: 51 }, () => line(euro.id, 1))),
          400,
          'VALIDATION_ERROR',
          [['items', 'TOO_MANY_ITEMS']],
        ],
        [
          'an unknown product',
          body([line(euro.id, 1), line(missingProduct, 1)]),
          400,
          'VALIDATION_ERROR',
          [['items.1.productId', 'UNKNOWN_PRODUCT']],
        ],
        [
          'a malformed product id',
          body([line('lamp', 1)]),
          400,
          'VALIDATION_ERROR',
          [['items.0.productId', 'INVALID_FORMAT']],
        ],
        [
          'an archived product',
          body([line(archived.id, 1)]),
          400,
          'VALIDATION_ERROR',
          [['items.0.productId', 'PRODUCT_NOT_ACTIVE']],
        ],
        [
          'the same product on two lines',
          body([line(euro.id, 1), line(other.id, 1), line(euro.id, 2)]),
          400,
          'VALIDATION_ERROR',
          [['items.2.productId', 'DUPLICATE']],
        ],
        [
          'two currencies',
          body([line(euro.id, 1), line(dollar.id, 1)]),
          400,
          'VALIDATION_ERROR',
          [['items.1.productId', 'CURRENCY_MISMATCH']],
        ],
        [
          'an unknown customer',
          body([line(euro.id, 1)], missingUser),
          400,
          'VALIDATION_ERROR',
          [['customerId', 'UNKNOWN_CUSTOMER']],
        ],
        [
          'an inactive customer',
          body([line(euro.id, 1)], inactive.id),
          400,
          'VALIDATION_ERROR',
          [['customerId', 'CUSTOMER_NOT_ACTIVE']],
        ],
        [
          'more than the stock of two lines',
          body([line(euro.id, 6), line(other.id, 5), line(scarce.id, 2)]),
          409,
          'CONFLICT',
          [
            ['items.0.quantity', 'INSUFFICIENT_STOCK'],
            ['items.2.quantity', 'INSUFFICIENT_STOCK'],
          ],
        ],
        [
          'an unknown field',
          { ...body([line(euro.id, 1)]), discount: 100 },
          400,
          'VALIDATION_ERROR',
          [['discount', 'UNKNOWN_FIELD']],
        ],
      ];
      for (const [label, payload, status, code, details] of cases) {
        const error = expectEnvelope(await api('POST', '/v1/orders', { body: payload }), status, code);
        // The schema validator may add a second reason for the same field (a fraction is neither integer nor int32);
        // the fields named are exactly the ones at fault.
        const named = error.details.map((detail: Body) => [detail.field, detail.code]);
        for (const expected of details)
          assert.ok(
            named.some((d: string[]) => d.join() === expected.join()),
            `${label}: ${JSON.stringify(error)}`,
          );
        assert.deepEqual(
          [...new Set(error.details.map((detail: Body) => detail.field))],
          details.map(([field]) => field),
          label,
        );
        for (const detail of error.details) assert.ok(detail.message.length > 0, `${label}: each detail says why`);
      }

      const nested = `/v1/users/${customer.id}/orders`;
      const mismatch = expectEnvelope(
        await api('POST', nested, { body: { customerId: inactive.id, items: [line(euro.id, 1)] } }),
        400,
        'VALIDATION_ERROR',
      );
      assert.deepEqual(
        mismatch.details.map((detail: Body) => [detail.field, detail.code]),
        [['customerId', 'CUSTOMER_MISMATCH']],
      );
      expectEnvelope(
        await api('POST', `/v1/users/${missingUser}/orders`, { body: { items: [line(euro.id, 1)] } }),
        404,
        'RESOURCE_NOT_FOUND',
      );
      expectEnvelope(
        await api('POST', '/v1/users/nobody/orders', { body: { items: [line(euro.id, 1)] } }),
        404,
        'RESOURCE_NOT_FOUND',
      );

      assert.equal(
        await countRows(server, sql<{ n: number }>`select count(*) as n from orders`),
        ordersBefore,
        'no order',
      );
      assert.equal(
        await countRows(server, sql<{ n: number }>`select count(*) as n from outbox where type like 'order.%'`),
        eventsBefore,
        'no order event',
      );
      for (const product of [euro, other, dollar, archived, scarce]) {
        assert.equal(await stockOf(api, product.id), product.stock, `the stock of ${product.name} is unchanged`);
      }
    });

    test('actions on missing orders answer 404, and expand of an unknown path or deeper than two levels answers 400', async () => {
      for (const id of ['ord_01jd2gq6f1e8x9v3k4m5n6p7q8', 'nope', 'usr_01jd2gq6f1e8x9v3k4m5n6p7q8']) {
        for (const action of actions) {
          expectEnvelope(await api('POST', `/v1/orders/${id}/${action}`), 404, 'RESOURCE_NOT_FOUND');
        }
        expectEnvelope(await api('GET', `/v1/orders/${id}/tracking`), 404, 'RESOURCE_NOT_FOUND');
        expectEnvelope(await api('GET', `/v1/orders/${id}`), 404, 'RESOURCE_NOT_FOUND');
      }
      const customer = await make.user();
      const product = await make.product();
      const order = await make.order(customer.id, [{ productId: product.id, quantity: 1 }]);
      for (const path of ['/v1/orders', `/v1/orders/${order.id}`]) {
        const unknown = expectEnvelope(await api('GET', `${path}?expand=seller`), 400, 'VALIDATION_ERROR');
        assert.deepEqual([unknown.details[0].field, unknown.details[0].code], ['expand', 'UNKNOWN_EXPANSION']);
        assert.match(unknown.details[0].message, /customer, items\.product/);
        const deep = expectEnvelope(await api('GET', `${path}?expand=items.product.category`), 400, 'VALIDATION_ERROR');
        assert.deepEqual([deep.details[0].field, deep.details[0].code], ['expand', 'TOO_DEEP']);
      }
    });

    test('tracking is 404 until the order ships, then names carrier and number, and follows delivery', async () => {
      const customer = await make.user();
      const product = await make.product();
      const order = await make.order(customer.id, [{ productId: product.id, quantity: 1 }]);
      const tracking = `/v1/orders/${order.id}/tracking`;
      const early = expectEnvelope(await api('GET', tracking), 404, 'RESOURCE_NOT_FOUND');
      assert.match(early.message, /tracking exists once an order has shipped/);
      await act(api, order, 'pay');
      expectEnvelope(await api('GET', tracking), 404, 'RESOURCE_NOT_FOUND');

      const badShipment = await act(api, order, 'ship', {
        body: { carrier: 'DHL', trackingNumber: 'no spaces please' },
      });
      expectEnvelope(badShipment, 400, 'VALIDATION_ERROR');
      assert.equal(
        (await api('GET', `/v1/orders/${order.id}`)).body.status,
        'paid',
        'a refused shipment ships nothing',
      );

      const shipped = await act(api, order, 'ship', { body: { carrier: 'DHL', trackingNumber: 'JD0146-0000' } });
      assert.equal(shipped.status, 200, shipped.text);
      assert.deepEqual(shipped.body.tracking, { carrier: 'DHL', trackingNumber: 'JD0146-0000' });
      const first = await api('GET', shipped.body._links.track.href);
      assert.equal(first.status, 200, first.text);
      assert.equal(first.headers.get('cache-control'), 'private, no-cache');
      assert.deepEqual(withoutLinks(first.body), {
        carrier: 'DHL',
        trackingNumber: 'JD0146-0000',
        status: 'shipped',
        shippedAt: shipped.body.shippedAt,
        deliveredAt: null,
      });
      assert.equal(first.body._links.order.href, `${server.url}/v1/orders/${order.id}`);
      const etag = first.headers.get('etag') ?? '';
      assert.equal((await api('GET', tracking, { headers: { 'if-none-match': etag } })).status, 304);

      const delivered = (await act(api, order, 'deliver')).body;
      const later = await api('GET', tracking, { headers: { 'if-none-match': etag } });
      assert.equal(later.status, 200);
      assert.equal(later.body.status, 'delivered');
      assert.equal(later.body.deliveredAt, delivered.deliveredAt);

      // Shipping without a body assigns a carrier and a tracking number.
      const another = await make.order(customer.id, [{ productId: product.id, quantity: 1 }]);
      await act(api, another, 'pay');
      const assigned = await act(api, another, 'ship');
      assert.equal(assigned.status, 200, assigned.text);
      assert.ok(assigned.body.tracking.carrier);
      assert.match(assigned.body.tracking.trackingNumber, /^[A-Z0-9]{8,}$/);
    });

    test('orders filter by status, customer and creation window, and sort by createdAt or total', async () => {
      const alice = await make.user();
      const bob = await make.user();
      const product = await make.product({ amount: 1000 });
      const quantities = [3, 1, 5, 2];
      const placed: Body[] = [];
      for (const quantity of quantities) {
        placed.push(await make.order(alice.id, [{ productId: product.id, quantity }]));
      }
      await make.order(bob.id, [{ productId: product.id, quantity: 1 }]);
      await act(api, placed[1], 'pay');
      await act(api, placed[3], 'pay');

      const mine = await api('GET', `/v1/orders?customerId=${alice.id}`);
      assert.equal(mine.status, 200);
      assert.equal(mine.headers.get('cache-control'), 'private, no-cache');
      assert.ok(mine.headers.get('etag'));
      assert.deepEqual(
        mine.body.data.map((order: Body) => order.id),
        [...placed].reverse().map((order) => order.id),
        'newest first by default',
      );
      const paid = await api('GET', `/v1/orders?customerId=${alice.id}&status=paid`);
      assert.deepEqual(paid.body.data.map((order: Body) => order.id).sort(), [placed[1].id, placed[3].id].sort());
      const byTotal = await api('GET', `/v1/orders?customerId=${alice.id}&sort=total&order=asc`);
      assert.deepEqual(
        byTotal.body.data.map((order: Body) => order.total.amount),
        [1000, 2000, 3000, 5000],
      );
      const window = new URLSearchParams({
        customerId: alice.id,
        createdFrom: placed[1].createdAt,
        createdTo: placed[3].createdAt,
      });
      const inWindow = await api('GET', `/v1/orders?${window}`);
      assert.deepEqual(
        inWindow.body.data.map((order: Body) => order.id),
        [placed[2].id, placed[1].id],
      );
      const offset = await api('GET', `/v1/orders?customerId=${alice.id}&sort=total&order=desc&page=2&perPage=3`);
      assert.deepEqual(offset.body.pagination, { page: 2, perPage: 3, total: 4, totalPages: 2 });
      assert.deepEqual(
        offset.body.data.map((order: Body) => order.total.amount),
        [1000],
      );
      const cursor = await api('GET', `/v1/orders?customerId=${alice.id}&limit=3`);
      assert.equal(cursor.body.pagination.hasMore, true);
      const rest = await api(
        'GET',
        `/v1/orders?customerId=${alice.id}&limit=3&cursor=${cursor.body.pagination.nextCursor}`,
      );
      assert.deepEqual(
        rest.body.data.map((order: Body) => order.id),
        [placed[0].id],
      );
      expectEnvelope(await api('GET', '/v1/orders?status=lost'), 400, 'VALIDATION_ERROR');
      expectEnvelope(await api('GET', '/v1/orders?sort=customerId'), 400, 'VALIDATION_ERROR');
    });

    test("a user's orders are listed and placed under the user, and a missing user answers 404", async () => {
      const customer = await make.user();
      const someoneElse = await make.user();
      const product = await make.product();
      const created = await api('POST', `/v1/users/${customer.id}/orders`, {
        body: { items: [{ productId: product.id, quantity: 2 }] },
      });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.customerId, customer.id);
      assert.equal(created.headers.get('location'), `${server.url}/v1/orders/${created.body.id}`);
      const same = await api('POST', `/v1/users/${customer.id}/orders`, {
        body: { customerId: customer.id, items: [{ productId: product.id, quantity: 1 }] },
      });
      assert.equal(same.status, 201, same.text);
      await make.order(someoneElse.id, [{ productId: product.id, quantity: 1 }]);

      const listed = await api('GET', `/v1/users/${customer.id}/orders`);
      assert.equal(listed.status, 200);
      assert.deepEqual(
        listed.body.data.map((order: Body) => order.id),
        [same.body.id, created.body.id],
      );
      assert.equal(listed.body._links.self.href, `${server.url}/v1/users/${customer.id}/orders`);
      expectEnvelope(await api('GET', '/v1/users/usr_01jd2gq6f1e8x9v3k4m5n6p7q8/orders'), 404, 'RESOURCE_NOT_FOUND');
      expectEnvelope(await api('GET', '/v1/users/nobody/orders'), 404, 'RESOURCE_NOT_FOUND');
    });

    test('expand embeds the customer and each product as they are now; fields keeps what was expanded', async () => {
      const customer = await make.user();
      const product = await make.product({ stock: 9 });
      const order = await make.order(customer.id, [{ productId: product.id, quantity: 2 }]);

      const plain = await api('GET', `/v1/orders/${order.id}`);
      assert.equal('customer' in plain.body, false);
      assert.equal('product' in plain.body.items[0], false);

      const expanded = await api('GET', `/v1/orders/${order.id}?expand=customer,items.product`);
      assert.equal(expanded.status, 200, expanded.text);
      assert.equal(expanded.body.customer.id, customer.id);
      assert.equal(expanded.body.customer.email, customer.email);
      assert.equal(expanded.body.customer._links.self.href, `${server.url}/v1/users/${customer.id}`);
      assert.equal(expanded.body.items[0].product.id, product.id);
      assert.equal(expanded.body.items[0].product.stock, 7, 'the product as it is now');
      assert.ok(expanded.headers.get('etag'));
      // What is embedded is sent byte for byte as the resource's own GET sends it.
      const [own, ownProduct] = [
        await api('GET', `/v1/users/${customer.id}`),
        await api('GET', `/v1/products/${product.id}`),
      ];
      assert.ok(expanded.text.includes(`"customer":${own.text}`), expanded.text);
      assert.ok(expanded.text.includes(`"product":${ownProduct.text}`), expanded.text);
      const page = await api('GET', `/v1/orders?customerId=${customer.id}&expand=customer,items.product`);
      assert.ok(page.text.includes(`"data":[${expanded.text}]`), page.text);

      const sparse = await api('GET', `/v1/orders?customerId=${customer.id}&fields=total&expand=customer`);
      assert.deepEqual(Object.keys(sparse.body.data[0]).sort(), ['_links', 'customer', 'id', 'total']);
      assert.equal(sparse.body.data[0].customer.id, customer.id);
    });

    test('a client that only follows links walks from GET / to a paid, then cancelled, order', async () => {
      const root = await api('GET', '/');
      assert.equal(root.status, 200);
      const rootLinks = root.body._links;

      const users = await api('POST', expandTemplate(rootLinks.users.href), {
        body: { email: `walker-${nextName()}@example.com`, name: 'Walker' },
      });
      assert.equal(users.status, 201, users.text);
      const user = (await api('GET', users.headers.get('location') ?? '')).body;

      const products = await api('POST', expandTemplate(rootLinks.products.href), {
        body: { name: 'Walking stick', category: 'outdoor', price: { amount: 3500, currency: 'EUR' }, stock: 4 },
      });
      assert.equal(products.status, 201, products.text);
      const product = (await api('GET', products.headers.get('location') ?? '')).body;
      const catalog = await api('GET', expandTemplate(rootLinks.products.href, { limit: '100', sort: 'createdAt' }));
      assert.ok(catalog.body.data.some((item: Body) => item.id === product.id));

      const placed = await api('POST', expandTemplate(rootLinks.orders.href), {
        body: { customerId: user.id, items: [{ productId: product.id, quantity: 3 }] },
      });
      assert.equal(placed.status, 201, placed.text);
      const order = await api('GET', placed.headers.get('location') ?? '');
      assert.equal(order.body.status, 'pending');

      const paid = await follow(api, order.body._links.pay);
      assert.equal(paid.status, 200, paid.text);
      assert.equal(paid.body.status, 'paid');
      const cancelled = await follow(api, paid.body._links.cancel);
      assert.equal(cancelled.status, 200, cancelled.text);
      assert.equal(cancelled.body.status, 'cancelled');
      assert.ok(cancelled.body.refundedAt);
      assert.deepEqual(Object.keys(cancelled.body._links).sort(), ['collection', 'customer', 'self']);

      const customer = await follow(api, cancelled.body._links.customer);
      assert.equal(customer.body.id, user.id);
      const restocked = await follow(api, product._links.self);
      assert.equal(restocked.body.stock, 4, 'the cancelled order gave its stock back');
      const item = await api('GET', expandTemplate(rootLinks['orders:item'].href, { id: order.body.id }));
      assert.equal(item.body.status, 'cancelled');
    });
  });

  describe(`expanding a page of orders on ${kind}`, () => {
    const statements: string[] = [];
    let server: TestServer;
    let api: Api;
    before(async () => {
      server = await startServer({
        storage: kind,
        // The webhook worker's polling runs on its own schedule; a suite that counts a request's queries stops it.
        webhookWorker: false,
        onQuery: (text) => {
          if (!isBookkeeping(text)) statements.push(text);
        },
      });
      api = client(server);
    });
    after(() => server.close());

    test('a page of 100 orders with expand=customer,items.product costs the same few queries as a page of 10', async () => {
      const make = fixtures(api);
      const customers = await Promise.all(Array.from({ length: 7 }, () => make.user()));
      const products = await Promise.all(Array.from({ length: 12 }, () => make.product({ stock: 1000 })));
      for (let n = 0; n < 100; n++) {
        const first = products[n % products.length];
        const second = products[(n + 5) % products.length];
        await make.order(customers[n % customers.length].id, [
          { productId: first.id, quantity: 1 },
          { productId: second.id, quantity: 2 },
        ]);
      }
      const queriesFor = async (limit: number, expand = 'customer,items.product') => {
        statements.length = 0;
        const page = await api('GET', `/v1/orders?limit=${limit}${expand ? `&expand=${expand}` : ''}`);
        assert.equal(page.status, 200, page.text);
        assert.equal(page.body.data.length, limit);
        for (const order of expand ? page.body.data : []) {
          assert.equal(order.customer.id, order.customerId);
          for (const item of order.items) assert.equal(item.product.id, item.productId);
        }
        return statements.length;
      };
      // The page and its items, with the caller's authentication, cost the same whatever is expanded.
      const plain = await queriesFor(10, '');
      const ten = await queriesFor(10);
      const hundred = await queriesFor(100);
      assert.equal(hundred, ten, 'the number of queries does not grow with the page');
      assert.equal(hundred, plain + 2, 'one query per expanded path');
    });
  });
}

for (const kind of storageKinds()) ordersSuite(kind);
