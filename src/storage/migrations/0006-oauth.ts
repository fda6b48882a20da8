// The OAuth 2.0 server's storage: every oidc-provider model (clients, grants, codes, tokens, sessions,
// interactions) as one row keyed by model and id, with the payload as JSON and the columns its adapter looks up by.
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe tables before any typed module exists.
export async function up(db: Kysely<any>): Promise<void> {
  const types = columnTypes(db);
  await db.schema
    .createTable('oauth_entries')
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('payload', types.json, (c) => c.notNull())
    .addColumn('grant_id', 'text')
    .addColumn('client_id', 'text')
    .addColumn('user_code', 'text')
    .addColumn('uid', 'text')
    .addColumn('consumed_at', types.timestamp)
    // Null for what never expires on its own (clients).
    .addColumn('expires_at', types.timestamp)
    .addPrimaryKeyConstraint('oauth_entries_pkey', ['model', 'id'])
    .execute();
  // Revoking a grant deletes every code and token issued under it (a code used twice revokes its tokens).
  await db.schema.createIndex('oauth_entries_grant_id').on('oauth_entries').column('grant_id').execute();
  // Deleting a client deletes everything issued to it.
  await db.schema.createIndex('oauth_entries_client_id').on('oauth_entries').column('client_id').execute();
  await db.schema.createIndex('oauth_entries_uid').on('oauth_entries').columns(['model', 'uid']).execute();
  await db.schema.createIndex('oauth_entries_user_code').on('oauth_entries').columns(['model', 'user_code']).execute();
  await db.schema.createIndex('oauth_entries_expires_at').on('oauth_entries').column('expires_at').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('oauth_entries').execute();
}
