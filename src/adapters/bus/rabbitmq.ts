// The RabbitMQ event bus, for several processes: a topic exchange keyed by event type, publisher confirms, a
// durable quorum queue per consumer with manual acknowledgements and a dead-letter queue, and a stream queue bound
// to every event as the replayable log (port.ts, rules 1–7).
//
// 1. Names: exchange `<prefix>.events` (topic); per consumer `<prefix>.consumer.<name>` (quorum) and
//    `<prefix>.consumer.<name>.dead`, fed by exchange `<prefix>.dead` (direct, keyed by consumer name); the log is
//    `<prefix>.log` (stream), bound with `#`.
// 2. A quorum queue counts deliveries (`x-delivery-count`), so a failed event is rejected to the dead-letter
//    exchange on its last attempt; `x-delivery-limit` makes the broker do the same if a consumer dies mid-handler
//    every time. The limit is fixed when the queue is first declared: a later `maxAttempts` does not change it.
// 3. When the connection is lost, `publish` reconnects on its next call (and fails while the broker is away, so
//    the outbox relay keeps the event); subscriptions and log readers reconnect by themselves, and one made while
//    the broker is unreachable starts once it can be reached.
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import {
  type BatchHandler,
  type DomainEvent,
  defaultMaxAttempts,
  type EventBus,
  type LogEntry,
  type Subscription,
} from './port.ts';

export interface RabbitMqBusOptions {
  url: string;
  /** Starts every exchange and queue name, so deployments (or test runs) sharing a broker never meet. */
  prefix?: string;
  /** How long the log keeps events (`x-max-age`). */
  logMaxAge?: string;
  /** Unacknowledged deliveries a consumer holds at once. */
  prefetch?: number;
  reconnectDelayMs?: number;
}

export interface RabbitMqBus extends EventBus {
  /** Every queue and exchange this bus declared, for tests to delete afterwards. */
  readonly declared: { queues: Set<string>; exchanges: Set<string> };
}

/** Something that runs on a connection and must run again on the next one after the connection is lost. */
interface Attachment {
  attach(connection: ChannelModel): Promise<void>;
}

/** A socket error (`ECONNREFUSED`, `ECONNRESET` …), as opposed to the broker refusing an operation (numeric code). */
const isUnreachable = (error: unknown) => /^E[A-Z]+$/.test(String((error as { code?: unknown }).code));

const encode = (event: DomainEvent) => Buffer.from(JSON.stringify(event));
const decode = (message: ConsumeMessage) => JSON.parse(message.content.toString('utf8')) as DomainEvent;

export async function rabbitMqBus({
  url,
  prefix = 'portico',
  logMaxAge = '30D',
  prefetch = 20,
  reconnectDelayMs = 1_000,
}: RabbitMqBusOptions): Promise<RabbitMqBus> {
  const exchange = `${prefix}.events`;
  const deadExchange = `${prefix}.dead`;
  const logQueue = `${prefix}.log`;
  const queueOf = (consumer: string) => `${prefix}.consumer.${consumer}`;
  const deadQueueOf = (consumer: string) => `${queueOf(consumer)}.dead`;
  const declared = { queues: new Set<string>(), exchanges: new Set<string>() };
  const attachments = new Set<Attachment>();
  let connecting: Promise<{ connection: ChannelModel; publisher: ConfirmChannel }> | null = null;
  let closed = false;
  let reconnectTimer: NodeJS.Timeout | null = null;

  async function declareTopology(channel: Channel): Promise<void> {
    await channel.assertExchange(exchange, 'topic', { durable: true });
    await channel.assertExchange(deadExchange, 'direct', { durable: true });
    await channel.assertQueue(logQueue, {
      durable: true,
      arguments: { 'x-queue-type': 'stream', 'x-max-age': logMaxAge },
    });
    await channel.bindQueue(logQueue, exchange, '#');
    declared.exchanges.add(exchange).add(deadExchange);
    declared.queues.add(logQueue);
  }

  function scheduleReconnect(): void {
    if (closed || reconnectTimer || attachments.size === 0) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      connect().catch(() => scheduleReconnect());
    }, reconnectDelayMs);
  }

  function connect(): Promise<{ connection: ChannelModel; publisher: ConfirmChannel }> {
    if (closed) return Promise.reject(new Error('the event bus is closed'));
    connecting ??= (async () => {
      const connection = await amqp.connect(url);
      connection.on('error', () => {});
      connection.on('close', () => {
        connecting = null;
        scheduleReconnect();
      });
      try {
        const publisher = await connection.createConfirmChannel();
        publisher.on('error', () => {});
        // A publisher channel the broker closed (the exchange deleted under it) takes the connection down with it,
        // so the next publish starts afresh instead of failing on a dead channel for ever.
        publisher.on('close', () => {
          connection.close().catch(() => {});
        });
        await declareTopology(publisher);
        for (const attachment of attachments) await attachment.attach(connection);
        return { connection, publisher };
      } catch (error) {
        await connection.close().catch(() => {});
        throw error;
      }
    })();
    const attempt = connecting;
    attempt.catch(() => {
      if (connecting === attempt) connecting = null;
    });
    return attempt;
  }

  /** Runs `attachment` now and again after every reconnection, until the returned subscription is closed. */
  async function attach(attachment: Attachment & { detach(): Promise<void> }): Promise<Subscription> {
    attachments.add(attachment);
    try {
      const { connection } = await connect();
      // connect() attaches everything on a new connection; on an existing one this attachment is new to it.
      if (attachedTo.get(attachment) !== connection) await attachment.attach(connection);
    } catch (error) {
      // Rule 3: a broker that cannot be reached now is waited for; anything else (a queue declared with other
      // arguments) is the caller's to fix.
      if (isUnreachable(error)) scheduleReconnect();
      else {
        attachments.delete(attachment);
        throw error;
      }
    }
    return {
      async close() {
        attachments.delete(attachment);
        await attachment.detach();
      },
    };
  }

  const attachedTo = new WeakMap<Attachment, ChannelModel>();

  /**
   * A channel consuming one queue, whose messages `handle` sees in delivery order and one call at a time: at most
   * `maxBatch` at once, those that arrived while it was busy (rule 7).
   */
  function sequentialConsumer(
    queue: string,
    consumeArguments: Record<string, unknown>,
    setup: (channel: Channel) => Promise<void>,
    handle: (channel: Channel, messages: ConsumeMessage[]) => Promise<void>,
    maxBatch = 1,
  ): Attachment & { detach(): Promise<void> } {
    let current: { channel: Channel; tag: string } | null = null;
    let chain = Promise.resolve();
    const self = {
      async attach(connection: ChannelModel) {
        attachedTo.set(self, connection);
        const channel = await connection.createChannel();
        channel.on('error', () => {});
        await channel.prefetch(Math.max(prefetch, maxBatch));
        await setup(channel);
        const waiting: ConsumeMessage[] = [];
        let pumping = false;
        const pump = async () => {
          while (waiting.length > 0) await handle(channel, waiting.splice(0, maxBatch)).catch(() => {});
          pumping = false;
        };
        const { consumerTag } = await channel.consume(
          queue,
          (message) => {
            if (!message) return;
            waiting.push(message);
            if (pumping) return;
            pumping = true;
            // Started after the messages of the same frame have arrived, so that a first batch is not of one.
            chain = chain.then(pump);
          },
          { noAck: false, arguments: consumeArguments },
        );
        current = { channel, tag: consumerTag };
      },
      async detach() {
        const attached = current;
        current = null;
        if (!attached) return;
        await attached.channel.cancel(attached.tag).catch(() => {});
        await chain;
        await attached.channel.close().catch(() => {});
      },
    };
    return self;
  }

  /** Runs `handler` on a consumer's messages: a batch together, and each alone (rule 4) if the batch fails. */
  function consumerHandler(handler: BatchHandler, maxAttempts: number) {
    const alone = async (channel: Channel, message: ConsumeMessage) => {
      try {
        await handler([decode(message)]);
        channel.ack(message);
      } catch {
        const deliveries = Number(message.properties.headers?.['x-delivery-count'] ?? 0) + 1;
        // Rule 2: rejected without requeue, the message goes to the dead-letter exchange.
        channel.nack(message, false, deliveries < maxAttempts);
      }
    };
    return async (channel: Channel, messages: ConsumeMessage[]) => {
      if (messages.length > 1) {
        try {
          await handler(messages.map(decode));
          for (const message of messages) channel.ack(message);
          return;
        } catch {
          // Rule 7: each again, alone.
        }
      }
      for (const message of messages) await alone(channel, message);
    };
  }

  function consume(
    consumer: string,
    patterns: string | readonly string[],
    handler: BatchHandler,
    maxAttempts: number,
    maxBatch: number,
  ): Promise<Subscription> {
    const list = typeof patterns === 'string' ? [patterns] : [...patterns];
    return attach(
      sequentialConsumer(
        queueOf(consumer),
        {},
        (channel) => declareConsumer(channel, consumer, list, maxAttempts),
        consumerHandler(handler, maxAttempts),
        maxBatch,
      ),
    );
  }

  async function declareConsumer(channel: Channel, consumer: string, patterns: readonly string[], maxAttempts: number) {
    const dead = deadQueueOf(consumer);
    await channel.assertQueue(dead, { durable: true });
    await channel.bindQueue(dead, deadExchange, consumer);
    const queue = queueOf(consumer);
    await channel.assertQueue(queue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-delivery-limit': maxAttempts,
        'x-dead-letter-exchange': deadExchange,
        'x-dead-letter-routing-key': consumer,
      },
    });
    for (const pattern of patterns) await channel.bindQueue(queue, exchange, pattern);
    declared.queues.add(queue).add(dead);
  }

  const bus: RabbitMqBus = {
    declared,

    async publish(event) {
      const { publisher } = await connect();
      await new Promise<void>((resolve, reject) => {
        try {
          publisher.publish(
            exchange,
            event.type,
            encode(event),
            {
              persistent: true,
              contentType: 'application/json',
              messageId: event.id,
              type: event.type,
              timestamp: Math.floor(Date.parse(event.createdAt) / 1000),
              mandatory: false,
            },
            (error: unknown) =>
              error ? reject(error instanceof Error ? error : new Error('the broker refused the event')) : resolve(),
          );
        } catch (error) {
          reject(error);
        }
      });
    },

    subscribe: (consumer, patterns, handler, { maxAttempts = defaultMaxAttempts } = {}) =>
      consume(consumer, patterns, (events) => handler(events[0] as DomainEvent), maxAttempts, 1),

    subscribeBatch: (consumer, patterns, handler, { maxAttempts = defaultMaxAttempts, maxBatch }) =>
      consume(consumer, patterns, handler, maxAttempts, Math.max(1, maxBatch)),

    async takeDeadLetters(consumer, max = 100) {
      const { connection } = await connect();
      const channel = await connection.createChannel();
      try {
        const dead = deadQueueOf(consumer);
        await channel.assertQueue(dead, { durable: true });
        declared.queues.add(dead);
        const events: DomainEvent[] = [];
        while (events.length < max) {
          const message = await channel.get(dead, { noAck: false });
          if (!message) break;
          events.push(JSON.parse(message.content.toString('utf8')) as DomainEvent);
          channel.ack(message);
        }
        return events;
      } finally {
        await channel.close().catch(() => {});
      }
    },

    async replay(offset, handler: (entry: LogEntry) => Promise<void>) {
      let next = offset;
      let stopped = false;
      return attach(
        sequentialConsumer(
          logQueue,
          // After a reconnection the reader resumes where it stopped rather than where it began.
          { 'x-stream-offset': offset },
          async () => {},
          async (channel, [message]) => {
            if (!message) return;
            const at = Number(message.properties.headers?.['x-stream-offset']);
            if (at < next) return channel.ack(message);
            for (;;) {
              try {
                await handler({ offset: at, event: decode(message) });
                break;
              } catch (error) {
                if (stopped) throw error;
                await new Promise((resolve) => setTimeout(resolve, 50));
              }
            }
            next = at + 1;
            channel.ack(message);
          },
        ),
      ).then((subscription) => ({
        async close() {
          stopped = true;
          await subscription.close();
        },
      }));
    },

    async close() {
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      for (const attachment of [...attachments])
        await (attachment as Attachment & { detach(): Promise<void> }).detach();
      attachments.clear();
      const open = connecting;
      connecting = null;
      if (open) await (await open.catch(() => null))?.connection.close().catch(() => {});
    },
  };
  return bus;
}
