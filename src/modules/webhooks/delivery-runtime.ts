// What a process runs to deliver webhooks: the bus consumer that fans each event out to the endpoints subscribed to
// it, and the worker that sends the due deliveries, started with the server and stopped with it.
import type { FastifyInstance } from 'fastify';
import type { EventBus } from '../../adapters/bus/port.ts';
import type { Clock } from '../../kernel/clock.ts';
import type { Storage } from '../../storage/database.ts';
import { type EndpointOwners, enqueueDeliveries } from './fan-out.ts';
import type { WebhookEndpointsService } from './service.ts';
import type { TargetOptions } from './targets.ts';
import { webhookWorker } from './worker.ts';

/** The bus consumer's name: its queue outlives a restart, so events published while the process is down wait. */
export const fanOutConsumer = 'webhooks-fan-out';

/** Events fanned out together at most: a burst's deliveries are written a batch at a time rather than an event at a
 * time, which is what bounded fan-out in the webhook-fanout bench (bench/README.md). */
const fanOutBatch = 64;

export interface WebhookDeliveryOptions {
  storage: Storage;
  clock: Clock;
  bus: EventBus;
  endpoints: WebhookEndpointsService;
  owners: EndpointOwners;
  retryScheduleMs: readonly number[];
  timeoutMs: number;
  /** How often the worker looks for due deliveries nobody nudged it about. */
  pollMs: number;
  targets: TargetOptions;
  /** Whether this process sends deliveries; a suite that drives its own worker turns it off. */
  runWorker: boolean;
}

/** What the rest of the process may tell the delivery runtime. */
export interface WebhookDelivery {
  /**
   * Deliveries were made due (a retry, a replay, a test event): this process's worker sends them without waiting
   * for its poll. Other processes' workers find them at theirs.
   */
  dueNow(): void;
}

export async function installWebhookDelivery(
  app: FastifyInstance,
  options: WebhookDeliveryOptions,
): Promise<WebhookDelivery> {
  const enqueue = enqueueDeliveries(options.storage, options.clock, options.owners);
  const worker = options.runWorker
    ? webhookWorker({
        storage: options.storage,
        clock: options.clock,
        endpoints: options.endpoints,
        retryScheduleMs: options.retryScheduleMs,
        timeoutMs: options.timeoutMs,
        pollMs: options.pollMs,
        targets: options.targets,
        log: app.log,
      })
    : null;
  // Every event: which endpoints want it is decided per event against their patterns (the endpoint list changes).
  await options.bus.subscribeBatch(
    fanOutConsumer,
    '#',
    async (events) => {
      const made = await enqueue(events);
      // Deliveries made here are due now: this process's worker sends them without waiting for its poll.
      if (made.length > 0) worker?.nudge();
    },
    { maxBatch: fanOutBatch },
  );
  const delivery = { dueNow: () => worker?.nudge() };
  if (!worker) return delivery;
  app.addHook('onReady', async () => worker.start());
  app.addHook('onClose', () => worker.stop());
  return delivery;
}
