// The products table: the only SQL that touches it.
import type { Kysely } from 'kysely';
import type { PageRequest, PageResult } from '../../kernel/pagination.ts';
import { allColumns } from '../../storage/columns.ts';
import { compiledOnce } from '../../storage/compiled-once.ts';
import type { AnyDb } from '../../storage/database.ts';
import { paginate } from '../../storage/paginate.ts';
import type { ProductFilters, ProductRecord } from './schema.ts';

type ProductsTable = {
  products: {
    id: string;
    name: string;
    description: string | null;
    category: string;
    price_amount: number;
    price_currency: string;
    stock: number;
    status: ProductRecord['status'];
    version: number;
    created_at: string;
    updated_at: string;
  };
};
type Row = ProductsTable['products'];

const columns = allColumns<Row>({
  id: true,
  name: true,
  description: true,
  category: true,
  price_amount: true,
  price_currency: true,
  stock: true,
  status: true,
  version: true,
  created_at: true,
  updated_at: true,
});

const sortColumns: Record<string, keyof Row> = {
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  name: 'name',
  price: 'price_amount',
  stock: 'stock',
};

const toRecord = (row: Row): ProductRecord => ({
  id: row.id,
  name: row.name,
  description: row.description,
  category: row.category,
  price: { amount: Number(row.price_amount), currency: row.price_currency },
  stock: Number(row.stock),
  status: row.status,
  version: Number(row.version),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const toRow = (product: ProductRecord): Row => ({
  id: product.id,
  name: product.name,
  description: product.description,
  category: product.category,
  price_amount: product.price.amount,
  price_currency: product.price.currency,
  stock: product.stock,
  status: product.status,
  version: product.version,
  created_at: product.createdAt,
  updated_at: product.updatedAt,
});

const tables = (db: AnyDb): Kysely<ProductsTable> => db.withTables<ProductsTable>();

export async function listProducts(
  db: AnyDb,
  filters: ProductFilters,
  page: PageRequest,
): Promise<PageResult<ProductRecord>> {
  let query = tables(db).selectFrom('products').select(columns);
  if (filters.category) query = query.where('category', '=', filters.category);
  if (filters.status) query = query.where('status', '=', filters.status);
  if (filters.currency) query = query.where('price_currency', '=', filters.currency);
  if (filters.priceMin !== undefined) query = query.where('price_amount', '>=', filters.priceMin);
  if (filters.priceMax !== undefined) query = query.where('price_amount', '<=', filters.priceMax);
  if (filters.createdFrom) query = query.where('created_at', '>=', filters.createdFrom);
  if (filters.createdTo) query = query.where('created_at', '<', filters.createdTo);
  const column = sortColumns[page.sort.field] ?? 'created_at';
  const result = await paginate(query, page, column, (row) => row[column] as string | number);
  return { ...result, items: result.items.map(toRecord) };
}

// Every read of one product (GET /v1/products/:id) runs it: compiled once, not built again per request.
const productById = compiledOnce((db, id: string) =>
  tables(db).selectFrom('products').select(columns).where('id', '=', id),
);

export async function findProduct(db: AnyDb, id: string): Promise<ProductRecord | null> {
  const [row] = await productById(db, id);
  return row ? toRecord(row) : null;
}

export async function findProducts(db: AnyDb, ids: string[]): Promise<ProductRecord[]> {
  const rows = await tables(db).selectFrom('products').select(columns).where('id', 'in', ids).execute();
  return rows.map(toRecord);
}

export async function insertProducts(db: AnyDb, products: ProductRecord[]): Promise<void> {
  if (products.length > 0) await tables(db).insertInto('products').values(products.map(toRow)).execute();
}

export const insertProduct = (db: AnyDb, product: ProductRecord): Promise<void> => insertProducts(db, [product]);

export async function updateProduct(db: AnyDb, product: ProductRecord, expectedVersion: number): Promise<boolean> {
  const { id, created_at, ...changes } = toRow(product);
  const result = await tables(db)
    .updateTable('products')
    .set(changes)
    .where('id', '=', id)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** One line of an order, as the stock sees it. */
export interface StockLine {
  productId: string;
  quantity: number;
}

/** What an order captures of a product at the moment its stock was taken. */
export interface ReservedProduct {
  id: string;
  name: string;
  price: ProductRecord['price'];
}

// Every order runs it once per line.
const takeLine = compiledOnce((db, quantity: number, updatedAt: string, productId: string) =>
  tables(db)
    .updateTable('products')
    .set((eb) => ({
      stock: eb('stock', '-', quantity),
      version: eb('version', '+', 1),
      updated_at: updatedAt,
    }))
    .where('id', '=', productId)
    .where('status', '=', 'active')
    .where('stock', '>=', quantity)
    .returning(['id', 'name', 'price_amount', 'price_currency']),
);

/**
 * Takes each line's quantity from its product's stock, only while the product is active and has enough: the check
 * and the decrement are one UPDATE, so concurrent orders can never drive stock below zero. Lines run in product id
 * order, so two transactions lock shared products in the same order and cannot deadlock on PostgreSQL. The answer
 * is index-aligned with `lines`: the product as it was charged, or null for a line that could not be served.
 */
export async function takeStock(
  db: AnyDb,
  lines: readonly StockLine[],
  updatedAt: string,
): Promise<(ReservedProduct | null)[]> {
  const taken: (ReservedProduct | null)[] = lines.map(() => null);
  const order = lines
    .map((_, i) => i)
    .sort((a, b) => (lines[a]?.productId ?? '').localeCompare(lines[b]?.productId ?? ''));
  for (const index of order) {
    const line = lines[index];
    if (!line) continue;
    const [row] = await takeLine(db, line.quantity, updatedAt, line.productId);
    if (row) {
      taken[index] = {
        id: row.id,
        name: row.name,
        price: { amount: Number(row.price_amount), currency: row.price_currency },
      };
    }
  }
  return taken;
}

/**
 * Gives each line's quantity back to its product (a cancelled or returned order), whatever the product's status;
 * a product deleted since has nothing to take it back. Stock stays within the documented maximum.
 */
export async function giveBackStock(
  db: AnyDb,
  lines: readonly StockLine[],
  updatedAt: string,
  maxStock: number,
): Promise<void> {
  const sorted = [...lines].sort((a, b) => a.productId.localeCompare(b.productId));
  for (const line of sorted) {
    await tables(db)
      .updateTable('products')
      .set((eb) => ({
        stock: eb
          .case()
          .when(eb('stock', '+', line.quantity), '>', maxStock)
          .then(maxStock)
          .else(eb('stock', '+', line.quantity))
          .end(),
        version: eb('version', '+', 1),
        updated_at: updatedAt,
      }))
      .where('id', '=', line.productId)
      .execute();
  }
}

export async function deleteProduct(db: AnyDb, id: string, expectedVersion: number): Promise<boolean> {
  const result = await tables(db)
    .deleteFrom('products')
    .where('id', '=', id)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}
