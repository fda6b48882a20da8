// The Idempotency-Key store: one row per key, claimed atomically before the work, completed with the response and
// replayed until it expires. Every step is a single statement, so processes sharing the database agree on each key.
import { allColumns } from './columns.ts';
import type { Storage } from './database.ts';

type IdempotencyTable = {
  idempotency_keys: {
    key: string;
    request_hash: string;
    state: 'in_progress' | 'complete';
    response_status: number | null;
    response_headers: string | null;
    response_body: string | null;
    created_at: string;
    expires_at: string;
  };
};

type IdempotencyRow = IdempotencyTable['idempotency_keys'];

const idempotencyColumns = allColumns<IdempotencyRow>({
  key: true,
  request_hash: true,
  state: true,
  response_status: true,
  response_headers: true,
  response_body: true,
  created_at: true,
  expires_at: true,
});

/** What a replay sends again: the first answer's status, the headers that describe it, and its body. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface IdempotencyRecord {
  key: string;
  requestHash: string;
  state: 'in_progress' | 'complete';
  /** Null while the first request is still in progress. */
  response: StoredResponse | null;
  createdAt: string;
  expiresAt: string;
}

/** Proof of a claim: completing or releasing it touches the row only while this claim still holds it. */
export interface Claim {
  key: string;
  createdAt: string;
}

export type ClaimOutcome = { claimed: Claim; existing?: never } | { claimed?: never; existing: IdempotencyRecord };

export interface IdempotencyStore {
  /** Claims `key` for a request, or answers the row that already holds it. */
  claim(key: string, requestHash: string, now: Date): Promise<ClaimOutcome>;
  /** Stores the response; false when the claim was lost meanwhile (expired or reclaimed), and nothing changed. */
  complete(claim: Claim, response: StoredResponse): Promise<boolean>;
  /** Frees the key so the request can be retried; does nothing when the claim was lost meanwhile. */
  release(claim: Claim): Promise<void>;
  find(key: string): Promise<IdempotencyRecord | null>;
  /** Deletes at most `limit` expired rows, found through the expires_at index; answers how many went. */
  purgeExpired(now: Date, limit: number): Promise<number>;
}

export interface IdempotencyTimes {
  /** How long a key and its response are kept. */
  ttlMs: number;
  /** How old an in-progress claim must be before another request may take the key over. */
  staleAfterMs: number;
}

export const defaultIdempotencyTimes: IdempotencyTimes = {
  ttlMs: 24 * 60 * 60 * 1000,
  // A claim still in progress after 10 minutes belongs to a process that died: every write here is one short
  // transaction, so no live request comes near it, and until then a retry gets 409 instead of running twice. The
  // risk, accepted for the sake of freeing the key at all: a process that died after its transaction committed but
  // before storing the response had done the work, and the retry that takes the key over does it a second time.
  staleAfterMs: 10 * 60 * 1000,
};

/** Rows change under a claim this many times at most (released or purged between two statements) before giving up. */
const claimAttempts = 3;

export function idempotencyStore(
  storage: Storage,
  times: IdempotencyTimes = defaultIdempotencyTimes,
): IdempotencyStore {
  const db = storage.db.withTables<IdempotencyTable>();

  async function find(key: string): Promise<IdempotencyRecord | null> {
    const row = await db
      .selectFrom('idempotency_keys')
      .select(idempotencyColumns)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!row) return null;
    const response =
      row.state === 'complete' && row.response_status !== null
        ? {
            status: row.response_status,
            headers: JSON.parse(row.response_headers ?? '{}') as Record<string, string>,
            body: row.response_body ?? '',
          }
        : null;
    return {
      key: row.key,
      requestHash: row.request_hash,
      state: row.state,
      response,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    };
  }

  async function claim(key: string, requestHash: string, now: Date): Promise<ClaimOutcome> {
    const createdAt = now.toISOString();
    const fresh = {
      request_hash: requestHash,
      state: 'in_progress' as const,
      response_status: null,
      response_headers: null,
      response_body: null,
      created_at: createdAt,
      expires_at: new Date(now.getTime() + times.ttlMs).toISOString(),
    };
    const staleBefore = new Date(now.getTime() - times.staleAfterMs).toISOString();
    for (let attempt = 0; attempt < claimAttempts; attempt++) {
      // The primary key decides between concurrent first uses, in any number of processes: exactly one insert
      // returns its row, the others return none.
      const inserted = await db
        .insertInto('idempotency_keys')
        .values({ key, ...fresh })
        .onConflict((conflict) => conflict.column('key').doNothing())
        .returning('key')
        .executeTakeFirst();
      if (inserted) return { claimed: { key, createdAt } };
      // An expired row, or a claim abandoned by a dead process, is taken over in one conditional update: the
      // condition is checked again on the row the update locks, so of two takeovers only one matches.
      const replaced = await db
        .updateTable('idempotency_keys')
        .set(fresh)
        .where('key', '=', key)
        .where((eb) =>
          eb.or([
            eb('expires_at', '<=', createdAt),
            eb.and([eb('state', '=', 'in_progress'), eb('created_at', '<=', staleBefore)]),
          ]),
        )
        .returning('key')
        .executeTakeFirst();
      if (replaced) return { claimed: { key, createdAt } };
      const existing = await find(key);
      if (existing) return { existing };
    }
    throw new Error(`The idempotency key row kept changing under ${claimAttempts} claims in a row.`);
  }

  async function complete(owned: Claim, response: StoredResponse): Promise<boolean> {
    const updated = await db
      .updateTable('idempotency_keys')
      .set({
        state: 'complete',
        response_status: response.status,
        response_headers: JSON.stringify(response.headers),
        response_body: response.body,
      })
      .where('key', '=', owned.key)
      .where('state', '=', 'in_progress')
      .where('created_at', '=', owned.createdAt)
      .returning('key')
      .executeTakeFirst();
    return updated !== undefined;
  }

  async function release(owned: Claim): Promise<void> {
    await db
      .deleteFrom('idempotency_keys')
      .where('key', '=', owned.key)
      .where('state', '=', 'in_progress')
      .where('created_at', '=', owned.createdAt)
      .execute();
  }

  async function purgeExpired(now: Date, limit: number): Promise<number> {
    const cutoff = now.toISOString();
    const expired = db.selectFrom('idempotency_keys').select('key').where('expires_at', '<=', cutoff).limit(limit);
    // The outer condition is checked again on each row deleted, so a key claimed afresh meanwhile is kept.
    const result = await db
      .deleteFrom('idempotency_keys')
      .where('key', 'in', expired)
      .where('expires_at', '<=', cutoff)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  return { claim, complete, release, find, purgeExpired };
}
