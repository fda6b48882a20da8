// The transactional outbox: events are appended in the transaction that makes the change they describe.

import { newId } from '../kernel/ids.ts';
import { allColumns } from './columns.ts';
import { compiledOnce } from './compiled-once.ts';
import type { AnyDb } from './database.ts';

export interface DomainEvent {
  id: string;
  type: string;
  createdAt: string;
  apiVersion: string;
  aggregate: { type: string; id: string };
  data: unknown;
}

export type OutboxTable = {
  outbox: {
    id: string;
    type: string;
    aggregate_type: string;
    aggregate_id: string;
    api_version: string;
    payload: string;
    created_at: string;
    published_at: string | null;
  };
};

/** The outbox's columns, for reads of whole events. */
export const outboxColumns = allColumns<OutboxTable['outbox']>({
  id: true,
  type: true,
  aggregate_type: true,
  aggregate_id: true,
  api_version: true,
  payload: true,
  created_at: true,
  published_at: true,
});

export const currentApiVersion = 'v1';

/** Builds an event; modules call this from their events.ts builders. */
export function domainEvent(
  type: string,
  aggregate: { type: string; id: string },
  data: unknown,
  at: Date,
): DomainEvent {
  return {
    id: newId('evt', at.getTime()),
    type,
    createdAt: at.toISOString(),
    apiVersion: currentApiVersion,
    aggregate,
    data,
  };
}

// Every change appends one: compiled once.
const insertEvent = compiledOnce((db, row: OutboxTable['outbox']) =>
  db.withTables<OutboxTable>().insertInto('outbox').values(row),
);

export async function appendEvent(trx: AnyDb, event: DomainEvent): Promise<void> {
  await insertEvent(trx, {
    id: event.id,
    type: event.type,
    aggregate_type: event.aggregate.type,
    aggregate_id: event.aggregate.id,
    api_version: event.apiVersion,
    payload: JSON.stringify(event.data),
    created_at: event.createdAt,
    published_at: null,
  });
}
