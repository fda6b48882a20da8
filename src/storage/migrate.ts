// Runs the migration set to the latest version, on either dialect, under Kysely's migration lock.
import { setTimeout as delay } from 'node:timers/promises';
import { sql } from 'kysely';
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import type { Storage } from './database.ts';
import * as initial from './migrations/0001-initial.ts';
import * as ordersContentIdempotency from './migrations/0002-orders-content-idempotency.ts';
import * as contentIndexes from './migrations/0003-content-indexes.ts';
import * as credentials from './migrations/0004-credentials.ts';
import * as apiKeys from './migrations/0005-api-keys.ts';
import * as oauth from './migrations/0006-oauth.ts';
import * as rateLimitTiers from './migrations/0007-rate-limit-tiers.ts';
import * as apiVersions from './migrations/0008-api-versions.ts';
import * as eventsWebhooks from './migrations/0009-events-webhooks.ts';
import * as eventInbox from './migrations/0010-event-inbox.ts';
import * as webhookClaimIndex from './migrations/0011-webhook-claim-index.ts';
import * as webhookPendingIndex from './migrations/0012-webhook-pending-index.ts';

/** Listed here rather than read from a folder, so the set is the same in every process and bundle. */
const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-orders-content-idempotency': ordersContentIdempotency,
  '0003-content-indexes': contentIndexes,
  '0004-credentials': credentials,
  '0005-api-keys': apiKeys,
  '0006-oauth': oauth,
  '0007-rate-limit-tiers': rateLimitTiers,
  '0008-api-versions': apiVersions,
  '0009-events-webhooks': eventsWebhooks,
  '0010-event-inbox': eventInbox,
  '0011-webhook-claim-index': webhookClaimIndex,
  '0012-webhook-pending-index': webhookPendingIndex,
};

/** Every migration, in the order they apply. */
export const migrationNames = Object.keys(migrations).sort();

const provider: MigrationProvider = { getMigrations: async () => migrations };

export interface MigrationReport {
  applied: string[];
}

/** PostgreSQL's invalid_schema_name. */
const invalidSchemaName = '3F000';

const codeOf = (error: unknown): string | undefined =>
  (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;

export async function migrateToLatest(storage: Storage): Promise<MigrationReport> {
  // Kysely looks for its bookkeeping tables in every schema unless told which one: on PostgreSQL another schema's
  // tables (a parallel test run, a second deployment) would make it skip creating its own and then fail.
  const schema =
    storage.dialect === 'postgres'
      ? (await sql<{ name: string }>`select current_schema() as name`.execute(storage.db)).rows[0]?.name
      : undefined;
  const migrator = new Migrator({ db: storage.db, provider, ...(schema ? { migrationTableSchema: schema } : {}) });
  for (let attempt = 1; ; attempt++) {
    const { error, results = [] } = await migrator.migrateToLatest();
    if (!error) return { applied: results.filter((r) => r.status === 'Success').map((r) => r.migrationName) };
    // SQLite has no lock between processes (Kysely's is a no-op there): when two processes migrate one database at
    // once, the loser fails although the winner did the work, and a later run finds nothing left to do. On
    // PostgreSQL, Kysely first lists the tables of every schema, and a schema dropped meanwhile (another deployment's,
    // a parallel test run's) fails that listing with 3F000: listing again no longer meets it.
    if (!(storage.dialect === 'sqlite' || codeOf(error) === invalidSchemaName) || attempt === 5) throw error;
    await delay(20 * attempt);
  }
}
