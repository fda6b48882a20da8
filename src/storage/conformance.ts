// The storage port's conformance suite: the same tests on SQLite and PostgreSQL (STYLE §6), over the real tables.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Kysely, type KyselyPlugin, sql } from 'kysely';
import { type StorageKind, storageKinds, testDatabase, testStorage } from '../../test/helpers.ts';
import { ApiError } from '../kernel/errors.ts';
import { newId } from '../kernel/ids.ts';
import type { KeysetPosition, PageRequest, Sort, SortOrder } from '../kernel/pagination.ts';
import { usersService } from '../modules/users/index.ts';
import { compiledOnce } from './compiled-once.ts';
import { type AnyDb, openStorage, type Storage } from './database.ts';
import { isUniqueViolation } from './errors.ts';
import { migrateToLatest, migrationNames } from './migrate.ts';
import { appendEvent, domainEvent, type OutboxTable } from './outbox.ts';
import { paginate } from './paginate.ts';
import { sharedSecret } from './settings.ts';

interface ProductRow {
  id: string;
  name: string;
  description: string | null;
  category: string;
  price_amount: number;
  price_currency: string;
  stock: number;
  status: string;
  version: number;
  created_at: string;
  updated_at: string;
}

interface UserRow {
  id: string;
  email: string;
  email_key: string;
  name: string;
  role: string;
  status: string;
  location: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

type Tables = OutboxTable & { products: ProductRow; users: UserRow };

const tables = (storage: Storage): Kysely<Tables> => storage.db.withTables<Tables>();

const stamp = '2030-05-06T07:08:09.123Z';

function productRow(overrides: Partial<ProductRow> = {}): ProductRow {
  return {
    id: newId('prd'),
    name: 'walnut desk',
    description: null,
    category: 'desks',
    price_amount: 12_500,
    price_currency: 'EUR',
    stock: 3,
    status: 'active',
    version: 1,
    created_at: stamp,
    updated_at: stamp,
    ...overrides,
  };
}

function userRow(email: string, overrides: Partial<UserRow> = {}): UserRow {
  return {
    id: newId('usr'),
    email,
    email_key: email.toLowerCase(),
    name: 'Ada',
    role: 'customer',
    status: 'active',
    location: null,
    version: 1,
    created_at: stamp,
    updated_at: stamp,
    ...overrides,
  };
}

/** The error a promise rejects with; fails when it resolves. */
async function rejection(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  assert.fail('expected the operation to fail');
}

async function count(storage: Storage, table: 'products' | 'users' | 'outbox'): Promise<number> {
  const row = await tables(storage)
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return row.n;
}

export function storageConformance(kind: StorageKind): void {
  describe(`storage conformance on ${kind}`, () => {
    let storage: Storage;
    let closeStorage: () => Promise<void>;
    before(async () => {
      ({ storage, close: closeStorage } = await testStorage(kind));
    });
    after(() => closeStorage());

    describe('migrations', () => {
      test('a new database is migrated by the first run, and later runs apply nothing', async () => {
        const database = await testDatabase(kind);
        try {
          const first = openStorage(database.url);
          assert.deepEqual(await migrateToLatest(first), { applied: migrationNames });
          assert.deepEqual(await migrateToLatest(first), { applied: [] });
          await first.close();
          // A process started later on the same database.
          const second = openStorage(database.url);
          assert.deepEqual(await migrateToLatest(second), { applied: [] });
          assert.equal(await count(second, 'products'), 0);
          await second.close();
        } finally {
          await database.drop();
        }
      });

      test('several processes migrating one new database at once all succeed, and it is migrated once', async () => {
        const database = await testDatabase(kind);
        const handles = [openStorage(database.url), openStorage(database.url), openStorage(database.url)];
        try {
          const reports = await Promise.all(handles.map((handle) => migrateToLatest(handle)));
          assert.deepEqual(reports.flatMap((report) => report.applied).sort(), migrationNames);
          await tables(handles[0] as Storage)
            .insertInto('products')
            .values(productRow())
            .execute();
          assert.equal(await count(handles[2] as Storage, 'products'), 1);
        } finally {
          for (const handle of handles) await handle.close();
          await database.drop();
        }
      });
    });

    describe('values', () => {
      test('timestamps come back as the ISO 8601 UTC strings they were written as', async () => {
        const instants = [
          '2030-05-06T07:08:09.123Z',
          '2024-02-29T23:59:59.999Z',
          '1970-01-01T00:00:00.000Z',
          '1900-01-01T00:00:00.000Z',
          '0099-06-01T12:00:00.000Z',
          '2999-12-31T23:59:59.999Z',
        ];
        const rows = instants.map((instant) => productRow({ created_at: instant, updated_at: instant }));
        await tables(storage).insertInto('products').values(rows).execute();
        for (const row of rows) {
          const read = await tables(storage)
            .selectFrom('products')
            .select(['created_at', 'updated_at'])
            .where('id', '=', row.id)
            .executeTakeFirstOrThrow();
          assert.deepEqual({ ...read }, { created_at: row.created_at, updated_at: row.created_at });
        }
      });

      test('a Date written to a timestamp column is read back as its ISO 8601 UTC string', async () => {
        const at = new Date('2031-01-02T03:04:05.678Z');
        const row = productRow();
        await tables(storage)
          .insertInto('products')
          .values({ ...row, created_at: at as unknown as string })
          .execute();
        const read = await tables(storage)
          .selectFrom('products')
          .select('created_at')
          .where('id', '=', row.id)
          .executeTakeFirstOrThrow();
        assert.equal(read.created_at, '2031-01-02T03:04:05.678Z');
      });

      test('integer columns, bigint included, and counts come back as numbers', async () => {
        const row = productRow({ price_amount: Number.MAX_SAFE_INTEGER, stock: 2_147_483_647, version: 7 });
        await tables(storage).insertInto('products').values(row).execute();
        const read = await tables(storage)
          .selectFrom('products')
          .select(['price_amount', 'stock', 'version'])
          .where('id', '=', row.id)
          .executeTakeFirstOrThrow();
        assert.deepEqual({ ...read }, { price_amount: Number.MAX_SAFE_INTEGER, stock: 2_147_483_647, version: 7 });
        assert.equal(typeof (await count(storage, 'products')), 'number');
      });
      test('rows read by named columns or by *, before and after another process changes the table, name every value right', async () => {
        const database = await testDatabase(kind);
        const [server, migrator] = [openStorage(database.url), openStorage(database.url)];
        try {
          await sql`create table shapes (id text primary key, a text, b integer)`.execute(migrator.db);
          await sql`insert into shapes values ('one', 'first', 1), ('two', 'second', 2)`.execute(migrator.db);
          const named = () => sql<Record<string, unknown>>`select id, b from shapes order by id`.execute(server.db);
          const whole = () => sql<Record<string, unknown>>`select * from shapes order by id`.execute(server.db);
          const plain = async (read: typeof named) => (await read()).rows.map((row) => ({ ...row }));
          assert.deepEqual(await plain(named), [
            { id: 'one', b: 1 },
            { id: 'two', b: 2 },
          ]);
          assert.deepEqual(await plain(whole), [
            { id: 'one', a: 'first', b: 1 },
            { id: 'two', a: 'second', b: 2 },
          ]);
          // A migration that drops one column and adds another keeps the count: the server's statements, prepared
          // before it, must not put the new values under the old names.
          await sql`alter table shapes drop column a`.execute(migrator.db);
          await sql`alter table shapes add column c text`.execute(migrator.db);
          await sql`update shapes set c = 'new ' || id`.execute(migrator.db);
          assert.deepEqual(await plain(whole), [
            { id: 'one', b: 1, c: 'new one' },
            { id: 'two', b: 2, c: 'new two' },
          ]);
          assert.deepEqual(await plain(named), [
            { id: 'one', b: 1 },
            { id: 'two', b: 2 },
          ]);
          // Streamed rows are made as read ones are (pg streams only through a cursor, which this code base does
          // not use).
          if (kind === 'sqlite') {
            const streamed: Record<string, unknown>[] = [];
            const query = server.db
              .withTables<{ shapes: { id: string; b: number; c: string } }>()
              .selectFrom('shapes')
              .select(['id', 'c'])
              .orderBy('id');
            for await (const row of query.stream()) streamed.push({ ...row });
            assert.deepEqual(streamed, [
              { id: 'one', c: 'new one' },
              { id: 'two', c: 'new two' },
            ]);
          }
        } finally {
          await server.close();
          await migrator.close();
          await database.drop();
        }
      });
    });

    describe('unique violations', () => {
      test('a duplicate unique column is recognised, and named by that column only', async () => {
        await tables(storage).insertInto('users').values(userRow('grace@example.com')).execute();
        const error = await rejection(
          tables(storage).insertInto('users').values(userRow('Grace@Example.com')).execute(),
        );
        assert.equal(isUniqueViolation(error), true);
        assert.equal(isUniqueViolation(error, 'email_key'), true);
        for (const other of ['id', 'email', 'key', 'name', 'grace']) {
          assert.equal(isUniqueViolation(error, other), false, `column ${other}`);
        }
      });

      test('a duplicate primary key is recognised as a violation on id', async () => {
        const row = productRow();
        await tables(storage).insertInto('products').values(row).execute();
        const error = await rejection(
          tables(storage)
            .insertInto('products')
            .values({ ...row, name: 'another' })
            .execute(),
        );
        assert.equal(isUniqueViolation(error), true);
        assert.equal(isUniqueViolation(error, 'id'), true);
        assert.equal(isUniqueViolation(error, 'name'), false);
      });

      test('other failures are not unique violations', async () => {
        const failures = [
          rejection(sql`insert into users (id) values (${newId('usr')})`.execute(storage.db)),
          rejection(sql`select * from no_such_table`.execute(storage.db)),
          rejection(sql`selec 1`.execute(storage.db)),
        ];
        for (const error of await Promise.all(failures)) {
          assert.equal(isUniqueViolation(error), false, String(error));
          assert.equal(isUniqueViolation(error, 'id'), false, String(error));
        }
        for (const value of [
          null,
          undefined,
          'UNIQUE constraint failed: users.id',
          new Error('duplicate key'),
          23505,
        ]) {
          assert.equal(isUniqueViolation(value), false, String(value));
        }
      });

      test('a second user with the same email in other case is a CONFLICT, and leaves no row or event', async () => {
        const users = usersService(storage, () => new Date(stamp));
        await users.create({ email: 'linus@example.com', name: 'Linus' });
        const [usersBefore, eventsBefore] = [await count(storage, 'users'), await count(storage, 'outbox')];
        const error = await rejection(users.create({ email: 'LINUS@example.com', name: 'Other' }));
        assert.ok(error instanceof ApiError, String(error));
        assert.equal(error.code, 'CONFLICT');
        assert.deepEqual(
          error.details.map((detail) => detail.field),
          ['email'],
        );
        assert.equal(await count(storage, 'users'), usersBefore);
        assert.equal(await count(storage, 'outbox'), eventsBefore);
      });
    });

    describe('transactions', () => {
      const event = (id: string) => domainEvent('product.created', { type: 'product', id }, { id }, new Date(stamp));

      test('a transaction that completes commits its rows and its outbox event together', async () => {
        const row = productRow();
        const eventsBefore = await count(storage, 'outbox');
        await storage.db.transaction().execute(async (trx) => {
          await trx.withTables<Tables>().insertInto('products').values(row).execute();
          await appendEvent(trx, event(row.id));
        });
        const found = await tables(storage).selectFrom('products').select('id').where('id', '=', row.id).execute();
        assert.equal(found.length, 1);
        const events = await tables(storage)
          .selectFrom('outbox')
          .select(['aggregate_id', 'payload'])
          .where('aggregate_id', '=', row.id)
          .execute();
        assert.equal(events.length, 1);
        assert.deepEqual(JSON.parse(String(events[0]?.payload)), { id: row.id });
        assert.equal(await count(storage, 'outbox'), eventsBefore + 1);
      });

      test('a transaction that throws leaves neither its rows nor its outbox event behind', async () => {
        const row = productRow();
        const [productsBefore, eventsBefore] = [await count(storage, 'products'), await count(storage, 'outbox')];
        const error = await rejection(
          storage.db.transaction().execute(async (trx) => {
            await trx.withTables<Tables>().insertInto('products').values(row).execute();
            await appendEvent(trx, event(row.id));
            throw new Error('the service found a rule broken');
          }),
        );
        assert.match(String(error), /rule broken/);
        assert.equal(await count(storage, 'products'), productsBefore);
        assert.equal(await count(storage, 'outbox'), eventsBefore);
      });

      test('a transaction whose last statement fails undoes every statement before it', async () => {
        const existing = productRow();
        await tables(storage).insertInto('products').values(existing).execute();
        const [productsBefore, eventsBefore] = [await count(storage, 'products'), await count(storage, 'outbox')];
        const fresh = productRow();
        const error = await rejection(
          storage.db.transaction().execute(async (trx) => {
            await trx.withTables<Tables>().insertInto('products').values(fresh).execute();
            await appendEvent(trx, event(fresh.id));
            await trx.withTables<Tables>().insertInto('products').values(existing).execute();
          }),
        );
        assert.equal(isUniqueViolation(error, 'id'), true);
        assert.equal(await count(storage, 'products'), productsBefore);
        assert.equal(await count(storage, 'outbox'), eventsBefore);
      });

      test('concurrent transactions each commit their own rows and events', async () => {
        const [productsBefore, eventsBefore] = [await count(storage, 'products'), await count(storage, 'outbox')];
        const rows = Array.from({ length: 20 }, () => productRow());
        await Promise.all(
          rows.map((row) =>
            storage.db.transaction().execute(async (trx) => {
              await trx.withTables<Tables>().insertInto('products').values(row).execute();
              await appendEvent(trx, event(row.id));
            }),
          ),
        );
        assert.equal(await count(storage, 'products'), productsBefore + rows.length);
        assert.equal(await count(storage, 'outbox'), eventsBefore + rows.length);
      });
    });

    describe('queries compiled once', () => {
      // Two placeholders and a constant (stock > 0), which stays bound on every call.
      const inStock = compiledOnce((db, category: string, status: string) =>
        db
          .withTables<Tables>()
          .selectFrom('products')
          .select('id')
          .where('category', '=', category)
          .where('stock', '>', 0)
          .where('status', '=', status)
          .orderBy('id'),
      );
      const category = () => `compiled-${newId('prd').slice(-10)}`;

      test('each call runs with its own values, and the constants of the query stay as written', async () => {
        const [desks, lamps] = [category(), category()];
        const rows = [
          productRow({ category: desks }),
          productRow({ category: desks, stock: 0 }),
          productRow({ category: desks, status: 'archived' }),
          productRow({ category: lamps }),
        ];
        await tables(storage).insertInto('products').values(rows).execute();
        const ids = async (...values: [string, string]) => (await inStock(storage.db, ...values)).map((row) => row.id);
        assert.deepEqual(await ids(desks, 'active'), [rows[0]?.id]);
        assert.deepEqual(await ids(desks, 'archived'), [rows[2]?.id]);
        assert.deepEqual(await ids(lamps, 'active'), [rows[3]?.id]);
        assert.deepEqual(await ids(category(), 'active'), []);
      });

      test('it runs in a transaction too, where it sees what the transaction wrote', async () => {
        const lamps = category();
        const row = productRow({ category: lamps });
        const seen = await rejection(
          storage.db.transaction().execute(async (trx) => {
            await trx.withTables<Tables>().insertInto('products').values(row).execute();
            assert.deepEqual(
              (await inStock(trx, lamps, 'active')).map((found) => found.id),
              [row.id],
            );
            throw new Error('rolled back');
          }),
        );
        assert.match(String(seen), /rolled back/);
        assert.deepEqual(await inStock(storage.db, lamps, 'active'), []);
      });

      /** The ids of a category's products, by a query that counts how often it is built, so compiled. */
      function countedByCategory() {
        const query = compiledOnce((db, category: string) => {
          counted.builds++;
          return db.withTables<Tables>().selectFrom('products').select('id').where('category', '=', category);
        });
        const counted = {
          builds: 0,
          ids: async (db: AnyDb, category: string) => (await query(db, category)).map((row) => row.id),
        };
        return counted;
      }

      test('a database and its transactions share one compiled query; another database compiles its own', async () => {
        const byCategory = countedByCategory();
        const lamps = category();
        const row = productRow({ category: lamps });
        await tables(storage).insertInto('products').values(row).execute();
        assert.deepEqual(await byCategory.ids(storage.db, lamps), [row.id]);
        for (let order = 0; order < 3; order++) {
          await storage.db.transaction().execute(async (trx) => {
            assert.deepEqual(await byCategory.ids(trx, lamps), [row.id]);
          });
        }
        assert.equal(byCategory.builds, 1);
        // PostgreSQL beside SQLite when both are there, else a second database of this kind: its SQL is its own.
        const otherKind = kind === 'postgres' ? 'sqlite' : (storageKinds().find((each) => each !== kind) ?? kind);
        const other = await testStorage(otherKind);
        try {
          const otherRow = productRow({ category: lamps });
          await other.storage.db.withTables<Tables>().insertInto('products').values(otherRow).execute();
          assert.deepEqual(await byCategory.ids(other.storage.db, lamps), [otherRow.id]);
          await other.storage.db.transaction().execute(async (trx) => {
            assert.deepEqual(await byCategory.ids(trx, lamps), [otherRow.id]);
          });
          assert.deepEqual(await byCategory.ids(storage.db, lamps), [row.id]);
          assert.equal(byCategory.builds, 2);
        } finally {
          await other.close();
        }
      });

      test('a handle with plugins of its own compiles its own query, once, as plugins rewrite queries', async () => {
        const byCategory = countedByCategory();
        const plugin: KyselyPlugin = {
          transformQuery: ({ node }) => node,
          transformResult: async ({ result }) => result,
        };
        const lamps = category();
        const row = productRow({ category: lamps });
        await tables(storage).insertInto('products').values(row).execute();
        assert.deepEqual(await byCategory.ids(storage.db, lamps), [row.id]);
        assert.deepEqual(await byCategory.ids(storage.db.withPlugin(plugin), lamps), [row.id]);
        await storage.db
          .withPlugin(plugin)
          .transaction()
          .execute(async (trx) => assert.deepEqual(await byCategory.ids(trx, lamps), [row.id]));
        assert.equal(byCategory.builds, 2);
      });

      test('a row of placeholders binds each call its fields by name', async () => {
        const insertProduct = compiledOnce((db, row: ProductRow) =>
          db.withTables<Tables>().insertInto('products').values(row),
        );
        const lamps = category();
        const rows = [productRow({ category: lamps, description: 'brass' }), productRow({ category: lamps })];
        await storage.db.transaction().execute(async (trx) => {
          for (const row of rows) await insertProduct(trx, row);
        });
        const stored = await tables(storage)
          .selectFrom('products')
          .selectAll()
          .where('category', '=', lamps)
          .orderBy('id')
          .execute();
        assert.deepEqual(
          stored.map((found) => ({ ...found, price_amount: Number(found.price_amount), stock: Number(found.stock) })),
          [...rows].sort((a, b) => a.id.localeCompare(b.id)),
        );
        const { description, ...withoutDescription } = productRow({ category: lamps });
        assert.match(
          String(await rejection(insertProduct(storage.db, withoutDescription as ProductRow))),
          /no value for description/,
        );
      });

      test('a placeholder written as SQL text rather than a bound value is refused at the first call', async () => {
        const byColumn = compiledOnce((db, column: string) =>
          db.withTables<Tables>().selectFrom('products').select(sql.ref(column).as('value')),
        );
        assert.match(String(await rejection(byColumn(storage.db, 'name'))), /not bound parameters/);
      });
    });

    describe('shared secrets', () => {
      test('a secret is created once and returned on every later call; another key has another secret', async () => {
        const first = await sharedSecret(storage, 'conformance-secret');
        assert.match(first, /^[A-Za-z0-9_-]{43}$/);
        assert.equal(await sharedSecret(storage, 'conformance-secret'), first);
        assert.equal(await sharedSecret(storage, 'conformance-secret'), first);
        assert.notEqual(await sharedSecret(storage, 'conformance-other-secret'), first);
      });

      test('concurrent first calls, from this process and from others on the same database, agree', async () => {
        const database = await testDatabase(kind);
        const handles = [openStorage(database.url), openStorage(database.url), openStorage(database.url)];
        try {
          await migrateToLatest(handles[0] as Storage);
          const calls = handles.flatMap((handle) =>
            Array.from({ length: 5 }, () => sharedSecret(handle, 'cursor-secret')),
          );
          const secrets = await Promise.all(calls);
          assert.equal(new Set(secrets).size, 1);
          assert.equal(await sharedSecret(handles[1] as Storage, 'cursor-secret'), secrets[0]);
        } finally {
          for (const handle of handles) await handle.close();
          await database.drop();
        }
      });
    });

    describe('paginate', () => {
      const category = `tied-${kind}`;
      const instants = ['2029-01-01T00:00:00.000Z', '2029-01-01T00:00:00.001Z', '2029-06-01T12:00:00.000Z'];
      const names = ['alder', 'birch', 'cedar'];
      const prices = [500, 1500, 2500];
      let rows: ProductRow[] = [];

      before(async () => {
        // 57 rows on only three values of every sort key: pages must break ties on id and never lose or repeat a row.
        rows = Array.from({ length: 57 }, (_, i) =>
          productRow({
            category,
            name: names[(i * 7) % 3] as string,
            price_amount: prices[(i * 5) % 3] as number,
            created_at: instants[i % 3] as string,
            status: i % 4 === 0 ? 'archived' : 'active',
          }),
        );
        // Inserted out of id order, so the table's physical order is not the answer.
        await tables(storage)
          .insertInto('products')
          .values([...rows].reverse())
          .execute();
      });

      const columns = ['created_at', 'price_amount', 'name'] as const;
      type Column = (typeof columns)[number];

      const inOrder = (column: Column, order: SortOrder, subset: ProductRow[] = rows): string[] =>
        [...subset]
          .sort((a, b) => {
            const [x, y] = [a[column], b[column]];
            const byKey = x < y ? -1 : x > y ? 1 : 0;
            const byId = a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
            return (order === 'asc' ? 1 : -1) * (byKey || byId);
          })
          .map((row) => row.id);

      const query = (status?: string) => {
        let q = tables(storage).selectFrom('products').selectAll().where('category', '=', category);
        if (status) q = q.where('status', '=', status);
        return q;
      };

      const cursorPage = (
        column: Column,
        sort: Sort,
        limit: number,
        position: KeysetPosition | null,
        direction: 'next' | 'prev',
        status?: string,
      ) => {
        const request: PageRequest = { mode: 'cursor', limit, sort, position, direction };
        return paginate(query(status), request, column, (row) => row[column]);
      };

      for (const column of columns) {
        for (const order of ['asc', 'desc'] as const) {
          for (const limit of [5, 19]) {
            test(`walking by ${column} ${order}, ${limit} a page, returns every row once in (${column}, id) order, and prev walks back the same pages`, async () => {
              const sort: Sort = { field: column, order };
              const pages: string[][] = [];
              const prevs: (KeysetPosition | null)[] = [];
              let position: KeysetPosition | null = null;
              for (let guard = 0; guard < 100; guard++) {
                const page = await cursorPage(column, sort, limit, position, 'next');
                assert.ok(page.mode === 'cursor');
                assert.ok(page.items.length <= limit);
                pages.push(page.items.map((row) => row.id));
                prevs.push(page.prev);
                if (!page.next) break;
                position = page.next;
              }
              assert.deepEqual(pages.flat(), inOrder(column, order));
              assert.equal(prevs[0], null, 'the first page has no previous page');
              assert.ok(pages.slice(0, -1).every((page) => page.length === limit));

              // From the last page back to the first, following prev.
              let back = prevs.at(-1) ?? null;
              for (let index = pages.length - 2; index >= 0; index--) {
                assert.ok(back, `page ${index + 1} has a prev position`);
                const page = await cursorPage(column, sort, limit, back, 'prev');
                assert.ok(page.mode === 'cursor');
                assert.deepEqual(
                  page.items.map((row) => row.id),
                  pages[index],
                  `page ${index} walking back`,
                );
                assert.ok(page.next, 'a page reached going back has a next page');
                back = page.prev;
              }
              assert.equal(back, null, 'going back stops at the first page');
            });
          }
        }
      }

      test('a cursor walk with a filter returns exactly the matching rows, once each', async () => {
        const sort: Sort = { field: 'price_amount', order: 'desc' };
        const seen: string[] = [];
        let position: KeysetPosition | null = null;
        for (let guard = 0; guard < 100; guard++) {
          const page = await cursorPage('price_amount', sort, 4, position, 'next', 'archived');
          assert.ok(page.mode === 'cursor');
          seen.push(...page.items.map((row) => row.id));
          if (!page.next) break;
          position = page.next;
        }
        const archived = rows.filter((row) => row.status === 'archived');
        assert.equal(archived.length, 15);
        assert.deepEqual(seen, inOrder('price_amount', 'desc', archived));
      });

      test('offset pages count the filtered total and together list every matching row in order', async () => {
        const sort: Sort = { field: 'name', order: 'asc' };
        const active = rows.filter((row) => row.status === 'active');
        const seen: string[] = [];
        for (let page = 1; page <= 6; page++) {
          const result = await paginate(
            query('active'),
            { mode: 'offset', page, perPage: 8, sort },
            'name',
            (row) => row.name,
          );
          assert.ok(result.mode === 'offset');
          assert.equal(result.total, active.length);
          assert.equal(typeof result.total, 'number');
          assert.equal(result.items.length, Math.max(0, Math.min(8, active.length - (page - 1) * 8)));
          seen.push(...result.items.map((row) => row.id));
        }
        assert.deepEqual(seen, inOrder('name', 'asc', active));
        const none = await paginate(
          tables(storage).selectFrom('products').selectAll().where('category', '=', 'no-such-category'),
          { mode: 'offset', page: 1, perPage: 8, sort },
          'name',
          (row) => row.name,
        );
        assert.deepEqual(none, { mode: 'offset', items: [], total: 0 });
      });
    });

    describe('ping', () => {
      test('ping answers while the database is reachable, and fails once the storage is closed', async () => {
        await storage.ping();
        const database = await testDatabase(kind);
        try {
          const handle = openStorage(database.url);
          try {
            await handle.ping();
          } finally {
            await handle.close();
          }
          await assert.rejects(handle.ping());
        } finally {
          await database.drop();
        }
      });
    });
  });
}
