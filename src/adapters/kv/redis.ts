// The Redis key-value adapter: server processes that share one Redis share their rate counters and sessions.
// Every operation is one round trip; the rate decision is one Lua script, so concurrent requests from any number
// of processes are decided one after another inside Redis.
//
// Time comes from the caller's clock (passed to each script), as in the memory adapter, not from Redis's TIME:
// the same conformance suite then runs on both with a clock moved by hand, and when Redis fails the local limiter
// that takes over (resilient.ts) counts on the same clock. The cost is that hosts sharing one Redis need
// synchronised clocks (NTP); a skew of d ms gives a client at most d / (window / limit) units more or fewer.
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { KeyValue } from './port.ts';

export interface RedisKeyValueOptions {
  url: string;
  nowMs?: () => number;
  /** Starts every key, so several deployments (or test runs) share one Redis without seeing each other's keys. */
  prefix?: string;
  /**
   * How long a command may take before it fails. A request never waits longer on Redis than this: the caller
   * (resilient.ts) then answers it from local memory.
   */
  commandTimeoutMs?: number;
}

export interface RedisKeyValue extends KeyValue {
  /** Resolves when Redis answers a PING; rejects at once (or after the command timeout) when it does not. */
  ping(): Promise<void>;
}

/** The GCRA of gcra.ts, step for step in the same double arithmetic, so both adapters decide alike. */
const consumeScript = `
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local interval = window / limit
local stored = tonumber(redis.call('GET', KEYS[1]))
if stored == nil or stored - now > window + 1 then stored = now end
local tat = math.max(stored, now)
local nextTat = tat + interval * cost
local allowAt = nextTat - window
if now < allowAt then
  return {0, 0, string.format('%.17g', tat - now), string.format('%.17g', allowAt - now)}
end
local remaining = math.floor((window - (nextTat - now)) / interval + 1e-9)
redis.call('SET', KEYS[1], string.format('%.17g', nextTat), 'PX', math.ceil(nextTat - now))
return {1, remaining, string.format('%.17g', nextTat - now), '0'}
`;

// A value is stored as "<expiresAtMs>:<value>" by the caller's clock; Redis's own expiry (PX) only reclaims memory.
// ARGV[2], when given, is getAndTouch's new time to live.
const readScript = `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local now = tonumber(ARGV[1])
local sep = string.find(raw, ':', 1, true)
if tonumber(string.sub(raw, 1, sep - 1)) <= now then
  redis.call('DEL', KEYS[1])
  return false
end
local value = string.sub(raw, sep + 1)
if ARGV[2] then
  local ttl = tonumber(ARGV[2])
  redis.call('SET', KEYS[1], string.format('%.17g', now + ttl) .. ':' .. value, 'PX', math.ceil(ttl))
end
return value
`;

const connectTimeoutMs = 1_000;

/**
 * `promise`, or a rejection after `ms`. A reply that arrived while this process was busy is still taken: a timer's
 * callback runs before the event loop reads sockets, a setImmediate after, so a late event loop alone (a burst of
 * requests at once) does not pass for a slow Redis.
 */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => setImmediate(() => reject(new Error(`Redis did not answer within ${ms} ms`))), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

interface Script {
  source: string;
  sha: string;
}
const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const consume = script(consumeScript);
const read = script(readScript);

/**
 * Connects, and resolves once the first attempt has succeeded, failed or taken a second: a Redis that is down or
 * hung at start-up does not stop the process, its commands fail (at once) until ioredis reconnects.
 */
export async function redisKeyValue({
  url,
  nowMs = Date.now,
  prefix = 'portico:',
  commandTimeoutMs = 50,
}: RedisKeyValueOptions): Promise<RedisKeyValue> {
  const redis = new Redis(url, {
    // A command sent while the connection is down fails at once instead of queueing, and is never retried: a
    // request must not wait for Redis to come back. ioredis still reconnects in the background.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // The request path's bound is `within` below; this one only drops commands a hung Redis never answers.
    commandTimeout: connectTimeoutMs,
    connectTimeout: connectTimeoutMs,
  });
  // Failures reach the caller as rejected commands; without a listener ioredis would also print each one.
  redis.on('error', () => {});
  // A hung Redis accepts the connection but never answers the ready check, which has no timeout of its own.
  await new Promise<void>((resolve) => {
    const settled = () => {
      clearTimeout(timer);
      redis.off('ready', settled);
      redis.off('error', settled);
      resolve();
    };
    const timer = setTimeout(settled, connectTimeoutMs);
    redis.on('ready', settled);
    redis.on('error', settled);
  });

  // Any key is safe, whatever its characters or length: Redis sees a fixed-length digest under the prefix.
  const keyOf = (space: 'rate' | 'value', key: string) =>
    `${prefix}${space}:${createHash('sha256').update(key).digest('base64url')}`;

  /** EVALSHA, and EVAL when this Redis has not seen the script yet (a restart or SCRIPT FLUSH forgets it). */
  async function run(s: Script, key: string, args: Array<string | number>): Promise<unknown> {
    try {
      return await within(redis.evalsha(s.sha, 1, key, ...args), commandTimeoutMs);
    } catch (error) {
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
      return within(redis.eval(s.source, 1, key, ...args), commandTimeoutMs);
    }
  }

  return {
    async consumeRate(key, rule, cost = 1) {
      const [allowed, remaining, resetMs, retryAfterMs] = (await run(consume, keyOf('rate', key), [
        nowMs(),
        rule.limit,
        rule.windowMs,
        cost,
      ])) as [number, number, string, string];
      return {
        allowed: allowed === 1,
        limit: rule.limit,
        remaining,
        resetMs: Number(resetMs),
        retryAfterMs: Number(retryAfterMs),
      };
    },
    async get(key) {
      return (await run(read, keyOf('value', key), [nowMs()])) as string | null;
    },
    async set(key, value, ttlMs) {
      await within(
        redis.set(keyOf('value', key), `${nowMs() + ttlMs}:${value}`, 'PX', Math.ceil(ttlMs)),
        commandTimeoutMs,
      );
    },
    async delete(key) {
      await within(redis.del(keyOf('value', key)), commandTimeoutMs);
    },
    async getAndTouch(key, ttlMs) {
      return (await run(read, keyOf('value', key), [nowMs(), ttlMs])) as string | null;
    },
    async ping() {
      await within(redis.ping(), commandTimeoutMs);
    },
    async close() {
      redis.disconnect();
    },
  };
}
