// Credentials: users' password hashes, the refresh tokens of the token endpoint, and the keys access tokens are
// signed with.
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe tables before any typed module exists.
export async function up(db: Kysely<any>): Promise<void> {
  const types = columnTypes(db);
  // An argon2id PHC string; null for a user who cannot sign in with a password.
  await db.schema.alterTable('users').addColumn('password_hash', 'text').execute();

  // Only the SHA-256 of a refresh token is kept; a token's family is every token rotated from one sign-in.
  await db.schema
    .createTable('refresh_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('family_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', types.timestamp, (c) => c.notNull())
    .addColumn('expires_at', types.timestamp, (c) => c.notNull())
    .addColumn('used_at', types.timestamp)
    .addColumn('revoked_at', types.timestamp)
    .execute();
  await db.schema.createIndex('refresh_tokens_family').on('refresh_tokens').column('family_id').execute();
  await db.schema.createIndex('refresh_tokens_user').on('refresh_tokens').column('user_id').execute();

  // The newest key signs; a superseded one keeps verifying until the tokens it signed have expired.
  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('algorithm', 'text', (c) => c.notNull())
    .addColumn('private_jwk', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('created_at', types.timestamp, (c) => c.notNull())
    .addColumn('superseded_at', types.timestamp)
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('signing_keys').execute();
  await db.schema.dropTable('refresh_tokens').execute();
  await db.schema.alterTable('users').dropColumn('password_hash').execute();
}
