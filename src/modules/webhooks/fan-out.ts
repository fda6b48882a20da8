// Fan-out: one pending delivery of an event to every enabled endpoint subscribed to its type whose owner may see it
// (audience.ts). A bus consumer calls it for each event; the deliveries are unique per endpoint and event, so an event
// the bus delivers twice is fanned out once.
import type { Clock } from '../../kernel/clock.ts';
import type { Storage } from '../../storage/database.ts';
import type { DomainEvent } from '../../storage/outbox.ts';
import type { UsersService } from '../users/index.ts';
import { mayReceive } from './audience.ts';
import { createDeliveries, endpointsFor } from './repository.ts';
import type { WebhookDeliveryRecord, WebhookEvent } from './schema.ts';

/** The body every delivery carries (Standard Webhooks): the event without its aggregate. */
export const webhookEvent = (event: DomainEvent): WebhookEvent => ({
  id: event.id,
  type: event.type,
  createdAt: event.createdAt,
  apiVersion: event.apiVersion,
  data: event.data,
});

export type EnqueueDeliveries = (event: DomainEvent) => Promise<WebhookDeliveryRecord[]>;

/** The users behind endpoints, to learn who may be sent what. */
export type EndpointOwners = Pick<UsersService, 'getMany'>;

export function enqueueDeliveries(storage: Storage, clock: Clock, owners: EndpointOwners): EnqueueDeliveries {
  return async (event) => {
    const subscribed = await endpointsFor(storage.db, event.type);
    if (subscribed.length === 0) return [];
    const users = await owners.getMany([...new Set(subscribed.map((endpoint) => endpoint.ownerId))]);
    const byId = new Map(users.map((user) => [user.id, user]));
    const allowed = subscribed.filter((endpoint) => {
      const owner = byId.get(endpoint.ownerId);
      return owner !== undefined && mayReceive(owner, event);
    });
    return createDeliveries(storage.db, webhookEvent(event), allowed, clock());
  };
}
