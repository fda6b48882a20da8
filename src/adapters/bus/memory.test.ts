// The in-process event bus against the conformance suite.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { busConformance } from './conformance.ts';
import { eventsPerTurn, memoryBus } from './memory.ts';

busConformance('in-process bus', { make: async () => memoryBus() });

test('a burst lets the event loop turn while its consumer works through it', async () => {
  const bus = memoryBus();
  const handledBeforeTurn: number[] = [];
  let handled = 0;
  // A handler that never waits on I/O, as one writing to SQLite: only the bus can let other work in.
  await bus.subscribe('burst', '#', async () => {
    handled++;
  });
  setImmediate(() => handledBeforeTurn.push(handled));
  const burst = eventsPerTurn * 4;
  for (let i = 0; i < burst; i++) {
    await bus.publish({
      id: `evt_${i}`,
      type: 'product.created',
      createdAt: new Date(0).toISOString(),
      apiVersion: 'v1',
      aggregate: { type: 'product', id: `prd_${i}` },
      data: {},
    });
  }
  while (handled < burst) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(handledBeforeTurn.length, 1);
  assert.ok(
    (handledBeforeTurn[0] ?? burst) < burst,
    `the loop turned after ${handledBeforeTurn[0]} of ${burst} events, not only after all of them`,
  );
  await bus.close();
});
