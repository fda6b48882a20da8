// The delivery queue's indexes hold pending deliveries only. webhook_deliveries_due (status, next_attempt_at) served
// one query, the worker's "is anything due?" probe, which now asks each enabled endpoint through the claim index;
// and the claim index kept an entry for every delivery ever made, moved into the succeeded or failed part of the
// index at its last attempt. Each delivery made, leased and recorded wrote index pages for both: the webhook-fanout
// bench spent its time writing them (bench/README.md). A partial index is only used by a query that names its
// condition as written here, `status = 'pending'` with the literal, not a bound parameter (delivery-queue.ts).
import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe tables before any typed module exists.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('webhook_deliveries_due').execute();
  await db.schema.dropIndex('webhook_deliveries_claim').execute();
  await db.schema
    .createIndex('webhook_deliveries_pending')
    .on('webhook_deliveries')
    .columns(['endpoint_id', 'next_attempt_at', 'id'])
    .where(sql.ref('status'), '=', sql.lit('pending'))
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('webhook_deliveries_pending').execute();
  await db.schema
    .createIndex('webhook_deliveries_claim')
    .on('webhook_deliveries')
    .columns(['status', 'endpoint_id', 'next_attempt_at', 'id'])
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_due')
    .on('webhook_deliveries')
    .columns(['status', 'next_attempt_at'])
    .execute();
}
