// The key-value port: counters for rate limiting, and short-lived values such as sessions; memory (embedded) or
// Redis. Each operation is one Redis command (noted on each; a script where the caller's clock decides expiry), so
// it is atomic there without a transaction.

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
  /** Takes `cost` from the allowance under `key`, atomically; a refused request takes nothing. `EVALSHA` */
  consumeRate(key: string, rule: RateRule, cost?: number): Promise<RateDecision>;
  /** The value under `key`, or null when there is none or it has expired. `EVALSHA` (GET) */
  get(key: string): Promise<string | null>;
  /** Stores `value` under `key` for `ttlMs` (> 0), replacing any value and expiry it had. `SET key value PX ttlMs` */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Removes `key`; removing a key that is not there is no error. `DEL` */
  delete(key: string): Promise<void>;
  /** The value under `key`, whose expiry is moved to `ttlMs` from now; null (and nothing kept) when absent. `EVALSHA` (GET, SET) */
  getAndTouch(key: string, ttlMs: number): Promise<string | null>;
  close(): Promise<void>;
}
