// The delivery queue's SQL: claiming due deliveries so several workers share them, and recording an attempt with
// what it does to the delivery and its endpoint. Rules:
//   1. A delivery is due when it is pending, `next_attempt_at <= now` and its endpoint is enabled.
//   2. Claiming moves `next_attempt_at` to the end of a lease in the claiming transaction: another worker does not
//      see the delivery as due again unless the claimer died without recording (then it is sent again, with the
//      same webhook-id). On PostgreSQL the due rows are read `FOR UPDATE SKIP LOCKED`, so workers claiming at the
//      same moment take different rows instead of waiting on each other; SQLite has one writer, one process.
//   3. A claim takes at most `perEndpoint` deliveries of any one endpoint, oldest due first, so one endpoint's
//      backlog cannot fill a batch.
//   4. An attempt, the delivery's new state, the endpoint's new state and the owner's notification commit together.
//   5. Attempts recorded in one batch commit together, and each has the consequences it would have had recorded
//      alone after those before it in the batch; a batch that fails leaves no attempt of it recorded.
import { type Kysely, sql } from 'kysely';
import { compiledOnce } from '../../storage/compiled-once.ts';
import type { AnyDb, Storage } from '../../storage/database.ts';
import { appendEvent, type DomainEvent, domainEvent, type OutboxTable, outboxColumns } from '../../storage/outbox.ts';
import type { WebhooksTables } from './repository.ts';
import type { DeliveryStatus } from './schema.ts';

const tables = (db: AnyDb): Kysely<WebhooksTables> => db.withTables<WebhooksTables>();

/** As written, not bound: the planner uses the partial index webhook_deliveries_pending only for a query that names
 * its condition (migration 0012). */
const pending = sql.lit<DeliveryStatus>('pending');

/** A claimed delivery: what a worker needs to send it. `payload` is the exact body every attempt sends. */
export interface ClaimedDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  payload: string;
  attempts: number;
}

export interface ClaimOptions {
  now: Date;
  leaseMs: number;
  perEndpoint: number;
  limit: number;
  /** Endpoints this worker is already busy with. */
  skipEndpoints: readonly string[];
  /** The caller knows deliveries were made or freed since its last claim: the probe for any due is skipped. */
  expectDue?: boolean;
}

/** The order claims take deliveries in: next_attempt_at, then id (PostgreSQL hands timestamps back as dates). */
const dueOrder = (a: { next_attempt_at: unknown; id: string }, b: { next_attempt_at: unknown; id: string }): number => {
  const at = (value: unknown) => (value instanceof Date ? value.getTime() : Date.parse(String(value)));
  return at(a.next_attempt_at) - at(b.next_attempt_at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
};

/** Claims due deliveries (rules 1 to 3). */
export async function claimDue(storage: Storage, options: ClaimOptions): Promise<ClaimedDelivery[]> {
  const now = options.now.toISOString();
  const leaseUntil = new Date(options.now.getTime() + options.leaseMs).toISOString();
  // Most polls find nothing: one plain read spares them a transaction. It asks each enabled endpoint for a due
  // delivery (an index range of webhook_deliveries_pending each), so deliveries waiting on a disabled endpoint or
  // scheduled for later are never scanned.
  const anyDue = options.expectDue
    ? true
    : await tables(storage.db)
        .selectFrom('webhook_endpoints as endpoint')
        .select('endpoint.id')
        .where('endpoint.enabled', '=', 1)
        .where(({ exists, selectFrom }) =>
          exists(
            selectFrom('webhook_deliveries as due')
              .select('due.id')
              .where('due.status', '=', pending)
              .whereRef('due.endpoint_id', '=', 'endpoint.id')
              .where('due.next_attempt_at', '<=', now),
          ),
        )
        .limit(1)
        .executeTakeFirst();
  if (!anyDue) return [];
  return storage.db.transaction().execute(async (trx) => {
    const db = tables(trx);
    // Each read below is a range of the partial index webhook_deliveries_pending (endpoint_id, next_attempt_at, id),
    // so a claim costs the endpoints and the deliveries it looks at, not the backlog behind them.
    let firsts = db
      .selectFrom('webhook_endpoints as endpoint')
      .select((eb) => [
        'endpoint.id',
        eb
          .selectFrom('webhook_deliveries as first')
          .select('first.id')
          .where('first.status', '=', pending)
          .whereRef('first.endpoint_id', '=', 'endpoint.id')
          .where('first.next_attempt_at', '<=', now)
          .orderBy('first.next_attempt_at')
          .orderBy('first.id')
          .limit(1)
          .as('first_id'),
      ])
      .where('endpoint.enabled', '=', 1);
    if (options.skipEndpoints.length > 0) firsts = firsts.where('endpoint.id', 'not in', options.skipEndpoints);
    // Every endpoint gives the claim its first due delivery, so the `limit` oldest claimed deliveries all belong to
    // the `limit` endpoints whose first due delivery is oldest: the others need not be read.
    const endpoints = await db
      .selectFrom(firsts.as('due'))
      .innerJoin('webhook_deliveries as first', 'first.id', 'due.first_id')
      .select('due.id')
      .orderBy('first.next_attempt_at')
      .orderBy('first.id')
      .limit(options.limit)
      .execute();
    // One statement for all of them: each endpoint's oldest due deliveries, locked on PostgreSQL. Due is checked
    // again on the locked row: a row another worker claimed and committed meanwhile is re-read (PostgreSQL
    // re-evaluates the WHERE of a FOR UPDATE on the newest version) and no longer due.
    const oldest = endpoints.map((endpoint) => {
      let rows = db
        .selectFrom('webhook_deliveries')
        .select(['id', 'endpoint_id', 'event_id', 'event_type', 'payload', 'attempts', 'next_attempt_at'])
        .where('status', '=', pending)
        .where('endpoint_id', '=', endpoint.id)
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .orderBy('id')
        .limit(options.perEndpoint);
      if (storage.dialect === 'postgres') rows = rows.forUpdate().skipLocked();
      // Wrapped: neither dialect takes LIMIT (nor PostgreSQL FOR UPDATE) on a bare branch of a UNION.
      return db
        .selectFrom(rows.as('oldest'))
        .select([
          'oldest.id',
          'oldest.endpoint_id',
          'oldest.event_id',
          'oldest.event_type',
          'oldest.payload',
          'oldest.attempts',
          'oldest.next_attempt_at',
        ]);
    });
    const [first, ...others] = oldest;
    if (!first) return [];
    // The rows are locked (PostgreSQL) or have no other writer (SQLite) until the transaction ends: they are put in
    // due order across endpoints here, and `limit` of them kept.
    const fair = await others.reduce((union, next) => union.unionAll(next), first).execute();
    const rows = fair.sort(dueOrder).slice(0, options.limit);
    if (rows.length === 0) return [];
    await db
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: leaseUntil })
      .where(
        'id',
        'in',
        rows.map((row) => row.id),
      )
      .execute();
    return rows.map((row) => ({
      id: row.id,
      endpointId: row.endpoint_id,
      eventId: row.event_id,
      eventType: row.event_type,
      // PostgreSQL hands jsonb back in its own canonical text, the same at every attempt, so retries sign and send
      // the same bytes.
      payload: row.payload,
      attempts: Number(row.attempts),
    }));
  });
}

export interface AttemptRecord {
  attemptedAt: Date;
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  responseBody: string | null;
}

/** What an attempt leaves behind: `retryAt` for `retry`; `gone` when the receiver answered 410. */
export interface AttemptResult {
  delivery: ClaimedDelivery;
  ownerId: string;
  attempt: AttemptRecord;
  outcome: 'succeeded' | 'retry' | 'failed';
  retryAt: Date | null;
  gone: boolean;
}

export const failedEventType = 'webhook_endpoint.delivery_failed';
export const disabledEventType = 'webhook_endpoint.disabled';
/** An endpoint failing this long without one success is disabled. */
export const failingLimitMs = 3 * 86_400_000;

/**
 * Records attempts and their consequences in one transaction (rule 4), as if one after another in the order given
 * (rule 5): a worker records the attempts that ended together with one commit rather than one each.
 */
export async function recordAttempts(storage: Storage, results: readonly AttemptResult[]): Promise<void> {
  if (results.length === 0) return;
  await storage.db.transaction().execute(async (trx) => {
    const db = tables(trx);
    // One statement for all: each delivery appears once in a batch (it is claimed again only after this commits or
    // its lease runs out), so their attempts need no order among themselves.
    await db
      .insertInto('webhook_attempts')
      .values(
        results.map(({ delivery, attempt }) => ({
          delivery_id: delivery.id,
          attempted_at: attempt.attemptedAt.toISOString(),
          status_code: attempt.statusCode,
          error: attempt.error,
          latency_ms: attempt.latencyMs,
          response_body: attempt.responseBody,
        })),
      )
      .execute();
    /** Endpoints whose failing_since this batch has cleared since their last failure in it. */
    const cleared = new Set<string>();
    for (const result of results) await recordConsequences(trx, result, cleared);
  });
}

// Every attempt runs it: compiled once, not built again per delivery.
const setDeliveryState = compiledOnce(
  (
    db,
    state: { status: DeliveryStatus; attempts: number; next_attempt_at: string | null; last_attempt_at: string },
    id: string,
  ) => tables(db).updateTable('webhook_deliveries').set(state).where('id', '=', id),
);

/** One attempt's delivery state, its endpoint's, and the owner's notifications, inside the batch's transaction. */
async function recordConsequences(trx: AnyDb, result: AttemptResult, cleared: Set<string>): Promise<void> {
  const { delivery, attempt } = result;
  const db = tables(trx);
  const at = attempt.attemptedAt.toISOString();
  const aggregate = { type: 'webhook_endpoint', id: delivery.endpointId };
  await setDeliveryState(
    trx,
    {
      status: result.outcome === 'retry' ? 'pending' : result.outcome,
      attempts: delivery.attempts + 1,
      next_attempt_at: result.retryAt?.toISOString() ?? null,
      last_attempt_at: at,
    },
    delivery.id,
  );
  const endpoint = db.updateTable('webhook_endpoints').where('id', '=', delivery.endpointId);
  let disable: 'gone' | 'failing' | null = result.gone ? 'gone' : null;
  if (result.outcome === 'succeeded') {
    // A second success in a row changes nothing the first did not: the batch's other successes skip the statement.
    if (!cleared.has(delivery.endpointId)) {
      await endpoint.set({ failing_since: null }).where('failing_since', 'is not', null).execute();
      cleared.add(delivery.endpointId);
    }
  } else {
    cleared.delete(delivery.endpointId);
    await endpoint.set({ failing_since: at }).where('failing_since', 'is', null).execute();
    const { failing_since: since } = await db
      .selectFrom('webhook_endpoints')
      .select('failing_since')
      .where('id', '=', delivery.endpointId)
      .executeTakeFirstOrThrow();
    if (since !== null && attempt.attemptedAt.getTime() - Date.parse(since) >= failingLimitMs) disable ??= 'failing';
  }
  // A notification about a notification that failed would make another: the chain stops at the first.
  if (result.outcome === 'failed' && delivery.eventType !== failedEventType) {
    const data = {
      endpointId: delivery.endpointId,
      ownerId: result.ownerId,
      deliveryId: delivery.id,
      eventId: delivery.eventId,
      eventType: delivery.eventType,
      attempts: delivery.attempts + 1,
      lastStatusCode: attempt.statusCode,
      lastError: attempt.error,
    };
    await appendEvent(trx, domainEvent(failedEventType, aggregate, data, attempt.attemptedAt));
  }
  if (disable) {
    const disabled = await endpoint
      .set({
        enabled: 0,
        disabled_reason: disable,
        version: sql<number>`version + 1`,
        updated_at: at,
      })
      .where('enabled', '=', 1)
      .executeTakeFirst();
    if (disabled.numUpdatedRows > 0n) {
      const data = { endpointId: delivery.endpointId, ownerId: result.ownerId, reason: disable };
      await appendEvent(trx, domainEvent(disabledEventType, aggregate, data, attempt.attemptedAt));
    }
  }
}

/** Makes a delivery due now again, whatever its state; false when there is no such delivery of this endpoint. */
export async function requeueDelivery(db: AnyDb, endpointId: string, deliveryId: string, now: Date): Promise<boolean> {
  const result = await tables(db)
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', next_attempt_at: now.toISOString() })
    .where('id', '=', deliveryId)
    .where('endpoint_id', '=', endpointId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Makes this endpoint's deliveries of these events due now again; returns how many there were. */
export async function requeueEvents(db: AnyDb, endpointId: string, eventIds: readonly string[], now: Date) {
  if (eventIds.length === 0) return 0;
  const result = await tables(db)
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', next_attempt_at: now.toISOString() })
    .where('endpoint_id', '=', endpointId)
    .where('event_id', 'in', eventIds)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Up to `limit` events committed to the outbox in [from, to), in commit order; for a replay. */
export async function outboxEventsBetween(db: AnyDb, from: string, to: string, limit: number): Promise<DomainEvent[]> {
  const rows = await db
    .withTables<OutboxTable>()
    .selectFrom('outbox')
    .select(outboxColumns)
    .where('created_at', '>=', from)
    .where('created_at', '<', to)
    .orderBy(sql.ref('position'))
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    id: row.id,
    type: row.type,
    createdAt: row.created_at,
    apiVersion: row.api_version,
    aggregate: { type: row.aggregate_type, id: row.aggregate_id },
    data: JSON.parse(row.payload) as unknown,
  }));
}
