// Bulk loading of seeded users, products, posts and comments, fast enough for a million rows: multi-row INSERTs
// inside large transactions, written through each module's own batch insert (modules own their tables).
//
// Seeding writes no outbox events: it is bulk loading of a data set, not domain activity that anyone subscribed to
// should hear about; a million `product.created` events would only flood the relay and every webhook.
import { sql } from 'kysely';
import { systemClock } from '../kernel/clock.ts';
import type { PageRequest } from '../kernel/pagination.ts';
import { insertProducts, type ProductRecord, productsService } from '../modules/catalog/index.ts';
import { insertComments, insertPosts } from '../modules/content/index.ts';
import { setPassword } from '../modules/identity/accounts/index.ts';
import { insertOrders, type OrderRecord } from '../modules/orders/index.ts';
import { insertUsers, type UserRecord, usersService } from '../modules/users/index.ts';
import type { AnyDb, Storage } from '../storage/database.ts';
import { isUniqueViolation } from '../storage/errors.ts';
import { generateOrders, generatePosts, generateProducts, generateUsers, type SeededPost } from './records.ts';

export interface SeedPlan {
  seed: number;
  users: number;
  products: number;
  /** Posts, written by the plan's users, each with its comments. */
  posts: number;
  /** Orders, placed by the plan's users for its products. */
  orders: number;
}

export interface SeedProgress {
  kind: 'users' | 'products' | 'posts' | 'orders';
  written: number;
  total: number;
}

/**
 * Rows per INSERT: 250 rows of about ten columns stay well under the bound-parameter limits of SQLite (32,766) and
 * PostgreSQL (65,535), while one statement still carries many rows.
 */
const rowsPerInsert = 250;
/** Rows per transaction: few enough commits to be fast, small enough that one transaction's journal stays modest. */
const rowsPerTransaction = 25_000;

/** Page cache for a bulk load on SQLite, in KiB (a negative cache_size is KiB, not pages). */
const bulkCacheKib = 256 * 1024;

/** The small data set the first start of a fresh database gets. */
export const demoPlan: SeedPlan = { seed: 1, users: 8, products: 40, posts: 12, orders: 20 };

export class SeedConflictError extends Error {
  constructor(seed: number) {
    super(
      `seed ${seed} has already written rows to this database; choose another --seed or start from an empty database`,
    );
    this.name = 'SeedConflictError';
  }
}

async function insertInBatches<T>(db: AnyDb, rows: T[], insert: (db: AnyDb, batch: T[]) => Promise<void>) {
  for (let start = 0; start < rows.length; start += rowsPerInsert) {
    await insert(db, rows.slice(start, start + rowsPerInsert));
  }
}

/**
 * Writers, commenters and customers come from the first seeded users, and orders from the first seeded products:
 * a few people write and buy, many only read, and a million-row catalog need not be held in memory to draw from.
 */
const maxActors = 500;
const maxOrderedProducts = 2_000;

function firstOf<T>(rows: Iterable<T>, take: number): T[] {
  const first: T[] = [];
  for (const row of rows) {
    if (first.length === take) break;
    first.push(row);
  }
  return first;
}

const actorsOf = (plan: SeedPlan): string[] =>
  firstOf(generateUsers(plan.seed, plan.users), maxActors).map((user) => user.id);

const ordersOf = (plan: SeedPlan): Generator<OrderRecord> =>
  generateOrders(
    plan.seed,
    plan.orders,
    actorsOf(plan),
    firstOf(generateProducts(plan.seed, plan.products), maxOrderedProducts),
  );

/** A batch of posts, then their comments (which reference them). */
async function insertSeededPosts(db: AnyDb, batch: SeededPost[]): Promise<void> {
  await insertPosts(
    db,
    batch.map((seeded) => seeded.post),
  );
  await insertComments(
    db,
    batch.flatMap((seeded) => seeded.comments),
  );
}

async function load<T>(
  storage: Storage,
  kind: SeedProgress['kind'],
  rows: Iterator<T>,
  total: number,
  insert: (db: AnyDb, batch: T[]) => Promise<void>,
  onProgress: (progress: SeedProgress) => void,
): Promise<void> {
  let written = 0;
  for (;;) {
    const chunk: T[] = [];
    for (let next = rows.next(); !next.done; next = rows.next()) {
      chunk.push(next.value);
      if (chunk.length === rowsPerTransaction) break;
    }
    if (chunk.length === 0) return;
    await storage.db.transaction().execute((trx) => insertInBatches(trx, chunk, insert));
    written += chunk.length;
    onProgress({ kind, written, total });
  }
}

/**
 * Two SQLite settings for the load, put back afterwards (the connection may be a running server's):
 * 1. a page cache of 256 MiB instead of 2 MiB, since the indexes of a million rows are far larger than the default
 *    and each batch would otherwise read and rewrite index pages through the OS;
 * 2. statement journals in memory: each multi-row INSERT inside a transaction keeps one in case it must roll back
 *    alone, and on disk that journal cost more writes than the rows themselves.
 * Together they more than halve the time of a million-row seed.
 */
async function tuneSqliteForBulkLoad(storage: Storage): Promise<() => Promise<void>> {
  if (storage.dialect !== 'sqlite') return async () => {};
  const read = async (pragma: 'cache_size' | 'temp_store') =>
    Number(Object.values((await sql.raw(`pragma ${pragma}`).execute(storage.db)).rows[0] ?? {})[0]);
  const previous = { cacheSize: await read('cache_size'), tempStore: await read('temp_store') };
  await sql.raw(`pragma cache_size = -${bulkCacheKib}`).execute(storage.db);
  await sql.raw('pragma temp_store = memory').execute(storage.db);
  return async () => {
    await sql.raw(`pragma cache_size = ${previous.cacheSize}`).execute(storage.db);
    await sql.raw(`pragma temp_store = ${previous.tempStore}`).execute(storage.db);
  };
}

/** Writes the plan's rows; the same plan on an empty database always writes the same rows. */
export async function seedDatabase(
  storage: Storage,
  plan: SeedPlan,
  onProgress: (progress: SeedProgress) => void = () => {},
): Promise<void> {
  const restoreSettings = await tuneSqliteForBulkLoad(storage);
  try {
    await load<UserRecord>(storage, 'users', generateUsers(plan.seed, plan.users), plan.users, insertUsers, onProgress);
    await load<ProductRecord>(
      storage,
      'products',
      generateProducts(plan.seed, plan.products),
      plan.products,
      insertProducts,
      onProgress,
    );
    if (plan.posts > 0) {
      await load<SeededPost>(
        storage,
        'posts',
        generatePosts(plan.seed, plan.posts, actorsOf(plan)),
        plan.posts,
        insertSeededPosts,
        onProgress,
      );
    }
    if (plan.orders > 0)
      await load<OrderRecord>(storage, 'orders', ordersOf(plan), plan.orders, insertOrders, onProgress);
  } catch (error) {
    // Seeded ids and emails derive from the seed, so a clash means this seed already ran here.
    if (isUniqueViolation(error)) throw new SeedConflictError(plan.seed);
    throw error;
  } finally {
    await restoreSettings();
  }
}

const firstRow: PageRequest = {
  mode: 'cursor',
  limit: 1,
  sort: { field: 'createdAt', order: 'asc' },
  position: null,
  direction: 'next',
};

/** True when the database holds no users and no products: a fresh install. */
export async function isDatabaseEmpty(storage: Storage): Promise<boolean> {
  const [users, products] = await Promise.all([
    usersService(storage, systemClock).list({}, firstRow),
    productsService(storage, systemClock).list({}, firstRow),
  ]);
  return users.items.length === 0 && products.items.length === 0;
}

/**
 * Seeds the demo set into an empty database, in one transaction. Returns false when another process starting
 * on the same database at the same moment seeded it first (the demo's rows are the same, so its ids clash).
 */
export async function seedDemo(storage: Storage): Promise<boolean> {
  try {
    const admin = demoAdmin();
    const users = [...generateUsers(demoPlan.seed, demoPlan.users)].map((user) =>
      user.id === admin.id ? admin : user,
    );
    await storage.db.transaction().execute(async (trx) => {
      await insertInBatches(trx, users, insertUsers);
      await setPassword(trx, admin.id, demoAdminPassword);
      await insertInBatches(trx, [...generateProducts(demoPlan.seed, demoPlan.products)], insertProducts);
      await insertSeededPosts(trx, [...generatePosts(demoPlan.seed, demoPlan.posts, actorsOf(demoPlan))]);
      await insertInBatches(trx, [...ordersOf(demoPlan)], insertOrders);
    });
    return true;
  } catch (error) {
    if (isUniqueViolation(error)) return false;
    throw error;
  }
}

/**
 * The demo's password for its admin, printed at the first start: a well-known password is what a demo needs, and
 * the demo set is for a local first look, never a deployment.
 */
export const demoAdminPassword = 'portico-demo-admin';

/** The demo's first user, an admin who can sign in (always active, whatever the seeded status). */
export function demoAdmin(): UserRecord {
  const admin = generateUsers(demoPlan.seed, demoPlan.users).next();
  if (admin.done) throw new Error('the demo set has no users');
  return { ...admin.value, status: 'active' };
}
