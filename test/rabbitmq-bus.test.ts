// The RabbitMQ event bus passes the conformance suite the in-process bus passes. Runs when TEST_AMQP_URL is set.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { busConformance, eventually } from '../src/adapters/bus/conformance.ts';
import { type RabbitMqBus, rabbitMqBus } from '../src/adapters/bus/rabbitmq.ts';
import { domainEvent } from '../src/storage/outbox.ts';
import { serviceUrl } from './helpers.ts';
import { brokerHop, deleteTopology, queueExists } from './rabbitmq-fixtures.ts';

const url = serviceUrl('TEST_AMQP_URL');

if (url) {
  busConformance('RabbitMQ bus', {
    make: () => rabbitMqBus({ url, prefix: `portico-test-${randomBytes(6).toString('hex')}`, reconnectDelayMs: 100 }),
    dispose: (bus) => deleteTopology(url, bus as RabbitMqBus),
  });
}

describe('the RabbitMQ bus when the connection is lost', { skip: !url && 'TEST_AMQP_URL is not set' }, () => {
  const brokerUrl = url ?? '';

  test('publishing fails while the broker is unreachable, and a subscriber gets new events once it is back', async () => {
    const hop = await brokerHop(new URL(brokerUrl));
    const viaHop = new URL(brokerUrl);
    viaHop.port = String(hop.port);
    const prefix = `portico-test-${randomBytes(6).toString('hex')}`;
    const bus = await rabbitMqBus({ url: viaHop.toString(), prefix, reconnectDelayMs: 50 });
    const publisher = await rabbitMqBus({ url: brokerUrl, prefix });
    const seen: string[] = [];
    await bus.subscribe('watcher', 'order.*', async (event) => {
      seen.push(event.id);
    });
    const at = new Date();
    const first = domainEvent('order.paid', { type: 'order', id: 'ord_1' }, {}, at);
    const second = domainEvent('order.shipped', { type: 'order', id: 'ord_1' }, {}, at);
    try {
      await bus.publish(first);
      await eventually('the first event', () => seen.length === 1);
      await hop.down();
      await assert.rejects(bus.publish(second));
      await publisher.publish(second);
      await hop.up();
      await eventually('the event published while the link was down', () => seen.includes(second.id));
      // An acknowledgement lost with the link brings its event again (at least once), under the same id.
      assert.deepEqual([...new Set(seen)], [first.id, second.id]);
    } finally {
      await bus.close();
      await publisher.close();
      await hop.down();
      await deleteTopology(brokerUrl, publisher);
    }
  });

  test('a subscription made while the broker is unreachable starts receiving once it can be reached', async () => {
    const hop = await brokerHop(new URL(brokerUrl));
    await hop.down();
    const viaHop = new URL(brokerUrl);
    viaHop.port = String(hop.port);
    const prefix = `portico-test-${randomBytes(6).toString('hex')}`;
    const bus = await rabbitMqBus({ url: viaHop.toString(), prefix, reconnectDelayMs: 50 });
    const publisher = await rabbitMqBus({ url: brokerUrl, prefix });
    const seen: string[] = [];
    try {
      await bus.subscribe('late', 'order.*', async (event) => {
        seen.push(event.id);
      });
      await hop.up();
      const sent = domainEvent('order.paid', { type: 'order', id: 'ord_2' }, {}, new Date());
      // The queue exists once the subscriber has reconnected; until then the event would route nowhere.
      await eventually('the queue declared', async () => await queueExists(brokerUrl, `${prefix}.consumer.late`));
      await publisher.publish(sent);
      await eventually('the event', () => seen.includes(sent.id));
    } finally {
      await bus.close();
      await publisher.close();
      await hop.down();
      await deleteTopology(brokerUrl, publisher);
      await deleteTopology(brokerUrl, bus);
    }
  });
});
