// A circuit breaker around a shared key-value store (Redis): when it fails, requests are answered at once from a
// local store (this process's memory) instead of waiting or failing, and a background probe switches back when
// the shared store answers again. While open, requests never touch the shared store.
//
// What the local store gives is weaker, by design: each process limits on its own (a client may get one allowance
// per process), and sessions written before the outage are not seen until it ends (their holders get 401, not 5xx).
import type { KeyValue } from './port.ts';

export interface KeyValueHealth {
  /** `degraded` while the shared store fails and this process decides alone. */
  status: 'ok' | 'degraded';
  store: 'redis';
  /** Rate decisions made by the local store since start: how much limiting was not shared. */
  localDecisions: number;
}

export interface ResilientKeyValue extends KeyValue {
  health(): KeyValueHealth;
}

export interface ResilientOptions {
  shared: KeyValue;
  local: KeyValue;
  /** Resolves when the shared store answers; called in the background only while the breaker is open. */
  probe: () => Promise<void>;
  probeEveryMs?: number;
  /** One warning when the breaker opens and one info line when it closes, never one per request. */
  log: { warn(message: string): void; info(message: string): void };
}

export function resilientKeyValue({
  shared,
  local,
  probe,
  probeEveryMs = 1_000,
  log,
}: ResilientOptions): ResilientKeyValue {
  let probing: NodeJS.Timeout | null = null;
  let probeInFlight = false;
  let localDecisions = 0;

  function open(error: unknown): void {
    if (probing) return;
    log.warn(
      `Redis does not answer (${error instanceof Error ? error.message : String(error)}): rate limits and sessions are kept in this process's memory until it does.`,
    );
    probing = setInterval(async () => {
      if (probeInFlight) return;
      probeInFlight = true;
      try {
        await probe();
        if (probing) clearInterval(probing);
        probing = null;
        log.info('Redis answers again: rate limits and sessions are shared again.');
      } catch {
        // Still down: the next tick tries again.
      } finally {
        probeInFlight = false;
      }
    }, probeEveryMs);
    probing.unref();
  }

  async function call<T>(operation: (kv: KeyValue) => Promise<T>): Promise<T> {
    if (!probing) {
      try {
        return await operation(shared);
      } catch (error) {
        open(error);
      }
    }
    return operation(local);
  }

  return {
    consumeRate: (key, rule, cost) =>
      call((kv) => {
        if (kv === local) localDecisions++;
        return kv.consumeRate(key, rule, cost);
      }),
    get: (key) => call((kv) => kv.get(key)),
    set: (key, value, ttlMs) => call((kv) => kv.set(key, value, ttlMs)),
    delete: (key) => call((kv) => kv.delete(key)),
    getAndTouch: (key, ttlMs) => call((kv) => kv.getAndTouch(key, ttlMs)),
    health: () => ({ status: probing ? 'degraded' : 'ok', store: 'redis', localDecisions }),
    async close() {
      if (probing) clearInterval(probing);
      probing = null;
      await Promise.all([shared.close(), local.close()]);
    },
  };
}
