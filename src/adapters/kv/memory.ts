// The embedded key-value adapter: one process's memory. Expired keys are swept so idle clients cost nothing.
import { gcra } from './gcra.ts';
import type { KeyValue } from './port.ts';

interface Entry {
  tatMs: number;
}

export function memoryKeyValue(nowMs: () => number = Date.now, sweepEveryMs = 60_000): KeyValue {
  const rates = new Map<string, Entry>();
  const sweep = setInterval(() => {
    const now = nowMs();
    for (const [key, entry] of rates) if (entry.tatMs <= now) rates.delete(key);
  }, sweepEveryMs);
  sweep.unref();

  return {
    async consumeRate(key, rule, cost = 1) {
      const entry = rates.get(key);
      const step = gcra(entry?.tatMs ?? null, nowMs(), rule, cost);
      if (step.nextTatMs !== null) rates.set(key, { tatMs: step.nextTatMs });
      return step.decision;
    },
    async close() {
      clearInterval(sweep);
      rates.clear();
    },
  };
}
