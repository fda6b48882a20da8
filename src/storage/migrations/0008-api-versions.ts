// API versions (issue 6): the version an API key is pinned to, and who still calls deprecated versions.
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe tables before any typed module exists.
export async function up(db: Kysely<any>): Promise<void> {
  const types = columnTypes(db);
  // Null: the key follows the latest version on unversioned paths.
  await db.schema.alterTable('api_keys').addColumn('api_version', 'text').execute();
  await db.schema
    .createTable('deprecated_calls')
    .addColumn('version', 'text', (c) => c.notNull())
    // `api-key:key_…`, `oauth-client:…`, `jwt:…`, `session:…`, or `anonymous`.
    .addColumn('caller', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text')
    .addColumn('calls', 'integer', (c) => c.notNull())
    .addColumn('last_called_at', types.timestamp, (c) => c.notNull())
    .addPrimaryKeyConstraint('deprecated_calls_pkey', ['version', 'caller'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('deprecated_calls').execute();
  await db.schema.alterTable('api_keys').dropColumn('api_version').execute();
}
