// The behaviour every event bus adapter must show (port.ts, rules 1–7); each adapter's test file runs this suite.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { domainEvent } from '../../storage/outbox.ts';
import type { DomainEvent, EventBus, LogEntry } from './port.ts';

export interface BusFactory {
  make(): Promise<EventBus>;
  /** Removes what a test left on the broker, after the bus is closed. */
  dispose?(bus: EventBus): Promise<void>;
}

/** Resolves once `check` holds, polling; fails with `what` when it never does. */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

const event = (type: string, n = 0): DomainEvent =>
  domainEvent(type, { type: type.split('.')[0] ?? 'thing', id: `agg_${n}` }, { n }, new Date(1_700_000_000_000 + n));

export function busConformance(name: string, factory: BusFactory): void {
  async function withBus(run: (bus: EventBus, consumer: (label: string) => string) => Promise<void>) {
    const bus = await factory.make();
    const suffix = randomBytes(4).toString('hex');
    try {
      await run(bus, (label) => `${label}-${suffix}`);
    } finally {
      await bus.close();
      await factory.dispose?.(bus);
    }
  }

  test(`${name}: a consumer gets exactly the events its patterns match, in the order they were published`, () =>
    withBus(async (bus, consumer) => {
      const seen: string[] = [];
      const sub = await bus.subscribe(consumer('orders'), ['order.*', 'user.deleted'], async (e) => {
        seen.push(e.type);
      });
      for (const type of ['order.created', 'user.created', 'order.paid', 'order.item.added', 'user.deleted']) {
        await bus.publish(event(type));
      }
      await bus.publish(event('order.shipped'));
      await eventually('order.shipped', () => seen.includes('order.shipped'));
      assert.deepEqual(seen, ['order.created', 'order.paid', 'user.deleted', 'order.shipped']);
      await sub.close();
    }));

  test(`${name}: the event arrives whole, with its id, type, time, version, aggregate and data`, () =>
    withBus(async (bus, consumer) => {
      const seen: DomainEvent[] = [];
      await bus.subscribe(consumer('all'), '#', async (e) => {
        seen.push(e);
      });
      const sent = event('order.paid', 7);
      await bus.publish(sent);
      await eventually('the event', () => seen.length === 1);
      assert.deepEqual(seen[0], sent);
    }));

  test(`${name}: a handler that throws gets the same event again, and a handled event is not redelivered`, () =>
    withBus(async (bus, consumer) => {
      const calls: string[] = [];
      let failures = 2;
      await bus.subscribe(consumer('flaky'), 'order.*', async (e) => {
        calls.push(e.id);
        if (e.type === 'order.paid' && failures-- > 0) throw new Error('not yet');
      });
      const paid = event('order.paid', 1);
      const shipped = event('order.shipped', 2);
      await bus.publish(paid);
      await bus.publish(shipped);
      await eventually('both events handled', () => calls.filter((id) => id === shipped.id).length === 1);
      await delay(200);
      assert.deepEqual(
        calls.filter((id) => id === paid.id),
        [paid.id, paid.id, paid.id],
      );
      assert.equal(calls.filter((id) => id === shipped.id).length, 1);
      assert.deepEqual(await bus.takeDeadLetters(consumer('flaky')), []);
    }));

  test(`${name}: an event a handler keeps failing on goes to the dead letters after maxAttempts, and the rest flow`, () =>
    withBus(async (bus, consumer) => {
      const poison = event('order.paid', 1);
      const fine = event('order.paid', 2);
      let poisonCalls = 0;
      const handled: string[] = [];
      await bus.subscribe(
        consumer('strict'),
        'order.paid',
        async (e) => {
          if (e.id === poison.id) {
            poisonCalls++;
            throw new Error('cannot handle this one');
          }
          handled.push(e.id);
        },
        { maxAttempts: 3 },
      );
      await bus.publish(poison);
      await bus.publish(fine);
      await eventually('the good event', () => handled.includes(fine.id));
      const dead: DomainEvent[] = [];
      for (let i = 0; i < 100 && dead.length === 0; i++) {
        dead.push(...(await bus.takeDeadLetters(consumer('strict'))));
        if (dead.length === 0) await delay(50);
      }
      assert.deepEqual(
        dead.map((e) => e.id),
        [poison.id],
      );
      assert.deepEqual(dead[0], poison);
      assert.equal(poisonCalls, 3);
      assert.deepEqual(await bus.takeDeadLetters(consumer('strict')), []);
    }));

  test(`${name}: two consumers each get every event`, () =>
    withBus(async (bus, consumer) => {
      const a: string[] = [];
      const b: string[] = [];
      await bus.subscribe(consumer('a'), 'order.*', async (e) => {
        a.push(e.id);
      });
      await bus.subscribe(consumer('b'), '#', async (e) => {
        b.push(e.id);
      });
      const sent = [event('order.created', 1), event('order.paid', 2), event('order.shipped', 3)];
      for (const e of sent) await bus.publish(e);
      await eventually('both consumers', () => a.length === 3 && b.length === 3);
      assert.deepEqual(
        a,
        sent.map((e) => e.id),
      );
      assert.deepEqual(
        b,
        sent.map((e) => e.id),
      );
    }));

  test(`${name}: two subscriptions under one consumer name (two processes) share its events: each is handled once`, () =>
    withBus(async (bus, consumer) => {
      const handled: string[] = [];
      const record = async (e: DomainEvent) => {
        handled.push(e.id);
      };
      await bus.subscribe(consumer('shared'), 'order.*', record);
      await bus.subscribe(consumer('shared'), 'order.*', record);
      const sent = [1, 2, 3, 4, 5, 6].map((n) => event('order.paid', n));
      for (const e of sent) await bus.publish(e);
      await eventually('every event', () => handled.length >= sent.length);
      await delay(100);
      assert.deepEqual([...handled].sort(), sent.map((e) => e.id).sort());
    }));

  test(`${name}: a consumer that was away gets what was published meanwhile`, () =>
    withBus(async (bus, consumer) => {
      const seen: string[] = [];
      const first = await bus.subscribe(consumer('away'), 'order.*', async (e) => {
        seen.push(e.id);
      });
      const before = event('order.created', 1);
      await bus.publish(before);
      await eventually('the first event', () => seen.length === 1);
      await first.close();
      const meanwhile = event('order.paid', 2);
      await bus.publish(meanwhile);
      await delay(100);
      assert.deepEqual(seen, [before.id]);
      await bus.subscribe(consumer('away'), 'order.*', async (e) => {
        seen.push(e.id);
      });
      await eventually('the event published while away', () => seen.length === 2);
      assert.deepEqual(seen, [before.id, meanwhile.id]);
    }));

  test(`${name}: a batch consumer gets the events that waited for it together, in order, at most maxBatch at once`, () =>
    withBus(async (bus, consumer) => {
      const batches: string[][] = [];
      const away = await bus.subscribeBatch(consumer('batches'), 'order.*', async () => {}, { maxBatch: 3 });
      await away.close();
      const sent = [1, 2, 3, 4, 5, 6, 7].map((n) => event('order.paid', n));
      for (const e of sent) await bus.publish(e);
      await bus.subscribeBatch(
        consumer('batches'),
        'order.*',
        async (events) => {
          batches.push(events.map((e) => e.id));
          // A slow handler: what arrives meanwhile waits for the next batch.
          await delay(50);
        },
        { maxBatch: 3 },
      );
      await eventually('every event', () => batches.flat().length >= sent.length);
      await delay(100);
      assert.deepEqual(
        batches.flat(),
        sent.map((e) => e.id),
      );
      assert.ok(
        batches.every((batch) => batch.length >= 1 && batch.length <= 3),
        `batches of ${batches.map((b) => b.length)}`,
      );
      assert.ok(
        batches.some((batch) => batch.length > 1),
        `batches of ${batches.map((b) => b.length)}`,
      );
    }));

  test(`${name}: a batch its handler fails on is handed over one event at a time: only the bad event is dead-lettered`, () =>
    withBus(async (bus, consumer) => {
      const poison = event('order.paid', 2);
      const sent = [event('order.paid', 1), poison, event('order.paid', 3)];
      const handled: string[] = [];
      let poisonAlone = 0;
      const options = { maxBatch: 10, maxAttempts: 3 };
      const away = await bus.subscribeBatch(consumer('strict-batch'), 'order.*', async () => {}, options);
      await away.close();
      for (const e of sent) await bus.publish(e);
      await bus.subscribeBatch(
        consumer('strict-batch'),
        'order.*',
        async (events) => {
          if (events.some((e) => e.id === poison.id)) {
            if (events.length === 1) poisonAlone++;
            throw new Error('cannot handle this one');
          }
          handled.push(...events.map((e) => e.id));
        },
        options,
      );
      const dead: DomainEvent[] = [];
      for (let i = 0; i < 100 && dead.length === 0; i++) {
        dead.push(...(await bus.takeDeadLetters(consumer('strict-batch'))));
        if (dead.length === 0) await delay(50);
      }
      await delay(100);
      assert.deepEqual(
        dead.map((e) => e.id),
        [poison.id],
      );
      assert.equal(poisonAlone, 3);
      assert.deepEqual(handled, [sent[0]?.id, sent[2]?.id]);
    }));

  test(`${name}: the log replays every event from any offset, then follows new ones`, () =>
    withBus(async (bus) => {
      const sent = [1, 2, 3, 4, 5].map((n) => event(n % 2 ? 'order.paid' : 'user.created', n));
      for (const e of sent.slice(0, 4)) await bus.publish(e);
      const all: LogEntry[] = [];
      const reader = await bus.replay(0, async (entry) => {
        all.push(entry);
      });
      await eventually('the whole log', () => all.length === 4);
      await reader.close();
      assert.deepEqual(
        all.map((entry) => entry.event.id),
        sent.slice(0, 4).map((e) => e.id),
      );
      const offsets = all.map((entry) => entry.offset);
      assert.deepEqual(
        offsets.slice(1).map((offset, i) => offset - (offsets[i] as number)),
        [1, 1, 1],
      );
      const fromThird: LogEntry[] = [];
      const again = await bus.replay(offsets[2] as number, async (entry) => {
        fromThird.push(entry);
      });
      await eventually('the log from the third event', () => fromThird.length === 2);
      await bus.publish(sent[4] as DomainEvent);
      await eventually('the new event', () => fromThird.length === 3);
      await again.close();
      assert.deepEqual(
        fromThird.map((entry) => entry.event),
        sent.slice(2),
      );
    }));
}
