// The delivery queue's claim (webhooks/delivery-queue.ts) reads each endpoint's oldest due deliveries by index.
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe tables before any typed module exists.
export async function up(db: Kysely<any>): Promise<void> {
  // One endpoint's pending deliveries in due order: a claim reads an endpoint's first due delivery, and then its
  // first `perEndpoint`, as a range of this index instead of ranking the whole backlog.
  await db.schema
    .createIndex('webhook_deliveries_claim')
    .on('webhook_deliveries')
    .columns(['status', 'endpoint_id', 'next_attempt_at', 'id'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('webhook_deliveries_claim').execute();
}
