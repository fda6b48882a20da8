// oidc-provider's storage through ours: every model (Client, Grant, AuthorizationCode, AccessToken, RefreshToken,
// ClientCredentials, Session, Interaction, …) is a row of oauth_entries keyed by (model, id), on SQLite and
// PostgreSQL alike. Tokens are opaque, so their value is their id: a token is valid exactly while its row is.
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { AnyDb, Storage } from '../../storage/database.ts';

type OAuthTables = {
  oauth_entries: {
    model: string;
    id: string;
    payload: string;
    grant_id: string | null;
    client_id: string | null;
    user_code: string | null;
    uid: string | null;
    consumed_at: string | null;
    expires_at: string | null;
  };
};

export const oauthTables = (db: AnyDb): Kysely<OAuthTables> => db.withTables<OAuthTables>();

/**
 * The models whose id is the credential itself (the bearer token, the code). Their rows are keyed by its SHA-256
 * and their stored payload leaves the id out, so the database never holds a usable token; the id comes back from
 * the caller, who presented it. None of them is ever looked up by uid or user code.
 */
const credentialModels = new Set(['AccessToken', 'RefreshToken', 'AuthorizationCode', 'ClientCredentials']);

/** A token's digest: its row key, and how logs and principals name it. */
export const tokenDigest = (token: string): string => createHash('sha256').update(token).digest('base64url');

/** Epoch milliseconds; oidc-provider stamps `exp` from the system time, so expiry here follows the same clock. */
export type Now = () => number;

/** A factory as oidc-provider's `adapter` option takes it: one adapter per model name. */
export function storageAdapter(storage: Storage, now: Now): (model: string) => Adapter {
  const db = oauthTables(storage.db);
  return (model) => {
    const secret = credentialModels.has(model);
    const key = (id: string) => (secret ? tokenDigest(id) : id);
    const live = () => {
      const at = new Date(now()).toISOString();
      return db
        .selectFrom('oauth_entries')
        .select(['payload', 'consumed_at'])
        .where('model', '=', model)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]));
    };
    const toPayload = (row: { payload: string; consumed_at: string | null } | undefined, id?: string) => {
      if (!row) return undefined;
      const payload = JSON.parse(row.payload) as AdapterPayload;
      if (secret) payload.jti = id;
      if (row.consumed_at !== null) payload.consumed = Math.floor(Date.parse(row.consumed_at) / 1000);
      return payload;
    };
    return {
      async upsert(id, payload, expiresIn) {
        const values = {
          payload: JSON.stringify(secret ? { ...payload, jti: undefined } : payload),
          grant_id: payload.grantId ?? null,
          client_id: payload.clientId ?? null,
          user_code: payload.userCode ?? null,
          uid: payload.uid ?? null,
          expires_at: expiresIn ? new Date(now() + expiresIn * 1000).toISOString() : null,
        };
        await db
          .insertInto('oauth_entries')
          .values({ model, id: key(id), consumed_at: null, ...values })
          .onConflict((conflict) => conflict.columns(['model', 'id']).doUpdateSet(values))
          .execute();
      },
      find: async (id) => toPayload(await live().where('id', '=', key(id)).executeTakeFirst(), id),
      findByUid: async (uid) => toPayload(await live().where('uid', '=', uid).executeTakeFirst()),
      findByUserCode: async (userCode) => toPayload(await live().where('user_code', '=', userCode).executeTakeFirst()),
      async consume(id) {
        await db
          .updateTable('oauth_entries')
          .set({ consumed_at: new Date(now()).toISOString() })
          .where('model', '=', model)
          .where('id', '=', key(id))
          .execute();
      },
      async destroy(id) {
        await db.deleteFrom('oauth_entries').where('model', '=', model).where('id', '=', key(id)).execute();
      },
      async revokeByGrantId(grantId) {
        await db.deleteFrom('oauth_entries').where('model', '=', model).where('grant_id', '=', grantId).execute();
      },
    };
  };
}

/** Deletes expired rows (the adapter already ignores them); answers how many went. */
export async function purgeExpired(storage: Storage, now: Now): Promise<number> {
  const result = await oauthTables(storage.db)
    .deleteFrom('oauth_entries')
    .where('expires_at', '<=', new Date(now()).toISOString())
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
