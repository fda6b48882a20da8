// The key-value port: counters for rate limiting now, sessions and caches later; memory (embedded) or Redis.

export interface RateRule {
  limit: number;
  windowMs: number;
}

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Until the allowance is whole again. */
  resetMs: number;
  /** Until this request would be allowed; 0 when it was. */
  retryAfterMs: number;
}

export interface KeyValue {
  /** Takes `cost` from the allowance under `key`, atomically; a refused request takes nothing. */
  consumeRate(key: string, rule: RateRule, cost?: number): Promise<RateDecision>;
  close(): Promise<void>;
}
