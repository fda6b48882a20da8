// The delivery worker: claims due deliveries (delivery-queue.ts), sends each one signed, and records what came of it.
// Rules:
//   1. The URL is checked again at every attempt, and the connection goes to the addresses that check approved.
//   2. Each attempt carries webhook-id = the event's id, so a receiver sees a retry, a replay or a duplicate as the
//      same message; the body is the bytes stored when the delivery was made.
//   3. After attempt n fails, attempt n + 1 is due `retryScheduleMs[n - 1]` later, ±10 % jitter so deliveries failed
//      together do not come back together; a 429 is not retried before its Retry-After (honoured up to the
//      schedule's longest delay). After the last delay's attempt the delivery has failed.
//   4. At most `perEndpoint` attempts at one endpoint run at once in this worker, so one slow receiver holds only
//      its own deliveries back; the clock is injected, so tests move hours in milliseconds.
import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../../kernel/clock.ts';
import type { Storage } from '../../storage/database.ts';
import { judge, pinnedLookup, type SendOutcome, sendWebhook } from './delivery.ts';
import { type ClaimedDelivery, claimDue, recordAttempt } from './delivery-queue.ts';
import type { WebhookEndpointsService } from './service.ts';
import { signedHeaders } from './signing.ts';
import { checkWebhookTarget, type TargetOptions } from './targets.ts';

export interface WebhookWorkerOptions {
  storage: Storage;
  clock: Clock;
  endpoints: Pick<WebhookEndpointsService, 'get' | 'signingSecrets'>;
  retryScheduleMs: readonly number[];
  /** The same rules as at registration (WEBHOOK_ALLOW_PRIVATE_TARGETS, the resolver), applied again at every attempt. */
  targets: TargetOptions;
  timeoutMs?: number;
  perEndpoint?: number;
  batchSize?: number;
  pollMs?: number;
  log?: { error(object: unknown, message: string): void };
}

export interface WebhookWorker {
  /** Claims one batch of due deliveries and resolves when every one of them has been attempted and recorded. */
  tick(): Promise<number>;
  /** Ticks until nothing is due at the clock's present time. */
  drain(): Promise<void>;
  /** Polls in the background until stopped. */
  start(): void;
  /** Stops polling and waits for the attempts under way. */
  stop(): Promise<void>;
}

const defaultTimeoutMs = 10_000;
const maxResponseBytes = 64 * 1024;
/** How much of a response body the delivery log keeps. */
const loggedBodyChars = 4096;
const jitter = 0.1;

export function webhookWorker(options: WebhookWorkerOptions): WebhookWorker {
  const { storage, clock, endpoints, retryScheduleMs } = options;
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const perEndpoint = options.perEndpoint ?? 4;
  const batchSize = options.batchSize ?? 50;
  const pollMs = options.pollMs ?? 1000;
  // A claim outlives the longest attempt (the target check, the send bounded by the timeout, the record) several
  // times over: until then no other worker takes the delivery; after it, one whose worker died is sent again.
  const leaseMs = timeoutMs * 5;
  const busy = new Map<string, number>();
  const running = new Set<Promise<unknown>>();
  let polling: Promise<void> | null = null;
  let stopping = new AbortController();

  async function attemptOnce(delivery: ClaimedDelivery, url: string): Promise<SendOutcome> {
    const target = await checkWebhookTarget(url, options.targets);
    if (!target.ok) return { kind: 'error', error: `target refused: url ${target.reason}`, latencyMs: 0 };
    const secrets = await endpoints.signingSecrets(delivery.endpointId);
    const timestampSeconds = Math.floor(clock().getTime() / 1000);
    return sendWebhook({
      url: target.url.href,
      headers: { ...signedHeaders(secrets, delivery.eventId, timestampSeconds, delivery.payload) },
      body: delivery.payload,
      timeoutMs,
      maxResponseBytes,
      lookup: pinnedLookup(target.addresses),
    });
  }

  /** When the next attempt is due after this failed one, or null when it was the last (rule 3). */
  function nextAttemptAt(attemptNumber: number, notBeforeMs: number | null, now: Date): Date | null {
    const base = retryScheduleMs[attemptNumber - 1];
    if (base === undefined) return null;
    const jittered = base * (1 - jitter + 2 * jitter * Math.random());
    // A receiver's Retry-After is honoured up to the schedule's longest delay, so it cannot park a delivery forever.
    const asked = Math.min(notBeforeMs ?? 0, Math.max(...retryScheduleMs));
    return new Date(now.getTime() + Math.max(jittered, asked));
  }

  async function deliver(delivery: ClaimedDelivery): Promise<void> {
    const endpoint = await endpoints.get(delivery.endpointId);
    const attemptedAt = clock();
    const outcome = await attemptOnce(delivery, endpoint.url);
    const verdict = judge(outcome, attemptedAt.getTime());
    const attemptNumber = delivery.attempts + 1;
    const retryAt = verdict.kind === 'retry' ? nextAttemptAt(attemptNumber, verdict.notBeforeMs, attemptedAt) : null;
    await recordAttempt(storage, {
      delivery,
      ownerId: endpoint.ownerId,
      attempt: {
        attemptedAt,
        statusCode: outcome.kind === 'response' ? outcome.statusCode : null,
        error: outcome.kind === 'error' ? outcome.error : null,
        latencyMs: outcome.latencyMs,
        responseBody: outcome.kind === 'response' ? outcome.body.slice(0, loggedBodyChars) : null,
      },
      outcome: verdict.kind === 'delivered' ? 'succeeded' : retryAt ? 'retry' : 'failed',
      retryAt,
      gone: verdict.kind === 'gone',
    });
  }

  async function run(delivery: ClaimedDelivery): Promise<void> {
    busy.set(delivery.endpointId, (busy.get(delivery.endpointId) ?? 0) + 1);
    try {
      await deliver(delivery);
    } catch (error) {
      // The claim's lease runs out and the delivery is attempted again, by this worker or another.
      options.log?.error({ err: error, deliveryId: delivery.id }, 'webhook delivery could not be attempted');
    } finally {
      const left = (busy.get(delivery.endpointId) ?? 1) - 1;
      if (left === 0) busy.delete(delivery.endpointId);
      else busy.set(delivery.endpointId, left);
    }
  }

  async function tick(): Promise<number> {
    const room = batchSize - [...busy.values()].reduce((sum, count) => sum + count, 0);
    if (room <= 0) return 0;
    const claimed = await claimDue(storage, {
      now: clock(),
      leaseMs,
      perEndpoint,
      limit: room,
      // An endpoint this worker is sending to waits for the next tick after those attempts, keeping rule 4.
      skipEndpoints: [...busy.keys()],
    });
    const attempts = claimed.map((delivery) => {
      const attempt = run(delivery);
      running.add(attempt);
      void attempt.finally(() => running.delete(attempt));
      return attempt;
    });
    await Promise.all(attempts);
    return claimed.length;
  }

  async function poll(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      // Not awaited: a slow endpoint's batch must not hold up the next claim for the others.
      tick().catch((error: unknown) => options.log?.error({ err: error }, 'webhook deliveries could not be claimed'));
      await delay(pollMs, undefined, { signal }).catch(() => {});
    }
  }

  return {
    tick,
    async drain() {
      let claimed = await tick();
      while (claimed > 0) claimed = await tick();
    },
    start() {
      if (polling) return;
      stopping = new AbortController();
      polling = poll(stopping.signal);
    },
    async stop() {
      stopping.abort();
      await polling;
      polling = null;
      await Promise.allSettled([...running]);
    },
  };
}
