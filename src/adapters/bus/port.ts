// The event bus port: publish with confirmation, named consumers with at-least-once delivery, a dead-letter
// destination, and a replayable log of every event; in-process (embedded) or RabbitMQ.
//
// 1. `publish` resolves only once the bus holds the event (RabbitMQ: the publisher confirm arrived).
// 2. A consumer is a name, not a connection: its queue outlives `close()`, and events published while it is away
//    wait for it (RabbitMQ: a durable queue per consumer).
// 3. Patterns follow AMQP topic rules over the event type's dot-separated words: `*` is one word, `#` any number.
// 4. A handler's event is acknowledged only after the handler resolves; one that throws gets the event again, and
//    after `maxAttempts` deliveries the event goes to the consumer's dead letters instead.
// 5. Each consumer handles its events one at a time (a batch consumer one batch at a time), in the order the bus
//    received them (redeliveries aside).
// 6. The log keeps every published event at an offset (0, 1, 2 …) and can be read from any offset still kept.
// 7. A batch consumer is handed the events waiting for it, at most `maxBatch` at once, without waiting for more to
//    arrive; they are acknowledged together once its handler resolves. A batch whose handler throws is handed over
//    again one event at a time, each then under rule 4, so an event the handler keeps failing on holds back and
//    dead-letters only itself. A consumer name is used either for batches or for single events, not both.
import type { DomainEvent } from '../../storage/outbox.ts';

export type { DomainEvent };

export type EventHandler = (event: DomainEvent) => Promise<void>;

/** Rule 7: the events of one batch, oldest first. */
export type BatchHandler = (events: DomainEvent[]) => Promise<void>;

export interface SubscribeOptions {
  /** Deliveries before the event is dead-lettered; 5 when not given. */
  maxAttempts?: number;
}

export interface BatchOptions extends SubscribeOptions {
  /** The most events handed over at once. */
  maxBatch: number;
}

export interface Subscription {
  /** Stops delivering; the consumer's queue and what waits in it stay. */
  close(): Promise<void>;
}

export interface LogEntry {
  offset: number;
  event: DomainEvent;
}

export interface EventBus {
  publish(event: DomainEvent): Promise<void>;
  subscribe(
    consumer: string,
    patterns: string | readonly string[],
    handler: EventHandler,
    options?: SubscribeOptions,
  ): Promise<Subscription>;
  /** Rule 7: a consumer whose handler takes the waiting events together, so it can write them in one go. */
  subscribeBatch(
    consumer: string,
    patterns: string | readonly string[],
    handler: BatchHandler,
    options: BatchOptions,
  ): Promise<Subscription>;
  /** Removes and returns up to `max` events the consumer gave up on, oldest first. */
  takeDeadLetters(consumer: string, max?: number): Promise<DomainEvent[]>;
  /** Reads the log from `offset` on, then each event as it is published, until closed. */
  replay(offset: number, handler: (entry: LogEntry) => Promise<void>): Promise<Subscription>;
  close(): Promise<void>;
}

export const defaultMaxAttempts = 5;

/** Whether an event type matches an AMQP topic pattern (rule 3). */
export function matchesPattern(pattern: string, type: string): boolean {
  const match = (p: string[], t: string[]): boolean => {
    if (p.length === 0) return t.length === 0;
    const [head, ...rest] = p;
    if (head === '#') return match(rest, t) || (t.length > 0 && match(p, t.slice(1)));
    if (t.length === 0) return false;
    return (head === '*' || head === t[0]) && match(rest, t.slice(1));
  };
  return match(pattern.split('.'), type.split('.'));
}
