// What every scenario is built from: databases of their own (seeded once per size and copied), Portico and the
// baselines as processes with their whole environment given, an admin and a key made by the CLI, and the check that
// both sides answer the same bytes.

import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { BenchError, freePort, type RunningServer, runToCompletion, startProcess, type Timing } from './harness.ts';
import type { ScenarioResult } from './stats.ts';

export const main = new URL('../src/main.ts', import.meta.url).pathname;
const baselines = new URL('./baselines/', import.meta.url).pathname;

export interface ScenarioContext {
  quick: boolean;
  timing: Timing;
  databaseUrl: string | null;
  redisUrl: string | null;
}

export interface Scenario {
  name: string;
  goal: string;
  baseline: string;
  ratioGoal: number;
  needs: ('postgres' | 'redis')[];
  run(context: ScenarioContext): Promise<ScenarioResult>;
}

/** A database of one scenario's own: a temporary SQLite file or a new PostgreSQL schema. */
export interface BenchDatabase {
  url: string;
  query(text: string): Promise<Record<string, unknown>[]>;
  drop(): Promise<void>;
}

const sqlitePath = (url: string) => url.slice('sqlite:'.length);

export async function sqliteDatabase(): Promise<BenchDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'portico-bench-'));
  const url = `sqlite:${join(dir, 'bench.sqlite')}`;
  return {
    url,
    async query(text) {
      const db = new DatabaseSync(sqlitePath(url));
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

function seed(database: BenchDatabase, products: number): void {
  runToCompletion('portico seed', main, ['seed', '--products', String(products), '--users', '10', '--seed', '1'], {
    DATABASE_URL: database.url,
    LOG_LEVEL: 'warn',
  });
}

/** Seeded SQLite files by product count, made once per run: seeding a million products takes a while. */
const seededTemplates = new Map<number, BenchDatabase>();
process.on('exit', () => {
  for (const template of seededTemplates.values()) rmSync(join(sqlitePath(template.url), '..'), { recursive: true });
});

/** A database of its own holding `products` products seeded by `portico seed --seed 1` (deterministic). */
export async function seededDatabase(
  kind: 'sqlite' | 'postgres',
  products: number,
  context: ScenarioContext,
): Promise<BenchDatabase> {
  if (kind === 'postgres') {
    const database = await postgresDatabase(context.databaseUrl ?? '');
    seed(database, products);
    return database;
  }
  let template = seededTemplates.get(products);
  if (!template) {
    template = await sqliteDatabase();
    seed(template, products);
    seededTemplates.set(products, template);
  }
  return copyOf(template);
}

/** A copy of a SQLite database no server has open, for a side that must not share the subject's file. */
export async function copyOf(database: BenchDatabase): Promise<BenchDatabase> {
  const copy = await sqliteDatabase();
  for (const suffix of ['', '-wal']) {
    const from = sqlitePath(database.url) + suffix;
    if (existsSync(from)) copyFileSync(from, sqlitePath(copy.url) + suffix);
  }
  return copy;
}

/** Portico as it ships, with a rate limit so high it never refuses but still runs on every request. */
export async function startPortico(database: BenchDatabase, env: Record<string, string> = {}): Promise<RunningServer> {
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

export async function startBaseline(script: string, env: Record<string, string>): Promise<RunningServer> {
  return startProcess({ label: script, script: join(baselines, script), args: [], port: await freePort(), env });
}

/** The harness measures only like against like: both sides must send the same bytes for the same request. A side
 * that mints ids and timestamps is compared with those masked (`sameness`), and each side gets its own headers. */
export async function assertSameBody(
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

/** Runs `work`, then stops the servers and drops the databases whatever happened. */
export async function withDatabase<T>(
  databases: BenchDatabase | BenchDatabase[],
  servers: RunningServer[],
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } finally {
    for (const server of servers) await server.stop();
    for (const database of [databases].flat()) await database.drop();
  }
}

/** Portico's limiter still runs on every request with a credential, but the internal tier's burst is raised so
 * high that it never refuses the load (an admin's tier is internal, which has no daily quota). */
export const unrefusedInternalTier = { RATE_LIMIT_TIERS: 'internal=none/1000000000' };

export interface BenchAdmin {
  id: string;
  email: string;
  password: string;
}

/** An admin made through the CLI before the server starts, as an operator would. */
export function createAdmin(database: BenchDatabase): BenchAdmin {
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
export function createAdminKey(database: BenchDatabase, admin: BenchAdmin): string {
  const output = runToCompletion('portico keys create', main, ['keys', 'create', '--email', admin.email], {
    DATABASE_URL: database.url,
    LOG_LEVEL: 'warn',
  });
  return output.trim().split('\n').at(-1) ?? '';
}
