// `webhook-fanout` (issue 8): events committed to Portico's outbox and delivered, signed per Standard Webhooks, to 10
// endpoints on a local receiver (bench/receiver.ts), against a bare script signing and POSTing the same bodies to
// the same endpoints with the same concurrency (bench/baselines/webhook-sender.ts). Both sides are timed from the
// hand-over of the events (Portico: the outbox commit; the script: the POST that gives it the events) to their
// receipt, and the receiver, one process for both, is the only judge of what arrived.
import { performance } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as delay } from 'node:timers/promises';
import { newId } from '../src/kernel/ids.ts';
import {
  createAdmin,
  createAdminKey,
  type Scenario,
  sqliteDatabase,
  startBaseline,
  startPortico,
  withDatabase,
} from './fixtures.ts';
import { BenchError, freePort, type RunningServer, startProcess } from './harness.ts';
import { type Measurement, median, type Round, scenarioResult } from './stats.ts';

const endpointCount = 10;
const eventType = 'order.paid';
const receiverScript = new URL('./receiver.ts', import.meta.url).pathname;
/** Receipts stop being awaited after this long without a new one: what is missing then counts as lost. */
const stallMs = 30_000;
/** The paced phase hands events over in a batch this often. */
const paceTickMs = 20;

// Wall-clock time with sub-millisecond resolution, comparable with the receiver's in its own process.
const now = () => performance.timeOrigin + performance.now();

interface Sizes {
  /** Events of the saturated phase; each goes to every endpoint. */
  events: number;
  warmupEvents: number;
  pacedSeconds: number;
}

interface BenchEvent {
  id: string;
  orderId: string;
  createdAt: string;
  /** The outbox payload. */
  data: string;
  /** What a receiver gets, as Portico builds it (src/modules/webhooks/fan-out.ts). */
  body: string;
}

/** Events about paid orders of one customer, each ~400 bytes on the wire. */
function makeEvents(count: number, customerId: string): BenchEvent[] {
  const at = new Date();
  const createdAt = at.toISOString();
  return Array.from({ length: count }, (_, n) => {
    const id = newId('evt', at.getTime());
    const orderId = newId('ord', at.getTime());
    const amount = 1250 + n;
    const data = {
      id: orderId,
      customerId,
      status: 'paid',
      items: [{ productId: 'prd_bench', productName: 'Bench product', quantity: 1, unitPrice: amount }],
      total: { amount, currency: 'EUR' },
      createdAt,
      paidAt: createdAt,
    };
    const body = JSON.stringify({ id, type: eventType, createdAt, apiVersion: 'v1', data });
    return { id, orderId, createdAt, data: JSON.stringify(data), body };
  });
}

interface HandOver {
  /** When the events were handed over: committed, or on their way to the script. */
  at: number;
  /** Settles when the side is done with them; a failure to hand over is a broken harness, not a slow side. */
  done: Promise<Error | null>;
}

interface FanoutSide {
  /** Names the side when a phase goes wrong. */
  label: string;
  /** The CPU time of the process doing the side's work (RunningServer.cpuSeconds). */
  cpuSeconds(): number | null;
  handOver(events: BenchEvent[]): HandOver;
}

/** Portico: the events are committed to its outbox in one transaction, straight into its database file. */
function outboxSide(file: string, portico: RunningServer): FanoutSide & { close(): void } {
  const db = new DatabaseSync(file);
  // Portico's own connection settings (src/storage/sqlite-dialect.ts): its relay and worker write to the same file.
  db.exec('pragma busy_timeout = 5000');
  db.exec('pragma synchronous = normal');
  const insert = db.prepare(
    `insert into outbox (id, type, aggregate_type, aggregate_id, api_version, payload, created_at, published_at)
     values (?, ?, 'order', ?, 'v1', ?, ?, null)`,
  );
  return {
    label: 'portico',
    cpuSeconds: () => portico.cpuSeconds(),
    handOver(events) {
      db.exec('begin immediate');
      try {
        for (const event of events) insert.run(event.id, eventType, event.orderId, event.data, event.createdAt);
        db.exec('commit');
      } catch (error) {
        db.exec('rollback');
        throw error;
      }
      return { at: now(), done: Promise.resolve(null) };
    },
    close: () => db.close(),
  };
}

/** The script: the events are POSTed to it; it answers once it has sent them all. */
function senderSide(sender: RunningServer): FanoutSide {
  return {
    label: 'the script',
    cpuSeconds: () => sender.cpuSeconds(),
    handOver(events) {
      const body = JSON.stringify(events.map(({ id, body }) => ({ id, body })));
      const at = now();
      const done = fetch(`${sender.url}/run`, { method: 'POST', body }).then(
        async (response) => {
          await response.body?.cancel();
          return response.ok ? null : new Error(`POST /run answered ${response.status}`);
        },
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      );
      return { at, done };
    },
  };
}

interface Receipts {
  received: number;
  duplicates: number;
  refused: number;
  ids: string[];
  receivedAt: number[];
  sample: string | null;
}

/** Waits until `expected` deliveries have arrived, or none has for `stallMs`; answers them and resets the receiver. */
async function collectReceipts(receiver: RunningServer, expected: number): Promise<Receipts> {
  let last = -1;
  let progressAt = now();
  for (;;) {
    const stats = (await (await fetch(`${receiver.url}/stats?until=${expected}&waitMs=5000`)).json()) as Receipts;
    if (stats.received >= expected) break;
    if (stats.received !== last) {
      last = stats.received;
      progressAt = now();
    } else if (now() - progressAt > stallMs) break;
  }
  const receipts = (await (await fetch(`${receiver.url}/receipts`)).json()) as Receipts;
  const reset = await fetch(`${receiver.url}/reset`, { method: 'POST' });
  if (reset.status !== 204) throw new BenchError(`the receiver's reset answered ${reset.status}`);
  return receipts;
}

interface PhaseResult {
  delivered: number;
  /** From the first hand-over to the last receipt. */
  elapsedMs: number;
  latenciesMs: number[];
  errors: number;
  non2xx: number;
}

/** One phase: `feed` hands events over through `give`; then every delivery of them is awaited and judged. A delivery
 * missing, received twice or of an event not handed over in this phase is an error; one refused, a non-2xx. */
async function phase(
  side: FanoutSide,
  receiver: RunningServer,
  feed: (give: (events: BenchEvent[]) => void) => Promise<void>,
): Promise<PhaseResult> {
  const handedAt = new Map<string, number>();
  const pending: Promise<Error | null>[] = [];
  await feed((events) => {
    const handed = side.handOver(events);
    for (const event of events) handedAt.set(event.id, handed.at);
    pending.push(handed.done);
  });
  const expected = handedAt.size * endpointCount;
  const receipts = await collectReceipts(receiver, expected);
  const failure = (await Promise.all(pending)).find((error) => error !== null);
  if (failure) throw new BenchError(`the webhook sender failed: ${failure.message}`);
  const latenciesMs: number[] = [];
  let lastAt = 0;
  receipts.ids.forEach((id, n) => {
    const handed = handedAt.get(id);
    const at = receipts.receivedAt[n] ?? 0;
    if (handed === undefined) return;
    latenciesMs.push(at - handed);
    lastAt = Math.max(lastAt, at);
  });
  const strays = receipts.ids.length - latenciesMs.length;
  const missing = Math.max(0, expected - latenciesMs.length - receipts.refused);
  if (missing + receipts.duplicates + strays + receipts.refused > 0) {
    // The table says only that the run failed; this says how.
    process.stderr.write(
      `bench: webhook-fanout, ${side.label}: of ${expected} deliveries ${missing} missing, ${receipts.duplicates} ` +
        `received twice, ${strays} stray, ${receipts.refused} refused\n`,
    );
  }
  return {
    delivered: latenciesMs.length,
    elapsedMs: lastAt - Math.min(...handedAt.values()),
    latenciesMs,
    errors: missing + receipts.duplicates + strays,
    non2xx: receipts.refused,
  };
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ?? 0;
}

const roundMs = (ms: number) => Math.round(ms * 100) / 100;

/** One side of one round: a warm-up, all events at once for throughput, then events at `offered` deliveries per
 * second (half its own throughput when null) for latency. */
async function measure(
  side: FanoutSide,
  receiver: RunningServer,
  sizes: Sizes,
  customerId: string,
  offered: number | null,
): Promise<{ measurement: Measurement; offered: number; cpuPerDeliveryUs: number | null }> {
  const warmup = await phase(side, receiver, async (give) => give(makeEvents(sizes.warmupEvents, customerId)));
  const cpuBefore = side.cpuSeconds();
  const saturated = await phase(side, receiver, async (give) => give(makeEvents(sizes.events, customerId)));
  const cpuAfter = side.cpuSeconds();
  const cpuPerDeliveryUs =
    cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1e6) / saturated.delivered;
  const throughput = saturated.delivered / (saturated.elapsedMs / 1000);
  const rate = offered ?? throughput / 2;
  const eventsPerSecond = rate / endpointCount;
  const total = Math.max(1, Math.round(eventsPerSecond * sizes.pacedSeconds));
  const paced = await phase(side, receiver, async (give) => {
    const start = performance.now();
    let given = 0;
    while (given < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * eventsPerSecond) + 1);
      if (due > given) {
        give(makeEvents(due - given, customerId));
        given = due;
      }
      await delay(paceTickMs);
    }
  });
  const latencies = paced.latenciesMs.sort((a, b) => a - b);
  const measurement = {
    throughput,
    p50Ms: roundMs(percentile(latencies, 0.5)),
    p99Ms: roundMs(percentile(latencies, 0.99)),
    errors: warmup.errors + saturated.errors + paced.errors,
    non2xx: warmup.non2xx + saturated.non2xx + paced.non2xx,
  };
  return { measurement, offered: rate, cpuPerDeliveryUs };
}

/** Ten endpoints on the receiver, registered through the API by an admin; answers their signing secrets. */
async function registerEndpoints(subject: RunningServer, key: string, receiverUrl: string): Promise<string[]> {
  const secrets: string[] = [];
  for (let n = 0; n < endpointCount; n++) {
    const created = await fetch(`${subject.url}/v1/webhook-endpoints`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${receiverUrl}/hooks/${n}`, events: [eventType], description: `bench ${n}` }),
    });
    if (created.status !== 201) throw new BenchError(`POST /v1/webhook-endpoints answered ${created.status}`);
    secrets.push(((await created.json()) as { secret: string }).secret);
  }
  return secrets;
}

/** Both sides must put the same bytes on the wire: one event through each, and the bodies received compared. */
async function assertSameBodies(
  subject: FanoutSide,
  baseline: FanoutSide,
  receiver: RunningServer,
  customerId: string,
): Promise<void> {
  const [event] = makeEvents(1, customerId);
  if (!event) return;
  const bodies: (string | null)[] = [];
  for (const side of [subject, baseline]) {
    const handed = side.handOver([event]);
    bodies.push((await collectReceipts(receiver, endpointCount)).sample);
    const failure = await handed.done;
    if (failure) throw new BenchError(`the webhook sender failed: ${failure.message}`);
  }
  if (bodies.some((body) => body !== event.body)) {
    throw new BenchError('Portico and the webhook sender deliver different bodies; the comparison would be unfair');
  }
}

export const webhookFanout: Scenario = {
  name: 'webhook-fanout',
  goal: 'events committed to the outbox, delivered signed (Standard Webhooks) to 10 endpoints on a local receiver',
  baseline: 'a bare script signing and POSTing the same bodies with the same concurrency (4 per endpoint)',
  ratioGoal: 0.5,
  needs: [],
  async run(context) {
    const sizes: Sizes = context.quick
      ? { events: 50, warmupEvents: 5, pacedSeconds: 1 }
      : { events: 1000, warmupEvents: 20, pacedSeconds: 3 };
    const database = await sqliteDatabase();
    const admin = createAdmin(database);
    const key = createAdminKey(database, admin);
    const subject = await startPortico(database, { WEBHOOK_ALLOW_PRIVATE_TARGETS: '1' });
    const servers = [subject];
    return withDatabase(database, servers, async () => {
      const receiverPort = await freePort();
      const receiverUrl = `http://127.0.0.1:${receiverPort}`;
      const secrets = await registerEndpoints(subject, key, receiverUrl);
      const receiver = await startProcess({
        label: 'webhook receiver',
        script: receiverScript,
        args: [],
        port: receiverPort,
        env: { WEBHOOK_SECRETS: JSON.stringify(secrets) },
      });
      servers.push(receiver);
      const endpoints = secrets.map((secret, n) => ({ url: `${receiverUrl}/hooks/${n}`, secret }));
      const sender = await startBaseline('webhook-sender.ts', { WEBHOOK_ENDPOINTS: JSON.stringify(endpoints) });
      servers.push(sender);
      const outbox = outboxSide(database.url.slice('sqlite:'.length), subject);
      try {
        const script = senderSide(sender);
        await assertSameBodies(outbox, script, receiver, admin.id);
        const rounds: Round[] = [];
        const offered: number[] = [];
        const cpu = { subject: [] as number[], baseline: [] as number[] };
        for (let round = 0; round < context.timing.rounds; round++) {
          const baseline = await measure(script, receiver, sizes, admin.id, null);
          const measured = await measure(outbox, receiver, sizes, admin.id, baseline.offered);
          rounds.push({ baseline: baseline.measurement, subject: measured.measurement });
          offered.push(baseline.offered);
          if (baseline.cpuPerDeliveryUs !== null) cpu.baseline.push(baseline.cpuPerDeliveryUs);
          if (measured.cpuPerDeliveryUs !== null) cpu.subject.push(measured.cpuPerDeliveryUs);
        }
        const deliveries = sizes.events * endpointCount;
        return scenarioResult(
          {
            name: this.name,
            goal: this.goal,
            unit: 'deliveries/s',
            baseline: this.baseline,
            ratioGoal: this.ratioGoal,
            subjectRssMiB: subject.rssMiB(),
            notes: [
              `${sizes.events} events × ${endpointCount} endpoints = ${deliveries} deliveries a round, ` +
                (context.quick
                  ? 'a quick run: far fewer than the full 10,000'
                  : '10,000 deliveries, not 10,000 events to each endpoint: 100,000 deliveries at a few hundred ' +
                    'a second would make this one scenario take longer than all the others together'),
              'throughput = deliveries / (last receipt − hand-over: the outbox commit, or the POST to the script)',
              `latency per delivery (receipt − hand-over) with events handed over every ${paceTickMs} ms for ` +
                `${sizes.pacedSeconds} s at half the baseline's throughput, median ${median(offered).toFixed(0)} ` +
                "deliveries/s; the baseline's p50/p99 " +
                `${median(rounds.map((r) => r.baseline.p50Ms))}/${median(rounds.map((r) => r.baseline.p99Ms))} ms`,
              'both sides keep connections per endpoint (keep-alive) and send 4 per endpoint at most; ' +
                'the receiver verifies every signature with the standardwebhooks library',
              ...(cpu.subject.length > 0 && cpu.baseline.length > 0
                ? [
                    `CPU per delivery while saturated (median of rounds, steadier than throughput on a busy ` +
                      `machine): Portico ${median(cpu.subject).toFixed(0)} µs, the script ` +
                      `${median(cpu.baseline).toFixed(0)} µs`,
                  ]
                : []),
            ],
          },
          rounds,
        );
      } finally {
        outbox.close();
      }
    });
  },
};
