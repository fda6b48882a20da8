// RabbitMQ fixtures: cleaning up what a test declared on the shared broker, and a link to it that a test can cut.
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import amqp from 'amqplib';
import type { RabbitMqBus } from '../src/adapters/bus/rabbitmq.ts';
import { freePort } from './helpers.ts';
/** Removes what a test's bus declared, so runs leave nothing behind on the shared broker. */
export async function deleteTopology(brokerUrl: string, bus: RabbitMqBus): Promise<void> {
  const connection = await amqp.connect(brokerUrl);
  const channel = await connection.createChannel();
  for (const queue of bus.declared.queues) await channel.deleteQueue(queue);
  for (const exchange of bus.declared.exchanges) await channel.deleteExchange(exchange);
  await connection.close();
}

/** Whether the broker has a queue of that name. */
export async function queueExists(brokerUrl: string, queue: string): Promise<boolean> {
  const connection = await amqp.connect(brokerUrl);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    return await channel.checkQueue(queue).then(
      () => true,
      () => false,
    );
  } finally {
    await connection.close().catch(() => {});
  }
}

/** A TCP hop to the broker that the test can take down and bring back, without touching the shared broker. */
export async function brokerHop(target: URL): Promise<{ port: number; down(): Promise<void>; up(): Promise<void> }> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  const up = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((inbound) => {
        const outbound = tcpConnect(Number(target.port || 5672), target.hostname);
        for (const socket of [inbound, outbound]) {
          sockets.add(socket);
          socket.on('error', () => {});
          socket.on('close', () => sockets.delete(socket));
        }
        inbound.pipe(outbound).pipe(inbound);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const down = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      if (server) server.close(() => resolve());
      else resolve();
    });
  await up();
  return { port, up, down };
}
