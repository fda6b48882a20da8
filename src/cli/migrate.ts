// `portico migrate`: brings the database to the latest schema and says what changed.
import { loadConfig } from '../config.ts';
import { openStorage } from '../storage/database.ts';
import { migrateToLatest } from '../storage/migrate.ts';
import { type CommandContext, parseCommand } from './args.ts';

export const migrateUsage = `Usage: portico migrate

Applies every migration the database has not had yet (DATABASE_URL), under a lock, so two processes
running it at once are safe.`;

export async function migrateCommand(args: string[], { env, stdout }: CommandContext): Promise<void> {
  const values = parseCommand('migrate', args, { help: { type: 'boolean', short: 'h' } });
  if (values.help) return stdout(migrateUsage);
  const config = loadConfig(env);
  const storage = openStorage(config.databaseUrl);
  try {
    const { applied } = await migrateToLatest(storage);
    if (applied.length === 0) stdout('The database is up to date; no migrations to apply.');
    for (const name of applied) stdout(`Applied migration ${name}`);
  } finally {
    await storage.close();
  }
}
