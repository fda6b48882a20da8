// Runs the events purge now and then in every server process; several processes purging at once is harmless, as
// each deletes only what is still there.
import type { FastifyInstance } from 'fastify';
import type { EventsService } from './service.ts';

const purgeIntervalMs = 60 * 60 * 1000;

export function schedulePurge(app: FastifyInstance, service: EventsService): void {
  const purge = () => {
    service.purge().catch((error: unknown) => app.log.warn({ err: error }, 'the events purge failed; it runs again'));
  };
  const timer = setInterval(purge, purgeIntervalMs);
  // A pending purge must not keep a process alive that is otherwise done.
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}
