// Rate-limit tiers (issue 6): an API key may carry its own tier; null means its owner's default (admins
// `internal`, everyone else `free`), decided when the key is used so a changed role counts at once.
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations describe tables before any typed module exists.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_keys').addColumn('tier', 'text').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_keys').dropColumn('tier').execute();
}
