// Fan-out: one pending delivery of an event to every enabled endpoint subscribed to its type whose owner may see it
// (audience.ts). A batch consumer of the bus calls it with the events waiting for it; the deliveries are unique per
// endpoint and event, so an event the bus delivers twice is fanned out once.
//
// The enabled endpoints are read once for many events rather than for each, one list per storage in the process:
//   1. An event is fanned out against a list whose read began after the event was created, so every endpoint change
//      committed before the event was written is in it, whichever process made it. (Across processes this holds up
//      to the skew between their clocks.) Under load one read serves the events of a whole relay batch.
//   2. A change this process commits drops the list (the endpoints service calls `endpointsChanged`), so an event
//      created just before the change and fanned out after it sees the change too, as when the list was read for
//      every event.
//   3. A fan-out that fails (an endpoint deleted meanwhile breaks the delivery's reference) drops the list, so the
//      bus's redelivery of the event reads a fresh one.
import type { Clock } from '../../kernel/clock.ts';
import type { Storage } from '../../storage/database.ts';
import type { DomainEvent } from '../../storage/outbox.ts';
import { matchesAny } from '../events/index.ts';
import type { UsersService } from '../users/index.ts';
import { mayReceive } from './audience.ts';
import { createDeliveries, enabledEndpoints } from './repository.ts';
import type { WebhookDeliveryRecord, WebhookEndpointRecord, WebhookEvent } from './schema.ts';

/** The body every delivery carries (Standard Webhooks): the event without its aggregate. */
export const webhookEvent = (event: DomainEvent): WebhookEvent => ({
  id: event.id,
  type: event.type,
  createdAt: event.createdAt,
  apiVersion: event.apiVersion,
  data: event.data,
});

/** Fans out the events of one bus batch together: their deliveries are written in one go (repository.ts). */
export type EnqueueDeliveries = (events: readonly DomainEvent[]) => Promise<WebhookDeliveryRecord[]>;

/** The users behind endpoints, to learn who may be sent what. */
export type EndpointOwners = Pick<UsersService, 'getMany'>;

interface KeptList {
  endpoints: Promise<WebhookEndpointRecord[]>;
  /** When the read began, in milliseconds of the clock events are stamped with. */
  readAt: number;
}

const kept = new WeakMap<Storage, KeptList>();

/** Rule 2: called once a change to the endpoints of `storage` has committed. */
export function endpointsChanged(storage: Storage): void {
  kept.delete(storage);
}

function enabledEndpointsFor(
  storage: Storage,
  clock: Clock,
  events: readonly DomainEvent[],
): Promise<WebhookEndpointRecord[]> {
  const list = kept.get(storage);
  const latest = Math.max(...events.map((event) => Date.parse(event.createdAt)));
  if (list && list.readAt > latest) return list.endpoints; // rule 1
  const read: KeptList = { endpoints: enabledEndpoints(storage.db), readAt: clock().getTime() };
  kept.set(storage, read);
  read.endpoints.catch(() => {
    if (kept.get(storage) === read) kept.delete(storage);
  });
  return read.endpoints;
}

export function enqueueDeliveries(storage: Storage, clock: Clock, owners: EndpointOwners): EnqueueDeliveries {
  return async (events) => {
    if (events.length === 0) return [];
    const endpoints = await enabledEndpointsFor(storage, clock, events);
    const subscribed = events.map((event) => ({
      event,
      endpoints: endpoints.filter((endpoint) => matchesAny(endpoint.events, event.type)),
    }));
    const ownerIds = new Set(subscribed.flatMap((wanted) => wanted.endpoints.map((endpoint) => endpoint.ownerId)));
    if (ownerIds.size === 0) return [];
    try {
      const byId = new Map((await owners.getMany([...ownerIds])).map((user) => [user.id, user]));
      const allowed = subscribed.map(({ event, endpoints }) => ({
        event: webhookEvent(event),
        endpoints: endpoints.filter((endpoint) => {
          const owner = byId.get(endpoint.ownerId);
          return owner !== undefined && mayReceive(owner, event);
        }),
      }));
      return await createDeliveries(storage.db, allowed, clock());
    } catch (error) {
      endpointsChanged(storage); // rule 3
      throw error;
    }
  };
}
