// The embedded key-value adapter: one process's memory. Expired keys are swept so idle clients cost nothing.
import { gcra } from './gcra.ts';
import type { KeyValue } from './port.ts';

interface RateEntry {
  tatMs: number;
}

interface ValueEntry {
  value: string;
  expiresAtMs: number;
}

export function memoryKeyValue(nowMs: () => number = Date.now, sweepEveryMs = 60_000): KeyValue {
  const rates = new Map<string, RateEntry>();
  const values = new Map<string, ValueEntry>();
  const sweep = setInterval(() => {
    const now = nowMs();
    for (const [key, entry] of rates) if (entry.tatMs <= now) rates.delete(key);
    for (const [key, entry] of values) if (entry.expiresAtMs <= now) values.delete(key);
  }, sweepEveryMs);
  sweep.unref();

  /** The live entry under `key`; an expired one is dropped on sight, as Redis does. */
  function live(key: string): ValueEntry | null {
    const entry = values.get(key);
    if (!entry) return null;
    if (entry.expiresAtMs > nowMs()) return entry;
    values.delete(key);
    return null;
  }

  return {
    async consumeRate(key, rule, cost = 1) {
      const entry = rates.get(key);
      const step = gcra(entry?.tatMs ?? null, nowMs(), rule, cost);
      if (step.nextTatMs !== null) rates.set(key, { tatMs: step.nextTatMs });
      return step.decision;
    },
    async get(key) {
      return live(key)?.value ?? null;
    },
    async set(key, value, ttlMs) {
      values.set(key, { value, expiresAtMs: nowMs() + ttlMs });
    },
    async delete(key) {
      values.delete(key);
    },
    async getAndTouch(key, ttlMs) {
      const entry = live(key);
      if (!entry) return null;
      entry.expiresAtMs = nowMs() + ttlMs;
      return entry.value;
    },
    async close() {
      clearInterval(sweep);
      rates.clear();
      values.clear();
    },
  };
}
