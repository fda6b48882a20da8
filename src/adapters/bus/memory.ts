// The in-process event bus: one process's memory. Consumers' queues and the log live as long as the bus; the log
// keeps the most recent `logLimit` events, with offsets that keep counting. An event is held once, as the JSON text
// RabbitMQ would carry, and every handler and reader gets its own copy parsed from it: what one does to its event
// reaches no one else, and an event comes out as it would from the broker.
import {
  type DomainEvent,
  defaultMaxAttempts,
  type EventBus,
  type EventHandler,
  type LogEntry,
  matchesPattern,
} from './port.ts';

/** A published event: its id (for the attempt count) and its JSON text. */
interface Held {
  id: string;
  body: string;
}

const copyOf = (held: Held): DomainEvent => JSON.parse(held.body) as DomainEvent;

interface ConsumerQueue {
  patterns: readonly string[];
  waiting: Held[];
  attempts: Map<string, number>;
  dead: DomainEvent[];
  /** The live subscriptions' handlers, none while the consumer is away; several share the work, as on a broker. */
  active: { handler: EventHandler; maxAttempts: number }[];
  turn: number;
  draining: Promise<void> | null;
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

  function drain(queue: ConsumerQueue): void {
    if (queue.draining || queue.active.length === 0) return;
    queue.draining = (async () => {
      for (let handled = 1; queue.active.length > 0 && queue.waiting.length > 0; handled++) {
        if (handled % eventsPerTurn === 0) await nextTurn();
        const { handler, maxAttempts } = queue.active[queue.turn++ % queue.active.length] as ConsumerQueue['active'][0];
        const event = queue.waiting[0] as Held;
        const attempt = (queue.attempts.get(event.id) ?? 0) + 1;
        queue.attempts.set(event.id, attempt);
        try {
          await handler(copyOf(event));
        } catch {
          if (attempt < maxAttempts) continue;
          queue.dead.push(copyOf(event));
        }
        queue.waiting.shift();
        queue.attempts.delete(event.id);
      }
    })().finally(() => {
      queue.draining = null;
      if (queue.active.length > 0 && queue.waiting.length > 0) drain(queue);
    });
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

    async subscribe(consumer, patterns, handler, { maxAttempts = defaultMaxAttempts } = {}) {
      const list = typeof patterns === 'string' ? [patterns] : patterns;
      let queue = consumers.get(consumer);
      if (!queue) {
        queue = { patterns: list, waiting: [], attempts: new Map(), dead: [], active: [], turn: 0, draining: null };
        consumers.set(consumer, queue);
      }
      queue.patterns = [...new Set([...queue.patterns, ...list])];
      const subscriber = { handler, maxAttempts };
      queue.active.push(subscriber);
      drain(queue);
      const owned = queue;
      return {
        async close() {
          owned.active = owned.active.filter((active) => active !== subscriber);
          await owned.draining;
        },
      };
    },

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
