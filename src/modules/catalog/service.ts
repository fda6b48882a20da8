// The catalog service: defaults, a real ISO 4217 currency, and the events of every change.
import type { Clock } from '../../kernel/clock.ts';
import type { CrudService } from '../../kernel/crud.ts';
import { invalid } from '../../kernel/errors.ts';
import type { AnyDb, Storage } from '../../storage/database.ts';
import { crudService } from '../crud-service.ts';
import { productCreated, productDeleted, productUpdated } from './events.ts';
import type { ReservedProduct, StockLine } from './repository.ts';
import * as repository from './repository.ts';
import { maxStock, type ProductCreate, type ProductFilters, type ProductPatch, type ProductRecord } from './schema.ts';

/**
 * Stock moves that another module's transaction makes (an order takes stock, a cancellation gives it back), so the
 * order and the stock change commit or roll back together. Each bumps the product's version, so its ETag changes.
 */
export interface StockKeeper {
  /** Index-aligned with `lines`: the product as charged, or null where it is unknown, not active or short. */
  takeStock(trx: AnyDb, lines: readonly StockLine[]): Promise<(ReservedProduct | null)[]>;
  giveBackStock(trx: AnyDb, lines: readonly StockLine[]): Promise<void>;
}

export type ProductsService = CrudService<ProductRecord, ProductCreate, ProductPatch, ProductFilters> & StockKeeper;

const currencies = new Set(Intl.supportedValuesOf('currency'));

export function checkCurrency(currency: string, field = 'price.currency'): void {
  if (!currencies.has(currency))
    throw invalid(field, 'UNKNOWN_CURRENCY', `${field} '${currency}' is not an ISO 4217 currency code.`);
}

export function buildProduct(
  input: ProductCreate,
  identity: { id: string; version: number; createdAt: string; updatedAt: string },
): ProductRecord {
  return {
    ...identity,
    name: input.name,
    description: input.description ?? null,
    category: input.category,
    price: { amount: input.price.amount, currency: input.price.currency },
    stock: input.stock ?? 0,
    status: input.status ?? 'active',
  };
}

export function productsService(storage: Storage, clock: Clock): ProductsService {
  const crud = crudService<ProductRecord, ProductCreate, ProductPatch, ProductFilters>(
    storage,
    {
      list: repository.listProducts,
      find: repository.findProduct,
      findMany: repository.findProducts,
      insert: repository.insertProduct,
      update: repository.updateProduct,
      remove: repository.deleteProduct,
    },
    {
      kind: 'product',
      prefix: 'prd',
      build: buildProduct,
      toInput: ({ name, description, category, price, stock, status }) => ({
        name,
        description,
        category,
        price,
        stock,
        status,
      }),
      check: (product) => checkCurrency(product.price.currency),
      created: (product, at) => [productCreated(product, at)],
      updated: (product, previous, at) => productUpdated(product, previous, at),
      deleted: (product, at) => [productDeleted(product, at)],
    },
    clock,
  );
  return {
    ...crud,
    takeStock: (trx, lines) => repository.takeStock(trx, lines, clock().toISOString()),
    giveBackStock: (trx, lines) => repository.giveBackStock(trx, lines, clock().toISOString(), maxStock),
  };
}
