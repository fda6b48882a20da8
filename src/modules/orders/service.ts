// The orders service: placing an order (customer, products, one currency, stock taken in the order's own
// transaction) and moving it through its life (state-machine.ts), each change committed with its one event.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../kernel/clock.ts';
import type { Precondition } from '../../kernel/crud.ts';
import { type ErrorDetail, notFound, preconditionFailed } from '../../kernel/errors.ts';
import { isId, newId } from '../../kernel/ids.ts';
import type { PageRequest, PageResult } from '../../kernel/pagination.ts';
import type { AnyDb, Storage } from '../../storage/database.ts';
import { appendEvent } from '../../storage/outbox.ts';
import type { ProductRecord, ProductsService, StockLine } from '../catalog/index.ts';
import type { UsersService } from '../users/index.ts';
import {
  amountTooLarge,
  busyOrder,
  currencyMismatch,
  customerMismatch,
  duplicateLine,
  inactiveCustomer,
  inactiveProduct,
  insufficientStock,
  invalidOrder,
  invalidTransition,
  noTrackingYet,
  unknownCustomer,
  unknownProduct,
} from './errors.ts';
import { orderChanged, orderCreated } from './events.ts';
import * as repository from './repository.ts';
import type {
  CustomerOrderCreate,
  OrderCreate,
  OrderFilters,
  OrderRecord,
  OrderShipment,
  TrackingInfo,
} from './schema.ts';
import {
  applyAction,
  buildOrder,
  givesBackStock,
  hasTracking,
  type OrderAction,
  type PricedLine,
  priceLines,
  transitions,
} from './state-machine.ts';

export interface OrdersService {
  list(filters: OrderFilters, page: PageRequest): Promise<PageResult<OrderRecord>>;
  get(id: string): Promise<OrderRecord>;
  getMany(ids: string[]): Promise<OrderRecord[]>;
  create(input: OrderCreate): Promise<OrderRecord>;
  /** `POST /v1/users/{id}/orders`: 404 when the user does not exist; a customerId in the body must be theirs. */
  createForCustomer(customerId: string, input: CustomerOrderCreate): Promise<OrderRecord>;
  /** The filter of a customer's own orders; 404 when the user does not exist. */
  customerFilter(customerId: string): Promise<{ customerId: string }>;
  act(
    id: string,
    action: OrderAction,
    precondition: Precondition<OrderRecord>,
    shipment?: OrderShipment,
  ): Promise<OrderRecord>;
  /** The order and its tracking, once it has shipped; 404 before. */
  tracked(id: string): Promise<{ order: OrderRecord; tracking: TrackingInfo }>;
}

export interface OrdersDependencies {
  users: UsersService;
  products: ProductsService;
}

export const defaultCarrier = 'Portico Parcel';

/** A tracking number for a parcel whose shipper gave none: `PT` and 16 random hexadecimal digits. */
export const newTrackingNumber = (): string => `PT${randomBytes(8).toString('hex').toUpperCase()}`;

/** Lines whose stock could not be taken (unknown, inactive or short products); the transaction rolls back. */
class Unserved extends Error {
  readonly short: (StockLine & { index: number })[];
  constructor(short: (StockLine & { index: number })[]) {
    super('lines not served');
    this.short = short;
  }
}

/** An order changed between our read and our write; the action runs again on what is there now. */
class LostRace extends Error {}
const attemptsPerAction = 5;

/** A line at a product's price; a product not found prices at nothing, and is reported before this matters. */
function priced(line: StockLine, product: { name: string; price: PricedLine['unitPrice'] } | undefined): PricedLine {
  return {
    productId: line.productId,
    productName: product?.name ?? '',
    quantity: line.quantity,
    unitPrice: product?.price ?? { amount: 0, currency: '' },
  };
}

/** Each product at most once: quantities of one product belong on one line. */
function duplicateLines(lines: readonly StockLine[]): ErrorDetail[] {
  const first = new Map<string, number>();
  return lines.flatMap((line, index) => {
    const seen = first.get(line.productId);
    if (seen !== undefined) return [duplicateLine(index, seen)];
    first.set(line.productId, index);
    return [];
  });
}

/** Lines priced in another currency than the first line's. */
const currencyMismatches = (lines: readonly PricedLine[]): ErrorDetail[] => {
  const currency = lines[0]?.unitPrice.currency ?? '';
  return lines.flatMap((line, index) =>
    line.unitPrice.currency === currency ? [] : [currencyMismatch(index, line.unitPrice.currency, currency)],
  );
};

/** What the catalog says of each line before any stock is taken: unknown, archived, or of another currency. */
function productProblems(lines: readonly StockLine[], found: Map<string, ProductRecord>): ErrorDetail[] {
  const expected = found.get(lines[0]?.productId ?? '')?.price.currency;
  return lines.flatMap((line, index) => {
    const product = found.get(line.productId);
    if (!product) return [unknownProduct(index, line.productId)];
    if (product.status !== 'active') return [inactiveProduct(index, line.productId)];
    if (expected !== undefined && product.price.currency !== expected)
      return [currencyMismatch(index, product.price.currency, expected)];
    return [];
  });
}

export function ordersService(storage: Storage, clock: Clock, { users, products }: OrdersDependencies): OrdersService {
  async function get(id: string, db: AnyDb = storage.db): Promise<OrderRecord> {
    const found = isId('ord', id) ? await repository.findOrder(db, id) : null;
    if (!found) throw notFound('order', id);
    return found;
  }

  /**
   * Places the order. With a customer in good standing it goes straight to the transaction, whose conditional stock
   * updates check each product as they take it (found, active, enough stock) and give the prices charged. Only when
   * a line is refused, or the customer is, are the products read to say everything that is wrong with the order.
   */
  async function place(customerId: string, lines: StockLine[], customerProblems: ErrorDetail[]): Promise<OrderRecord> {
    const duplicates = duplicateLines(lines);
    if (duplicates.length > 0) throw invalidOrder(duplicates);
    if (customerProblems.length === 0) {
      try {
        return await write(customerId, lines);
      } catch (error) {
        if (!(error instanceof Unserved)) throw error;
      }
    }
    const found = new Map((await products.getMany(lines.map((line) => line.productId))).map((p) => [p.id, p]));
    const problems = [...customerProblems, ...productProblems(lines, found)];
    if (problems.length === 0) {
      const listed = priceLines(lines.map((line) => priced(line, found.get(line.productId))));
      if ('tooLarge' in listed) problems.push(amountTooLarge(listed.tooLarge));
    }
    if (problems.length > 0) throw invalidOrder(problems);
    try {
      return await write(customerId, lines);
    } catch (error) {
      if (error instanceof Unserved) throw insufficientStock(error.short);
      throw error;
    }
  }

  /** The stock taken, the order and its event written, in one transaction; `Unserved`, nothing written, otherwise. */
  function write(customerId: string, lines: StockLine[]): Promise<OrderRecord> {
    return storage.db.transaction().execute(async (trx) => {
      const taken = await products.takeStock(trx, lines);
      const short = lines.flatMap((line, index) => (taken[index] ? [] : [{ index, ...line }]));
      if (short.length > 0) throw new Unserved(short);
      // The prices charged are the ones read as the stock was taken, so a price changed meanwhile is still one price.
      const charged = lines.map((line, index) => priced(line, taken[index] ?? undefined));
      const mismatched = currencyMismatches(charged);
      if (mismatched.length > 0) throw invalidOrder(mismatched);
      const totals = priceLines(charged);
      if ('tooLarge' in totals) throw invalidOrder([amountTooLarge(totals.tooLarge)]);
      const at = clock();
      const order = buildOrder(
        { id: newId('ord', at.getTime()), customerId, createdAt: at.toISOString() },
        charged[0]?.unitPrice.currency ?? '',
        totals,
      );
      await repository.insertOrder(trx, order);
      await appendEvent(trx, orderCreated(order, at));
      return order;
    });
  }

  async function customerProblems(customerId: string): Promise<ErrorDetail[]> {
    const [customer] = await users.getMany([customerId]);
    if (!customer) return [unknownCustomer(customerId)];
    return customer.status === 'active' ? [] : [inactiveCustomer(customerId)];
  }

  function shipmentOf(shipment: OrderShipment | undefined): TrackingInfo {
    return {
      carrier: shipment?.carrier ?? defaultCarrier,
      trackingNumber: shipment?.trackingNumber ?? newTrackingNumber(),
    };
  }

  return {
    list: (filters, page) => repository.listOrders(storage.db, filters, page),

    get: (id) => get(id),

    getMany(ids) {
      const wellFormed = ids.filter((id) => isId('ord', id));
      return wellFormed.length > 0 ? repository.findOrders(storage.db, wellFormed) : Promise.resolve([]);
    },

    async create(input) {
      return place(input.customerId, input.items, await customerProblems(input.customerId));
    },

    async createForCustomer(customerId, input) {
      if (input.customerId !== undefined && input.customerId !== customerId) {
        throw customerMismatch(input.customerId, customerId);
      }
      const customer = await users.get(customerId);
      return place(customerId, input.items, customer.status === 'active' ? [] : [inactiveCustomer(customerId)]);
    },

    async customerFilter(customerId) {
      await users.get(customerId);
      return { customerId };
    },

    async act(id, action, precondition, shipment) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await storage.db.transaction().execute(async (trx) => {
            const order = await get(id, trx);
            // RFC 9110 §13.2.2: preconditions are evaluated before the method's own checks.
            if (!precondition(order)) throw preconditionFailed('order');
            if (!transitions[action].from.includes(order.status)) throw invalidTransition(order, action);
            const at = clock();
            const next = applyAction(
              order,
              action,
              at.toISOString(),
              action === 'ship' ? shipmentOf(shipment) : undefined,
            );
            if (!(await repository.updateOrder(trx, next, order.version))) throw new LostRace();
            if (givesBackStock(action)) {
              await products.giveBackStock(
                trx,
                order.items.map(({ productId, quantity }) => ({ productId, quantity })),
              );
            }
            await appendEvent(trx, orderChanged(next, order, action, at));
            return next;
          });
        } catch (error) {
          if (!(error instanceof LostRace)) throw error;
          if (attempt === attemptsPerAction) throw busyOrder(id);
        }
      }
    },

    async tracked(id) {
      const order = await get(id);
      if (!hasTracking(order.status) || order.tracking === null) throw noTrackingYet(order);
      return { order, tracking: order.tracking };
    },
  };
}
