// The delivery log and its controls: an endpoint's deliveries with their attempts, sending one again, replaying a
// time range of events, and a test event. Each only makes deliveries due, and tells this process's worker, which
// sends them.
import type { Clock } from '../../kernel/clock.ts';
import { ApiError, invalid, notFound } from '../../kernel/errors.ts';
import { isId, newId } from '../../kernel/ids.ts';
import type { PageRequest, PageResult } from '../../kernel/pagination.ts';
import type { Storage } from '../../storage/database.ts';
import { currentApiVersion } from '../../storage/outbox.ts';
import { matchesAny } from '../events/index.ts';
import { mayReceive } from './audience.ts';
import { outboxEventsBetween, requeueDelivery, requeueEvents } from './delivery-queue.ts';
import type { DeliveryWithAttempts } from './delivery-schema.ts';
import { type EndpointOwners, webhookEvent } from './fan-out.ts';
import { attemptsOf, createDeliveries, findDelivery, listDeliveries } from './repository.ts';
import type { DeliveryStatus, WebhookDeliveryRecord, WebhookEndpointRecord } from './schema.ts';

export const testEventType = 'webhook_endpoint.test';
/** A replay reads at most this many events of the range; a wider range is refused. */
export const maxReplayEvents = 10_000;

export interface DeliveriesService {
  list(
    filters: { endpointId: string; status?: DeliveryStatus },
    page: PageRequest,
  ): Promise<PageResult<DeliveryWithAttempts>>;
  get(endpoint: WebhookEndpointRecord, deliveryId: string): Promise<DeliveryWithAttempts>;
  retry(endpoint: WebhookEndpointRecord, deliveryId: string): Promise<DeliveryWithAttempts>;
  /** Makes every event of [from, to) the endpoint subscribes to due again; answers how many. */
  replay(endpoint: WebhookEndpointRecord, from: string, to: string): Promise<number>;
  sendTest(endpoint: WebhookEndpointRecord): Promise<DeliveryWithAttempts>;
}

/** Nothing is sent to a disabled endpoint: asking for a delivery to one is a conflict the owner can resolve. */
function requireEnabled(endpoint: WebhookEndpointRecord): void {
  if (!endpoint.enabled) {
    throw new ApiError('CONFLICT', 'The webhook endpoint is disabled: enable it (PATCH enabled: true), then retry.', {
      details: [{ field: 'enabled', code: 'ENDPOINT_DISABLED', message: 'the endpoint is disabled.' }],
    });
  }
}

/**
 * `dueNow` is told after each commit that made deliveries due, so that this process's worker sends them at once
 * (delivery-runtime.ts).
 */
export function deliveriesService(
  storage: Storage,
  clock: Clock,
  owners: EndpointOwners,
  dueNow: () => void,
): DeliveriesService {
  const db = storage.db;

  async function withAttempts(deliveries: WebhookDeliveryRecord[]): Promise<DeliveryWithAttempts[]> {
    const attempts = await attemptsOf(
      db,
      deliveries.map((delivery) => delivery.id),
    );
    return deliveries.map((delivery) => ({
      ...delivery,
      version: delivery.attempts,
      attemptLog: attempts.get(delivery.id) ?? [],
    }));
  }

  async function get(endpoint: WebhookEndpointRecord, deliveryId: string): Promise<DeliveryWithAttempts> {
    const found = isId('whd', deliveryId) ? await findDelivery(db, deliveryId) : null;
    if (!found || found.endpointId !== endpoint.id) throw notFound('webhook delivery', deliveryId);
    const [delivery] = await withAttempts([found]);
    if (!delivery) throw notFound('webhook delivery', deliveryId);
    return delivery;
  }

  return {
    async list(filters, page) {
      const result = await listDeliveries(db, filters, page);
      return { ...result, items: await withAttempts(result.items) };
    },

    get,

    async retry(endpoint, deliveryId) {
      await get(endpoint, deliveryId);
      requireEnabled(endpoint);
      await requeueDelivery(db, endpoint.id, deliveryId, clock());
      dueNow();
      return get(endpoint, deliveryId);
    },

    async replay(endpoint, from, to) {
      requireEnabled(endpoint);
      if (Date.parse(from) >= Date.parse(to)) throw invalid('to', 'INVALID_RANGE', 'to must be later than from.');
      const events = await outboxEventsBetween(
        db,
        new Date(from).toISOString(),
        new Date(to).toISOString(),
        maxReplayEvents + 1,
      );
      if (events.length > maxReplayEvents) {
        throw invalid('to', 'RANGE_TOO_WIDE', `the range holds more than ${maxReplayEvents} events; narrow it.`);
      }
      const [owner] = await owners.getMany([endpoint.ownerId]);
      const wanted = events.filter(
        (event) => owner !== undefined && matchesAny(endpoint.events, event.type) && mayReceive(owner, event),
      );
      const now = clock();
      // Events delivered before are sent again as they were (same webhook-id); the others get their first delivery.
      await requeueEvents(
        db,
        endpoint.id,
        wanted.map((event) => event.id),
        now,
      );
      await createDeliveries(
        db,
        wanted.map((event) => ({ event: webhookEvent(event), endpoints: [endpoint] })),
        now,
      );
      if (wanted.length > 0) dueNow();
      return wanted.length;
    },

    async sendTest(endpoint) {
      requireEnabled(endpoint);
      const now = clock();
      const [made] = await createDeliveries(
        db,
        [
          {
            event: {
              id: newId('evt', now.getTime()),
              type: testEventType,
              createdAt: now.toISOString(),
              apiVersion: currentApiVersion,
              data: {
                endpointId: endpoint.id,
                ownerId: endpoint.ownerId,
                message: 'A test event: your endpoint receives and verifies deliveries.',
              },
            },
            endpoints: [endpoint],
          },
        ],
        now,
      );
      if (!made) throw new ApiError('INTERNAL_ERROR', 'internal error');
      dueNow();
      return get(endpoint, made.id);
    },
  };
}
