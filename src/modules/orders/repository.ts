// The orders and order_items tables: the only SQL that touches them. A page of orders reads its items in one
// query, whatever the page size.
import type { Kysely } from 'kysely';
import type { PageRequest, PageResult } from '../../kernel/pagination.ts';
import { allColumns } from '../../storage/columns.ts';
import { compiledOnce } from '../../storage/compiled-once.ts';
import type { AnyDb } from '../../storage/database.ts';
import { paginate } from '../../storage/paginate.ts';
import type { OrderFilters, OrderItemRecord, OrderRecord } from './schema.ts';

type OrdersTables = {
  orders: {
    id: string;
    customer_id: string;
    status: OrderRecord['status'];
    currency: string;
    total_amount: number;
    tracking_carrier: string | null;
    tracking_number: string | null;
    version: number;
    created_at: string;
    updated_at: string;
    paid_at: string | null;
    shipped_at: string | null;
    delivered_at: string | null;
    cancelled_at: string | null;
    returned_at: string | null;
    refunded_at: string | null;
  };
  order_items: {
    order_id: string;
    position: number;
    product_id: string;
    product_name: string;
    quantity: number;
    unit_price_amount: number;
  };
};
type Row = OrdersTables['orders'];
type ItemRow = OrdersTables['order_items'];

const columns = allColumns<Row>({
  id: true,
  customer_id: true,
  status: true,
  currency: true,
  total_amount: true,
  tracking_carrier: true,
  tracking_number: true,
  version: true,
  created_at: true,
  updated_at: true,
  paid_at: true,
  shipped_at: true,
  delivered_at: true,
  cancelled_at: true,
  returned_at: true,
  refunded_at: true,
});
const itemColumns = allColumns<ItemRow>({
  order_id: true,
  position: true,
  product_id: true,
  product_name: true,
  quantity: true,
  unit_price_amount: true,
});

const sortColumns: Record<string, keyof Row> = { createdAt: 'created_at', total: 'total_amount' };

const tables = (db: AnyDb): Kysely<OrdersTables> => db.withTables<OrdersTables>();

function toItem(row: ItemRow, currency: string): OrderItemRecord {
  const unit = Number(row.unit_price_amount);
  const quantity = Number(row.quantity);
  return {
    productId: row.product_id,
    productName: row.product_name,
    quantity,
    unitPrice: { amount: unit, currency },
    lineTotal: { amount: unit * quantity, currency },
  };
}

const toRecord = (row: Row, items: ItemRow[]): OrderRecord => ({
  id: row.id,
  customerId: row.customer_id,
  status: row.status,
  items: items.map((item) => toItem(item, row.currency)),
  total: { amount: Number(row.total_amount), currency: row.currency },
  currency: row.currency,
  tracking:
    row.tracking_carrier !== null && row.tracking_number !== null
      ? { carrier: row.tracking_carrier, trackingNumber: row.tracking_number }
      : null,
  version: Number(row.version),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  paidAt: row.paid_at,
  shippedAt: row.shipped_at,
  deliveredAt: row.delivered_at,
  cancelledAt: row.cancelled_at,
  returnedAt: row.returned_at,
  refundedAt: row.refunded_at,
});

const toRow = (order: OrderRecord): Row => ({
  id: order.id,
  customer_id: order.customerId,
  status: order.status,
  currency: order.currency,
  total_amount: order.total.amount,
  tracking_carrier: order.tracking?.carrier ?? null,
  tracking_number: order.tracking?.trackingNumber ?? null,
  version: order.version,
  created_at: order.createdAt,
  updated_at: order.updatedAt,
  paid_at: order.paidAt,
  shipped_at: order.shippedAt,
  delivered_at: order.deliveredAt,
  cancelled_at: order.cancelledAt,
  returned_at: order.returnedAt,
  refunded_at: order.refundedAt,
});

const toItemRows = (order: OrderRecord): ItemRow[] =>
  order.items.map((item, position) => ({
    order_id: order.id,
    position,
    product_id: item.productId,
    product_name: item.productName,
    quantity: item.quantity,
    unit_price_amount: item.unitPrice.amount,
  }));

/** The orders of these rows with their items, read in one query for all of them. */
async function withItems(db: AnyDb, rows: Row[]): Promise<OrderRecord[]> {
  if (rows.length === 0) return [];
  const itemRows = await tables(db)
    .selectFrom('order_items')
    .select(itemColumns)
    .where(
      'order_id',
      'in',
      rows.map((row) => row.id),
    )
    .orderBy('order_id')
    .orderBy('position')
    .execute();
  const byOrder = new Map<string, ItemRow[]>();
  for (const item of itemRows) byOrder.set(item.order_id, [...(byOrder.get(item.order_id) ?? []), item]);
  return rows.map((row) => toRecord(row, byOrder.get(row.id) ?? []));
}

export async function listOrders(
  db: AnyDb,
  filters: OrderFilters,
  page: PageRequest,
): Promise<PageResult<OrderRecord>> {
  let query = tables(db).selectFrom('orders').select(columns);
  if (filters.status) query = query.where('status', '=', filters.status);
  if (filters.customerId) query = query.where('customer_id', '=', filters.customerId);
  if (filters.createdFrom) query = query.where('created_at', '>=', filters.createdFrom);
  if (filters.createdTo) query = query.where('created_at', '<', filters.createdTo);
  const column = sortColumns[page.sort.field] ?? 'created_at';
  const result = await paginate(query, page, column, (row) => row[column] as string | number);
  return { ...result, items: await withItems(db, result.items) };
}

export async function findOrder(db: AnyDb, id: string): Promise<OrderRecord | null> {
  const row = await tables(db).selectFrom('orders').select(columns).where('id', '=', id).executeTakeFirst();
  return row ? ((await withItems(db, [row]))[0] ?? null) : null;
}

export async function findOrders(db: AnyDb, ids: string[]): Promise<OrderRecord[]> {
  const rows = await tables(db).selectFrom('orders').select(columns).where('id', 'in', ids).execute();
  return withItems(db, rows);
}

/**
 * Rows per INSERT of items: six columns each, well under the bound-parameter limits of SQLite (32,766) and
 * PostgreSQL (65,535).
 */
const itemsPerInsert = 2_000;

export async function insertOrders(db: AnyDb, orders: OrderRecord[]): Promise<void> {
  if (orders.length === 0) return;
  await tables(db).insertInto('orders').values(orders.map(toRow)).execute();
  const items = orders.flatMap(toItemRows);
  for (let start = 0; start < items.length; start += itemsPerInsert) {
    await tables(db)
      .insertInto('order_items')
      .values(items.slice(start, start + itemsPerInsert))
      .execute();
  }
}

// Placing an order runs these: compiled once. An order of one line, the usual one, inserts it with the one-row
// statement; more lines go in one built INSERT, as a statement per line would cost PostgreSQL a round trip each.
const insertOrderRow = compiledOnce((db, row: Row) => tables(db).insertInto('orders').values(row));
const insertItemRow = compiledOnce((db, row: ItemRow) => tables(db).insertInto('order_items').values(row));

export async function insertOrder(db: AnyDb, order: OrderRecord): Promise<void> {
  await insertOrderRow(db, toRow(order));
  const items = toItemRows(order);
  const [only] = items;
  if (items.length === 1 && only !== undefined) await insertItemRow(db, only);
  else if (items.length > 0) await tables(db).insertInto('order_items').values(items).execute();
}

/** Writes a new status, its timestamps and tracking, only if the stored version is still `expectedVersion`. */
export async function updateOrder(db: AnyDb, order: OrderRecord, expectedVersion: number): Promise<boolean> {
  const { id, customer_id, currency, total_amount, created_at, ...changes } = toRow(order);
  const result = await tables(db)
    .updateTable('orders')
    .set(changes)
    .where('id', '=', id)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
