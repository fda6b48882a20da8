// Shared fixtures: the real server on a real port, on a fresh SQLite file or its own PostgreSQL schema.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { EventBus } from '../src/adapters/bus/port.ts';
import { memoryKeyValue } from '../src/adapters/kv/memory.ts';
import { buildApp } from '../src/app.ts';
import { freePort } from '../src/cli/free-port.ts';
import { type Config, loadConfig } from '../src/config.ts';
import { publicRoutes } from '../src/edge/public-routes.ts';
import { type Clock, systemClock } from '../src/kernel/clock.ts';
import { newId } from '../src/kernel/ids.ts';
import { apiKeysService } from '../src/modules/identity/api-keys/index.ts';
import { buildUser, insertUsers, usersService } from '../src/modules/users/index.ts';
import { openStorage, type Storage } from '../src/storage/database.ts';
import { migrateToLatest } from '../src/storage/migrate.ts';

export { freePort };

export type StorageKind = 'sqlite' | 'postgres';

const servicesRequired = process.env.PORTICO_REQUIRE_SERVICES === '1';

/** The URL of a service the suite needs, or null to skip; with PORTICO_REQUIRE_SERVICES=1 a missing one fails. */
export function serviceUrl(variable: 'TEST_DATABASE_URL' | 'TEST_REDIS_URL' | 'TEST_AMQP_URL'): string | null {
  const url = process.env[variable];
  if (url) return url;
  if (servicesRequired) throw new Error(`${variable} is not set, and PORTICO_REQUIRE_SERVICES=1 requires it.`);
  return null;
}

/** Storages to run a suite on: SQLite always, PostgreSQL when TEST_DATABASE_URL is set. */
export function storageKinds(): StorageKind[] {
  return serviceUrl('TEST_DATABASE_URL') ? ['sqlite', 'postgres'] : ['sqlite'];
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A database no other test run sees: a temporary SQLite file, or a new PostgreSQL schema. */
export async function testDatabase(kind: StorageKind): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'portico-test-'));
    return { url: `sqlite:${join(dir, 'portico.sqlite')}`, drop: () => rm(dir, { recursive: true, force: true }) };
  }
  const base = serviceUrl('TEST_DATABASE_URL');
  if (!base) throw new Error('TEST_DATABASE_URL is not set');
  const schema = `portico_test_${randomBytes(6).toString('hex')}`;
  const admin = openStorage(base);
  await sql`create schema ${sql.id(schema)}`.execute(admin.db);
  await admin.close();
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    async drop() {
      const cleanup = openStorage(base);
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(cleanup.db);
      await cleanup.close();
    },
  };
}

/** Opens and migrates a fresh test database. */
export async function testStorage(kind: StorageKind): Promise<{ storage: Storage; close(): Promise<void> }> {
  const database = await testDatabase(kind);
  const storage = openStorage(database.url);
  await migrateToLatest(storage);
  return {
    storage,
    async close() {
      await storage.close();
      await database.drop();
    },
  };
}

/** Who a request is made as: the headers that carry its credential. */
export interface Credential {
  userId: string;
  headers: Record<string, string>;
}

export interface TestServer {
  url: string;
  app: FastifyInstance;
  storage: Storage;
  config: Config;
  /** An admin with a secret API key, made for the suite's own setup and checks. */
  admin: Credential;
  close(): Promise<void>;
}

/**
 * An admin user and a secret API key of theirs, written as `portico users create` and `portico keys create` would:
 * the user by bulk insert (so no `user.created` event joins what a suite counts), the key through its service.
 */
export async function fixtureAdmin(storage: Storage, clock: Clock = systemClock): Promise<Credential> {
  const now = clock();
  const user = buildUser(
    { email: `admin-${randomBytes(6).toString('hex')}@fixture.test`, name: 'Fixture Admin', role: 'admin' },
    { id: newId('usr', now.getTime()), version: 1, createdAt: now.toISOString(), updatedAt: now.toISOString() },
  );
  await insertUsers(storage.db, [user]);
  const { secret } = await apiKeysService(
    storage,
    clock,
    usersService(storage, clock),
    memoryKeyValue(),
  ).createForOwner(user.id, {
    name: 'test fixture',
  });
  return { userId: user.id, headers: { authorization: `Bearer ${secret}` } };
}

export interface ServerOptions {
  storage?: StorageKind;
  /** Extra environment, as a deployment would set it. */
  env?: Record<string, string>;
  clock?: Clock;
  /** Sees every SQL statement the server runs, to count queries. */
  onQuery?: (sql: string) => void;
  /**
   * A database the caller made (testDatabase) and drops, so several servers can share it as separate processes
   * would (each server migrates it if needed). Without it each server gets a fresh database of its own.
   */
  databaseUrl?: string;
  /** Adds routes before the server starts, to exercise policies that apply to every route. */
  routes?: (app: FastifyInstance) => void;
  /** Routes of `routes` that anyone may call, as `METHOD path` (edge/public-routes.ts). */
  publicRoutes?: string[];
  /** The event bus the outbox relay publishes to, for suites that watch what it publishes. */
  bus?: EventBus;
  /** False for suites that drive their own webhook worker (on a simulated clock). */
  webhookWorker?: boolean;
}

/** Starts the whole application on 127.0.0.1; links in responses point at the real port. */
export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const database: TestDatabase = options.databaseUrl
    ? { url: options.databaseUrl, drop: async () => {} }
    : await testDatabase(options.storage ?? 'sqlite');
  const storage = openStorage(database.url, options.onQuery ? { onQuery: options.onQuery } : {});
  await migrateToLatest(storage);
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const config = loadConfig({
      DATABASE_URL: database.url,
      PORT: String(port),
      LOG_LEVEL: 'silent',
      // Suites make many requests from one address and as one caller; the rate-limit suites set their own limits.
      RATE_LIMIT_ANONYMOUS: '1000000/1m',
      RATE_LIMIT_TIERS:
        'free=none/1000000,basic=none/1000000,pro=none/1000000,enterprise=none/1000000,internal=none/1000000',
      ...options.env,
    });
    const app = await buildApp({
      config,
      storage,
      publicRoutes: [...publicRoutes, ...(options.publicRoutes ?? [])],
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.bus ? { bus: options.bus } : {}),
      ...(options.webhookWorker === undefined ? {} : { webhookWorker: options.webhookWorker }),
    });
    options.routes?.(app);
    try {
      await app.listen({ host: '127.0.0.1', port });
    } catch (error) {
      await app.close();
      // Another process took the probed port between the probe and the listen: try another.
      if ((error as { code?: string }).code === 'EADDRINUSE' && attempt < 5) continue;
      throw error;
    }
    return {
      url: `${config.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
      admin: await fixtureAdmin(storage, options.clock),
      app,
      storage,
      config,
      async close() {
        await app.close();
        await storage.close();
        await database.drop();
      },
    };
  }
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies freely and assert on them.
  body: T extends unknown ? any : T;
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as is, without JSON encoding. */
  raw?: string | Uint8Array;
  headers?: Record<string, string>;
}

/** Whether the request names its own credential (or its lack: `authorization: ''` sends none). */
const carriesCredential = (headers: Record<string, string>) =>
  Object.keys(headers).some((name) => ['authorization', 'x-api-key', 'cookie'].includes(name.toLowerCase()));

/**
 * A small client over the real socket: JSON in, JSON (or text) out. Given a server, requests go as its admin
 * unless they carry a credential of their own; given a URL, they go anonymous.
 */
export function client(target: string | TestServer) {
  const baseUrl = typeof target === 'string' ? target : target.url;
  const defaults = typeof target === 'string' ? {} : target.admin.headers;
  return async function request(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
    const given = { ...options.headers };
    const headers: Record<string, string> = carriesCredential(given) ? given : { ...defaults, ...given };
    if (headers.authorization === '') delete headers.authorization;
    let body: string | Uint8Array | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(path.startsWith('http') ? path : `${baseUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  };
}

/** Asserts the CONTRACT's error envelope and returns its error object. */
export function expectEnvelope(response: ApiResponse, status: number, code: string) {
  const problems: string[] = [];
  if (response.status !== status) problems.push(`status ${response.status}, expected ${status}`);
  const error = response.body?.error;
  if (!error) problems.push('no error envelope');
  else {
    if (error.code !== code) problems.push(`code ${error.code}, expected ${code}`);
    if (typeof error.requestId !== 'string' || error.requestId !== response.headers.get('x-request-id')) {
      problems.push('requestId missing or not the X-Request-Id header');
    }
    if (!Array.isArray(error.details)) problems.push('details is not an array');
    if (typeof error.documentationUrl !== 'string' || !error.documentationUrl.endsWith(`#${code}`))
      problems.push('documentationUrl does not name the code');
  }
  if (problems.length > 0) throw new Error(`${problems.join('; ')}\n${response.text}`);
  return error;
}

/** How many rows a table holds. */
export async function countRows(storage: Storage, table: string): Promise<number> {
  const result = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(storage.db);
  return Number(result.rows[0]?.n);
}

/** The types of the outbox events about one aggregate, in the order they were written. */
export async function eventTypesOf(storage: Storage, aggregateId: string): Promise<string[]> {
  const result = await sql<{ type: string }>`select type from outbox where aggregate_id = ${aggregateId}
    order by position`.execute(storage.db);
  return result.rows.map((row) => row.type);
}

/**
 * Whether a statement is bookkeeping about the caller rather than the work of the request: its API key (read per
 * request, its last-used time written at most once a minute) and the count of its calls to a deprecated version
 * (written a second after they happen), the outbox relay's polling, and the webhook fan-out and worker (which
 * run beside requests). Suites that count a request's queries leave these out, so their timing on a slow machine
 * does not change the count.
 */
export const isBookkeeping = (statement: string): boolean =>
  /\b(api_key|deprecated_calls)|"published_at" (is null|=)|outbox-relay|"webhook_(endpoints|deliveries|attempts)"/.test(
    statement,
  );
