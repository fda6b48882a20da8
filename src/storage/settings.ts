// Application settings kept in the database, so every process sharing it agrees on them without configuration.
import { randomBytes } from 'node:crypto';
import type { Storage } from './database.ts';

type SettingsTable = {
  app_settings: { key: string; value: string };
};

/** The secret stored under `key`, created on first use; concurrent first uses agree on one value. */
export function sharedSecret(storage: Storage, key: string): Promise<string> {
  return sharedValue(storage, key, () => randomBytes(32).toString('base64url'));
}

/** The value stored under `key`, made by `create` on first use; concurrent first uses agree on one value. */
export async function sharedValue(storage: Storage, key: string, create: () => string): Promise<string> {
  const db = storage.db.withTables<SettingsTable>();
  await db
    .insertInto('app_settings')
    .values({ key, value: create() })
    .onConflict((conflict) => conflict.column('key').doNothing())
    .execute();
  const row = await db.selectFrom('app_settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
  return row.value;
}
