// Real `portico serve` processes on PostgreSQL and RabbitMQ, SIGKILLed between commit and publish and between a
// webhook's send and its record, then started again on the same database and broker: every committed event is
// published and delivered to a real receiver at least once, duplicates carry the same webhook-id, and nothing
// arrives as a different event. Runs when TEST_DATABASE_URL and TEST_AMQP_URL are set; there is no SQLite form.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import amqp from 'amqplib';
import { sql } from 'kysely';
import { openStorage, type Storage } from '../src/storage/database.ts';
import { cliEnv, mainTs, runCli } from './cli-runner.ts';
import { freePort, serviceUrl, type TestDatabase, testDatabase } from './helpers.ts';

const databaseUrl = serviceUrl('TEST_DATABASE_URL');
const amqpUrl = serviceUrl('TEST_AMQP_URL');

/** One request the receiver took in: the webhook-id header and the body's own id and type. */
interface Received {
  webhookId: string;
  id: string;
  type: string;
  body: string;
}

/** A webhook receiver on 127.0.0.1 that records what it is sent and can hold the next request open. */
async function receiver() {
  const received: Received[] = [];
  let holding: { arrived: (id: string) => void; release: Promise<void> } | null = null;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', async () => {
      const event = JSON.parse(body) as { id: string; type: string };
      received.push({ webhookId: String(request.headers['webhook-id']), id: event.id, type: event.type, body });
      const hold = holding;
      if (hold) {
        holding = null;
        hold.arrived(event.id);
        await hold.release;
      }
      response.on('error', () => {});
      response.writeHead(204).end();
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    /** Holds the next request until `release` is called; resolves with its event id once it has arrived. */
    holdNext() {
      let release = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const arrived = new Promise<string>((resolve) => {
        holding = { arrived: resolve, release: released };
      });
      return { arrived, release };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const children = new Set<ChildProcess>();

/** `portico serve` as a child process; resolves once it is listening. */
async function serve(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [mainTs, 'serve'], { env: cliEnv(env) });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let output = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('Portico is listening')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`portico serve exited (${code}) before listening\n${output}`)));
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Polls until `done` holds; the failure message says what was still missing. */
async function eventually(done: () => Promise<string | null>, what: string): Promise<void> {
  let missing: string | null = 'not checked yet';
  for (let tries = 0; tries < 600; tries++) {
    missing = await done();
    if (missing === null) return;
    await delay(100);
  }
  assert.fail(`${what}: ${missing}`);
}

if (databaseUrl && amqpUrl) {
  describe('events and webhooks across SIGKILL (PostgreSQL, RabbitMQ)', () => {
    const prefix = `portico_test_${randomBytes(6).toString('hex')}`;
    let database: TestDatabase;
    let storage: Storage;
    let hooks: Awaited<ReturnType<typeof receiver>>;
    let env: Record<string, string>;
    let apiKey: string;

    before(async () => {
      database = await testDatabase('postgres');
      hooks = await receiver();
      env = {
        DATABASE_URL: database.url,
        AMQP_URL: amqpUrl,
        AMQP_PREFIX: prefix,
        WEBHOOK_ALLOW_PRIVATE_TARGETS: '1',
        WEBHOOK_RETRY_SCHEDULE: '1s,1s,1s,1s,1s',
        // The claim a killed worker leaves behind lasts a few times this before the delivery is sent again.
        WEBHOOK_TIMEOUT: '1s',
        PORT: String(await freePort()),
      };
      const email = 'events-admin@example.com';
      const user = await runCli(['users', 'create', '--email', email, '--role', 'admin'], env);
      assert.equal(user.code, 0, user.stderr);
      const key = await runCli(['keys', 'create', '--email', email], env);
      assert.equal(key.code, 0, key.stderr);
      apiKey = key.stdout.trim().split('\n').at(-1) ?? '';
      storage = openStorage(database.url);
    });

    after(async () => {
      for (const child of children) child.kill('SIGKILL');
      await hooks?.close();
      await storage?.close();
      await database?.drop();
      const connection = await amqp.connect(amqpUrl);
      const channel = await connection.createChannel();
      const consumer = `${prefix}.consumer.webhooks-fan-out`;
      for (const queue of [consumer, `${consumer}.dead`, `${prefix}.log`]) await channel.deleteQueue(queue);
      for (const exchange of [`${prefix}.events`, `${prefix}.dead`]) await channel.deleteExchange(exchange);
      await connection.close();
    });

    const api = (path: string, body: unknown) =>
      fetch(`http://127.0.0.1:${env.PORT}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const createProduct = (n: number) =>
      api('/v1/products', { name: `Lamp ${n}`, category: 'lighting', price: { amount: 1000 + n, currency: 'EUR' } });

    const productEvents = async () =>
      (
        await sql<{ id: string; type: string; published_at: string | null }>`
          select id, type, published_at from outbox where type like 'product.%' order by id`.execute(storage.db)
      ).rows;

    test('every committed event is published and delivered at least once, as itself', async () => {
      let server = await serve(env);
      const endpoint = await api('/v1/webhook-endpoints', { url: hooks.url, events: ['product.*'] });
      assert.equal(endpoint.status, 201, await endpoint.text());

      // (1) Between commit and publish: the server dies as soon as some creations are acknowledged, while the
      // relay has at most begun on them; the rest of the requests may or may not have committed.
      const creations = Array.from({ length: 12 }, (_, n) => createProduct(n).catch(() => null));
      await Promise.race([Promise.all(creations.slice(0, 4)), delay(10_000)]);
      await kill(server);
      const acknowledged = (await Promise.all(creations)).filter((response) => response?.status === 201).length;
      assert.ok(acknowledged >= 4, `${acknowledged} creations acknowledged before the kill`);

      server = await serve(env);
      await eventually(async () => {
        const unpublished = (await productEvents()).filter((event) => event.published_at === null);
        return unpublished.length === 0 ? null : `${unpublished.length} unpublished`;
      }, 'the restarted relay publishes what the killed one left');

      // (2) Between send and record: the receiver holds a delivery open, the server dies while it is held, and the
      // receiver answers a sender that is gone; the claim runs out and the restarted server sends it again.
      const held = hooks.holdNext();
      for (let n = 12; n < 15; n++) assert.equal((await createProduct(n)).status, 201);
      const heldId = await held.arrived;
      await kill(server);
      // Killed after sending and before recording: the delivery is still pending, claimed, with no attempt on record.
      const unrecorded = await sql<{ status: string; attempts: number }>`
        select status, attempts from webhook_deliveries where event_id = ${heldId}`.execute(storage.db);
      assert.deepEqual(
        unrecorded.rows.map((row) => [row.status, Number(row.attempts)]),
        [['pending', 0]],
      );
      held.release();
      server = await serve(env);

      const committed = await productEvents();
      await eventually(async () => {
        const unpublished = (await productEvents()).filter((event) => event.published_at === null).length;
        const delivered = new Set(hooks.received.map((request) => request.webhookId));
        const undelivered = committed.filter((event) => !delivered.has(event.id)).length;
        const heldSends = hooks.received.filter((request) => request.webhookId === heldId).length;
        if (unpublished + undelivered === 0 && heldSends >= 2) return null;
        return `${unpublished} unpublished, ${undelivered} undelivered, the held one sent ${heldSends} times`;
      }, 'every committed event published and delivered');
      await kill(server);

      const events = await productEvents();
      assert.ok(events.length >= acknowledged + 3, `${events.length} committed product events`);
      assert.ok(
        events.every((event) => event.type === 'product.created' && event.published_at !== null),
        JSON.stringify(events),
      );
      const committedIds = new Set(events.map((event) => event.id));
      const firstBody = new Map<string, string>();
      for (const request of hooks.received) {
        // Nothing arrives as a different event: the webhook-id is the body's id, which is a committed event's.
        assert.equal(request.webhookId, request.id);
        assert.ok(committedIds.has(request.id), `delivered ${request.id}, which was never committed`);
        assert.equal(request.type, 'product.created');
        // A duplicate is the same message: the same webhook-id with the same bytes.
        const first = firstBody.get(request.webhookId) ?? request.body;
        firstBody.set(request.webhookId, first);
        assert.equal(request.body, first);
      }
      for (const id of committedIds) assert.ok(firstBody.has(id), `${id} was never delivered`);
      assert.ok(hooks.received.filter((request) => request.webhookId === heldId).length >= 2);
    });
  });
}
