// The events door: the outbox relay that feeds the bus, and idempotent bus consumers.
export { idempotentHandler } from './inbox.ts';
export { type OutboxRelay, type OutboxRelayOptions, outboxRelay } from './relay.ts';
