// Idempotent consumers (issue 7): the events each bus consumer has already handled.
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe tables before any typed module exists.
export async function up(db: Kysely<any>): Promise<void> {
  const types = columnTypes(db);
  // The bus delivers at least once; a row here, written in the handler's own transaction, makes a redelivery a no-op.
  await db.schema
    .createTable('event_inbox')
    .addColumn('consumer', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('handled_at', types.timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('event_inbox_pkey', ['consumer', 'event_id'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('event_inbox').execute();
}
