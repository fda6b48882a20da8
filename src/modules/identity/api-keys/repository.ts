// The api_keys and api_key_secrets tables: the only SQL that touches them.
import type { Kysely } from 'kysely';
import type { PageRequest, PageResult } from '../../../kernel/pagination.ts';
import { allColumns } from '../../../storage/columns.ts';
import type { AnyDb } from '../../../storage/database.ts';
import { paginate } from '../../../storage/paginate.ts';
import type { Tier } from '../principal.ts';
import type { ApiKeyRecord } from './schema.ts';

type Tables = {
  api_keys: {
    id: string;
    owner_id: string;
    name: string;
    type: ApiKeyRecord['type'];
    mode: ApiKeyRecord['mode'];
    scopes: string;
    tier: Tier | null;
    api_version: ApiKeyRecord['apiVersion'];
    prefix: string;
    last4: string;
    version: number;
    created_at: string;
    last_used_at: string | null;
    expires_at: string | null;
    revoked_at: string | null;
  };
  api_key_secrets: {
    secret_hash: string;
    key_id: string;
    created_at: string;
    expires_at: string | null;
  };
};
type Row = Tables['api_keys'];

const columns = allColumns<Row>({
  id: true,
  owner_id: true,
  name: true,
  type: true,
  mode: true,
  scopes: true,
  tier: true,
  api_version: true,
  prefix: true,
  last4: true,
  version: true,
  created_at: true,
  last_used_at: true,
  expires_at: true,
  revoked_at: true,
});
const qualifiedColumns = columns.map((name) => `api_keys.${name}` as const);

const tables = (db: AnyDb): Kysely<Tables> => db.withTables<Tables>();

const toRecord = (row: Row): ApiKeyRecord => ({
  id: row.id,
  ownerId: row.owner_id,
  name: row.name,
  type: row.type,
  mode: row.mode,
  scopes: row.scopes === '' ? [] : row.scopes.split(' '),
  tier: row.tier,
  apiVersion: row.api_version,
  prefix: row.prefix,
  last4: row.last4,
  version: Number(row.version),
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
});

export async function insertKey(db: AnyDb, key: ApiKeyRecord, secretHash: string): Promise<void> {
  await tables(db)
    .insertInto('api_keys')
    .values({
      id: key.id,
      owner_id: key.ownerId,
      name: key.name,
      type: key.type,
      mode: key.mode,
      scopes: key.scopes.join(' '),
      tier: key.tier,
      api_version: key.apiVersion,
      prefix: key.prefix,
      last4: key.last4,
      version: key.version,
      created_at: key.createdAt,
      last_used_at: key.lastUsedAt,
      expires_at: key.expiresAt,
      revoked_at: key.revokedAt,
    })
    .execute();
  await tables(db)
    .insertInto('api_key_secrets')
    .values({ secret_hash: secretHash, key_id: key.id, created_at: key.createdAt, expires_at: null })
    .execute();
}

export async function listKeys(db: AnyDb, ownerId: string, page: PageRequest): Promise<PageResult<ApiKeyRecord>> {
  const query = tables(db).selectFrom('api_keys').select(columns).where('owner_id', '=', ownerId);
  const result = await paginate(query, page, 'created_at', (row) => row.created_at);
  return { ...result, items: result.items.map(toRecord) };
}

export async function findKey(db: AnyDb, id: string): Promise<ApiKeyRecord | null> {
  const row = await tables(db).selectFrom('api_keys').select(columns).where('id', '=', id).executeTakeFirst();
  return row ? toRecord(row) : null;
}

/** The key a secret belongs to, and when that secret stops working (null while it is the current one). */
export async function findBySecretHash(
  db: AnyDb,
  secretHash: string,
): Promise<{ key: ApiKeyRecord; secretExpiresAt: string | null } | null> {
  const row = await tables(db)
    .selectFrom('api_key_secrets')
    .innerJoin('api_keys', 'api_keys.id', 'api_key_secrets.key_id')
    .select(qualifiedColumns)
    .select('api_key_secrets.expires_at as secret_expires_at')
    .where('api_key_secrets.secret_hash', '=', secretHash)
    .executeTakeFirst();
  if (!row) return null;
  const { secret_expires_at, ...key } = row;
  return { key: toRecord(key), secretExpiresAt: secret_expires_at };
}

/** The hashes of every secret of one key, or of every key of one owner: what a change to them must forget. */
export async function secretHashesOf(db: AnyDb, of: { keyId: string } | { ownerId: string }): Promise<string[]> {
  const rows = await tables(db)
    .selectFrom('api_key_secrets')
    .innerJoin('api_keys', 'api_keys.id', 'api_key_secrets.key_id')
    .select('api_key_secrets.secret_hash')
    .where('keyId' in of ? 'api_keys.id' : 'api_keys.owner_id', '=', 'keyId' in of ? of.keyId : of.ownerId)
    .execute();
  return rows.map((row) => row.secret_hash);
}

/**
 * Makes `secretHash` the key's current secret. Every older secret stops working at `graceEndsAt`, or sooner if an
 * earlier roll already set it to end sooner. False when the key changed since it was read at `expectedVersion`.
 */
export async function rollKey(
  db: AnyDb,
  key: ApiKeyRecord,
  expectedVersion: number,
  secretHash: string,
  at: string,
  graceEndsAt: string,
): Promise<boolean> {
  const updated = await tables(db)
    .updateTable('api_keys')
    .set((eb) => ({ last4: key.last4, version: eb('version', '+', 1) }))
    .where('id', '=', key.id)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  if (updated.numUpdatedRows === 0n) return false;
  await tables(db)
    .updateTable('api_key_secrets')
    .set({ expires_at: graceEndsAt })
    .where('key_id', '=', key.id)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', graceEndsAt)]))
    .execute();
  await tables(db)
    .insertInto('api_key_secrets')
    .values({ secret_hash: secretHash, key_id: key.id, created_at: at, expires_at: null })
    .execute();
  return true;
}

/** Revokes the key unless it already is; false when there was nothing to change. */
export async function revokeKey(db: AnyDb, id: string, at: string): Promise<boolean> {
  const result = await tables(db)
    .updateTable('api_keys')
    .set((eb) => ({ revoked_at: at, version: eb('version', '+', 1) }))
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Records a use at `at`, unless one was recorded after `notBefore`: the condition sits in the UPDATE so that
 * concurrent requests, in one process or many, write at most once per interval.
 */
export async function touchKey(db: AnyDb, id: string, at: string, notBefore: string): Promise<void> {
  await tables(db)
    .updateTable('api_keys')
    .set((eb) => ({ last_used_at: at, version: eb('version', '+', 1) }))
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', notBefore)]))
    .execute();
}
