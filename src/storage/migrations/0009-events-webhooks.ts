// Events and webhooks (issue 7): the outbox read as the events API, customers' endpoints, one delivery per event
// and endpoint, and every attempt at it.
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe tables before any typed module exists.
export async function up(db: Kysely<any>): Promise<void> {
  const types = columnTypes(db);
  // GET /v1/events pages the outbox newest first, all of it or one type; the 30-day purge walks it by age.
  await db.schema.createIndex('outbox_created_at').on('outbox').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('outbox_type_created_at').on('outbox').columns(['type', 'created_at', 'id']).execute();

  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    // A JSON list of event types and `order.*` patterns.
    .addColumn('events', types.json, (c) => c.notNull())
    .addColumn('description', 'text')
    // 0 or 1: one column type for both dialects.
    .addColumn('enabled', 'integer', (c) => c.notNull())
    // The signing secret must be read back to sign each delivery, so it is encrypted (AES-256-GCM under a key kept
    // in app_settings), not hashed.
    .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
    // After a rotation the old secret keeps signing alongside the new one until previous_secret_until.
    .addColumn('previous_secret_ciphertext', 'text')
    .addColumn('previous_secret_until', types.timestamp)
    .addColumn('disabled_reason', 'text')
    // When the current run of failed deliveries began; null while deliveries succeed.
    .addColumn('failing_since', types.timestamp)
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', types.timestamp, (c) => c.notNull())
    .addColumn('updated_at', types.timestamp, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('webhook_endpoints_owner_created_at')
    .on('webhook_endpoints')
    .columns(['owner_id', 'created_at', 'id'])
    .execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('endpoint_id', 'text', (c) => c.notNull().references('webhook_endpoints.id').onDelete('cascade'))
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('event_type', 'text', (c) => c.notNull())
    // The body as first sent, `{ id, type, createdAt, apiVersion, data }`: retries send the same bytes even after
    // the outbox row is purged.
    .addColumn('payload', types.json, (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    // Null once the delivery succeeded or failed for good.
    .addColumn('next_attempt_at', types.timestamp)
    .addColumn('last_attempt_at', types.timestamp)
    .addColumn('created_at', types.timestamp, (c) => c.notNull())
    // The relay delivers an event at least once: a second fan-out of it must not make a second delivery.
    .addUniqueConstraint('webhook_deliveries_endpoint_event', ['endpoint_id', 'event_id'])
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_due')
    .on('webhook_deliveries')
    .columns(['status', 'next_attempt_at'])
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_endpoint_created_at')
    .on('webhook_deliveries')
    .columns(['endpoint_id', 'created_at', 'id'])
    .execute();

  await db.schema
    .createTable('webhook_attempts')
    .addColumn('position', types.serial, (c) => types.serialKey(c))
    .addColumn('delivery_id', 'text', (c) => c.notNull().references('webhook_deliveries.id').onDelete('cascade'))
    .addColumn('attempted_at', types.timestamp, (c) => c.notNull())
    // Null when no response came: timeout, reset, TLS or DNS failure (then `error` says which).
    .addColumn('status_code', 'integer')
    .addColumn('error', 'text')
    .addColumn('latency_ms', 'integer', (c) => c.notNull())
    .addColumn('response_body', 'text')
    .execute();
  await db.schema
    .createIndex('webhook_attempts_delivery')
    .on('webhook_attempts')
    .columns(['delivery_id', 'position'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['webhook_attempts', 'webhook_deliveries', 'webhook_endpoints']) {
    await db.schema.dropTable(table).execute();
  }
  for (const index of ['outbox_type_created_at', 'outbox_created_at']) await db.schema.dropIndex(index).execute();
}
