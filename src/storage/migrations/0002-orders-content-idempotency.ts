// Orders with their line items, posts with tags and comments, and the store of idempotency keys.
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe tables before any typed module exists.
export async function up(db: Kysely<any>): Promise<void> {
  const types = columnTypes(db);

  // No foreign key to users or products: each module owns its tables, so any module can later live in its own
  // database behind the gateway. References across modules are checked by asking the owning module's service.
  let orders = db.schema
    .createTable('orders')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('total_amount', 'bigint', (c) => c.notNull())
    .addColumn('tracking_carrier', 'text')
    .addColumn('tracking_number', 'text')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', types.timestamp, (c) => c.notNull())
    .addColumn('updated_at', types.timestamp, (c) => c.notNull());
  for (const step of ['paid_at', 'shipped_at', 'delivered_at', 'cancelled_at', 'returned_at', 'refunded_at']) {
    orders = orders.addColumn(step, types.timestamp);
  }
  await orders.execute();
  for (const column of ['created_at', 'updated_at', 'total_amount']) {
    await db.schema.createIndex(`orders_${column}_id`).on('orders').columns([column, 'id']).execute();
  }
  for (const filter of ['customer_id', 'status']) {
    await db.schema
      .createIndex(`orders_${filter}_created_at`)
      .on('orders')
      .columns([filter, 'created_at', 'id'])
      .execute();
  }

  await db.schema
    .createTable('order_items')
    .addColumn('order_id', 'text', (c) => c.notNull().references('orders.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('product_id', 'text', (c) => c.notNull())
    // Captured at order time: later catalog changes must not rewrite what the customer bought and paid.
    .addColumn('product_name', 'text', (c) => c.notNull())
    .addColumn('quantity', 'integer', (c) => c.notNull())
    .addColumn('unit_price_amount', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('order_items_pk', ['order_id', 'position'])
    .execute();
  await db.schema.createIndex('order_items_product_id').on('order_items').column('product_id').execute();

  await db.schema
    .createTable('posts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('author_id', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    // The tags in the author's order; post_tags indexes them for filtering.
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('published_at', types.timestamp)
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', types.timestamp, (c) => c.notNull())
    .addColumn('updated_at', types.timestamp, (c) => c.notNull())
    .execute();
  for (const column of ['created_at', 'updated_at', 'title']) {
    await db.schema.createIndex(`posts_${column}_id`).on('posts').columns([column, 'id']).execute();
  }
  await db.schema
    .createIndex('posts_author_created_at')
    .on('posts')
    .columns(['author_id', 'created_at', 'id'])
    .execute();

  await db.schema
    .createTable('post_tags')
    .addColumn('post_id', 'text', (c) => c.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('tag', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('post_tags_pk', ['post_id', 'tag'])
    .execute();
  await db.schema.createIndex('post_tags_tag').on('post_tags').columns(['tag', 'post_id']).execute();

  await db.schema
    .createTable('comments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('post_id', 'text', (c) => c.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('author_id', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', types.timestamp, (c) => c.notNull())
    .addColumn('updated_at', types.timestamp, (c) => c.notNull())
    .execute();
  for (const column of ['created_at', 'updated_at']) {
    await db.schema.createIndex(`comments_${column}_id`).on('comments').columns([column, 'id']).execute();
  }
  await db.schema
    .createIndex('comments_post_created_at')
    .on('comments')
    .columns(['post_id', 'created_at', 'id'])
    .execute();

  // One row per Idempotency-Key: claimed before the work, completed with the response, replayed for 24 hours.
  await db.schema
    .createTable('idempotency_keys')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('response_status', 'integer')
    .addColumn('response_headers', 'text')
    .addColumn('response_body', 'text')
    .addColumn('created_at', types.timestamp, (c) => c.notNull())
    .addColumn('expires_at', types.timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('idempotency_keys_expires_at').on('idempotency_keys').column('expires_at').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['idempotency_keys', 'comments', 'post_tags', 'posts', 'order_items', 'orders']) {
    await db.schema.dropTable(table).execute();
  }
}
