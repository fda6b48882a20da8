// Webhook delivery end to end: events written by the API reach a real receiver on 127.0.0.1, signed so the official
// Standard Webhooks verifier accepts them, on a simulated clock that moves hours in milliseconds.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, afterEach, before, describe, mock, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { usersService } from '../src/modules/users/index.ts';
import { claimDue } from '../src/modules/webhooks/delivery-queue.ts';
import { enqueueDeliveries, webhookEndpointsService, webhookWorker } from '../src/modules/webhooks/index.ts';
import type { WebhooksTables } from '../src/modules/webhooks/repository.ts';
import { openStorage, type Storage } from '../src/storage/database.ts';
import { domainEvent } from '../src/storage/outbox.ts';
import { client, startServer, storageKinds, type TestServer, testDatabase } from './helpers.ts';

const minute = 60_000;
const hour = 60 * minute;
const schedule = [minute, 5 * minute, 30 * minute, 2 * hour, 12 * hour, 24 * hour];

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  atMs: number;
  /** The connection it came on, numbered in the order the receiver accepted them. */
  connection: number;
}

/** A webhook receiver on 127.0.0.1; `answer` decides each response, by default 204. */
async function receiver(clockMs: () => number) {
  const received: Received[] = [];
  const connections = new WeakMap<Socket, number>();
  const closed = new Set<number>();
  let answer = (_request: IncomingMessage, response: ServerResponse, _count: number) => {
    response.statusCode = 204;
    response.end();
  };
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [name, String(value)]),
    ) as Record<string, string>;
    received.push({
      path: request.url ?? '',
      headers,
      body: Buffer.concat(chunks).toString('utf8'),
      atMs: clockMs(),
      connection: connections.get(request.socket) ?? 0,
    });
    answer(request, response, received.length);
  });
  let accepted = 0;
  server.on('connection', (socket: Socket) => {
    const connection = ++accepted;
    connections.set(socket, connection);
    socket.on('close', () => closed.add(connection));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    received,
    answerWith(next: typeof answer) {
      answer = next;
    },
    isClosed: (connection: number) => closed.has(connection),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The official verifier, at the simulated time the delivery was sent (it refuses timestamps 5 minutes off). */
function verify(secret: string, delivery: Received, body = delivery.body): unknown {
  mock.timers.enable({ apis: ['Date'], now: delivery.atMs });
  try {
    return new Webhook(secret).verify(body, delivery.headers);
  } finally {
    mock.timers.reset();
  }
}

const waitFor = async <T>(what: string, probe: () => Promise<T | null>): Promise<T> => {
  for (let i = 0; i < 400; i++) {
    const value = await probe();
    if (value !== null) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
};

for (const kind of storageKinds()) {
  describe(`webhook delivery (${kind})`, () => {
    let nowMs = Date.parse('2026-03-01T09:00:00.000Z');
    const clock = () => new Date(nowMs);
    let server: TestServer;
    let api: ReturnType<typeof client>;
    let hooks: Awaited<ReturnType<typeof receiver>>;

    before(async () => {
      server = await startServer({
        storage: kind,
        clock,
        env: { WEBHOOK_ALLOW_PRIVATE_TARGETS: '1' },
        webhookWorker: false,
      });
      api = client(server);
      hooks = await receiver(() => nowMs);
    });
    after(async () => {
      await hooks.close();
      await server.close();
    });

    function worker(
      options: {
        timeoutMs?: number;
        perEndpoint?: number;
        batchSize?: number;
        pollMs?: number;
        storage?: Storage;
      } = {},
    ) {
      const storage = options.storage ?? server.storage;
      const targets = { allowPrivate: true };
      return webhookWorker({
        storage,
        clock,
        endpoints: webhookEndpointsService(storage, clock, { users: usersService(storage, clock), targets }),
        retryScheduleMs: schedule,
        targets,
        timeoutMs: options.timeoutMs ?? 2000,
        ...(options.perEndpoint ? { perEndpoint: options.perEndpoint } : {}),
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
        ...(options.pollMs ? { pollMs: options.pollMs } : {}),
      });
    }

    const endpoints: string[] = [];
    // Each test's endpoints go with it: a later test's events must not reach them, nor fill its worker's batches.
    afterEach(async () => {
      for (const id of endpoints.splice(0)) await api('DELETE', `/v1/webhook-endpoints/${id}`);
      hooks.answerWith((_request, response) => {
        response.statusCode = 204;
        response.end();
      });
    });

    /** An endpoint at its own path of the receiver, so what it got can be told apart. */
    async function newEndpoint(events = ['product.*'], headers?: Record<string, string>) {
      const path = `/hooks/${randomBytes(4).toString('hex')}`;
      const response = await api('POST', '/v1/webhook-endpoints', {
        body: { url: `${hooks.origin}${path}`, events },
        ...(headers ? { headers } : {}),
      });
      assert.equal(response.status, 201, response.text);
      endpoints.push(response.body.id);
      return { id: response.body.id as string, secret: response.body.secret as string, path };
    }

    async function newProduct(): Promise<string> {
      const response = await api('POST', '/v1/products', {
        body: {
          name: `Lamp ${randomBytes(3).toString('hex')}`,
          category: 'home',
          price: { amount: 1250, currency: 'EUR' },
          stock: 5,
        },
      });
      assert.equal(response.status, 201, response.text);
      return response.body.id;
    }

    // biome-ignore lint/suspicious/noExplicitAny: deliveries are read from the API's JSON.
    async function deliveries(endpointId: string, headers?: Record<string, string>): Promise<any[]> {
      const response = await api('GET', `/v1/webhook-endpoints/${endpointId}/deliveries?limit=100`, {
        ...(headers ? { headers } : {}),
      });
      assert.equal(response.status, 200, response.text);
      return response.body.data;
    }

    /** The event bus fans out in the background: waits until the endpoint has `count` deliveries. */
    const fannedOut = (endpointId: string, count: number) =>
      waitFor(`${count} deliveries`, async () => {
        const list = await deliveries(endpointId);
        return list.length >= count ? list : null;
      });

    const receivedBy = (endpoint: { path: string }) =>
      hooks.received.filter((request) => request.path === endpoint.path);

    test('every delivery verifies with the official verifier, and fails with another secret or another body', async () => {
      const endpoint = await newEndpoint();
      const products = [await newProduct(), await newProduct(), await newProduct()];
      await fannedOut(endpoint.id, 3);
      await worker().drain();
      const got = receivedBy(endpoint);
      assert.equal(got.length, 3);
      for (const delivery of got) {
        const event = verify(endpoint.secret, delivery) as { id: string; type: string; data: { id: string } };
        assert.equal(delivery.headers['webhook-id'], event.id);
        assert.equal(event.type, 'product.created');
        assert.deepEqual(Object.keys(event).sort(), ['apiVersion', 'createdAt', 'data', 'id', 'type']);
        assert.throws(() => verify(`whsec_${randomBytes(32).toString('base64')}`, delivery));
        assert.throws(() => verify(endpoint.secret, delivery, delivery.body.replace('Lamp', 'Lamb')));
      }
      assert.deepEqual(
        got.map((delivery) => (JSON.parse(delivery.body) as { data: { id: string } }).data.id).sort(),
        products.sort(),
      );
      const log = await deliveries(endpoint.id);
      assert.ok(log.every((delivery) => delivery.status === 'succeeded' && delivery.attempts.length === 1));
      assert.equal(log[0].attempts[0].statusCode, 204);
    });

    test('a receiver down for 2 simulated hours then back gets every event, on the retry schedule within jitter', async () => {
      const endpoint = await newEndpoint();
      const downUntil = nowMs + 2 * hour;
      hooks.answerWith((_request, response) => {
        response.statusCode = nowMs < downUntil ? 503 : 200;
        response.end(nowMs < downUntil ? 'down for maintenance' : 'ok');
      });
      await newProduct();
      await newProduct();
      await fannedOut(endpoint.id, 2);
      const work = worker();
      for (let step = 0; step < 20; step++) {
        await work.drain();
        const pending = (await deliveries(endpoint.id)).filter((delivery) => delivery.status === 'pending');
        if (pending.length === 0) break;
        nowMs = Math.min(...pending.map((delivery) => Date.parse(delivery.nextAttemptAt)));
      }
      hooks.answerWith((_request, response) => {
        response.statusCode = 204;
        response.end();
      });
      for (const delivery of await deliveries(endpoint.id)) {
        assert.equal(delivery.status, 'succeeded');
        const statuses = delivery.attempts.map((attempt: { statusCode: number }) => attempt.statusCode);
        // At 0, 1 min, 6 min, 36 min: down; at about 2 h 36 min: up.
        assert.deepEqual(statuses, [503, 503, 503, 503, 200]);
        assert.equal(delivery.attempts[0].responseBody, 'down for maintenance');
        const times = delivery.attempts.map((attempt: { attemptedAt: string }) => Date.parse(attempt.attemptedAt));
        for (let i = 1; i < times.length; i++) {
          const gap = times[i] - times[i - 1];
          const planned = schedule[i - 1] ?? 0;
          assert.ok(gap >= planned * 0.9 && gap <= planned * 1.1, `gap ${i}: ${gap} ms for ${planned} ms`);
        }
      }
    });

    test('a 410 Gone disables the endpoint at once, and the owner is told', async () => {
      const endpoint = await newEndpoint();
      hooks.answerWith((_request, response) => {
        response.statusCode = 410;
        response.end();
      });
      await newProduct();
      await fannedOut(endpoint.id, 1);
      await worker().drain();
      hooks.answerWith((_request, response) => {
        response.statusCode = 204;
        response.end();
      });
      const shown = await api('GET', `/v1/webhook-endpoints/${endpoint.id}`);
      assert.equal(shown.body.enabled, false);
      assert.equal(shown.body.disabledReason, 'gone');
      const [delivery] = await deliveries(endpoint.id);
      assert.equal(delivery.status, 'failed');
      assert.equal(delivery.attempts.length, 1);
      const told = await api('GET', '/v1/events?type=webhook_endpoint.disabled&limit=100');
      assert.ok(
        told.body.data.some((event: { data: { endpointId: string } }) => event.data.endpointId === endpoint.id),
      );
      const retry = await api('POST', `/v1/webhook-endpoints/${endpoint.id}/deliveries/${delivery.id}/retry`);
      assert.equal(retry.status, 409);
      assert.equal(retry.body.error.code, 'CONFLICT');
    });

    test('an endpoint failing for 3 days is disabled, and the owner is told', async () => {
      const endpoint = await newEndpoint();
      const failingFrom = nowMs;
      hooks.answerWith((_request, response) => {
        response.statusCode = 500;
        response.end();
      });
      const work = worker();
      /** Moves the clock from due time to due time until nothing is pending. */
      const runOut = async () => {
        for (let step = 0; step < 20; step++) {
          await work.drain();
          const pending = (await deliveries(endpoint.id)).filter((delivery) => delivery.status === 'pending');
          if (pending.length === 0) return;
          nowMs = Math.min(...pending.map((delivery) => Date.parse(delivery.nextAttemptAt)));
        }
      };
      await newProduct();
      await fannedOut(endpoint.id, 1);
      await runOut();
      // The first delivery failed for good after about 39 hours; the endpoint stays on until 3 days of failures.
      const [first] = await deliveries(endpoint.id);
      assert.equal(first.status, 'failed');
      assert.equal(first.attempts.length, schedule.length + 1);
      assert.equal((await api('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body.enabled, true);
      nowMs = failingFrom + 2 * 86_400_000;
      await newProduct();
      await fannedOut(endpoint.id, 2);
      await runOut();
      const shown = await api('GET', `/v1/webhook-endpoints/${endpoint.id}`);
      assert.equal(shown.body.enabled, false);
      assert.equal(shown.body.disabledReason, 'failing');
      const told = await api('GET', '/v1/events?type=webhook_endpoint.disabled&limit=100');
      assert.ok(
        told.body.data.some((event: { data: { endpointId: string } }) => event.data.endpointId === endpoint.id),
      );
    });

    test('a 429 is retried no sooner than its Retry-After', async () => {
      const endpoint = await newEndpoint();
      hooks.answerWith((_request, response) => {
        response.statusCode = 429;
        response.setHeader('retry-after', '600');
        response.end();
      });
      await newProduct();
      await fannedOut(endpoint.id, 1);
      const work = worker();
      await work.drain();
      hooks.answerWith((_request, response) => {
        response.statusCode = 204;
        response.end();
      });
      const [limited] = await deliveries(endpoint.id);
      const firstAt = Date.parse(limited.attempts[0].attemptedAt);
      assert.equal(limited.status, 'pending');
      assert.ok(Date.parse(limited.nextAttemptAt) >= firstAt + 600_000);
      nowMs = firstAt + 5 * minute;
      await work.drain();
      assert.equal((await deliveries(endpoint.id))[0].attempts.length, 1);
      nowMs = Date.parse(limited.nextAttemptAt);
      await work.drain();
      const [done] = await deliveries(endpoint.id);
      assert.equal(done.status, 'succeeded');
      assert.equal(done.attempts.length, 2);
    });

    test('another 4xx is not retried: the delivery fails and the owner is notified', async () => {
      const endpoint = await newEndpoint();
      hooks.answerWith((_request, response) => {
        response.statusCode = 400;
        response.end('{"error":"bad signature"}');
      });
      await newProduct();
      await fannedOut(endpoint.id, 1);
      const work = worker();
      await work.drain();
      nowMs += 2 * 86_400_000;
      await work.drain();
      hooks.answerWith((_request, response) => {
        response.statusCode = 204;
        response.end();
      });
      const [delivery] = await deliveries(endpoint.id);
      assert.equal(delivery.status, 'failed');
      assert.deepEqual(
        delivery.attempts.map((attempt: { statusCode: number }) => attempt.statusCode),
        [400],
      );
      assert.equal(delivery.attempts[0].responseBody, '{"error":"bad signature"}');
      const told = await api('GET', '/v1/events?type=webhook_endpoint.delivery_failed&limit=100');
      assert.ok(
        told.body.data.some((event: { data: { deliveryId: string } }) => event.data.deliveryId === delivery.id),
      );
    });

    test('a redirect is not followed', async () => {
      const endpoint = await newEndpoint();
      hooks.answerWith((_request, response) => {
        response.statusCode = 307;
        response.setHeader('location', `${hooks.origin}/elsewhere`);
        response.end();
      });
      await newProduct();
      await fannedOut(endpoint.id, 1);
      await worker().drain();
      hooks.answerWith((_request, response) => {
        response.statusCode = 204;
        response.end();
      });
      assert.equal(receivedBy(endpoint).length, 1);
      assert.ok(hooks.received.every((request) => request.path !== '/elsewhere'));
      const [delivery] = await deliveries(endpoint.id);
      assert.equal(delivery.attempts[0].statusCode, 307);
      assert.notEqual(delivery.status, 'succeeded');
    });

    test('a huge response body is cut for the log, and a body that never ends does not hold the worker', async () => {
      const endpoint = await newEndpoint();
      hooks.answerWith((_request, response, count) => {
        response.statusCode = 200;
        if (count % 2 === 0) {
          // Starts a body and never finishes it.
          response.write('x'.repeat(100));
          return;
        }
        response.end('y'.repeat(5 * 1024 * 1024));
      });
      await newProduct();
      await newProduct();
      await fannedOut(endpoint.id, 2);
      await worker({ timeoutMs: 500 }).drain();
      hooks.answerWith((_request, response) => {
        response.statusCode = 204;
        response.end();
      });
      const log = await deliveries(endpoint.id);
      for (const delivery of log) {
        assert.equal(delivery.status, 'succeeded');
        assert.ok(delivery.attempts[0].responseBody.length <= 4096);
      }
      assert.ok(log.some((delivery) => delivery.attempts[0].responseBody === 'y'.repeat(4096)));
    });

    test('one endpoint with a backlog does not fill a batch: the others are sent in the same round', async () => {
      const slow = await newEndpoint(['product.*']);
      const other = await newEndpoint(['product.created']);
      for (let i = 0; i < 6; i++) await newProduct();
      await fannedOut(slow.id, 6);
      await fannedOut(other.id, 6);
      await worker({ perEndpoint: 2, batchSize: 4 }).tick();
      const attempted = async (id: string) =>
        (await deliveries(id)).filter((delivery) => delivery.attempts.length > 0).length;
      assert.equal(await attempted(slow.id), 2);
      assert.equal(await attempted(other.id), 2);
      await worker().drain();
    });

    test('a running worker sends a backlog bigger than one claim at once, never more than perEndpoint at a time', async () => {
      const endpoint = await newEndpoint();
      let inFlight = 0;
      let mostInFlight = 0;
      hooks.answerWith((_request, response) => {
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        setImmediate(() => {
          inFlight--;
          response.statusCode = 204;
          response.end();
        });
      });
      // The clock stands still and the next poll is an hour away: only the nudge, then claiming again as attempts
      // end, can send the seven deliveries, which a claim of at most two per endpoint cannot take at once.
      const work = worker({ perEndpoint: 2, pollMs: hour });
      work.start();
      try {
        for (let i = 0; i < 7; i++) await newProduct();
        await fannedOut(endpoint.id, 7);
        work.nudge();
        await waitFor('7 receipts', async () => (receivedBy(endpoint).length >= 7 ? true : null));
      } finally {
        await work.stop();
      }
      assert.equal(receivedBy(endpoint).length, 7);
      assert.ok(mostInFlight <= 2, `${mostInFlight} attempts at once`);
      const log = await deliveries(endpoint.id);
      assert.ok(log.every((delivery) => delivery.status === 'succeeded' && delivery.attempts.length === 1));
    });

    test('attempts that end together are recorded together, each with its own outcome, retry schedule and notice', async () => {
      const [ok, down, gone, bad] = [
        await newEndpoint(),
        await newEndpoint(),
        await newEndpoint(),
        await newEndpoint(),
      ];
      const statuses = new Map([
        [ok.path, 204],
        [down.path, 503],
        [gone.path, 410],
        [bad.path, 400],
      ]);
      // Answered only once all four have arrived, so that their attempts end together.
      const held: (() => void)[] = [];
      hooks.answerWith((request, response) => {
        held.push(() => {
          response.statusCode = statuses.get(request.url ?? '') ?? 500;
          response.end();
        });
        if (held.length === statuses.size) for (const answer of held.splice(0)) answer();
      });
      await newProduct();
      for (const endpoint of [ok, down, gone, bad]) await fannedOut(endpoint.id, 1);
      const statements: string[] = [];
      const counted = openStorage(server.config.databaseUrl, { onQuery: (sql) => statements.push(sql) });
      try {
        await worker({ storage: counted }).drain();
      } finally {
        await counted.close();
      }
      assert.equal(statements.filter((sql) => sql.startsWith('insert into "webhook_attempts"')).length, 1);

      const [delivered] = await deliveries(ok.id);
      assert.equal(delivered.status, 'succeeded');
      assert.deepEqual(
        delivered.attempts.map((attempt: { statusCode: number }) => attempt.statusCode),
        [204],
      );
      const [retried] = await deliveries(down.id);
      assert.equal(retried.status, 'pending');
      assert.equal(retried.attempts.length, 1);
      const wait = Date.parse(retried.nextAttemptAt) - Date.parse(retried.attempts[0].attemptedAt);
      assert.ok(wait >= minute * 0.9 && wait <= minute * 1.1, `retried ${wait} ms later`);
      const [refused] = await deliveries(bad.id);
      assert.equal(refused.status, 'failed');
      const [last] = await deliveries(gone.id);
      assert.equal(last.status, 'failed');
      const shown = await api('GET', `/v1/webhook-endpoints/${gone.id}`);
      assert.equal(shown.body.disabledReason, 'gone');
      assert.equal((await api('GET', `/v1/webhook-endpoints/${ok.id}`)).body.enabled, true);
      const failedNotices = await api('GET', '/v1/events?type=webhook_endpoint.delivery_failed&limit=100');
      const failedIds = failedNotices.body.data.map((event: { data: { deliveryId: string } }) => event.data.deliveryId);
      assert.ok(failedIds.includes(refused.id) && failedIds.includes(last.id));
      assert.ok(!failedIds.includes(retried.id) && !failedIds.includes(delivered.id));
    });

    test('an attempt that cannot be recorded does not cost the others ended with it their record', async () => {
      const kept = await newEndpoint();
      const deleted = await newEndpoint();
      // Both are answered together, once the second endpoint (with its delivery) was deleted meanwhile: its attempt
      // can no longer be recorded.
      const held: (() => void)[] = [];
      hooks.answerWith((_request, response) => {
        held.push(() => {
          response.statusCode = 204;
          response.end();
        });
        if (held.length < 2) return;
        void api('DELETE', `/v1/webhook-endpoints/${deleted.id}`).then(() => {
          for (const answer of held.splice(0)) answer();
        });
      });
      await newProduct();
      await fannedOut(kept.id, 1);
      await fannedOut(deleted.id, 1);
      await worker().drain();
      assert.equal(receivedBy(deleted).length, 1);
      const [delivery] = await deliveries(kept.id);
      assert.equal(delivery.status, 'succeeded');
      assert.equal(delivery.attempts.length, 1);
    });

    test('deliveries to an endpoint share a few kept connections, closed when the worker stops', async () => {
      const endpoint = await newEndpoint();
      for (let i = 0; i < 8; i++) await newProduct();
      await fannedOut(endpoint.id, 8);
      const work = worker({ perEndpoint: 2 });
      await work.drain();
      const got = receivedBy(endpoint);
      assert.equal(got.length, 8);
      const connections = new Set(got.map((delivery) => delivery.connection));
      assert.ok(connections.size <= 2, `${connections.size} connections for 8 deliveries, 2 at a time`);
      await work.stop();
      await waitFor('the kept connections to close', async () =>
        [...connections].every((connection) => hooks.isClosed(connection)) ? true : null,
      );
    });

    test('a host whose address changes is sent to on a new connection to the new address, not on a kept one', async () => {
      // DNS is the outside world: the resolver is the test's. 127.0.0.2 is a loopback address nothing listens on.
      let answer = ['127.0.0.1'];
      let lookups = 0;
      const targets = {
        allowPrivate: true,
        resolve: async () => {
          lookups++;
          return answer;
        },
      };
      const storage = server.storage;
      const registry = webhookEndpointsService(storage, clock, { users: usersService(storage, clock), targets });
      const path = `/hooks/${randomBytes(4).toString('hex')}`;
      const issued = await registry.create(server.admin.userId, {
        url: `http://hooks.moving.invalid:${new URL(hooks.origin).port}${path}`,
        events: ['product.*'],
      });
      endpoints.push(issued.endpoint.id);
      const work = webhookWorker({ storage, clock, endpoints: registry, retryScheduleMs: schedule, targets });
      try {
        lookups = 0;
        for (let n = 1; n <= 2; n++) {
          await newProduct();
          await fannedOut(issued.endpoint.id, n);
          await work.drain();
        }
        const [first, second] = receivedBy({ path });
        assert.ok(first && second);
        // Within a second of the first check (the clock stands still): the same check, the same connection.
        assert.equal(lookups, 1);
        assert.equal(second.connection, first.connection);

        answer = ['127.0.0.2'];
        nowMs += 2000;
        await newProduct();
        await fannedOut(issued.endpoint.id, 3);
        await work.drain();
        assert.equal(lookups, 2);
        assert.equal(receivedBy({ path }).length, 2, 'the kept connection to 127.0.0.1 was not used');
        const refused = (await deliveries(issued.endpoint.id)).find((delivery) => delivery.status === 'pending');
        assert.match(refused.attempts[0].error, /ECONNREFUSED/);
      } finally {
        await work.stop();
      }
    });

    test('a secret rotated through the API signs the next delivery of a worker that signed with the old one', async () => {
      const endpoint = await newEndpoint();
      const work = worker();
      await newProduct();
      await fannedOut(endpoint.id, 1);
      await work.drain();
      const rotated = await api('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`);
      assert.equal(rotated.status, 200, rotated.text);
      await newProduct();
      await fannedOut(endpoint.id, 2);
      await work.drain();
      const [before, after] = receivedBy(endpoint);
      assert.ok(before && after);
      assert.throws(() => verify(rotated.body.secret, before));
      // Both secrets sign during the grace period.
      verify(rotated.body.secret, after);
      verify(endpoint.secret, after);
    });

    test('the very next event sees an endpoint registered, turned off or deleted through the API, though the fan-out keeps its list', async () => {
      const first = await newEndpoint();
      await newProduct();
      // The fan-out has read the endpoint list, and keeps it.
      await fannedOut(first.id, 1);
      const second = await newEndpoint();
      await newProduct();
      await fannedOut(second.id, 1);
      await fannedOut(first.id, 2);

      const off = await api('PATCH', `/v1/webhook-endpoints/${first.id}`, { body: { enabled: false } });
      assert.equal(off.status, 200, off.text);
      assert.equal((await api('DELETE', `/v1/webhook-endpoints/${second.id}`)).status, 204);
      const third = await newEndpoint();
      await newProduct();
      await fannedOut(third.id, 1);
      assert.equal((await deliveries(first.id)).length, 2, 'an endpoint turned off gets nothing more');
    });

    test('an endpoint another process registers is sent the next event, though this process keeps its list', async () => {
      const known = await newEndpoint();
      await newProduct();
      await fannedOut(known.id, 1);
      const elsewhere = openStorage(server.config.databaseUrl);
      try {
        const targets = { allowPrivate: true };
        const registry = webhookEndpointsService(elsewhere, clock, { users: usersService(elsewhere, clock), targets });
        const issued = await registry.create(server.admin.userId, {
          url: `${hooks.origin}/hooks/${randomBytes(4).toString('hex')}`,
          events: ['product.*'],
        });
        endpoints.push(issued.endpoint.id);
        await newProduct();
        await fannedOut(issued.endpoint.id, 1);
      } finally {
        await elsewhere.close();
      }
    });

    test('an endpoint the worker disabled is not fanned out to again, though the fan-out kept it in its list', async () => {
      const gone = await newEndpoint();
      const other = await newEndpoint();
      hooks.answerWith((request, response) => {
        response.statusCode = request.url === gone.path ? 410 : 204;
        response.end();
      });
      await newProduct();
      await fannedOut(gone.id, 1);
      await fannedOut(other.id, 1);
      await worker().drain();
      assert.equal((await api('GET', `/v1/webhook-endpoints/${gone.id}`)).body.enabled, false);
      await newProduct();
      await fannedOut(other.id, 2);
      assert.equal((await deliveries(gone.id)).length, 1);
    });

    test('a retry, a replay and a second fan-out send the same webhook-id and body; the test event verifies', async () => {
      const endpoint = await newEndpoint();
      // The replayed range holds this test's event alone.
      nowMs += minute;
      const from = new Date(nowMs).toISOString();
      await newProduct();
      const [first] = await fannedOut(endpoint.id, 1);
      // The bus delivers at least once: the same event fanned out again makes no second delivery.
      const again = enqueueDeliveries(server.storage, clock, usersService(server.storage, clock));
      const event = domainEvent('product.created', { type: 'product', id: 'prd_x' }, {}, clock());
      const [made] = await again([{ ...event, id: first.eventId }]);
      assert.equal(made, undefined);
      const work = worker();
      await work.drain();
      const retried = await api('POST', `/v1/webhook-endpoints/${endpoint.id}/deliveries/${first.id}/retry`);
      assert.equal(retried.status, 202);
      assert.equal(retried.body.status, 'pending');
      await work.drain();
      nowMs += minute;
      const replay = await api('POST', `/v1/webhook-endpoints/${endpoint.id}/replay`, {
        body: { from, to: new Date(nowMs).toISOString() },
      });
      assert.equal(replay.status, 202, replay.text);
      assert.equal(replay.body.events, 1);
      await work.drain();
      const got = receivedBy(endpoint);
      assert.equal(got.length, 3);
      assert.ok(got.every((delivery) => delivery.headers['webhook-id'] === first.eventId));
      assert.ok(got.every((delivery) => delivery.body === got[0]?.body));

      const test = await api('POST', `/v1/webhook-endpoints/${endpoint.id}/test`);
      assert.equal(test.status, 202, test.text);
      await work.drain();
      const sent = receivedBy(endpoint).at(-1) as Received;
      assert.equal(sent.headers['webhook-id'], test.body.eventId);
      assert.equal((verify(endpoint.secret, sent) as { type: string }).type, 'webhook_endpoint.test');
    });

    test('a target that is private at delivery time is not contacted, and the attempt says why', async () => {
      const endpoint = await newEndpoint();
      await newProduct();
      await fannedOut(endpoint.id, 1);
      const storage = server.storage;
      const strict = webhookWorker({
        storage,
        clock,
        endpoints: webhookEndpointsService(storage, clock, {
          users: usersService(storage, clock),
          targets: { allowPrivate: false },
        }),
        retryScheduleMs: schedule,
        targets: { allowPrivate: false },
      });
      await strict.drain();
      assert.equal(receivedBy(endpoint).length, 0);
      const [delivery] = await deliveries(endpoint.id);
      assert.equal(delivery.status, 'pending');
      assert.equal(delivery.attempts[0].statusCode, null);
      assert.match(delivery.attempts[0].error, /target refused/);
    });

    test('a host that resolved to a public address at registration and to a private one at delivery is not contacted', async () => {
      // DNS is the outside world: the resolver is the test's, so the answer can change between the two checks.
      let answer = ['203.0.113.10'];
      const targets = { allowPrivate: false, resolve: async () => answer };
      const storage = server.storage;
      const registry = webhookEndpointsService(storage, clock, { users: usersService(storage, clock), targets });
      const issued = await registry.create(server.admin.userId, {
        url: `https://hooks.rebinding.example/${randomBytes(4).toString('hex')}`,
        events: ['product.*'],
      });
      endpoints.push(issued.endpoint.id);
      await newProduct();
      await fannedOut(issued.endpoint.id, 1);
      answer = ['127.0.0.1'];
      const before = hooks.received.length;
      await webhookWorker({ storage, clock, endpoints: registry, retryScheduleMs: schedule, targets }).drain();
      assert.equal(hooks.received.length, before, 'nothing reached a local receiver');
      const [delivery] = await deliveries(issued.endpoint.id);
      assert.equal(delivery.status, 'pending');
      assert.equal(delivery.attempts[0].statusCode, null);
      assert.match(delivery.attempts[0].error, /target refused.*127\.0\.0\.1/);
    });

    async function customer() {
      const user = await api('POST', '/v1/users', {
        body: {
          email: `u${randomBytes(4).toString('hex')}@example.test`,
          name: 'Someone',
          role: 'customer',
          location: null,
        },
      });
      const key = await api('POST', '/v1/api-keys', { body: { ownerId: user.body.id, name: 'test' } });
      return { id: user.body.id as string, headers: { authorization: `Bearer ${key.body.secret}` } };
    }

    test("a customer's endpoint is sent events about their own things and the catalog, never another's", async () => {
      const [owner, other] = [await customer(), await customer()];
      const endpoint = await newEndpoint(['order.*', 'user.*'], owner.headers);
      const product = await newProduct();
      const order = async (customerId: string) => {
        const placed = await api('POST', '/v1/orders', {
          body: { customerId, items: [{ productId: product, quantity: 1 }] },
        });
        assert.equal(placed.status, 201, placed.text);
        return placed.body.id as string;
      };
      await order(other.id);
      await api('PATCH', `/v1/users/${other.id}`, { body: { name: 'Someone else' } });
      // Events fan out in commit order: once the owner's order is there, the other customer's events were handled.
      const own = await order(owner.id);
      const [delivery] = await fannedOut(endpoint.id, 1);
      assert.equal(delivery.eventType, 'order.created');
      await worker().drain();
      const sent = receivedBy(endpoint).map((request) => JSON.parse(request.body) as { data: { id: string } });
      assert.deepEqual(
        sent.map((event) => event.data.id),
        [own],
      );
    });

    test('events fanned out together each go to the endpoints that want them and may see them, once', async () => {
      const [owner, other] = [await customer(), await customer()];
      const catalog = await newEndpoint(['product.*']);
      const own = await newEndpoint(['order.*'], owner.headers);
      const enqueue = enqueueDeliveries(server.storage, clock, usersService(server.storage, clock));
      const at = clock();
      const order = (customerId: string) =>
        domainEvent('order.created', { type: 'order', id: `ord_${customerId}` }, { customerId }, at);
      const batch = [
        domainEvent('product.created', { type: 'product', id: 'prd_a' }, {}, at),
        order(other.id),
        order(owner.id),
        domainEvent('post.created', { type: 'post', id: 'pst_a' }, { authorId: owner.id }, at),
        domainEvent('product.deleted', { type: 'product', id: 'prd_a' }, {}, at),
      ];
      const made = await enqueue(batch);
      const eventsOf = (endpointId: string) =>
        made.filter((delivery) => delivery.endpointId === endpointId).map((delivery) => delivery.eventId);
      assert.deepEqual(eventsOf(catalog.id), [batch[0]?.id, batch[4]?.id]);
      assert.deepEqual(eventsOf(own.id), [batch[2]?.id]);
      assert.equal(made.length, 3);
      const stored = (await deliveries(own.id, owner.headers)).filter((delivery) =>
        batch.some((event) => event.id === delivery.eventId),
      );
      assert.deepEqual(
        stored.map((delivery) => delivery.eventId),
        [batch[2]?.id],
      );
      // The bus delivers at least once: the same batch again makes no delivery.
      assert.deepEqual(await enqueue(batch), []);
    });

    test("a customer cannot see or act on another customer's delivery log: 404, and nothing is sent", async () => {
      const [owner, stranger] = [(await customer()).headers, (await customer()).headers];
      const endpoint = await newEndpoint(['product.*'], owner);
      await newProduct();
      const [delivery] = await fannedOut(endpoint.id, 1);
      const shown = await deliveries(endpoint.id, owner);
      assert.equal(shown.length, 1);
      for (const [method, path] of [
        ['GET', `/v1/webhook-endpoints/${endpoint.id}/deliveries`],
        ['GET', `/v1/webhook-endpoints/${endpoint.id}/deliveries/${delivery.id}`],
        ['POST', `/v1/webhook-endpoints/${endpoint.id}/deliveries/${delivery.id}/retry`],
        ['POST', `/v1/webhook-endpoints/${endpoint.id}/test`],
      ] as const) {
        const response = await api(method, path, { headers: stranger });
        assert.equal(response.status, 404, `${method} ${path}`);
        assert.equal(response.body.error.code, 'RESOURCE_NOT_FOUND');
      }
      assert.deepEqual(await deliveries(endpoint.id), shown);
      await worker().drain();
    });

    test('a claim takes the oldest due deliveries, perEndpoint of each enabled endpoint not skipped, limit in all', async () => {
      // In 1999, before every other test's deliveries: only these are due.
      const at = (second: number) => new Date(Date.UTC(1999, 0, 1, 0, 0, second)).toISOString();
      const db = server.storage.db.withTables<WebhooksTables>();
      const endpoints = { a: 1, b: 1, off: 0, skipped: 1 };
      for (const [name, enabled] of Object.entries(endpoints)) {
        await db
          .insertInto('webhook_endpoints')
          .values({
            id: `claim_${name}`,
            owner_id: 'usr_claim',
            url: 'https://claim.example/hooks',
            events: '["product.*"]',
            enabled,
            secret_ciphertext: 'unused',
            version: 1,
            created_at: at(0),
            updated_at: at(0),
          })
          .execute();
      }
      // a and b share due times, so the order across endpoints also rests on the delivery id.
      const rows = [
        ...[5, 1, 3, 2, 4, 1].map((second, n) => ['a', `a${n}`, 'pending', at(second)] as const),
        ...[1, 2, 2, 6].map((second, n) => ['b', `b${n}`, 'pending', at(second)] as const),
        ['a', 'a-later', 'pending', at(50)],
        ['a', 'a-done', 'succeeded', null],
        ['off', 'off0', 'pending', at(0)],
        ['skipped', 'skipped0', 'pending', at(0)],
      ] as const;
      for (const [endpoint, id, status, next] of rows) {
        await db
          .insertInto('webhook_deliveries')
          .values({
            id: `whd_claim_${id}`,
            endpoint_id: `claim_${endpoint}`,
            event_id: `evt_claim_${id}`,
            event_type: 'product.created',
            payload: '{}',
            status,
            attempts: 0,
            next_attempt_at: next,
            created_at: at(0),
          })
          .execute();
      }
      const claim = (limit: number) =>
        claimDue(server.storage, {
          now: new Date(at(30)),
          leaseMs: hour,
          perEndpoint: 3,
          limit,
          skipEndpoints: ['claim_skipped'],
        }).then((claimed) => claimed.map((delivery) => delivery.id.slice('whd_claim_'.length)));
      // a's oldest three are a1, a5 (second 1), a3 (2); b's are b0 (1), b1, b2 (2); a2, a4, a0 and b3 wait.
      assert.deepEqual(await claim(5), ['a1', 'a5', 'b0', 'a3', 'b1']);
      // Leased: the next claim takes what is left, and then nothing is due.
      assert.deepEqual(await claim(50), ['b2', 'a2', 'a4', 'a0', 'b3']);
      assert.deepEqual(await claim(50), []);
      await db.deleteFrom('webhook_deliveries').where('id', 'like', 'whd_claim_%').execute();
      await db.deleteFrom('webhook_endpoints').where('id', 'like', 'claim_%').execute();
    });
  });
}

if (storageKinds().includes('postgres')) {
  test('two workers on PostgreSQL never send one attempt twice', async () => {
    const database = await testDatabase('postgres');
    const nowMs = Date.now();
    const clock = () => new Date(nowMs);
    const server = await startServer({
      databaseUrl: database.url,
      clock,
      env: { WEBHOOK_ALLOW_PRIVATE_TARGETS: '1' },
      webhookWorker: false,
    });
    const hooks = await receiver(() => nowMs);
    const second = openStorage(database.url);
    try {
      const api = client(server);
      const endpoint = await api('POST', '/v1/webhook-endpoints', {
        body: { url: `${hooks.origin}/hooks`, events: ['product.*'] },
      });
      const enqueue = enqueueDeliveries(server.storage, clock, usersService(server.storage, clock));
      for (let i = 0; i < 40; i++) {
        await enqueue([domainEvent('product.created', { type: 'product', id: `prd_${i}` }, { i }, clock())]);
      }
      const make = (storage: Storage) =>
        webhookWorker({
          storage,
          clock,
          endpoints: webhookEndpointsService(storage, clock, {
            users: usersService(storage, clock),
            targets: { allowPrivate: true },
          }),
          retryScheduleMs: schedule,
          targets: { allowPrivate: true },
          perEndpoint: 40,
          batchSize: 5,
        });
      const [one, two] = [make(server.storage), make(second)];
      await Promise.all([one.drain(), two.drain(), one.drain(), two.drain()]);
      const ids = hooks.received.map((request) => request.headers['webhook-id']);
      assert.equal(ids.length, 40);
      assert.equal(new Set(ids).size, 40);
      const list = await api('GET', `/v1/webhook-endpoints/${endpoint.body.id}/deliveries?limit=100`);
      assert.ok(
        list.body.data.every(
          (delivery: { status: string; attempts: unknown[] }) =>
            delivery.status === 'succeeded' && delivery.attempts.length === 1,
        ),
      );
    } finally {
      await second.close();
      await hooks.close();
      await server.close();
      await database.drop();
    }
  });
}

test("a test event, a retry and a replay are sent at once by the server's own worker, not at its next poll", async () => {
  // An hour between polls: what arrives in this test was sent because the route told the worker.
  const server = await startServer({ env: { WEBHOOK_ALLOW_PRIVATE_TARGETS: '1', WEBHOOK_POLL: '1h' } });
  const hooks = await receiver(() => Date.now());
  try {
    const api = client(server);
    const created = await api('POST', '/v1/webhook-endpoints', {
      body: { url: `${hooks.origin}/hooks`, events: ['product.*'] },
    });
    assert.equal(created.status, 201, created.text);
    const endpoint = `/v1/webhook-endpoints/${created.body.id}`;
    const received = (count: number) =>
      waitFor(`${count} receipts`, async () => (hooks.received.length >= count ? hooks.received : null));

    const test = await api('POST', `${endpoint}/test`);
    assert.equal(test.status, 202, test.text);
    assert.equal((await received(1))[0]?.headers['webhook-id'], test.body.eventId);

    const retried = await api('POST', `${endpoint}/deliveries/${test.body.id}/retry`);
    assert.equal(retried.status, 202, retried.text);
    assert.equal((await received(2))[1]?.headers['webhook-id'], test.body.eventId);

    const from = new Date(Date.now() - 1000).toISOString();
    const product = await api('POST', '/v1/products', {
      body: { name: 'Desk lamp', category: 'home', price: { amount: 1250, currency: 'EUR' }, stock: 5 },
    });
    assert.equal(product.status, 201, product.text);
    const [, , fannedOut] = await received(3);
    const replay = await api('POST', `${endpoint}/replay`, {
      body: { from, to: new Date(Date.now() + 1000).toISOString() },
    });
    assert.equal(replay.status, 202, replay.text);
    assert.equal(replay.body.events, 1);
    assert.equal((await received(4))[3]?.headers['webhook-id'], fannedOut?.headers['webhook-id']);
  } finally {
    await hooks.close();
    await server.close();
  }
});
