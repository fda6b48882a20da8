// REST routes for events under /v1: the list (cursor pages, by type and time) and one event. Read-only, and for
// admins: events are the whole shop's activity, not any one customer's.
import type { FastifyInstance } from 'fastify';
import { getRoute, listRoute, type Resource, type RestContext } from '../../transports/rest/crud-routes.ts';
import { Event, type EventFilters, type EventRecord, eventFilters, eventSortFields } from './schema.ts';
import type { EventsService } from './service.ts';

export const eventsPath = '/v1/events';

export function representEvent(event: EventRecord, publicUrl: string) {
  const { version, ...fields } = event;
  return {
    ...fields,
    _links: {
      self: { href: `${publicUrl}${eventsPath}/${event.id}` },
      collection: { href: `${publicUrl}${eventsPath}` },
    },
  };
}

export function eventsRoutes(app: FastifyInstance, service: EventsService, context: RestContext): void {
  const resource: Resource<EventRecord> = {
    kind: 'event',
    plural: 'events',
    path: eventsPath,
    scopes: { read: 'events:read', write: 'events:write' },
    // An event never changes, but it does disappear after 30 days, and it is the shop's business only.
    cacheControl: 'private, max-age=3600',
    representation: Event,
    represent: (event) => representEvent(event, context.publicUrl),
  };
  listRoute(
    app,
    resource,
    {
      filters: eventFilters,
      sortFields: eventSortFields,
      list: (filters: EventFilters, page) => service.list(filters, page),
    },
    context,
  );
  getRoute(app, resource, (id) => service.get(id));
}
