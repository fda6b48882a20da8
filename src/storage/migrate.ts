// Runs the migration set to the latest version, on either dialect, under Kysely's migration lock.
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration';
import type { Storage } from './database.ts';
import * as initial from './migrations/0001-initial.ts';

/** Listed here rather than read from a folder, so the set is the same in every process and bundle. */
const migrations: Record<string, Migration> = {
  '0001-initial': initial,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export interface MigrationReport {
  applied: string[];
}

export async function migrateToLatest(storage: Storage): Promise<MigrationReport> {
  const migrator = new Migrator({ db: storage.db, provider });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error) throw error;
  return { applied: results.filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}
