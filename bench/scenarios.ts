// The scenarios: what is measured against what, with the goal each must reach (issue 8's table).

import { cursorCodec, listingKey } from '../src/kernel/pagination.ts';
import { launchRedis } from '../test/redis-launch.ts';
import {
  assertSameBody,
  type BenchDatabase,
  copyOf,
  createAdmin,
  createAdminKey,
  type Scenario,
  type ScenarioContext,
  seededDatabase,
  sqliteDatabase,
  startBaseline,
  startPortico,
  unrefusedInternalTier,
  withDatabase,
} from './fixtures.ts';
import { BenchError, freePort, interleave, type RunningServer } from './harness.ts';
import type { ScenarioFacts, ScenarioResult } from './stats.ts';
import { webhookFanout } from './webhook-fanout.ts';

interface BenchRedis {
  url: string;
  /** Freezes it (SIGSTOP): it keeps its connections and answers nothing, the worst kind of outage. */
  hang(): void;
  stop(): void;
}

/** A redis-server of the scenario's own, keeping nothing on disk, that it may freeze. */
async function startRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const child = await launchRedis(port).catch((error: { code?: string; message: string }) => {
    throw new BenchError(
      error.code === 'ENOENT' ? 'redis-outage needs redis-server on the PATH' : error.message.split('\n')[0],
    );
  });
  const stop = () => {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  };
  process.on('exit', stop);
  return { url: `redis://127.0.0.1:${port}`, hang: () => child.kill('SIGSTOP'), stop };
}

/**
 * Waits until the server's counter store (/readyz) is in `state`: a breaker opened by a slow first command (a cold
 * process on a busy machine) closes again at its next probe.
 */
async function countersReach(server: RunningServer, state: 'ok' | 'degraded'): Promise<void> {
  let seen = '';
  for (let attempt = 0; attempt < 40; attempt++) {
    const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { checks: { counters?: string } };
    seen = String(ready.checks.counters);
    if (seen === state) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new BenchError(`the server's counter store stays ${seen}, not ${state}, after 10 s`);
}

/** The facts of a scenario's result that the scenario itself states. */
const factsOf = (scenario: Scenario, notes: string[]): ScenarioFacts => ({
  name: scenario.name,
  goal: scenario.goal,
  unit: 'req/s',
  baseline: scenario.baseline,
  ratioGoal: scenario.ratioGoal,
  subjectRssMiB: null,
  notes,
});

/** Rows for the scale checks: throughput with the larger table should be within 20 % of the smaller's. */
const scaleSizes = (quick: boolean) => (quick ? { small: 1_000, large: 10_000 } : { small: 10_000, large: 1_000_000 });
const scaleTolerance = 0.8;
const scaleNote = (what: string, sizes: { small: number; large: number }, scale: ScenarioResult) =>
  `scale: ${what} with ${sizes.large.toLocaleString('en')} products ${scale.subject.throughput.toFixed(0)} req/s, ` +
  `${scale.baselineResult.throughput.toFixed(0)} with ${sizes.small.toLocaleString('en')}: ratio ${scale.ratio}` +
  ` (${scale.ratio >= scaleTolerance ? 'within' : 'NOT within'} 20 %)${scale.clean ? '' : ', with ERRORS'}`;

/** Scale checks take fewer rounds than the scenario itself: they compare the subject with itself. */
const scaleTiming = (context: ScenarioContext) => ({ ...context.timing, rounds: context.quick ? 1 : 3 });

/** Same bytes for GET /: Portico's root is sent to the baseline to answer verbatim. */
async function rootScenario(scenario: Scenario, context: ScenarioContext, withToken: boolean): Promise<ScenarioResult> {
  const database = await sqliteDatabase();
  const admin = withToken ? createAdmin(database) : null;
  const subject = await startPortico(database, unrefusedInternalTier);
  const body = await (await fetch(`${subject.url}/`)).text();
  const baseline = await startBaseline('root.ts', { BENCH_BODY: body });
  return withDatabase(database, [subject, baseline], async () => {
    const headers: Record<string, string> = {};
    if (admin) {
      const issued = await fetch(`${subject.url}/v1/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: admin.email, password: admin.password }),
      });
      if (issued.status !== 200) throw new BenchError(`POST /v1/auth/tokens answered ${issued.status}`);
      headers.authorization = `Bearer ${((await issued.json()) as { accessToken: string }).accessToken}`;
    }
    await assertSameBody('/', subject, baseline, { init: { headers } });
    const request = { method: 'GET' as const, paths: ['/'], headers };
    const notes = admin
      ? ['an admin (internal tier: no daily quota, burst raised by RATE_LIMIT_TIERS) signs in by password']
      : [];
    return interleave(
      factsOf(scenario, notes),
      { server: baseline, request },
      { server: subject, request },
      context.timing,
    );
  });
}

const productRows = (quick: boolean) => (quick ? 10_000 : 100_000);

/** Paths of the first 1,000 seeded products (by id), and the admin key the subject is read with. */
async function productLoad(database: BenchDatabase): Promise<{ paths: string[]; key: string }> {
  const key = createAdminKey(database, createAdmin(database));
  const ids = await database.query('select id from products order by id limit 1000');
  return { paths: ids.map((row) => `/v1/products/${String(row.id)}`), key };
}

function productScenario(name: 'product-sqlite' | 'product-postgres'): Scenario {
  const onPostgres = name === 'product-postgres';
  return {
    name,
    goal: `GET /v1/products/{id} with an API key, rate-limited, on ${onPostgres ? 'PostgreSQL' : 'SQLite'}, 1,000 seeded ids in a shuffled order`,
    baseline: `bare Fastify + ${onPostgres ? 'a pg pool' : 'node:sqlite'} reading the same row by primary key`,
    ratioGoal: 0.5,
    needs: onPostgres ? ['postgres'] : [],
    async run(context) {
      const rows = productRows(context.quick);
      const database = await seededDatabase(onPostgres ? 'postgres' : 'sqlite', rows, context);
      const { paths, key } = await productLoad(database);
      const subject = await startPortico(database, unrefusedInternalTier);
      const baseline = await startBaseline('product.ts', { DATABASE_URL: database.url, PUBLIC_URL: subject.url });
      return withDatabase(database, [subject, baseline], async () => {
        const headers = { 'x-api-key': key };
        await assertSameBody(paths[0] ?? '/', subject, baseline, { init: { headers } });
        return interleave(
          factsOf(this, [`${rows.toLocaleString('en')} products seeded; an admin's secret key (internal tier)`]),
          { server: baseline, request: { method: 'GET', paths, headers: {} } },
          { server: subject, request: { method: 'GET', paths, headers } },
          context.timing,
        );
      });
    },
  };
}

const productRedis: Scenario = {
  name: 'product-redis',
  goal: 'product-sqlite with REDIS_URL set: the rate limits and the API-key lookups kept in Redis',
  baseline: 'product-sqlite (Portico without Redis) in the same run',
  ratioGoal: 0.65,
  needs: ['redis'],
  async run(context) {
    const rows = productRows(context.quick);
    const database = await seededDatabase('sqlite', rows, context);
    const { paths, key } = await productLoad(database);
    // One public URL for both, so that both send the same bytes; both read the same file, and neither writes it.
    const common = { ...unrefusedInternalTier, PUBLIC_URL: 'http://portico.bench' };
    const baseline = await startPortico(database, common);
    const subject = await startPortico(database, { ...common, REDIS_URL: context.redisUrl ?? '' });
    return withDatabase(database, [subject, baseline], async () => {
      const headers = { 'x-api-key': key };
      await assertSameBody(paths[0] ?? '/', subject, baseline, { init: { headers } });
      await countersReach(subject, 'ok');
      const request = { method: 'GET' as const, paths, headers };
      return interleave(
        factsOf(this, [`${rows.toLocaleString('en')} products seeded; an admin's secret key (internal tier)`]),
        { server: baseline, request },
        { server: subject, request },
        context.timing,
      );
    });
  },
};

/** The cursor a client holds after walking to the end of the listing, made with the server's own key. */
async function deepPagePath(database: BenchDatabase, count: number): Promise<string> {
  const [secret] = await database.query("select value from app_settings where key = 'cursor-secret'");
  const [deep] = await database.query(
    `select id, created_at from products order by created_at desc, id desc limit 1 offset ${count - 40}`,
  );
  const codec = cursorCodec(String(secret?.value));
  const cursor = codec.encode(listingKey('/v1/products', {}), { field: 'createdAt', order: 'desc' }, 'next', {
    value: String(deep?.created_at),
    id: String(deep?.id),
  });
  return `/v1/products?cursor=${encodeURIComponent(cursor)}`;
}

const listDeep: Scenario = {
  name: 'list-deep',
  goal: 'a cursor page of 20 at the end of the seeded products',
  baseline: 'the first page through the same server',
  ratioGoal: 0.7,
  needs: [],
  async run(context) {
    const count = context.quick ? 10_000 : 1_000_000;
    const sizes = scaleSizes(context.quick);
    const database = await seededDatabase('sqlite', count, context);
    const small = await seededDatabase('sqlite', sizes.small, context);
    const server = await startPortico(database);
    const smallServer = await startPortico(small);
    return withDatabase([database, small], [server, smallServer], async () => {
      // The secret is made at the first start: read it only once the servers are up.
      const deepPath = await deepPagePath(database, count);
      const page = (await (await fetch(server.url + deepPath)).json()) as { data: unknown[] };
      if (page.data.length !== 20) throw new BenchError(`the deep page has ${page.data.length} rows, not 20`);
      const firstPage = { method: 'GET' as const, paths: ['/v1/products'], headers: {} };
      const quickNote = context.quick ? ' (quick run: fewer than the full 1,000,000)' : '';
      const result = await interleave(
        factsOf(this, [`${count.toLocaleString('en')} products${quickNote}`]),
        { server, request: firstPage },
        { server, request: { method: 'GET', paths: [deepPath], headers: {} } },
        context.timing,
      );
      const offsetPath = `/v1/products?page=${count / 20 - 1}&perPage=20`;
      const offset = await interleave(
        factsOf(this, []),
        { server, request: firstPage },
        { server, request: { method: 'GET', paths: [offsetPath], headers: {} } },
        scaleTiming(context),
      );
      result.notes.push(
        `offset paging at the same depth: ${offset.subject.throughput.toFixed(0)} req/s, ratio ${offset.ratio} to the first page`,
      );
      const smallDeepPath = await deepPagePath(small, sizes.small);
      const scale = await interleave(
        factsOf(this, []),
        { server: smallServer, request: { method: 'GET', paths: [smallDeepPath], headers: {} } },
        { server, request: { method: 'GET', paths: [deepPath], headers: {} } },
        scaleTiming(context),
      );
      result.notes.push(scaleNote('the deep cursor page', sizes, scale));
      return result;
    });
  },
};

/** Ids and timestamps are minted per request: two orders are alike when all else is. */
const maskMinted = (body: string) =>
  body.replaceAll(/(ord|evt)_[0-9a-z]{26}/g, '$1_…').replaceAll(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T…');

/**
 * A seeded database ready for orders: an admin with a key, and one product with the most stock the catalog allows,
 * so that no order of the run is refused for want of it. Made before any server opens the file, so it can be copied.
 */
async function orderDatabase(products: number, context: ScenarioContext) {
  const database = await seededDatabase('sqlite', products, context);
  const admin = createAdmin(database);
  const key = createAdminKey(database, admin);
  const [product] = await database.query(
    "update products set stock = 1000000000, status = 'active' where id = (select min(id) from products) returning id",
  );
  const body = JSON.stringify({ customerId: admin.id, items: [{ productId: String(product?.id), quantity: 1 }] });
  // No Idempotency-Key: each request is a fresh order.
  const request = {
    method: 'POST' as const,
    paths: ['/v1/orders'],
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body,
  };
  return { database, request };
}

const orderCreate: Scenario = {
  name: 'order-create',
  goal: 'POST /v1/orders (validation, stock decrement, order, outbox event in one transaction) on SQLite, API key',
  baseline: 'bare Fastify + node:sqlite running the same statements in one transaction',
  ratioGoal: 0.5,
  needs: [],
  async run(context) {
    const sizes = scaleSizes(context.quick);
    const { database, request } = await orderDatabase(sizes.small, context);
    // The baseline writes a copy: sharing the file would make each side wait for the other's write lock, and
    // Portico's relay would publish the baseline's outbox rows.
    const baselineDatabase = await copyOf(database);
    const large = await orderDatabase(sizes.large, context);
    const subject = await startPortico(database, unrefusedInternalTier);
    const baseline = await startBaseline('order.ts', { DATABASE_URL: baselineDatabase.url, PUBLIC_URL: subject.url });
    const largeSubject = await startPortico(large.database, unrefusedInternalTier);
    const servers = [subject, baseline, largeSubject];
    return withDatabase([database, baselineDatabase, large.database], servers, async () => {
      await assertSameBody('/v1/orders', subject, baseline, {
        init: { method: 'POST', headers: request.headers, body: request.body },
        status: 201,
        sameness: maskMinted,
      });
      const result = await interleave(
        factsOf(this, [
          `${sizes.small.toLocaleString('en')} products seeded; one order line per request against one product of ` +
            "1,000,000,000 in stock; an admin's key (internal tier); the baseline writes a copy of the database",
        ]),
        { server: baseline, request },
        { server: subject, request },
        context.timing,
      );
      const scale = await interleave(
        factsOf(this, []),
        { server: subject, request },
        { server: largeSubject, request: large.request },
        scaleTiming(context),
      );
      result.notes.push(scaleNote('order creation', sizes, scale));
      return result;
    });
  },
};

const redisOutage: Scenario = {
  name: 'redis-outage',
  goal: 'GET / with REDIS_URL set and Redis hung (the breaker open, limits kept in memory)',
  baseline: 'the same with Redis answering',
  ratioGoal: 0.9,
  needs: [],
  async run(context) {
    const [live, hung] = [await startRedis(), await startRedis()];
    const database = await sqliteDatabase();
    // One public URL for both, so that both send the same bytes for GET /.
    const publicUrl = 'http://portico.bench';
    const baseline = await startPortico(database, { REDIS_URL: live.url, PUBLIC_URL: publicUrl });
    const subject = await startPortico(database, { REDIS_URL: hung.url, PUBLIC_URL: publicUrl });
    hung.hang();
    try {
      return await withDatabase(database, [subject, baseline], async () => {
        // The first request after the hang waits out one command timeout and opens the breaker.
        await assertSameBody('/', subject, baseline);
        await countersReach(subject, 'degraded');
        const request = { method: 'GET' as const, paths: ['/'], headers: {} };
        const result = await interleave(
          factsOf(this, []),
          { server: baseline, request },
          { server: subject, request },
          context.timing,
        );
        result.notes.push(
          `p99 latency during the outage ${result.subject.p99Ms} ms against ${result.baselineResult.p99Ms} ms with Redis up (ratio ${(result.subject.p99Ms / result.baselineResult.p99Ms).toFixed(2)})`,
        );
        return result;
      });
    } finally {
      live.stop();
      hung.stop();
    }
  },
};

const root: Scenario = {
  name: 'root',
  goal: 'GET / through every edge plugin, anonymous',
  baseline: 'bare Fastify returning the same JSON',
  ratioGoal: 0.8,
  needs: [],
  run(context) {
    return rootScenario(this, context, false);
  },
};

const authJwt: Scenario = {
  name: 'auth-jwt',
  goal: 'GET / through every edge plugin with a valid access token (JWT verified with jose)',
  baseline: 'bare Fastify returning the same JSON',
  ratioGoal: 0.6,
  needs: [],
  run(context) {
    return rootScenario(this, context, true);
  },
};

export const scenarios: Scenario[] = [
  root,
  redisOutage,
  authJwt,
  productScenario('product-sqlite'),
  productRedis,
  productScenario('product-postgres'),
  listDeep,
  orderCreate,
  webhookFanout,
];
