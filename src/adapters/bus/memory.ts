// The in-process event bus: one process's memory. Consumers' queues and the log live as long as the bus; the log
// keeps the most recent `logLimit` events, with offsets that keep counting. An event is held once, as the JSON text
// RabbitMQ would carry, and every handler and reader gets its own copy parsed from it: what one does to its event
// reaches no one else, and an event comes out as it would from the broker.
import {
  type BatchHandler,
  type DomainEvent,
  defaultMaxAttempts,
  type EventBus,
  type LogEntry,
  matchesPattern,
  type Subscription,
} from './port.ts';

/** A published event: its id (for the attempt count) and its JSON text. */
interface Held {
  id: string;
  body: string;
}

const copyOf = (held: Held): DomainEvent => JSON.parse(held.body) as DomainEvent;

/** A consumer's waiting events, oldest first: taken from the front without moving the rest each time. */
class Waiting {
  #items: Held[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(held: Held): void {
    this.#items.push(held);
  }

  first(count: number): Held[] {
    return this.#items.slice(this.#head, this.#head + count);
  }

  drop(count: number): void {
    this.#head += count;
    if (this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** A live subscription: single-event handlers take batches of one. */
interface Subscriber {
  handler: BatchHandler;
  maxAttempts: number;
  maxBatch: number;
}

interface ConsumerQueue {
  patterns: readonly string[];
  waiting: Waiting;
  attempts: Map<string, number>;
  dead: DomainEvent[];
  /** The live subscriptions, none while the consumer is away; several share the work, as on a broker. */
  active: Subscriber[];
  turn: number;
  draining: Promise<void> | null;
  /** Rule 7: events of a failed batch still to be handed over one at a time. */
  alone: number;
}

const retryDelayMs = 50;

/**
 * Events a consumer handles before it lets the event loop turn. A handler that only touches SQLite never waits on
 * I/O (its calls return at once), so without a turn a burst of a thousand events kept the process from answering
 * HTTP for over a second (bench/README.md, webhook-fanout).
 */
export const eventsPerTurn = 64;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export function memoryBus({ logLimit = 10_000 }: { logLimit?: number } = {}): EventBus {
  const consumers = new Map<string, ConsumerQueue>();
  const log: Held[] = [];
  let firstOffset = 0;
  const readers = new Set<() => void>();
  let closed = false;

  /** Hands `subscriber` the next batch (rule 7) or event (rule 4); answers how many events it took. */
  async function handleNext(queue: ConsumerQueue, subscriber: Subscriber): Promise<number> {
    const size = queue.alone > 0 ? 1 : Math.min(subscriber.maxBatch, queue.waiting.length);
    const batch = queue.waiting.first(size);
    if (size > 1) {
      try {
        await subscriber.handler(batch.map(copyOf));
        queue.waiting.drop(size);
      } catch {
        queue.alone = size;
      }
      return size;
    }
    const event = batch[0] as Held;
    const attempt = (queue.attempts.get(event.id) ?? 0) + 1;
    queue.attempts.set(event.id, attempt);
    try {
      await subscriber.handler([copyOf(event)]);
    } catch {
      if (attempt < subscriber.maxAttempts) return 1;
      queue.dead.push(copyOf(event));
    }
    queue.waiting.drop(1);
    queue.attempts.delete(event.id);
    if (queue.alone > 0) queue.alone--;
    return 1;
  }

  function drain(queue: ConsumerQueue): void {
    if (queue.draining || queue.active.length === 0) return;
    queue.draining = (async () => {
      let sinceTurn = 0;
      while (queue.active.length > 0 && queue.waiting.length > 0) {
        if (sinceTurn >= eventsPerTurn) {
          sinceTurn = 0;
          await nextTurn();
        }
        const subscriber = queue.active[queue.turn++ % queue.active.length] as Subscriber;
        sinceTurn += await handleNext(queue, subscriber);
      }
    })().finally(() => {
      queue.draining = null;
      if (queue.active.length > 0 && queue.waiting.length > 0) drain(queue);
    });
  }

  async function subscribe(
    consumer: string,
    patterns: string | readonly string[],
    subscriber: Subscriber,
  ): Promise<Subscription> {
    const list = typeof patterns === 'string' ? [patterns] : patterns;
    let queue = consumers.get(consumer);
    if (!queue) {
      queue = {
        patterns: list,
        waiting: new Waiting(),
        attempts: new Map(),
        dead: [],
        active: [],
        turn: 0,
        draining: null,
        alone: 0,
      };
      consumers.set(consumer, queue);
    }
    queue.patterns = [...new Set([...queue.patterns, ...list])];
    queue.active.push(subscriber);
    drain(queue);
    const owned = queue;
    return {
      async close() {
        owned.active = owned.active.filter((active) => active !== subscriber);
        await owned.draining;
      },
    };
  }

  return {
    async publish(event) {
      if (closed) throw new Error('the event bus is closed');
      const held: Held = { id: event.id, body: JSON.stringify(event) };
      log.push(held);
      if (log.length > logLimit) {
        log.shift();
        firstOffset++;
      }
      for (const queue of consumers.values()) {
        if (queue.patterns.some((pattern) => matchesPattern(pattern, event.type))) {
          queue.waiting.push(held);
          drain(queue);
        }
      }
      for (const wake of readers) wake();
    },

    subscribe: (consumer, patterns, handler, { maxAttempts = defaultMaxAttempts } = {}) =>
      subscribe(consumer, patterns, {
        handler: (events) => handler(events[0] as DomainEvent),
        maxAttempts,
        maxBatch: 1,
      }),

    subscribeBatch: (consumer, patterns, handler, { maxAttempts = defaultMaxAttempts, maxBatch }) =>
      subscribe(consumer, patterns, { handler, maxAttempts, maxBatch: Math.max(1, maxBatch) }),

    async takeDeadLetters(consumer, max = 100) {
      return consumers.get(consumer)?.dead.splice(0, max) ?? [];
    },

    async replay(offset, handler) {
      let next = Math.max(offset, firstOffset);
      let open = true;
      let wake: () => void = () => {};
      const reader = async () => {
        while (open) {
          if (next < firstOffset) next = firstOffset;
          const event = log[next - firstOffset];
          if (!event) {
            await new Promise<void>((resolve) => {
              wake = resolve;
              readers.add(resolve);
            });
            readers.delete(wake);
            continue;
          }
          const entry: LogEntry = { offset: next, event: copyOf(event) };
          try {
            await handler(entry);
            next++;
          } catch {
            // At least once: the reader stays on this offset and tries it again.
            await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
          }
        }
      };
      const running = reader();
      return {
        async close() {
          open = false;
          wake();
          await running;
        },
      };
    },

    async close() {
      closed = true;
      for (const queue of consumers.values()) queue.active = [];
      await Promise.all([...consumers.values()].map((queue) => queue.draining));
    },
  };
}
