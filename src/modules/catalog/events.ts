// Events the catalog emits: every change, and a price change on its own, since buyers and caches care about it.
import { type DomainEvent, domainEvent } from '../../storage/outbox.ts';
import type { ProductRecord } from './schema.ts';

const aggregate = (product: { id: string }) => ({ type: 'product', id: product.id });
const publicData = ({ version, ...product }: ProductRecord) => product;

export const productCreated = (product: ProductRecord, at: Date): DomainEvent =>
  domainEvent('product.created', aggregate(product), publicData(product), at);

export function productUpdated(product: ProductRecord, previous: ProductRecord, at: Date): DomainEvent[] {
  const events = [domainEvent('product.updated', aggregate(product), publicData(product), at)];
  if (product.price.amount !== previous.price.amount || product.price.currency !== previous.price.currency) {
    events.push(
      domainEvent(
        'product.price_changed',
        aggregate(product),
        { id: product.id, previous: previous.price, current: product.price },
        at,
      ),
    );
  }
  return events;
}

export const productDeleted = (product: ProductRecord, at: Date): DomainEvent =>
  domainEvent('product.deleted', aggregate(product), { id: product.id }, at);
