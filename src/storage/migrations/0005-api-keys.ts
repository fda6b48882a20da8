// API keys (issue 5): the keys, and their secrets stored only as SHA-256 hashes, several per key while a roll's
// grace period runs.
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe tables before any typed module exists.
export async function up(db: Kysely<any>): Promise<void> {
  const types = columnTypes(db);
  // No foreign key to users: the owner is checked by asking the users service (see 0002), on every request.
  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('mode', 'text', (c) => c.notNull())
    // Space-separated, as OAuth writes scopes (RFC 6749 §3.3).
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('last4', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', types.timestamp, (c) => c.notNull())
    .addColumn('last_used_at', types.timestamp)
    .addColumn('expires_at', types.timestamp)
    .addColumn('revoked_at', types.timestamp)
    .execute();
  await db.schema
    .createIndex('api_keys_owner_created_at')
    .on('api_keys')
    .columns(['owner_id', 'created_at', 'id'])
    .execute();

  await db.schema
    .createTable('api_key_secrets')
    .addColumn('secret_hash', 'text', (c) => c.primaryKey())
    .addColumn('key_id', 'text', (c) => c.notNull().references('api_keys.id').onDelete('cascade'))
    .addColumn('created_at', types.timestamp, (c) => c.notNull())
    // Null while the secret is the key's current one; set by a roll to the end of its grace period.
    .addColumn('expires_at', types.timestamp)
    .execute();
  await db.schema.createIndex('api_key_secrets_key_id').on('api_key_secrets').columns(['key_id']).execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['api_key_secrets', 'api_keys']) await db.schema.dropTable(table).execute();
}
