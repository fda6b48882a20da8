// The order's life: which action moves which status where, and the pure functions that build an order and apply
// an action to it. The service and the seeder both go through these, so seeded orders obey the same rules.
//
//   pending ─pay→ paid ─ship→ shipped ─deliver→ delivered ─return→ returned ─refund→ refunded
//   pending|paid ─cancel→ cancelled (a paid order is refunded as it is cancelled)
import type { Money } from '../../kernel/schemas.ts';
import type { OrderItemRecord, OrderRecord, OrderStatus, TrackingInfo } from './schema.ts';

export const orderActions = ['pay', 'cancel', 'ship', 'deliver', 'return', 'refund'] as const;
export type OrderAction = (typeof orderActions)[number];

type Stamp = 'paidAt' | 'shippedAt' | 'deliveredAt' | 'cancelledAt' | 'returnedAt' | 'refundedAt';

interface Transition {
  from: readonly OrderStatus[];
  to: OrderStatus;
  stamp: Stamp;
  /** For messages: "cannot be shipped". */
  done: string;
  /** For the action link's title. */
  title: string;
}

export const transitions: Record<OrderAction, Transition> = {
  pay: { from: ['pending'], to: 'paid', stamp: 'paidAt', done: 'paid', title: 'Pay for this order' },
  cancel: {
    from: ['pending', 'paid'],
    to: 'cancelled',
    stamp: 'cancelledAt',
    done: 'cancelled',
    title: 'Cancel this order (a paid order is refunded)',
  },
  ship: { from: ['paid'], to: 'shipped', stamp: 'shippedAt', done: 'shipped', title: 'Ship this order' },
  deliver: {
    from: ['shipped'],
    to: 'delivered',
    stamp: 'deliveredAt',
    done: 'delivered',
    title: 'Record the delivery',
  },
  return: {
    from: ['delivered'],
    to: 'returned',
    stamp: 'returnedAt',
    done: 'returned',
    title: 'Record the return of the goods',
  },
  refund: { from: ['returned'], to: 'refunded', stamp: 'refundedAt', done: 'refunded', title: 'Refund the return' },
};

/** The actions an order in `status` allows, in the order of the life cycle. */
export const allowedActions = (status: OrderStatus): OrderAction[] =>
  orderActions.filter((action) => transitions[action].from.includes(status));

/** Tracking exists from shipping on, whatever happens after. */
export const hasTracking = (status: OrderStatus): boolean =>
  status === 'shipped' || status === 'delivered' || status === 'returned' || status === 'refunded';

/** Stock goes back to the shelf when an order is cancelled (it was taken at creation) or its goods come back. */
export const givesBackStock = (action: OrderAction): boolean => action === 'cancel' || action === 'return';

/** A line as priced when the order was placed. */
export interface PricedLine {
  productId: string;
  productName: string;
  quantity: number;
  unitPrice: Money;
}

/** The most any amount may be (Money's maximum), for line totals and the order total alike. */
export const maxAmount = 1_000_000_000_000;

/** Line totals and the order total, or the index of the first line whose total, or running total, is too large. */
export function priceLines(
  lines: readonly PricedLine[],
): { items: OrderItemRecord[]; total: number } | { tooLarge: number } {
  const items: OrderItemRecord[] = [];
  let total = 0;
  for (const [index, line] of lines.entries()) {
    const amount = line.unitPrice.amount * line.quantity;
    total += amount;
    if (amount > maxAmount || total > maxAmount) return { tooLarge: index };
    items.push({ ...line, lineTotal: { amount, currency: line.unitPrice.currency } });
  }
  return { items, total };
}

export function buildOrder(
  identity: { id: string; customerId: string; createdAt: string },
  currency: string,
  priced: { items: OrderItemRecord[]; total: number },
): OrderRecord {
  return {
    id: identity.id,
    customerId: identity.customerId,
    status: 'pending',
    items: priced.items,
    total: { amount: priced.total, currency },
    currency,
    tracking: null,
    version: 1,
    createdAt: identity.createdAt,
    updatedAt: identity.createdAt,
    paidAt: null,
    shippedAt: null,
    deliveredAt: null,
    cancelledAt: null,
    returnedAt: null,
    refundedAt: null,
  };
}

/** The order after `action` at `at`; the caller has checked the action is allowed. */
export function applyAction(order: OrderRecord, action: OrderAction, at: string, shipment?: TrackingInfo): OrderRecord {
  const transition = transitions[action];
  const next: OrderRecord = {
    ...order,
    status: transition.to,
    version: order.version + 1,
    updatedAt: at,
    [transition.stamp]: at,
  };
  if (action === 'cancel' && order.status === 'paid') next.refundedAt = at;
  if (action === 'ship') next.tracking = shipment ?? null;
  return next;
}
