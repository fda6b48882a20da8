// A relay in a process of its own, for the crash tests: publishes the outbox of DATABASE_URL to the RabbitMQ bus
// at AMQP_URL (names under BUS_PREFIX), and with KILL_AFTER=n kills itself with SIGKILL right after the broker
// confirmed its n-th event, before the relay can mark it. Without KILL_AFTER it drains the outbox and exits 0.
import type { EventBus } from '../src/adapters/bus/port.ts';
import { rabbitMqBus } from '../src/adapters/bus/rabbitmq.ts';
import { outboxRelay } from '../src/events/index.ts';
import { openStorage } from '../src/storage/database.ts';

const { DATABASE_URL = '', AMQP_URL = '', BUS_PREFIX = '', KILL_AFTER } = process.env;
const storage = openStorage(DATABASE_URL);
const bus = await rabbitMqBus({ url: AMQP_URL, prefix: BUS_PREFIX });
let confirmed = 0;
const dying: EventBus = {
  ...bus,
  async publish(event) {
    await bus.publish(event);
    if (++confirmed === Number(KILL_AFTER)) process.kill(process.pid, 'SIGKILL');
  },
};
const published = await outboxRelay({ storage, bus: KILL_AFTER ? dying : bus }).drain();
process.stdout.write(`published ${published}\n`);
await bus.close();
await storage.close();
