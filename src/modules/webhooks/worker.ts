// The delivery worker: claims due deliveries (delivery-queue.ts), sends each one signed, and records what came of it.
// Rules:
//   1. The URL is checked again (vetted-targets.ts) when its last check is more than a second old, and the attempt
//      goes to the addresses that check approved, on a connection kept from an earlier attempt there or a new one.
//   2. Each attempt carries webhook-id = the event's id, so a receiver sees a retry, a replay or a duplicate as the
//      same message; the body is the bytes stored when the delivery was made.
//   3. After attempt n fails, attempt n + 1 is due `retryScheduleMs[n - 1]` later, ±10 % jitter so deliveries failed
//      together do not come back together; a 429 is not retried before its Retry-After (honoured up to the
//      schedule's longest delay). After the last delay's attempt the delivery has failed.
//   4. At most `perEndpoint` attempts at one endpoint run at once in this worker, so one slow receiver holds only
//      its own deliveries back; the clock is injected, so tests move hours in milliseconds.
//   5. A claim takes up to `claimRounds` × `perEndpoint` deliveries of each endpoint that has none waiting here, and
//      holds them until rule 4 lets them start, so a claim serves rounds of attempts rather than one freed slot (a
//      claim is a transaction of its own, and its commit cost more than its reads). At most `batchSize` attempts
//      run at once, and at most `batchSize` wait.
//   6. Running, the worker claims again as soon as an endpoint it sends to has nothing left waiting or deliveries
//      were made (`nudge`), and waits `pollMs` only when neither happened. Its claims run one at a time.
//   7. An endpoint disabled between the claim and the attempt is not sent to: the claim's lease runs out, and its
//      deliveries are due again when it is enabled.
//   8. The attempts that end while a batch is being recorded are recorded together in the next one, up to
//      `batchSize`, in one transaction (delivery-queue.ts rule 5). An attempt holds its place under rule 4 until it
//      is recorded, so the next attempt at its endpoint sees what it did (a 410 disables the endpoint first). Sent
//      and not recorded (the process died, the batch failed), a delivery is sent again once its lease runs out.
import type { Clock } from '../../kernel/clock.ts';
import type { Storage } from '../../storage/database.ts';
import { judge, type SendOutcome, sendWebhook } from './delivery.ts';
import { type AttemptResult, type ClaimedDelivery, claimDue, recordAttempts } from './delivery-queue.ts';
import type { WebhookEndpointRecord } from './schema.ts';
import type { WebhookEndpointsService } from './service.ts';
import { signedHeaders } from './signing.ts';
import type { TargetOptions } from './targets.ts';
import { vettedTargets } from './vetted-targets.ts';

export interface WebhookWorkerOptions {
  storage: Storage;
  clock: Clock;
  endpoints: Pick<WebhookEndpointsService, 'get' | 'signingSecrets'>;
  retryScheduleMs: readonly number[];
  /** The same rules as at registration (WEBHOOK_ALLOW_PRIVATE_TARGETS, the resolver), applied again at attempts (rule 1). */
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
  /** Claims and sends in the background until stopped (rule 6). */
  start(): void;
  /** Deliveries may be due now: a started worker claims at once instead of at its next poll. */
  nudge(): void;
  /** Stops claiming and waits for the deliveries it holds to be attempted. */
  stop(): Promise<void>;
}

const defaultTimeoutMs = 10_000;
const maxResponseBytes = 64 * 1024;
/** How much of a response body the delivery log keeps. */
const loggedBodyChars = 4096;
const jitter = 0.1;
/** Rounds of `perEndpoint` attempts a claim takes for an endpoint (rule 5). */
const claimRounds = 2;

export function webhookWorker(options: WebhookWorkerOptions): WebhookWorker {
  const { storage, clock, endpoints, retryScheduleMs } = options;
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const perEndpoint = options.perEndpoint ?? 4;
  const batchSize = options.batchSize ?? 100;
  const pollMs = options.pollMs ?? 1000;
  // A claim outlives the longest attempt (the target check, the send bounded by the timeout, the record) several
  // times over, the wait for a slot (rule 5: an attempt for each round claimed ahead) included: until then no other
  // worker takes the delivery; after it, one whose worker died is sent again.
  const leaseMs = timeoutMs * (3 + claimRounds);
  /** Attempts under way, by endpoint (rule 4). */
  const busy = new Map<string, number>();
  let runningCount = 0;
  /** Claimed deliveries not started yet, by endpoint, in claim order; each starts its attempt when called. */
  const waiting = new Map<string, (() => void)[]>();
  let waitingCount = 0;
  /** Every claimed delivery until its attempt is recorded, for `stop`. */
  const held = new Set<Promise<void>>();
  /** The claim in progress, or the last one: each claim waits for it (rule 6). */
  let claiming: Promise<unknown> = Promise.resolve();
  let polling: Promise<void> | null = null;
  let stopping = new AbortController();
  /** Target checks and connections, kept between attempts (rule 1). */
  const vetted = vettedTargets({ targets: options.targets, nowMs: () => clock().getTime() });
  /** Set by `nudge`; the background loop claims again before it sleeps. */
  let isWanted = false;
  let wake: (() => void) | null = null;
  /** Attempts made and not yet recorded, in the order they ended (rule 8). */
  const unrecorded: { result: AttemptResult; resolve: () => void; reject: (error: unknown) => void }[] = [];
  /** Whether batches are being recorded: one at a time. */
  let isRecording = false;

  async function attemptOnce(delivery: ClaimedDelivery, endpoint: WebhookEndpointRecord): Promise<SendOutcome> {
    const target = await vetted.vet(endpoint.url);
    if (!target.ok) return { kind: 'error', error: `target refused: url ${target.reason}`, latencyMs: 0 };
    const secrets = await endpoints.signingSecrets(endpoint.id, endpoint.version);
    const timestampSeconds = Math.floor(clock().getTime() / 1000);
    return sendWebhook({
      url: target.url.href,
      headers: { ...signedHeaders(secrets, delivery.eventId, timestampSeconds, delivery.payload) },
      body: delivery.payload,
      timeoutMs,
      maxResponseBytes,
      lookup: target.lookup,
      agent: target.agent,
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

  /** Sends the delivery; answers what is to be recorded, or null when it was not sent (rule 7). */
  async function deliver(delivery: ClaimedDelivery): Promise<AttemptResult | null> {
    const endpoint = await endpoints.get(delivery.endpointId);
    if (!endpoint.enabled) return null; // rule 7
    const attemptedAt = clock();
    const outcome = await attemptOnce(delivery, endpoint);
    const verdict = judge(outcome, attemptedAt.getTime());
    const attemptNumber = delivery.attempts + 1;
    const retryAt = verdict.kind === 'retry' ? nextAttemptAt(attemptNumber, verdict.notBeforeMs, attemptedAt) : null;
    return {
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
    };
  }

  /** Settles once the attempt is recorded in the next batch (rule 8). */
  function record(result: AttemptResult): Promise<void> {
    return new Promise((resolve, reject) => {
      unrecorded.push({ result, resolve, reject });
      if (isRecording) return;
      isRecording = true;
      void recordBatches();
    });
  }

  /** Records what `record` gathered, one batch at a time, until nothing is left (rule 8). */
  async function recordBatches(): Promise<void> {
    // The attempts that end in the same turn of the event loop join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (unrecorded.length > 0) {
      const batch = unrecorded.splice(0, batchSize);
      const results = batch.map((entry) => entry.result);
      try {
        await recordAttempts(storage, results);
        for (const entry of batch) entry.resolve();
      } catch {
        // One attempt that cannot be recorded (its delivery deleted with its endpoint meanwhile) must not cost the
        // others of its batch theirs: each is recorded alone, and only what fails alone is left to its lease.
        for (const entry of batch) {
          await recordAttempts(storage, [entry.result]).then(entry.resolve, entry.reject);
        }
      }
    }
    isRecording = false;
  }

  async function run(delivery: ClaimedDelivery): Promise<void> {
    try {
      const result = await deliver(delivery);
      if (result) await record(result);
    } catch (error) {
      // The claim's lease runs out and the delivery is attempted again, by this worker or another.
      options.log?.error({ err: error, deliveryId: delivery.id }, 'webhook delivery could not be attempted');
    } finally {
      const left = (busy.get(delivery.endpointId) ?? 1) - 1;
      if (left === 0) busy.delete(delivery.endpointId);
      else busy.set(delivery.endpointId, left);
      runningCount--;
      startWaiting();
      // The endpoint has a free slot and nothing to fill it with: a running worker looks for more now (rule 6).
      if (!waiting.has(delivery.endpointId)) nudge();
    }
  }

  /** Starts the waiting deliveries that rule 4 and `batchSize` let start, oldest claim first. */
  function startWaiting(): void {
    for (const [endpointId, queue] of waiting) {
      if (runningCount >= batchSize) return;
      while (queue.length > 0 && runningCount < batchSize && (busy.get(endpointId) ?? 0) < perEndpoint) {
        busy.set(endpointId, (busy.get(endpointId) ?? 0) + 1);
        runningCount++;
        waitingCount--;
        queue.shift()?.();
      }
      if (queue.length === 0) {
        waiting.delete(endpointId);
        nudge();
      }
    }
  }

  /** Queues a claimed delivery; the promise settles once its attempt is recorded (or could not be made). */
  function hold(delivery: ClaimedDelivery): Promise<void> {
    const attempted = new Promise<void>((resolve) => {
      const queue = waiting.get(delivery.endpointId) ?? [];
      queue.push(() => void run(delivery).then(resolve));
      waiting.set(delivery.endpointId, queue);
      waitingCount++;
    });
    held.add(attempted);
    void attempted.finally(() => held.delete(attempted));
    return attempted;
  }

  /** Claims for the endpoints with nothing waiting (rule 5); answers the claimed deliveries' attempts. */
  async function claimBatch(expectDue: boolean): Promise<Promise<void>[]> {
    const limit = batchSize - waitingCount;
    if (limit <= 0) return [];
    const claimed = await claimDue(storage, {
      now: clock(),
      leaseMs,
      perEndpoint: perEndpoint * claimRounds,
      limit,
      skipEndpoints: [...waiting.keys()],
      expectDue,
    });
    const attempts = claimed.map(hold);
    startWaiting();
    return attempts;
  }

  /** One claim at a time in this worker (rule 6). `expectDue` when nudged: deliveries were made or slots freed. */
  function claim(expectDue = false): Promise<Promise<void>[]> {
    const next = claiming.then(() => claimBatch(expectDue));
    claiming = next.catch(() => {});
    return next;
  }

  async function tick(): Promise<number> {
    const attempts = await claim();
    await Promise.all(attempts);
    return attempts.length;
  }

  function nudge(): void {
    isWanted = true;
    wake?.();
  }

  /** Waits `pollMs`, or less when nudged or stopped; not at all when nudged since the last claim began. */
  function rest(signal: AbortSignal): Promise<void> {
    if (isWanted || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        wake = null;
        resolve();
      };
      const timer = setTimeout(done, pollMs);
      signal.addEventListener('abort', done);
      wake = done;
    });
  }

  async function loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const nudged = isWanted;
      isWanted = false;
      // The attempts are not awaited: a slow endpoint must not hold up the claims for the others.
      await claim(nudged).catch((error: unknown) => {
        options.log?.error({ err: error }, 'webhook deliveries could not be claimed');
      });
      // A claim whose deliveries all started nudged for more; one that found nothing sleeps, so nothing spins.
      await rest(signal);
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
      polling = loop(stopping.signal);
    },
    nudge,
    async stop() {
      stopping.abort();
      await polling;
      polling = null;
      await Promise.allSettled([...held]);
      vetted.close();
    },
  };
}
