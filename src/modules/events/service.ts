// The events service: the last 30 days of events, for clients catching up on what they missed, and the purge that
// keeps it to that.
import type { Clock } from '../../kernel/clock.ts';
import { notFound } from '../../kernel/errors.ts';
import { isId } from '../../kernel/ids.ts';
import type { PageRequest, PageResult } from '../../kernel/pagination.ts';
import type { Storage } from '../../storage/database.ts';
import * as repository from './repository.ts';
import type { EventFilters, EventRecord } from './schema.ts';

export const eventRetentionMs = 30 * 24 * 60 * 60 * 1000;

export interface EventsService {
  list(filters: EventFilters, page: PageRequest): Promise<PageResult<EventRecord>>;
  get(id: string): Promise<EventRecord>;
  /** Deletes published events past retention; returns how many. */
  purge(): Promise<number>;
}

export function eventsService(storage: Storage, clock: Clock): EventsService {
  // Events past retention are hidden at once, whether or not the purge has run yet.
  const retainedSince = () => new Date(clock().getTime() - eventRetentionMs).toISOString();
  return {
    list: (filters, page) => repository.listEvents(storage.db, filters, retainedSince(), page),
    async get(id) {
      const found = isId('evt', id) ? await repository.findEvent(storage.db, id, retainedSince()) : null;
      if (!found) throw notFound('event', id);
      return found;
    },
    purge: () => repository.purgeEvents(storage.db, retainedSince()),
  };
}
