// The events API over the real server, on each storage: newest-first cursor pages of the outbox, filtered by type
// (exact or wildcard) and time, one event by id, admins only, and 30 days of retention with a moved clock.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { sql } from 'kysely';
import { eventsService } from '../src/modules/events/index.ts';
import { appendEvent, domainEvent } from '../src/storage/outbox.ts';
import {
  type ApiResponse,
  client,
  countRows,
  expectEnvelope,
  startServer,
  storageKinds,
  type TestServer,
  testStorage,
} from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read freely and asserted on.
type Body = any;

const minute = 60_000;
const day = 24 * 60 * minute;
let sequence = 0;
const email = () => `e${Date.now().toString(36)}${(sequence++).toString(36)}@example.test`;

function created(response: ApiResponse): Body {
  assert.equal(response.status, 201, response.text);
  return response.body;
}

for (const kind of storageKinds()) {
  describe(`events API on ${kind}`, () => {
    const start = Date.parse('2026-04-01T00:00:00.000Z');
    let now = start;
    const clock = () => new Date(now);
    let server: TestServer;
    let admin: ReturnType<typeof client>;
    const users: Body[] = [];
    const products: Body[] = [];

    before(async () => {
      server = await startServer({ storage: kind, clock });
      admin = client(server);
      for (let i = 0; i < 3; i++) {
        now = start + i * minute;
        users.push(
          created(await admin('POST', '/v1/users', { body: { email: email(), name: `User ${i}`, role: 'customer' } })),
        );
      }
      for (let i = 0; i < 2; i++) {
        now = start + (3 + i) * minute;
        products.push(
          created(
            await admin('POST', '/v1/products', {
              body: { name: `Lamp ${i}`, category: 'lighting', price: { amount: 4000, currency: 'EUR' }, stock: 5 },
            }),
          ),
        );
      }
      now = start + 10 * minute;
    });
    after(() => server.close());

    /** Every event of a listing, following nextCursor from the first page. */
    async function all(query: string): Promise<Body[]> {
      const events: Body[] = [];
      let url: string | null = `/v1/events?limit=2${query}`;
      while (url) {
        const page: ApiResponse = await admin('GET', url);
        assert.equal(page.status, 200, page.text);
        assert.ok(page.body.data.length <= 2);
        events.push(...page.body.data);
        const next: string | null = page.body.pagination.nextCursor;
        url = next ? `/v1/events?limit=2${query}&cursor=${encodeURIComponent(next)}` : null;
      }
      return events;
    }

    test('events come newest first, in cursor pages, each as the body webhooks deliver', async () => {
      const events = await all('');
      assert.equal(events.length, await countRows(server.storage, 'outbox'));
      assert.deepEqual(
        events.map((event) => event.type),
        ['product.created', 'product.created', 'user.created', 'user.created', 'user.created'],
      );
      const createdAts = events.map((event) => event.createdAt);
      assert.deepEqual(createdAts, [...createdAts].sort().reverse());
      assert.equal(events[0].data.id, products[1].id);
      assert.equal(events[4].data.id, users[0].id);

      const one = await admin('GET', `/v1/events/${events[4].id}`);
      assert.equal(one.status, 200, one.text);
      assert.deepEqual(Object.keys(one.body).sort(), ['_links', 'apiVersion', 'createdAt', 'data', 'id', 'type']);
      assert.equal(one.body.type, 'user.created');
      assert.equal(one.body.apiVersion, 'v1');
      assert.equal(one.body.createdAt, new Date(start).toISOString());
      assert.equal(one.body.data.email, users[0].email);
      assert.equal(one.body._links.self.href, `${server.url}/v1/events/${events[4].id}`);

      expectEnvelope(await admin('GET', '/v1/events/evt_00000000000000000000000000'), 404, 'RESOURCE_NOT_FOUND');
      expectEnvelope(await admin('GET', '/v1/events/not-an-event'), 404, 'RESOURCE_NOT_FOUND');
    });

    test('events filter by exact type, by wildcard and by time', async () => {
      const types = async (query: string) => (await all(query)).map((event) => event.type);
      assert.deepEqual(await types('&type=user.created'), ['user.created', 'user.created', 'user.created']);
      assert.deepEqual(await types('&type=product.*'), ['product.created', 'product.created']);
      assert.equal((await types('&type=*')).length, 5);
      assert.deepEqual(await types('&type=order.*'), []);
      const from = new Date(start + minute).toISOString();
      const to = new Date(start + 3 * minute).toISOString();
      const window = await all(`&createdFrom=${from}&createdTo=${to}`);
      assert.deepEqual(
        window.map((event) => event.data.id),
        [users[2].id, users[1].id],
      );
      const both = await all(`&type=product.*&createdFrom=${new Date(start + 4 * minute).toISOString()}`);
      assert.deepEqual(
        both.map((event) => event.data.id),
        [products[1].id],
      );
    });

    test('a bad filter is a 400', async () => {
      for (const query of ['type=User.Created', 'type=order.**', 'type=', 'createdFrom=yesterday']) {
        expectEnvelope(await admin('GET', `/v1/events?${query}`), 400, 'VALIDATION_ERROR');
      }
    });

    test('events are for admins: a customer gets 403, an anonymous caller 401', async () => {
      const key = created(await admin('POST', '/v1/api-keys', { body: { ownerId: users[0].id, name: 'mine' } }));
      const asCustomer = { authorization: `Bearer ${key.secret}` };
      const events = await all('');
      expectEnvelope(await admin('GET', '/v1/events', { headers: asCustomer }), 403, 'INSUFFICIENT_PERMISSIONS');
      expectEnvelope(
        await admin('GET', `/v1/events/${events[0].id}`, { headers: asCustomer }),
        403,
        'INSUFFICIENT_PERMISSIONS',
      );
      expectEnvelope(await client(server.url)('GET', '/v1/events'), 401, 'AUTHENTICATION_REQUIRED');
    });

    test('after 30 days events are gone from the API at once, and the purge deletes the published ones', async () => {
      const old = await all('');
      // The relay publishes what is committed; the purge waits for that.
      for (let tries = 0; tries < 200; tries++) {
        const unpublished = await sql<{ n: number | string }>`select count(*) as n from outbox
          where published_at is null`.execute(server.storage.db);
        if (Number(unpublished.rows[0]?.n) === 0) break;
        await delay(25);
      }
      now = start + 30 * day + 10 * minute + 1;
      const recent = created(
        await admin('POST', '/v1/users', { body: { email: email(), name: 'Latecomer', role: 'customer' } }),
      );
      const listed = await all('');
      assert.deepEqual(
        listed.map((event) => event.data.id),
        [recent.id],
      );
      expectEnvelope(await admin('GET', `/v1/events/${old[0].id}`), 404, 'RESOURCE_NOT_FOUND');

      const purged = await eventsService(server.storage, clock).purge();
      assert.equal(purged, old.length);
      assert.equal(await countRows(server.storage, 'outbox'), 1);
      assert.equal((await admin('GET', `/v1/events/${listed[0].id}`)).status, 200);
    });
  });

  describe(`event purge on ${kind}`, () => {
    test('an event past retention that the relay has not published yet is kept', async () => {
      const { storage, close } = await testStorage(kind);
      try {
        const now = Date.parse('2026-06-01T00:00:00.000Z');
        const clock = () => new Date(now);
        const old = domainEvent(
          'user.created',
          { type: 'user', id: 'usr_x' },
          { id: 'usr_x' },
          new Date(now - 31 * day),
        );
        const fresh = domainEvent('user.created', { type: 'user', id: 'usr_y' }, { id: 'usr_y' }, new Date(now - day));
        for (const event of [old, fresh]) await appendEvent(storage.db, event);
        const service = eventsService(storage, clock);
        assert.equal(await service.purge(), 0);
        assert.equal(await countRows(storage, 'outbox'), 2);

        // What the relay does once the bus confirmed the event.
        await sql`update outbox set published_at = ${new Date(now).toISOString()}`.execute(storage.db);
        assert.equal(await service.purge(), 1);
        const left = await sql<{ id: string }>`select id from outbox`.execute(storage.db);
        assert.deepEqual(
          left.rows.map((row) => row.id),
          [fresh.id],
        );
      } finally {
        await close();
      }
    });
  });
}
