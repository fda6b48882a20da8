// Idempotent consumers: an inbox of the events a consumer has handled, so a redelivery (the bus and the relay
// deliver at least once) changes nothing.
import type { EventHandler } from '../adapters/bus/port.ts';
import { type Clock, systemClock } from '../kernel/clock.ts';
import type { AnyDb, Storage } from '../storage/database.ts';
import type { DomainEvent } from '../storage/outbox.ts';

type InboxTable = {
  event_inbox: { consumer: string; event_id: string; handled_at: string };
};

/**
 * A bus handler that runs `handle` at most once per event for `consumer`. The inbox row is written in the same
 * transaction as the handler's own writes (`trx`), so they commit together or not at all: a handler that throws
 * leaves no row, and the bus's redelivery runs it again.
 */
export function idempotentHandler(
  storage: Storage,
  consumer: string,
  handle: (event: DomainEvent, trx: AnyDb) => Promise<void>,
  clock: Clock = systemClock,
): EventHandler {
  return (event) =>
    storage.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .withTables<InboxTable>()
        .insertInto('event_inbox')
        .values({ consumer, event_id: event.id, handled_at: clock().toISOString() })
        .onConflict((conflict) => conflict.columns(['consumer', 'event_id']).doNothing())
        .executeTakeFirst();
      // A concurrent duplicate waits on the first one's row (PostgreSQL) and then inserts nothing.
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return;
      await handle(event, trx);
    });
}
