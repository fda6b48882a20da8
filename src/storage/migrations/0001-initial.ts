// The first schema: users, products, the transactional outbox and the application's own settings.
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe tables before any typed module exists.
export async function up(db: Kysely<any>): Promise<void> {
  const types = columnTypes(db);
  await db.schema
    .createTable('app_settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull())
    // Lower-cased email: uniqueness and lookups are case-insensitive while the address is kept as given.
    .addColumn('email_key', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('location', 'text')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', types.timestamp, (c) => c.notNull())
    .addColumn('updated_at', types.timestamp, (c) => c.notNull())
    .execute();
  // Keyset pagination reads (sort key, id); one index per sortable field keeps a deep page as cheap as the first.
  for (const column of ['created_at', 'updated_at', 'name', 'email_key']) {
    await db.schema.createIndex(`users_${column}_id`).on('users').columns([column, 'id']).execute();
  }

  await db.schema
    .createTable('products')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('price_amount', 'bigint', (c) => c.notNull())
    .addColumn('price_currency', 'text', (c) => c.notNull())
    .addColumn('stock', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', types.timestamp, (c) => c.notNull())
    .addColumn('updated_at', types.timestamp, (c) => c.notNull())
    .execute();
  for (const column of ['created_at', 'updated_at', 'name', 'price_amount', 'stock']) {
    await db.schema.createIndex(`products_${column}_id`).on('products').columns([column, 'id']).execute();
  }
  await db.schema
    .createIndex('products_category_created_at')
    .on('products')
    .columns(['category', 'created_at', 'id'])
    .execute();

  // Events commit with the change that causes them (DESIGN principle 5); `position` orders them for the relay.
  await db.schema
    .createTable('outbox')
    .addColumn('position', types.serial, (c) => types.serialKey(c))
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('aggregate_type', 'text', (c) => c.notNull())
    .addColumn('aggregate_id', 'text', (c) => c.notNull())
    .addColumn('api_version', 'text', (c) => c.notNull())
    .addColumn('payload', types.json, (c) => c.notNull())
    .addColumn('created_at', types.timestamp, (c) => c.notNull())
    .addColumn('published_at', types.timestamp)
    .execute();
  await db.schema.createIndex('outbox_unpublished').on('outbox').columns(['published_at', 'position']).execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['outbox', 'products', 'users', 'app_settings']) await db.schema.dropTable(table).execute();
}
