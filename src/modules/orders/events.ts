// Events the orders module emits: one per change of an order, each carrying the order as the API shows it
// (without links), so a consumer never has to read the order back.
import { type DomainEvent, domainEvent } from '../../storage/outbox.ts';
import type { OrderRecord } from './schema.ts';
import type { OrderAction } from './state-machine.ts';

const aggregate = (order: { id: string }) => ({ type: 'order', id: order.id });
const publicData = ({ version, ...order }: OrderRecord) => order;

const eventTypes: Record<OrderAction, string> = {
  pay: 'order.paid',
  cancel: 'order.cancelled',
  ship: 'order.shipped',
  deliver: 'order.delivered',
  return: 'order.returned',
  refund: 'order.refunded',
};

export const orderCreated = (order: OrderRecord, at: Date): DomainEvent =>
  domainEvent('order.created', aggregate(order), publicData(order), at);

/** `order.cancelled` also says whether the cancellation refunded a payment. */
export function orderChanged(order: OrderRecord, previous: OrderRecord, action: OrderAction, at: Date): DomainEvent {
  const data = action === 'cancel' ? { ...publicData(order), refunded: previous.status === 'paid' } : publicData(order);
  return domainEvent(eventTypes[action], aggregate(order), data, at);
}
