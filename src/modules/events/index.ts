// The events module's door: the event types and patterns, the events API over the outbox, and its retention.
export { eventsPath, eventsRoutes, representEvent } from './http.ts';
export { eventTypes, isPatternSyntax, matches, matchesAny, patternProblem } from './patterns.ts';
export { schedulePurge } from './retention.ts';
export { Event, type EventRecord } from './schema.ts';
export { type EventsService, eventRetentionMs, eventsService } from './service.ts';
