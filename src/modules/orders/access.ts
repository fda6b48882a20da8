// Who may see and act on which orders: an admin any, a customer only their own. A customer places orders for
// themself, pays, cancels and returns them; shipping, delivery and refunds are the shop's (admins').
import { type AccessPolicy, forbidden } from '../../transports/rest/access.ts';
import type { OrderRecord } from './schema.ts';
import type { OrderAction } from './state-machine.ts';

export const ordersAccess: AccessPolicy<OrderRecord> = {
  listFilters: (customer) => ({ customerId: customer.userId }),
  canSee: (customer, order) => order.customerId === customer.userId,
  ownerField: 'customerId',
};

const customerActions: ReadonlySet<OrderAction> = new Set(['pay', 'cancel', 'return']);

/** Throws the 403 a customer gets for an action that is the shop's. */
export function guardAction(action: OrderAction): void {
  if (!customerActions.has(action)) throw forbidden('action', `only an admin may ${action} an order.`);
}
