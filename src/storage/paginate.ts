// The one place that turns a page request into SQL: keyset over (sort key, id) for cursors, LIMIT/OFFSET on request.
import { type SelectQueryBuilder, sql } from 'kysely';
import type { KeysetPosition, PageRequest, PageResult } from '../kernel/pagination.ts';

// biome-ignore lint/suspicious/noExplicitAny: the helper serves every table; callers keep their row type O.
type AnySelect<O> = SelectQueryBuilder<any, any, O>;

/**
 * @param query  the filtered query, without ORDER BY or LIMIT
 * @param sortColumn  the column behind `request.sort.field`
 * @param keyOf  reads a row's sort value back, to build the cursors
 */
export async function paginate<O extends { id: string }>(
  query: AnySelect<O>,
  request: PageRequest,
  sortColumn: string,
  keyOf: (row: O) => string | number,
): Promise<PageResult<O>> {
  const column = sql.ref(sortColumn);
  const id = sql.ref('id');
  if (request.mode === 'offset') {
    const ordered = query
      .orderBy(column, request.sort.order)
      .orderBy(id, request.sort.order)
      .limit(request.perPage)
      .offset((request.page - 1) * request.perPage);
    const [items, counted] = await Promise.all([
      ordered.execute(),
      query.clearSelect().select(sql<number>`count(*)`.as('total')).executeTakeFirstOrThrow() as Promise<{
        total: number | string;
      }>,
    ]);
    return { mode: 'offset', items, total: Number(counted.total) };
  }

  // Going back reverses both the comparison and the order, then the page is flipped to read forwards again.
  const backwards = request.direction === 'prev';
  const ascending = (request.sort.order === 'asc') !== backwards;
  let page = query;
  if (request.position) {
    const { value, id: lastId } = request.position;
    const operator = ascending ? sql.raw('>') : sql.raw('<');
    // A row-value comparison uses the (sort key, id) index on both SQLite and PostgreSQL.
    page = page.where(sql<boolean>`(${column}, ${id}) ${operator} (${value}, ${lastId})`);
  }
  const direction = ascending ? 'asc' : 'desc';
  const rows = await page
    .orderBy(column, direction)
    .orderBy(id, direction)
    .limit(request.limit + 1)
    .execute();
  const hasMore = rows.length > request.limit;
  const items = hasMore ? rows.slice(0, request.limit) : rows;
  if (backwards) items.reverse();
  const first = items[0];
  const last = items.at(-1);
  const position = (row: O | undefined): KeysetPosition | null => (row ? { value: keyOf(row), id: row.id } : null);
  // Forwards, a previous page exists whenever we started from a cursor; backwards, a next page always does.
  const next = backwards || hasMore ? position(last) : null;
  const prev = backwards ? (hasMore ? position(first) : null) : request.position ? position(first) : null;
  return { mode: 'cursor', items, next, prev };
}
