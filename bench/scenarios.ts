// The scenarios: what is measured against what, with the goal each must reach (issue 8's table).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { cursorCodec, listingKey } from '../src/kernel/pagination.ts';
import {
  BenchError,
  freePort,
  interleave,
  type RunningServer,
  runToCompletion,
  startProcess,
  type Timing,
} from './harness.ts';
import type { ScenarioResult } from './stats.ts';

const main = new URL('../src/main.ts', import.meta.url).pathname;
const baselines = new URL('./baselines/', import.meta.url).pathname;

export interface ScenarioContext {
  quick: boolean;
  timing: Timing;
  databaseUrl: string | null;
}

export interface Scenario {
  name: string;
  goal: string;
  baseline: string;
  ratioGoal: number;
  needs: ('postgres' | 'redis')[];
  run(context: ScenarioContext): Promise<ScenarioResult>;
}

/** A database of its own for one scenario: a temporary SQLite file or a new PostgreSQL schema. */
interface BenchDatabase {
  url: string;
  query(text: string): Promise<Record<string, unknown>[]>;
  drop(): Promise<void>;
}

async function sqliteDatabase(): Promise<BenchDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'portico-bench-'));
  const url = `sqlite:${join(dir, 'bench.sqlite')}`;
  return {
    url,
    async query(text) {
      const db = new DatabaseSync(url.slice('sqlite:'.length));
      try {
        return db.prepare(text).all() as Record<string, unknown>[];
      } finally {
        db.close();
      }
    },
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function postgresDatabase(base: string): Promise<BenchDatabase> {
  const schema = `portico_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    async query(text) {
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        return (await client.query(text)).rows;
      } finally {
        await client.end();
      }
    },
    async drop() {
      const cleanup = new pg.Client({ connectionString: base });
      await cleanup.connect();
      await cleanup.query(`drop schema if exists ${schema} cascade`);
      await cleanup.end();
    },
  };
}

/** Portico as it ships, with a rate limit so high it never refuses but still runs on every request. */
async function startPortico(database: BenchDatabase, env: Record<string, string> = {}): Promise<RunningServer> {
  const port = await freePort();
  return startProcess({
    label: 'portico',
    script: main,
    args: ['serve'],
    port,
    env: {
      DATABASE_URL: database.url,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_ANONYMOUS: '1000000000/1m',
      ...env,
    },
  });
}

interface BenchRedis {
  url: string;
  /** Freezes it (SIGSTOP): it keeps its connections and answers nothing, the worst kind of outage. */
  hang(): void;
  stop(): void;
}

/** A redis-server of the scenario's own, keeping nothing on disk. */
async function startRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const child = spawn('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  const stop = () => {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  };
  process.on('exit', stop);
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.once('error', () => reject(new BenchError('redis-outage needs redis-server on the PATH')));
    child.once('exit', (code) => reject(new BenchError(`redis-server exited (${code}) at start`)));
  });
  return { url: `redis://127.0.0.1:${port}`, hang: () => child.kill('SIGSTOP'), stop };
}

async function startBaseline(script: string, env: Record<string, string>): Promise<RunningServer> {
  return startProcess({ label: script, script: join(baselines, script), args: [], port: await freePort(), env });
}

function seed(database: BenchDatabase, products: number): void {
  runToCompletion('portico seed', main, ['seed', '--products', String(products), '--users', '10', '--seed', '1'], {
    DATABASE_URL: database.url,
    LOG_LEVEL: 'warn',
  });
}

/** The harness measures only like against like: both sides must send the same bytes for the same request. A side
 * that mints ids and timestamps is compared with those masked (`sameness`), and each side gets its own headers. */
async function assertSameBody(
  path: string,
  subject: RunningServer,
  baseline: RunningServer,
  { init = {}, baselineInit = init, status = 200, sameness = (body: string) => body } = {} as {
    init?: RequestInit;
    baselineInit?: RequestInit;
    status?: number;
    sameness?: (body: string) => string;
  },
): Promise<void> {
  const [a, b] = await Promise.all([fetch(subject.url + path, init), fetch(baseline.url + path, baselineInit)]);
  const [bodyA, bodyB] = await Promise.all([a.text(), b.text()]);
  if (a.status !== status || b.status !== status || sameness(bodyA) !== sameness(bodyB)) {
    throw new BenchError(
      `baseline and subject answer ${path} differently (${a.status}/${b.status}); the comparison would be unfair`,
    );
  }
}

async function withDatabase<T>(database: BenchDatabase, servers: RunningServer[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    for (const server of servers) await server.stop();
    await database.drop();
  }
}

const productCount = (quick: boolean) => (quick ? 10_000 : 1_000_000);

/** Portico's limiter still runs on every request with a credential, but the internal tier's burst is raised so
 * high that it never refuses the load (an admin's tier is internal, which has no daily quota). */
const unrefusedInternalTier = { RATE_LIMIT_TIERS: 'internal=none/1000000000' };

interface BenchAdmin {
  id: string;
  email: string;
  password: string;
}

/** An admin made through the CLI before the server starts, as an operator would. */
function createAdmin(database: BenchDatabase): BenchAdmin {
  const admin = { email: 'bench-admin@portico.test', password: 'bench-admin-password' };
  const created = runToCompletion(
    'portico users create',
    main,
    ['users', 'create', '--email', admin.email, '--password', admin.password, '--role', 'admin'],
    { DATABASE_URL: database.url, LOG_LEVEL: 'warn' },
  );
  return { ...admin, id: (JSON.parse(created) as { id: string }).id };
}

/** The admin's secret API key, from `portico keys create` (the secret is its last line). */
function createAdminKey(database: BenchDatabase, admin: BenchAdmin): string {
  const output = runToCompletion('portico keys create', main, ['keys', 'create', '--email', admin.email], {
    DATABASE_URL: database.url,
    LOG_LEVEL: 'warn',
  });
  return output.trim().split('\n').at(-1) ?? '';
}

/** Ids and timestamps are minted per request: two orders are alike when all else is. */
const maskMinted = (body: string) =>
  body.replaceAll(/(ord|evt)_[0-9a-z]{26}/g, '$1_…').replaceAll(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T…');

const authJwt: Scenario = {
  name: 'auth-jwt',
  goal: 'GET / through every edge plugin with a valid access token (JWT verified with jose)',
  baseline: 'bare Fastify returning the same JSON',
  ratioGoal: 0.6,
  needs: [],
  async run(context) {
    const database = await sqliteDatabase();
    const admin = createAdmin(database);
    const subject = await startPortico(database, unrefusedInternalTier);
    const body = await (await fetch(`${subject.url}/`)).text();
    const baseline = await startBaseline('root.ts', { BENCH_BODY: body });
    return withDatabase(database, [subject, baseline], async () => {
      const issued = await fetch(`${subject.url}/v1/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: admin.email, password: admin.password }),
      });
      if (issued.status !== 200) throw new BenchError(`POST /v1/auth/tokens answered ${issued.status}`);
      const { accessToken } = (await issued.json()) as { accessToken: string };
      const headers = { authorization: `Bearer ${accessToken}` };
      await assertSameBody('/', subject, baseline, { init: { headers } });
      const request = { method: 'GET' as const, paths: ['/'], headers };
      return interleave(
        {
          name: this.name,
          goal: this.goal,
          unit: 'req/s',
          baseline: this.baseline,
          ratioGoal: this.ratioGoal,
          subjectRssMiB: null,
          notes: ['an admin (internal tier: no daily quota, burst raised by RATE_LIMIT_TIERS) signs in by password'],
        },
        { server: baseline, request },
        { server: subject, request },
        context.timing,
      );
    });
  },
};

const orderCreate: Scenario = {
  name: 'order-create',
  goal: 'POST /v1/orders (validation, stock decrement, order, outbox event in one transaction) on SQLite, API key',
  baseline: 'bare Fastify + node:sqlite running the same statements in one transaction',
  ratioGoal: 0.5,
  needs: [],
  async run(context) {
    const database = await sqliteDatabase();
    const products = context.quick ? 10_000 : 100_000;
    seed(database, products);
    const admin = createAdmin(database);
    const key = createAdminKey(database, admin);
    const subject = await startPortico(database, unrefusedInternalTier);
    const baseline = await startBaseline('order.ts', { DATABASE_URL: database.url, PUBLIC_URL: subject.url });
    return withDatabase(database, [subject, baseline], async () => {
      const headers = { 'x-api-key': key, 'content-type': 'application/json' };
      // One product with the most stock the catalog allows, so no order of the run is refused for want of it.
      const created = await fetch(`${subject.url}/v1/products`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          name: 'Bench product',
          category: 'bench',
          price: { amount: 1250, currency: 'EUR' },
          stock: 1_000_000_000,
        }),
      });
      if (created.status !== 201) throw new BenchError(`POST /v1/products answered ${created.status}`);
      const product = (await created.json()) as { id: string };
      // No Idempotency-Key: each request is a fresh order.
      const body = JSON.stringify({ customerId: admin.id, items: [{ productId: product.id, quantity: 1 }] });
      await assertSameBody('/v1/orders', subject, baseline, {
        init: { method: 'POST', headers, body },
        status: 201,
        sameness: maskMinted,
      });
      const request = { method: 'POST' as const, paths: ['/v1/orders'], headers, body };
      return interleave(
        {
          name: this.name,
          goal: this.goal,
          unit: 'req/s',
          baseline: this.baseline,
          ratioGoal: this.ratioGoal,
          subjectRssMiB: null,
          notes: [
            `${products} products seeded; one order line per request against one product of 1,000,000,000 in stock; ` +
              "an admin's key (internal tier, burst raised by RATE_LIMIT_TIERS); both sides write the same file",
          ],
        },
        { server: baseline, request },
        { server: subject, request },
        context.timing,
      );
    });
  },
};

function productScenario(name: 'product-sqlite' | 'product-postgres'): Scenario {
  const onPostgres = name === 'product-postgres';
  return {
    name,
    goal: `GET /v1/products/{id} on ${onPostgres ? 'PostgreSQL' : 'SQLite'}, random ids over the seeded set`,
    baseline: `bare Fastify + ${onPostgres ? 'a pg pool' : 'node:sqlite'} reading the same row by primary key`,
    ratioGoal: 0.5,
    needs: onPostgres ? ['postgres'] : [],
    async run(context) {
      const database = onPostgres ? await postgresDatabase(context.databaseUrl ?? '') : await sqliteDatabase();
      const products = context.quick ? 10_000 : 100_000;
      seed(database, products);
      const subject = await startPortico(database);
      const baseline = await startBaseline('product.ts', { DATABASE_URL: database.url, PUBLIC_URL: subject.url });
      return withDatabase(database, [subject, baseline], async () => {
        const ids = (await database.query('select id from products order by id limit 1000')).map((row) =>
          String(row.id),
        );
        const paths = ids.map((id) => `/v1/products/${id}`);
        await assertSameBody(paths[0] ?? '/', subject, baseline);
        const request = { method: 'GET' as const, paths, headers: {} };
        return interleave(
          {
            name,
            goal: this.goal,
            unit: 'req/s',
            baseline: this.baseline,
            ratioGoal: this.ratioGoal,
            subjectRssMiB: null,
            notes: [`${products} products seeded; anonymous until API keys exist (issue 5)`],
          },
          { server: baseline, request },
          { server: subject, request },
          context.timing,
        );
      });
    },
  };
}

export const scenarios: Scenario[] = [
  {
    name: 'root',
    goal: 'GET / through every edge plugin, anonymous',
    baseline: 'bare Fastify returning the same JSON',
    ratioGoal: 0.8,
    needs: [],
    async run(context) {
      const database = await sqliteDatabase();
      const subject = await startPortico(database);
      const body = await (await fetch(`${subject.url}/`)).text();
      const baseline = await startBaseline('root.ts', { BENCH_BODY: body });
      return withDatabase(database, [subject, baseline], async () => {
        await assertSameBody('/', subject, baseline);
        const request = { method: 'GET' as const, paths: ['/'], headers: {} };
        return interleave(
          {
            name: 'root',
            goal: this.goal,
            unit: 'req/s',
            baseline: this.baseline,
            ratioGoal: this.ratioGoal,
            subjectRssMiB: null,
            notes: [],
          },
          { server: baseline, request },
          { server: subject, request },
          context.timing,
        );
      });
    },
  },
  {
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
          const ready = (await (await fetch(`${subject.url}/readyz`)).json()) as { checks: { counters?: string } };
          if (ready.checks.counters !== 'degraded') throw new BenchError('the hung Redis did not open the breaker');
          const request = { method: 'GET' as const, paths: ['/'], headers: {} };
          const result = await interleave(
            {
              name: 'redis-outage',
              goal: this.goal,
              unit: 'req/s',
              baseline: this.baseline,
              ratioGoal: this.ratioGoal,
              subjectRssMiB: null,
              notes: [],
            },
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
  },
  authJwt,
  productScenario('product-sqlite'),
  productScenario('product-postgres'),
  {
    name: 'list-deep',
    goal: 'a cursor page of 20 at the end of the seeded products',
    baseline: 'the first page through the same server',
    ratioGoal: 0.7,
    needs: [],
    async run(context) {
      const database = await sqliteDatabase();
      const count = productCount(context.quick);
      seed(database, count);
      const server = await startPortico(database);
      return withDatabase(database, [server], async () => {
        // The cursor a client holds after walking to the end, made with the server's own key and listing.
        const [secret] = await database.query("select value from app_settings where key = 'cursor-secret'");
        const [deep] = await database.query(
          `select id, created_at from products order by created_at desc, id desc limit 1 offset ${count - 40}`,
        );
        const codec = cursorCodec(String(secret?.value));
        const cursor = codec.encode(listingKey('/v1/products', {}), { field: 'createdAt', order: 'desc' }, 'next', {
          value: String(deep?.created_at),
          id: String(deep?.id),
        });
        const deepPath = `/v1/products?cursor=${encodeURIComponent(cursor)}`;
        const page = (await (await fetch(server.url + deepPath)).json()) as { data: unknown[] };
        if (page.data.length !== 20) throw new BenchError(`the deep page has ${page.data.length} rows, not 20`);
        const result = await interleave(
          {
            name: 'list-deep',
            goal: this.goal,
            unit: 'req/s',
            baseline: this.baseline,
            ratioGoal: this.ratioGoal,
            subjectRssMiB: null,
            notes: [`${count} products${context.quick ? ' (quick run: fewer than the full 1,000,000)' : ''}`],
          },
          { server, request: { method: 'GET', paths: ['/v1/products'], headers: {} } },
          { server, request: { method: 'GET', paths: [deepPath], headers: {} } },
          context.timing,
        );
        const offset = await interleave(
          { ...result, notes: [] },
          { server, request: { method: 'GET', paths: ['/v1/products'], headers: {} } },
          {
            server,
            request: { method: 'GET', paths: [`/v1/products?page=${count / 20 - 1}&perPage=20`], headers: {} },
          },
          { ...context.timing, rounds: 1 },
        );
        result.notes.push(
          `offset paging at the same depth: ${offset.subject.throughput.toFixed(0)} req/s, ratio ${offset.ratio} to the first page`,
        );
        return result;
      });
    },
  },
  orderCreate,
];
