// A redis-server of the test's own, on a free port, that the test may kill, pause and restart. The machine's shared
// Redis (TEST_REDIS_URL) is never stopped: other suites run on it at the same time.
import type { ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import { freePort } from './helpers.ts';
import { launchRedis } from './redis-launch.ts';

export interface OwnRedis {
  url: string;
  /** Kills the server at once (SIGKILL), as a crash would; it keeps nothing (no RDB, no AOF). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open but nothing is answered, as with a hung host. */
  pause(): void;
  resume(): void;
}

const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) child.kill('SIGKILL');
});

async function launch(port: number): Promise<ChildProcess> {
  const child = await launchRedis(port);
  running.add(child);
  child.on('exit', () => running.delete(child));
  return child;
}

export async function ownRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let child = await launch(port);
  return {
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      child = await launch(port);
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
  };
}
