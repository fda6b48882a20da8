// The outbox read as events: pages of it newest first, one event, and the purge of what the 30 days left behind.
// Writing it is storage/outbox.ts's, in each module's own transactions.
import { type Kysely, sql } from 'kysely';
import type { PageRequest, PageResult } from '../../kernel/pagination.ts';
import type { AnyDb } from '../../storage/database.ts';
import type { OutboxTable } from '../../storage/outbox.ts';
import { paginate } from '../../storage/paginate.ts';
import type { EventFilters, EventRecord } from './schema.ts';

type Row = OutboxTable['outbox'];

const tables = (db: AnyDb): Kysely<OutboxTable> => db.withTables<OutboxTable>();

const columns = ['id', 'type', 'created_at', 'api_version', 'payload'] as const;

const toRecord = (row: Pick<Row, (typeof columns)[number]>): EventRecord => ({
  id: row.id,
  type: row.type,
  createdAt: row.created_at,
  apiVersion: row.api_version,
  data: JSON.parse(row.payload),
  version: 1,
});

/** Events at or after `since` (the retention bound), narrowed by the filters. */
export async function listEvents(
  db: AnyDb,
  filters: EventFilters,
  since: string,
  page: PageRequest,
): Promise<PageResult<EventRecord>> {
  let query = tables(db).selectFrom('outbox').select(columns).where('created_at', '>=', since);
  const { type } = filters;
  if (type?.endsWith('.*')) {
    const prefix = type.slice(0, -1);
    // Not LIKE: `_` in a type (`product.price_changed`) would be a wildcard there.
    query = query.where(sql<boolean>`substr(type, 1, ${prefix.length}) = ${prefix}`);
  } else if (type && type !== '*') {
    query = query.where('type', '=', type);
  }
  if (filters.createdFrom) query = query.where('created_at', '>=', filters.createdFrom);
  if (filters.createdTo) query = query.where('created_at', '<', filters.createdTo);
  const result = await paginate(query, page, 'created_at', (row) => row.created_at);
  return { ...result, items: result.items.map(toRecord) };
}

export async function findEvent(db: AnyDb, id: string, since: string): Promise<EventRecord | null> {
  const row = await tables(db)
    .selectFrom('outbox')
    .select(columns)
    .where('id', '=', id)
    .where('created_at', '>=', since)
    .executeTakeFirst();
  return row ? toRecord(row) : null;
}

/** Deletes events older than `before` that the relay has published; returns how many. */
export async function purgeEvents(db: AnyDb, before: string): Promise<number> {
  const result = await tables(db)
    .deleteFrom('outbox')
    .where('created_at', '<', before)
    // An event not yet published is kept whatever its age: the relay must still deliver it.
    .where('published_at', 'is not', null)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
