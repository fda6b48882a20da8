// The Generic Cell Rate Algorithm: one stored number per key (the theoretical arrival time), a smooth refill,
// and a burst of the whole allowance. Shared by every adapter so they decide alike.
import type { RateDecision, RateRule } from './port.ts';

export interface GcraStep {
  decision: RateDecision;
  /** The arrival time to store, or null when the request was refused and nothing changes. */
  nextTatMs: number | null;
}

export function gcra(storedTatMs: number | null, nowMs: number, rule: RateRule, cost: number): GcraStep {
  const interval = rule.windowMs / rule.limit;
  // An allowed request never stores more than one window ahead, so a farther arrival time means the clock stepped
  // back since: start afresh rather than refuse the client for as long as the step.
  const stored = storedTatMs !== null && storedTatMs - nowMs <= rule.windowMs + 1 ? storedTatMs : nowMs;
  const tat = Math.max(stored, nowMs);
  const nextTat = tat + interval * cost;
  const allowAt = nextTat - rule.windowMs;
  if (nowMs < allowAt) {
    return {
      decision: {
        allowed: false,
        limit: rule.limit,
        remaining: 0,
        resetMs: tat - nowMs,
        retryAfterMs: allowAt - nowMs,
      },
      nextTatMs: null,
    };
  }
  const remaining = Math.floor((rule.windowMs - (nextTat - nowMs)) / interval + 1e-9);
  return {
    decision: { allowed: true, limit: rule.limit, remaining, resetMs: nextTat - nowMs, retryAfterMs: 0 },
    nextTatMs: nextTat,
  };
}
