// Idempotency-Key on every POST, on SQLite and PostgreSQL: replays, mismatches, keys held by a request still
// running, keys freed by refusals and 5xx, expiry after 24 hours, and two servers sharing one database.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { Storage } from '../src/storage/database.ts';
import { idempotencyStore } from '../src/storage/idempotency.ts';
import {
  type ApiResponse,
  client,
  expectEnvelope,
  startServer,
  storageKinds,
  type TestServer,
  testDatabase,
  testStorage,
} from './helpers.ts';

const hourMs = 60 * 60 * 1000;
const listedOrigin = 'https://app.example.test';

/** A movable clock: tests step it forward to expire keys and to age claims. */
function movableClock() {
  let offsetMs = 0;
  return {
    now: () => new Date(Date.now() + offsetMs),
    advance(ms: number) {
      offsetMs += ms;
    },
  };
}

/**
 * A POST route beyond the domain's own, to show the policy applies to every POST and to reach what users and products
 * cannot: a handler that fails with a 5xx, and one that is still running when the repeat arrives.
 */
interface Jobs {
  runs: number;
  failuresLeft: number;
  hold: { started(): void; release: Promise<void> } | null;
}

function jobRoutes(jobs: Jobs) {
  return (app: FastifyInstance) => {
    app.post(
      '/v1/test-jobs',
      {
        // Any scope the suite's admin holds: the policy under test applies whatever the scope.
        config: { scope: 'products:write' },
        schema: { body: Type.Object({ name: Type.String({ minLength: 1 }) }, { additionalProperties: false }) },
      },
      async (request, reply) => {
        jobs.runs += 1;
        const run = jobs.runs;
        if (jobs.failuresLeft > 0) {
          jobs.failuresLeft -= 1;
          throw new Error('the test job failed on purpose');
        }
        const hold = jobs.hold;
        if (hold) {
          jobs.hold = null;
          hold.started();
          await hold.release;
        }
        return reply.code(201).send({ name: (request.body as { name: string }).name, run });
      },
    );
  };
}

/** Makes the next job run wait until released; resolves `started` once it is running (and so holds its key). */
function holdNextJob(jobs: Jobs) {
  let started = () => {};
  let release = () => {};
  const running = new Promise<void>((resolve) => {
    started = resolve;
  });
  jobs.hold = { started: () => started(), release: new Promise<void>((resolve) => (release = resolve)) };
  return { running, release: () => release() };
}

async function count(storage: Storage, table: string, column?: string, value?: string): Promise<number> {
  const where = column === undefined ? sql`` : sql` where ${sql.ref(column)} = ${value}`;
  const result = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}${where}`.execute(
    storage.db,
  );
  return Number(result.rows[0]?.n);
}

const unique = () => randomUUID().slice(0, 8);
const userBody = () => ({ email: `idem-${unique()}@example.com`, name: 'Idem Potent' });
const productBody = () => ({
  name: `Lamp ${unique()}`,
  category: 'lighting',
  price: { amount: 1999, currency: 'EUR' },
});
const resources = [
  { path: '/v1/users', table: 'users', column: 'email', body: userBody, unique: (b: { email: string }) => b.email },
  {
    path: '/v1/products',
    table: 'products',
    column: 'name',
    body: productBody,
    unique: (b: { name: string }) => b.name,
  },
] as const;

const keyed = (key: string, body: unknown) => ({ body, headers: { 'idempotency-key': key } });

function assertReplayOf(replay: ApiResponse, first: ApiResponse): void {
  assert.equal(replay.status, first.status);
  assert.equal(replay.headers.get('idempotent-replayed'), 'true');
  assert.equal(replay.text, first.text, 'the replayed body is the first body, byte for byte');
  for (const name of ['content-type', 'location', 'etag', 'cache-control', 'x-request-id']) {
    assert.equal(replay.headers.get(name), first.headers.get(name), `the replayed ${name}`);
  }
}

for (const kind of storageKinds()) {
  describe(`Idempotency-Key on one server (${kind})`, () => {
    const clock = movableClock();
    const jobs: Jobs = { runs: 0, failuresLeft: 0, hold: null };
    let server: TestServer;
    let api: ReturnType<typeof client>;
    before(async () => {
      server = await startServer({
        storage: kind,
        clock: clock.now,
        routes: jobRoutes(jobs),
        env: { CORS_ORIGINS: listedOrigin },
      });
      api = client(server);
    });
    after(() => server.close());

    for (const resource of resources) {
      test(`repeating POST ${resource.path} with the same key and body replays the 201 and creates one row and one event`, async () => {
        const key = randomUUID();
        const body = resource.body();
        const eventsBefore = await count(server.storage, 'outbox');
        const first = await api('POST', resource.path, keyed(key, body));
        assert.equal(first.status, 201, first.text);
        assert.equal(first.headers.get('idempotent-replayed'), null, 'a first answer is not a replay');
        const repeat = await api('POST', resource.path, keyed(key, body));
        assertReplayOf(repeat, first);
        assert.equal(await count(server.storage, resource.table, resource.column, resource.unique(body as never)), 1);
        assert.equal(await count(server.storage, 'outbox'), eventsBefore + 1, 'one event, not two');
      });
    }

    test('keys belong to their caller: another caller sending the same key runs its own request', async () => {
      const key = randomUUID();
      const mine = await api('POST', '/v1/users', keyed(key, userBody()));
      assert.equal(mine.status, 201, mine.text);
      const someone = await api('POST', '/v1/users', { body: { ...userBody(), role: 'admin' } });
      const issued = await api('POST', '/v1/api-keys', { body: { ownerId: someone.body.id } });
      const theirs = await api('POST', '/v1/users', {
        body: userBody(),
        headers: { 'idempotency-key': key, authorization: `Bearer ${issued.body.secret}` },
      });
      assert.equal(theirs.status, 201, theirs.text);
      assert.equal(theirs.headers.get('idempotent-replayed'), null);
      assert.notEqual(theirs.body.id, mine.body.id);
    });

    test('a repeat whose body has its keys in another order is the same request', async () => {
      const key = randomUUID();
      const first = await api('POST', '/v1/users', keyed(key, { email: `idem-${unique()}@example.com`, name: 'A' }));
      const { email, name } = JSON.parse(first.text) as { email: string; name: string };
      const repeat = await api('POST', '/v1/users', {
        raw: JSON.stringify({ name, email }),
        headers: {
          'idempotency-key': key,
          'content-type': 'application/json',
        },
      });
      assertReplayOf(repeat, first);
    });

    test('the same key with another body answers 422 IDEMPOTENCY_KEY_MISMATCH and creates nothing', async () => {
      const key = randomUUID();
      assert.equal((await api('POST', '/v1/users', keyed(key, userBody()))).status, 201);
      const other = userBody();
      const eventsBefore = await count(server.storage, 'outbox');
      const error = expectEnvelope(await api('POST', '/v1/users', keyed(key, other)), 422, 'IDEMPOTENCY_KEY_MISMATCH');
      assert.equal(error.details[0]?.field, 'Idempotency-Key');
      assert.equal(await count(server.storage, 'users', 'email', other.email), 0);
      assert.equal(await count(server.storage, 'outbox'), eventsBefore);
    });

    test('the same key on another path, or with another query, answers 422 and creates nothing', async () => {
      const key = randomUUID();
      const user = userBody();
      assert.equal((await api('POST', '/v1/users', keyed(key, user))).status, 201);
      const product = productBody();
      expectEnvelope(await api('POST', '/v1/products', keyed(key, product)), 422, 'IDEMPOTENCY_KEY_MISMATCH');
      assert.equal(await count(server.storage, 'products', 'name', product.name), 0);
      expectEnvelope(await api('POST', '/v1/users?again=1', keyed(key, user)), 422, 'IDEMPOTENCY_KEY_MISMATCH');
    });

    test('a request refused by validation or for its media type does not claim the key', async () => {
      const key = randomUUID();
      const body = userBody();
      expectEnvelope(await api('POST', '/v1/users', keyed(key, { email: body.email })), 400, 'VALIDATION_ERROR');
      const wrongType = await api('POST', '/v1/users', {
        raw: JSON.stringify(body),
        headers: { 'idempotency-key': key, 'content-type': 'text/plain' },
      });
      expectEnvelope(wrongType, 415, 'UNSUPPORTED_MEDIA_TYPE');
      const created = await api('POST', '/v1/users', keyed(key, body));
      assert.equal(created.status, 201, created.text);
      assertReplayOf(await api('POST', '/v1/users', keyed(key, body)), created);
    });

    test('a 409 for a duplicate email is stored and replayed as the same 409, without running again', async () => {
      const body = userBody();
      const existing = await api('POST', '/v1/users', { body });
      assert.equal(existing.status, 201);
      const key = randomUUID();
      const conflict = await api('POST', '/v1/users', keyed(key, body));
      expectEnvelope(conflict, 409, 'CONFLICT');
      // Were the handler to run again, the email would now be free and the answer a 201.
      const deleted = await api('DELETE', `/v1/users/${existing.body.id}`);
      assert.equal(deleted.status, 204);
      const repeat = await api('POST', '/v1/users', keyed(key, body));
      expectEnvelope(repeat, 409, 'CONFLICT');
      assertReplayOf(repeat, conflict);
      assert.equal(await count(server.storage, 'users', 'email', body.email), 0);
    });

    test('ten concurrent requests with one key create exactly one user; the others answer 409 or the replay', async () => {
      const key = randomUUID();
      const body = userBody();
      const eventsBefore = await count(server.storage, 'outbox');
      const answers = await Promise.all(Array.from({ length: 10 }, () => api('POST', '/v1/users', keyed(key, body))));
      const originals = answers.filter((a) => a.status === 201 && a.headers.get('idempotent-replayed') === null);
      assert.equal(originals.length, 1, `statuses: ${answers.map((a) => a.status).join(', ')}`);
      for (const answer of answers) {
        if (answer === originals[0]) continue;
        if (answer.status === 409) expectEnvelope(answer, 409, 'CONFLICT');
        else assertReplayOf(answer, originals[0] as ApiResponse);
      }
      assert.equal(await count(server.storage, 'users', 'email', body.email), 1);
      assert.equal(await count(server.storage, 'outbox'), eventsBefore + 1);
      assertReplayOf(await api('POST', '/v1/users', keyed(key, body)), originals[0] as ApiResponse);
    });

    test('while the first request runs, a repeat answers 409 and another body 422, and neither runs', async () => {
      const key = randomUUID();
      const held = holdNextJob(jobs);
      const first = api('POST', '/v1/test-jobs', keyed(key, { name: 'slow' }));
      await held.running;
      const runs = jobs.runs;
      const busy = expectEnvelope(await api('POST', '/v1/test-jobs', keyed(key, { name: 'slow' })), 409, 'CONFLICT');
      assert.match(busy.message, /still being processed/);
      expectEnvelope(
        await api('POST', '/v1/test-jobs', keyed(key, { name: 'other' })),
        422,
        'IDEMPOTENCY_KEY_MISMATCH',
      );
      assert.equal(jobs.runs, runs, 'the job ran once');
      held.release();
      const done = await first;
      assert.equal(done.status, 201);
      assertReplayOf(await api('POST', '/v1/test-jobs', keyed(key, { name: 'slow' })), done);
      assert.equal(jobs.runs, runs);
    });

    test('a 5xx frees the key, so a retry with it runs the request', async () => {
      const key = randomUUID();
      jobs.failuresLeft = 1;
      expectEnvelope(await api('POST', '/v1/test-jobs', keyed(key, { name: 'flaky' })), 500, 'INTERNAL_ERROR');
      const retried = await api('POST', '/v1/test-jobs', keyed(key, { name: 'flaky' }));
      assert.equal(retried.status, 201, retried.text);
      assert.equal(retried.headers.get('idempotent-replayed'), null);
      const runs = jobs.runs;
      assertReplayOf(await api('POST', '/v1/test-jobs', keyed(key, { name: 'flaky' })), retried);
      assert.equal(jobs.runs, runs);
    });

    test('a claim left in progress for over 10 minutes is taken over, and the late first answer is not stored', async () => {
      const key = randomUUID();
      const held = holdNextJob(jobs);
      const first = api('POST', '/v1/test-jobs', keyed(key, { name: 'abandoned' }));
      await held.running;
      clock.advance(11 * 60 * 1000);
      const takeover = await api('POST', '/v1/test-jobs', keyed(key, { name: 'abandoned' }));
      assert.equal(takeover.status, 201, takeover.text);
      assert.equal(takeover.headers.get('idempotent-replayed'), null, 'the takeover ran the request');
      held.release();
      assert.equal((await first).status, 201);
      assertReplayOf(await api('POST', '/v1/test-jobs', keyed(key, { name: 'abandoned' })), takeover);
    });

    test('after 24 hours the key is free again, for any request', async () => {
      const key = randomUUID();
      assert.equal((await api('POST', '/v1/users', keyed(key, userBody()))).status, 201);
      clock.advance(24 * hourMs);
      const other = userBody();
      const later = await api('POST', '/v1/users', keyed(key, other));
      assert.equal(later.status, 201, later.text);
      assert.equal(later.headers.get('idempotent-replayed'), null);
      assert.equal(await count(server.storage, 'users', 'email', other.email), 1);
      assertReplayOf(await api('POST', '/v1/users', keyed(key, other)), later);
    });

    test('an empty, overlong or non-ASCII key answers 400 naming the header; GET ignores the header', async () => {
      for (const bad of ['', 'k'.repeat(256), 'caf\u00e9', 'tab\there']) {
        const body = userBody();
        const error = expectEnvelope(await api('POST', '/v1/users', keyed(bad, body)), 400, 'VALIDATION_ERROR');
        assert.equal(error.details[0]?.field, 'Idempotency-Key', `key ${JSON.stringify(bad)}`);
        assert.equal(await count(server.storage, 'users', 'email', body.email), 0);
      }
      assert.equal((await api('POST', '/v1/users', keyed('k'.repeat(255), userBody()))).status, 201);
      const read = await api('GET', '/v1/users?limit=1', { headers: { 'idempotency-key': '' } });
      assert.equal(read.status, 200);
      assert.equal(read.headers.get('idempotent-replayed'), null);
    });

    test('a listed CORS origin may read Idempotent-Replayed', async () => {
      const response = await api('POST', '/v1/users', {
        body: userBody(),
        headers: { origin: listedOrigin, 'idempotency-key': randomUUID() },
      });
      const names = (response.headers.get('access-control-expose-headers') ?? '').split(',').map((h) => h.trim());
      assert.ok(names.includes('Idempotent-Replayed'), names.join(', '));
    });
  });

  describe(`Idempotency-Key across two servers sharing one database (${kind})`, () => {
    let database: Awaited<ReturnType<typeof testDatabase>>;
    let a: TestServer;
    let b: TestServer;
    before(async () => {
      database = await testDatabase(kind);
      a = await startServer({ storage: kind, databaseUrl: database.url });
      b = await startServer({ storage: kind, databaseUrl: database.url });
    });
    after(async () => {
      await a.close();
      await b.close();
      await database.drop();
    });

    /** One caller (a's admin; keys are per caller) reaching either server, as behind a load balancer. */
    const via = (server: TestServer) => client({ ...server, admin: a.admin });

    test('a request made on one server is replayed by the other, and another body is refused there', async () => {
      const key = randomUUID();
      const body = userBody();
      const created = await via(a)('POST', '/v1/users', keyed(key, body));
      assert.equal(created.status, 201, created.text);
      assertReplayOf(await via(b)('POST', '/v1/users', keyed(key, body)), created);
      expectEnvelope(await via(b)('POST', '/v1/users', keyed(key, userBody())), 422, 'IDEMPOTENCY_KEY_MISMATCH');
      assertReplayOf(await via(a)('POST', '/v1/users', keyed(key, body)), created);
      assert.equal(await count(a.storage, 'users', 'email', body.email), 1);
    });

    // Two servers in one test process on one SQLite file would block each other's event loop on the file lock;
    // separate processes would not, but the claim they race on is the same single statement tested above.
    if (kind === 'postgres') {
      test('ten requests with one key split over both servers at once create exactly one user', async () => {
        const key = randomUUID();
        const body = userBody();
        const answers = await Promise.all(
          Array.from({ length: 10 }, (_, i) => via(i % 2 === 0 ? a : b)('POST', '/v1/users', keyed(key, body))),
        );
        const originals = answers.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null);
        assert.equal(originals.length, 1, `statuses: ${answers.map((r) => r.status).join(', ')}`);
        for (const answer of answers) assert.ok([201, 409].includes(answer.status), answer.text);
        assert.equal(await count(a.storage, 'users', 'email', body.email), 1);
      });
    }
  });

  describe(`the Idempotency-Key store (${kind})`, () => {
    let storage: Storage;
    let close: () => Promise<void>;
    before(async () => {
      ({ storage, close } = await testStorage(kind));
    });
    after(() => close());

    test('a claim lost to a takeover can neither complete nor release the new claim', async () => {
      const store = idempotencyStore(storage, { ttlMs: 24 * hourMs, staleAfterMs: 60_000 });
      const start = new Date('2030-01-01T00:00:00.000Z');
      const old = await store.claim('k-takeover', 'hash', start);
      assert.ok(old.claimed);
      const busy = await store.claim('k-takeover', 'hash', new Date(start.getTime() + 30_000));
      assert.equal(busy.existing?.state, 'in_progress');
      const taken = await store.claim('k-takeover', 'hash', new Date(start.getTime() + 61_000));
      assert.ok(taken.claimed);
      assert.equal(await store.complete(old.claimed, { status: 201, headers: {}, body: 'late' }), false);
      await store.release(old.claimed);
      assert.equal((await store.find('k-takeover'))?.state, 'in_progress', 'the new claim survives');
      assert.equal(await store.complete(taken.claimed, { status: 201, headers: { etag: '"1"' }, body: 'ok' }), true);
      assert.deepEqual((await store.find('k-takeover'))?.response, {
        status: 201,
        headers: { etag: '"1"' },
        body: 'ok',
      });
    });

    test('a purge deletes at most the batch asked for, and only expired keys', async () => {
      const store = idempotencyStore(storage, { ttlMs: hourMs, staleAfterMs: 60_000 });
      // Before the previous test's keys, which therefore stay unexpired here.
      const start = new Date('2020-01-01T00:00:00.000Z');
      for (let i = 0; i < 5; i++) await store.claim(`k-old-${i}`, 'hash', start);
      await store.claim('k-new', 'hash', new Date(start.getTime() + hourMs));
      const later = new Date(start.getTime() + hourMs + 1);
      assert.equal(await store.purgeExpired(later, 3), 3);
      assert.equal(await store.purgeExpired(later, 3), 2);
      assert.equal(await store.purgeExpired(later, 3), 0);
      assert.ok(await store.find('k-new'), 'an unexpired key is kept');
    });
  });
}
