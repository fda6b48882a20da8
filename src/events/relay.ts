// The outbox relay: moves committed events from the outbox to the event bus.
//
// 1. At least once: an event is marked published only after the bus confirmed it; whatever is unmarked when a
//    relay starts (after a crash anywhere) is published again, with the same event id.
// 2. In commit order per aggregate: events go out one at a time by outbox position, and a batch stops at the first
//    failure, so no later event of an aggregate overtakes an earlier one that is still waiting. (Two transactions
//    on one aggregate serialise on its row, so their positions follow their commits.)
// 3. One relay at a time per database: on PostgreSQL each batch holds an advisory lock keyed by the schema, so
//    several processes may run the relay and at most one publishes at a time (claiming rows with SKIP LOCKED
//    instead would let two relays publish one aggregate's events out of order). SQLite serves one process, which
//    runs one relay.
// 4. While the bus fails, the relay waits longer between attempts (up to `maxBackoffMs`) and keeps every event.
// 5. Nudges coalesce: a nudge starts a batch `coalesceMs` later, not at once, so the writes that commit meanwhile
//    (concurrent requests) go out in one batch: one read and one mark for all of them rather than for each. An event
//    reaches the bus at most `coalesceMs` later than it would without; order and at-least-once are those of 1 and 2.
import { sql } from 'kysely';
import type { EventBus } from '../adapters/bus/port.ts';
import { type Clock, systemClock } from '../kernel/clock.ts';
import { compiledOnce } from '../storage/compiled-once.ts';
import type { AnyDb, Storage } from '../storage/database.ts';
import { type DomainEvent, type OutboxTable, outboxColumns } from '../storage/outbox.ts';

export interface OutboxRelayOptions {
  storage: Storage;
  bus: EventBus;
  clock?: Clock;
  batchSize?: number;
  /** How often the relay looks for events nobody nudged it about. */
  intervalMs?: number;
  maxBackoffMs?: number;
  /** How long a nudge waits for more writes to commit before the batch starts. */
  coalesceMs?: number;
  /** Told about a failed batch; the events stay in the outbox for the next one. */
  onError?: (error: unknown) => void;
}

export interface OutboxRelay {
  /** Publishes every waiting event, batch after batch; resolves with how many it published. */
  drain(): Promise<number>;
  /** Polls every `intervalMs` from now on. */
  start(): void;
  /** Looks soon (after `coalesceMs`) rather than at the next poll: a write just committed. */
  nudge(): void;
  /** Stops polling and waits for a batch in flight. */
  stop(): Promise<void>;
}

type OutboxRow = OutboxTable['outbox'] & { position: number };

/** The outbox's columns and its position, which orders the relay's batches. */
const relayColumns = [...outboxColumns, 'position' as const];

function toEvent(row: OutboxRow): DomainEvent {
  return {
    id: row.id,
    type: row.type,
    createdAt: new Date(row.created_at).toISOString(),
    apiVersion: row.api_version,
    aggregate: { type: row.aggregate_type, id: row.aggregate_id },
    data: JSON.parse(row.payload),
  };
}

// Every batch reads the waiting events, and every poll on PostgreSQL first looks for one: compiled once.
const waitingEvents = compiledOnce((db, limit: number) =>
  db
    .withTables<{ outbox: OutboxRow }>()
    .selectFrom('outbox')
    .select(relayColumns)
    .where('published_at', 'is', null)
    .orderBy('position')
    .limit(limit),
);
const anyWaiting = compiledOnce((db) =>
  db
    .withTables<{ outbox: OutboxRow }>()
    .selectFrom('outbox')
    .select('position')
    .where('published_at', 'is', null)
    .limit(1),
);

/** The relays of one schema share a lock; another schema (a test run, a second deployment) has its own. */
const lockKey = sql`hashtext(current_schema() || '.portico.outbox-relay')`;

export function outboxRelay({
  storage,
  bus,
  clock = systemClock,
  batchSize = 100,
  intervalMs = 250,
  maxBackoffMs = 30_000,
  coalesceMs = 2,
  onError = () => {},
}: OutboxRelayOptions): OutboxRelay {
  /** Publishes one batch through `db`; the count published, or null when another relay holds the lock. */
  async function publishBatch(db: AnyDb): Promise<number | null> {
    const rows = await waitingEvents(db, batchSize);
    const published: number[] = [];
    let failure: unknown = null;
    for (const row of rows) {
      try {
        await bus.publish(toEvent(row));
        published.push(row.position);
      } catch (error) {
        failure = error;
        break;
      }
    }
    if (published.length > 0) {
      await db
        .withTables<{ outbox: OutboxRow }>()
        .updateTable('outbox')
        .set({ published_at: clock().toISOString() })
        .where('position', 'in', published)
        .execute();
    }
    if (failure) throw new Error('the event bus refused an event', { cause: failure });
    return published.length;
  }

  async function runBatch(): Promise<number | null> {
    if (storage.dialect === 'sqlite') return publishBatch(storage.db);
    // An idle poll costs one indexed read and takes no lock.
    if ((await anyWaiting(storage.db)).length === 0) return 0;
    // A session lock on one pooled connection, not a transaction: the marks commit as they are made, and a process
    // that dies drops its connection and with it the lock.
    return storage.db.connection().execute(async (connection) => {
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${lockKey}) as locked`.execute(
        connection,
      );
      if (!rows[0]?.locked) return null;
      try {
        return await publishBatch(connection);
      } finally {
        await sql`select pg_advisory_unlock(${lockKey})`.execute(connection);
      }
    });
  }

  async function drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const count = await runBatch();
      if (count === null) return total;
      total += count;
      if (count < batchSize) return total;
    }
  }

  /** The next poll, or the next attempt while the bus fails. */
  let timer: NodeJS.Timeout | null = null;
  /** A nudge waiting out `coalesceMs`. */
  let nudged: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let again = false;
  let started = false;
  let failures = 0;

  function schedule(delayMs: number): void {
    if (!started) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      tick();
    }, delayMs);
  }

  function tick(): void {
    if (!started) return;
    if (running) {
      again = true;
      return;
    }
    running = drain()
      .then(
        () => {
          failures = 0;
        },
        (error: unknown) => {
          failures++;
          onError(error);
        },
      )
      .finally(() => {
        running = null;
        if (again && failures === 0) {
          again = false;
          tick();
        } else if (failures > 0) schedule(Math.min(intervalMs * 2 ** failures, maxBackoffMs));
        // A poll already waiting stays: re-arming the timer after every batch costs more than an early idle read.
        else if (!timer) schedule(intervalMs);
      });
  }

  return {
    drain,
    start() {
      if (started) return;
      started = true;
      tick();
    },
    nudge() {
      // While the bus fails, the backoff decides when to try again, not the traffic.
      if (failures > 0 || nudged || !started) return;
      nudged = setTimeout(() => {
        nudged = null;
        tick();
      }, coalesceMs);
    },
    async stop() {
      started = false;
      if (timer) clearTimeout(timer);
      if (nudged) clearTimeout(nudged);
      timer = null;
      nudged = null;
      await running;
    },
  };
}
