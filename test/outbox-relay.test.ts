// The outbox relay: every event that real API writes commit reaches the bus, in commit order per aggregate, and
// nothing is lost when the bus fails or the relay dies between publishing and marking (duplicates keep their id).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { eventually } from '../src/adapters/bus/conformance.ts';
import { memoryBus } from '../src/adapters/bus/memory.ts';
import type { DomainEvent, EventBus } from '../src/adapters/bus/port.ts';
import { type RabbitMqBus, rabbitMqBus } from '../src/adapters/bus/rabbitmq.ts';
import { idempotentHandler, outboxRelay } from '../src/events/index.ts';
import { openStorage, type Storage } from '../src/storage/database.ts';
import { migrateToLatest } from '../src/storage/migrate.ts';
import { appendEvent, domainEvent } from '../src/storage/outbox.ts';
import { client, countRows, serviceUrl, startServer, storageKinds, testDatabase, testStorage } from './helpers.ts';
import { brokerHop, deleteTopology } from './rabbitmq-fixtures.ts';

interface OutboxRow {
  id: string;
  aggregate_id: string;
  published_at: string | null;
}

async function outboxRows(storage: Storage): Promise<OutboxRow[]> {
  const result = await sql<OutboxRow>`select id, aggregate_id, published_at from outbox order by position`.execute(
    storage.db,
  );
  return result.rows.map((row) => ({ ...row }));
}

/** Event ids grouped by aggregate, each group in the order given. */
function byAggregate(events: { id: string; aggregate_id: string }[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const event of events) groups.set(event.aggregate_id, [...(groups.get(event.aggregate_id) ?? []), event.id]);
  return groups;
}

/** Commits `count` events about `aggregates` aggregates, round robin, each in its own transaction. */
async function commitEvents(storage: Storage, count: number, aggregates = 3): Promise<DomainEvent[]> {
  const events: DomainEvent[] = [];
  for (let n = 0; n < count; n++) {
    const event = domainEvent('thing.changed', { type: 'thing', id: `thg_${n % aggregates}` }, { n }, new Date());
    await storage.db.transaction().execute((trx) => appendEvent(trx, event));
    events.push(event);
  }
  return events;
}

/** A bus whose confirmations stop arriving after `confirmed` events: later events reach the bus all the same. */
function busLosingConfirmsAfter(bus: EventBus, confirmed: number): EventBus {
  let calls = 0;
  return {
    ...bus,
    async publish(event) {
      await bus.publish(event);
      if (++calls > confirmed) throw new Error('connection lost before the confirm arrived');
    },
  };
}

for (const kind of storageKinds()) {
  describe(`outbox relay on ${kind}`, () => {
    test('every event that API writes commit arrives on the bus, in commit order per aggregate, and is marked', async () => {
      const bus = memoryBus();
      const received: DomainEvent[] = [];
      await bus.subscribe('watcher', '#', async (event) => {
        received.push(event);
      });
      const server = await startServer({ storage: kind, bus });
      try {
        const api = client(server);
        const user = await api('POST', '/v1/users', { body: { email: 'buyer@example.com', name: 'Buyer' } });
        assert.equal(user.status, 201, user.text);
        const product = await api('POST', '/v1/products', {
          body: { name: 'Kettle', category: 'kitchen', price: { amount: 2500, currency: 'EUR' }, stock: 10 },
        });
        assert.equal(product.status, 201, product.text);
        const order = await api('POST', '/v1/orders', {
          body: { customerId: user.body.id, items: [{ productId: product.body.id, quantity: 2 }] },
        });
        assert.equal(order.status, 201, order.text);
        for (const action of ['pay', 'ship']) {
          assert.equal((await api('POST', `/v1/orders/${order.body.id}/${action}`)).status, 200);
        }
        const patched = await api('PATCH', `/v1/users/${user.body.id}`, {
          body: { name: 'Buyer Two' },
          headers: { 'content-type': 'application/merge-patch+json' },
        });
        assert.equal(patched.status, 200, patched.text);

        const committed = await outboxRows(server.storage);
        assert.ok(committed.length >= 5, `only ${committed.length} events were written`);
        await eventually('every committed event on the bus', () =>
          committed.every((row) => received.some((event) => event.id === row.id)),
        );
        assert.deepEqual(
          byAggregate(received.map((event) => ({ id: event.id, aggregate_id: event.aggregate.id }))),
          byAggregate(committed),
        );
        const orderEvents = received.filter((event) => event.aggregate.id === order.body.id);
        assert.deepEqual(
          orderEvents.map((event) => event.type),
          ['order.created', 'order.paid', 'order.shipped'],
        );
        assert.equal(orderEvents[1]?.data && (orderEvents[1].data as { status: string }).status, 'paid');
        await eventually('every event marked published', async () =>
          (await outboxRows(server.storage)).every((row) => row.published_at !== null),
        );
      } finally {
        await server.close();
        await bus.close();
      }
    });

    test('a relay that dies after publishing but before marking publishes again on restart: same ids, none lost', async () => {
      const { storage, close } = await testStorage(kind);
      const bus = memoryBus();
      const received: string[] = [];
      const handled: string[] = [];
      await bus.subscribe('watcher', '#', async (event) => {
        received.push(event.id);
      });
      await bus.subscribe(
        'projector',
        '#',
        idempotentHandler(storage, 'projector', async (event) => {
          handled.push(event.id);
        }),
      );
      try {
        const events = await commitEvents(storage, 8);
        const dying = outboxRelay({ storage, bus: busLosingConfirmsAfter(bus, 3) });
        await assert.rejects(dying.drain(), /the event bus refused an event/);
        await eventually('the events the first relay sent', () => received.length === 4);
        assert.equal((await outboxRows(storage)).filter((row) => row.published_at).length, 3);

        const restarted = outboxRelay({ storage, bus });
        assert.equal(await restarted.drain(), 5);
        const ids = events.map((event) => event.id);
        await eventually('every event', () => ids.every((id) => received.includes(id)));
        // The fourth event went out twice, with the same id; nothing else did, and nothing is missing.
        assert.deepEqual(received, [...ids.slice(0, 4), ...ids.slice(3)]);
        assert.deepEqual(
          (await outboxRows(storage)).filter((row) => !row.published_at),
          [],
        );
        await eventually('the projector', () => ids.every((id) => handled.includes(id)));
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.deepEqual(handled, ids, 'the idempotent consumer handled the duplicate once');
        assert.equal(await countRows(storage, 'event_inbox'), ids.length);
      } finally {
        await bus.close();
        await close();
      }
    });

    test('writes nudged together go out in one batch, soon after, without waiting for the poll', async () => {
      const { storage, close } = await testStorage(kind);
      const bus = memoryBus();
      const received: string[] = [];
      await bus.subscribe('watcher', '#', async (event) => {
        received.push(event.id);
      });
      // Each mark the relay writes carries its own time, so the marks tell the batches apart.
      let marks = 0;
      const clock = () => new Date(Date.UTC(2026, 0, 1) + marks++);
      const relay = outboxRelay({ storage, bus, clock, intervalMs: 60_000 });
      try {
        relay.start();
        // The first poll, at start, has found the outbox empty.
        await new Promise((resolve) => setTimeout(resolve, 50));
        const events = await commitEvents(storage, 10);
        for (let n = 0; n < events.length; n++) relay.nudge();
        await eventually('every event on the bus', () => received.length === events.length, 2_000);
        assert.deepEqual(
          received,
          events.map((event) => event.id),
        );
        const rows = await outboxRows(storage);
        assert.ok(rows.every((row) => row.published_at !== null));
        assert.equal(new Set(rows.map((row) => String(row.published_at))).size, 1, 'one batch published them all');
      } finally {
        await relay.stop();
        await bus.close();
        await close();
      }
    });

    test('an idempotent consumer whose handler fails records nothing, so the redelivery does the work', async () => {
      const { storage, close } = await testStorage(kind);
      const bus = memoryBus();
      let failNext = true;
      await bus.subscribe(
        'counter',
        'thing.*',
        idempotentHandler(storage, 'counter', async (event, trx) => {
          await sql`insert into app_settings (key, value) values (${`seen:${event.id}`}, 'x')`.execute(trx);
          if (failNext) {
            failNext = false;
            throw new Error('the handler failed after writing');
          }
        }),
      );
      try {
        const [event] = await commitEvents(storage, 1);
        const relay = outboxRelay({ storage, bus });
        await relay.drain();
        await bus.publish(event as DomainEvent);
        await eventually('the event handled', () => !failNext);
        await eventually('the retry recorded', async () => (await countRows(storage, 'event_inbox')) === 1);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(await countRows(storage, 'event_inbox'), 1);
        const seen = await sql<{ n: number }>`select count(*) as n from app_settings where key like 'seen:%'`.execute(
          storage.db,
        );
        assert.equal(Number(seen.rows[0]?.n), 1);
      } finally {
        await bus.close();
        await close();
      }
    });

    // SQLite serves one process, which runs one relay: the test exists only where several processes can share.
    if (kind === 'postgres') {
      test('relays started in several processes publish each event once, in order, while events keep committing', async () => {
        const { storage, close } = await testStorage(kind);
        const bus = memoryBus();
        const received: DomainEvent[] = [];
        await bus.subscribe('watcher', '#', async (event) => {
          received.push(event);
        });
        try {
          const relays = [1, 2, 3].map(() => outboxRelay({ storage, bus, batchSize: 4 }));
          const writing = commitEvents(storage, 30, 4);
          let done = false;
          const draining = relays.map(async (relay) => {
            while (!done) await relay.drain();
          });
          const events = await writing;
          await eventually('every event', () => received.length >= events.length);
          done = true;
          await Promise.all(draining);
          await Promise.all(relays.map((relay) => relay.drain()));
          assert.deepEqual(
            byAggregate(received.map((event) => ({ id: event.id, aggregate_id: event.aggregate.id }))),
            byAggregate(events.map((event) => ({ id: event.id, aggregate_id: event.aggregate.id }))),
          );
        } finally {
          await bus.close();
          await close();
        }
      });
    }
  });
}

const amqpUrl = serviceUrl('TEST_AMQP_URL');
const relayProcess = fileURLToPath(new URL('relay-process.ts', import.meta.url));

describe('outbox relay to RabbitMQ', { skip: !amqpUrl && 'TEST_AMQP_URL is not set' }, () => {
  const url = amqpUrl ?? '';

  test('while the broker is unreachable the relay keeps the events, and publishes them all once it is back', async () => {
    const { storage, close } = await testStorage(storageKinds().at(-1) ?? 'sqlite');
    const prefix = `portico-test-${randomBytes(6).toString('hex')}`;
    const hop = await brokerHop(new URL(url));
    const hopUrl = new URL(url);
    hopUrl.port = String(hop.port);
    const relayBus = await rabbitMqBus({ url: hopUrl.toString(), prefix });
    const watcherBus = await rabbitMqBus({ url, prefix });
    const received: string[] = [];
    await watcherBus.subscribe('watcher', '#', async (event) => {
      received.push(event.id);
    });
    const errors: unknown[] = [];
    const relay = outboxRelay({ storage, bus: relayBus, onError: (error) => errors.push(error) });
    try {
      const before = await commitEvents(storage, 3);
      assert.equal(await relay.drain(), 3);
      await eventually('the first events', () => received.length === 3);

      await hop.down();
      const during = await commitEvents(storage, 4);
      await assert.rejects(relay.drain());
      await assert.rejects(relay.drain(), 'a second attempt while the broker is away fails too');
      assert.equal((await outboxRows(storage)).filter((row) => !row.published_at).length, 4);

      await hop.up();
      assert.equal(await relay.drain(), 4);
      const ids = [...before, ...during].map((event) => event.id);
      await eventually('every event', () => ids.every((id) => received.includes(id)));
      assert.deepEqual(
        byAggregate([...new Set(received)].map((id) => ({ id, aggregate_id: aggregateOf(before, during, id) }))),
        byAggregate([...before, ...during].map((event) => ({ id: event.id, aggregate_id: event.aggregate.id }))),
      );
    } finally {
      await relay.stop();
      await relayBus.close();
      await watcherBus.close();
      await hop.down();
      await deleteTopology(url, watcherBus as RabbitMqBus);
      await close();
    }
  });

  for (const kind of storageKinds()) {
    test(`on ${kind}, a relay process killed with SIGKILL between the broker's confirm and its mark loses nothing`, async () => {
      const database = await testDatabase(kind);
      const storage = openStorage(database.url);
      await migrateToLatest(storage);
      const prefix = `portico-test-${randomBytes(6).toString('hex')}`;
      const watcherBus = await rabbitMqBus({ url, prefix });
      const received: string[] = [];
      await watcherBus.subscribe('watcher', '#', async (event) => {
        received.push(event.id);
      });
      try {
        const events = await commitEvents(storage, 10);
        const ids = events.map((event) => event.id);
        const env = { DATABASE_URL: database.url, AMQP_URL: url, BUS_PREFIX: prefix };
        const killed = await runRelayProcess({ ...env, KILL_AFTER: '4' });
        assert.equal(killed.signal, 'SIGKILL');
        await eventually('the four events sent before the kill', () => received.length === 4);
        assert.deepEqual(received, ids.slice(0, 4));
        assert.equal((await outboxRows(storage)).filter((row) => row.published_at).length, 0);

        const restarted = await runRelayProcess(env);
        assert.equal(restarted.code, 0, restarted.output);
        assert.match(restarted.output, /published 10/);
        await eventually('every event', () => received.length === 14);
        assert.deepEqual(received, [...ids.slice(0, 4), ...ids]);
        assert.deepEqual(
          (await outboxRows(storage)).filter((row) => !row.published_at),
          [],
        );
      } finally {
        await watcherBus.close();
        await deleteTopology(url, watcherBus as RabbitMqBus);
        await storage.close();
        await database.drop();
      }
    });
  }
});

function runRelayProcess(
  env: Record<string, string>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  const child = spawn(process.execPath, [relayProcess], { env: { PATH: process.env.PATH ?? '', ...env } });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, output }));
  });
}

function aggregateOf(before: DomainEvent[], during: DomainEvent[], id: string): string {
  return [...before, ...during].find((event) => event.id === id)?.aggregate.id ?? 'unknown';
}
