// The Redis key-value adapter: the conformance suite the memory adapter passes, the keys it must survive, and the
// circuit breaker that keeps answering when Redis does not. Runs when TEST_REDIS_URL is set.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { keyValueConformance } from '../src/adapters/kv/conformance.ts';
import { memoryKeyValue } from '../src/adapters/kv/memory.ts';
import type { KeyValue } from '../src/adapters/kv/port.ts';
import { redisKeyValue } from '../src/adapters/kv/redis.ts';
import { resilientKeyValue } from '../src/adapters/kv/resilient.ts';
import { serviceUrl } from './helpers.ts';
import { ownRedis } from './redis-server.ts';

const redisUrl = serviceUrl('TEST_REDIS_URL');
// Generous, so a busy machine does not fail a test of meaning with a timeout; the breaker tests pass their own.
const commandTimeoutMs = 1_000;
const testPrefix = () => `portico-test:${randomBytes(6).toString('hex')}:`;
const rule = { limit: 5, windowMs: 10_000 };

if (redisUrl) {
  keyValueConformance('redis', (nowMs) =>
    redisKeyValue({ url: redisUrl, nowMs, prefix: testPrefix(), commandTimeoutMs }),
  );
  keyValueConformance('redis behind the breaker', async (nowMs) => {
    const shared = await redisKeyValue({ url: redisUrl, nowMs, prefix: testPrefix(), commandTimeoutMs });
    return resilientKeyValue({ shared, local: memoryKeyValue(nowMs), probe: shared.ping, log: silent });
  });
}

const silent = { warn() {}, info() {} };

describe('the Redis adapter', { skip: !redisUrl && 'TEST_REDIS_URL is not set' }, () => {
  const url = redisUrl ?? '';

  test('keys with spaces, newlines, unicode or 100,000 characters are counted apart and read back', async () => {
    const kv = await redisKeyValue({ url, prefix: testPrefix(), commandTimeoutMs });
    try {
      const keys = ['a b', 'a\nb', 'a\r\nb\u0000', 'ключ 🔑', '*', 'x'.repeat(100_000), 'x'.repeat(100_001), ''];
      for (const key of keys) {
        for (let i = 0; i < rule.limit; i++) assert.equal((await kv.consumeRate(key, rule)).allowed, true, key);
        assert.equal((await kv.consumeRate(key, rule)).allowed, false, JSON.stringify(key.slice(0, 20)));
      }
      for (const [i, key] of keys.entries()) await kv.set(key, `value ${i}: with a : colon`, 60_000);
      for (const [i, key] of keys.entries()) assert.equal(await kv.get(key), `value ${i}: with a : colon`);
    } finally {
      await kv.close();
    }
  });

  test('two stores with different prefixes on one Redis do not see each other', async () => {
    const one = await redisKeyValue({ url, prefix: testPrefix(), commandTimeoutMs });
    const two = await redisKeyValue({ url, prefix: testPrefix(), commandTimeoutMs });
    try {
      for (let i = 0; i < rule.limit; i++) await one.consumeRate('client', rule);
      assert.equal((await one.consumeRate('client', rule)).allowed, false);
      assert.equal((await two.consumeRate('client', rule)).remaining, rule.limit - 1);
      await one.set('session', 'one', 60_000);
      assert.equal(await two.get('session'), null);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  test('a Redis that forgot the scripts (SCRIPT FLUSH, a restart) is sent them again and keeps counting', async () => {
    const kv = await redisKeyValue({ url, prefix: testPrefix(), commandTimeoutMs });
    const admin = new Redis(url);
    try {
      await kv.consumeRate('client', rule);
      await kv.set('session', 'one', 60_000);
      await admin.script('FLUSH');
      assert.equal((await kv.consumeRate('client', rule)).remaining, rule.limit - 2);
      await admin.script('FLUSH');
      assert.equal(await kv.getAndTouch('session', 60_000), 'one');
    } finally {
      admin.disconnect();
      await kv.close();
    }
  });

  test('a reply that arrived while this process was busy is taken, not mistaken for a Redis that timed out', async () => {
    const kv = await redisKeyValue({ url, prefix: testPrefix(), commandTimeoutMs: 20 });
    try {
      await kv.consumeRate('warm', rule);
      const decisions = Promise.allSettled(Array.from({ length: 50 }, () => kv.consumeRate('client', rule)));
      // The event loop is held well past the timeout (a burst of requests does as much), while Redis answers.
      const busyUntil = performance.now() + 200;
      while (performance.now() < busyUntil);
      const settled = await decisions;
      assert.deepEqual(
        settled.filter((s) => s.status === 'rejected'),
        [],
      );
      assert.equal(settled.filter((s) => s.status === 'fulfilled' && s.value.allowed).length, rule.limit);
    } finally {
      await kv.close();
    }
  });

  test('a rate key and a value key of the same name are apart, as in the memory adapter', async () => {
    const kv = await redisKeyValue({ url, prefix: testPrefix(), commandTimeoutMs });
    try {
      await kv.set('same', 'value', 60_000);
      assert.equal((await kv.consumeRate('same', rule)).allowed, true);
      assert.equal(await kv.get('same'), 'value');
    } finally {
      await kv.close();
    }
  });
});

/** Counts what reaches the Redis adapter, to show that an open breaker sends nothing there. */
function counting(kv: KeyValue): KeyValue & { calls: number } {
  const counted = { ...kv, calls: 0 };
  for (const name of ['consumeRate', 'get', 'set', 'delete', 'getAndTouch'] as const) {
    const original = kv[name] as (...args: unknown[]) => Promise<unknown>;
    (counted as Record<string, unknown>)[name] = (...args: unknown[]) => {
      counted.calls++;
      return original(...args);
    };
  }
  return counted;
}

describe('the breaker', { skip: !redisUrl && 'TEST_REDIS_URL is not set' }, () => {
  async function breakerOn(url: string, timeoutMs = commandTimeoutMs) {
    const logs: string[] = [];
    const redis = await redisKeyValue({ url, prefix: testPrefix(), commandTimeoutMs: timeoutMs });
    const shared = counting(redis);
    const kv = resilientKeyValue({
      shared,
      local: memoryKeyValue(),
      probe: redis.ping,
      probeEveryMs: 50,
      log: { warn: (m) => logs.push(`warn ${m}`), info: (m) => logs.push(`info ${m}`) },
    });
    return { kv, shared, logs };
  }

  async function until(condition: () => boolean, what: string) {
    for (let i = 0; i < 400 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.ok(condition(), what);
  }

  test('with Redis killed every call is answered locally, without touching Redis, and Redis is used again once back', async () => {
    const server = await ownRedis();
    const { kv, shared, logs } = await breakerOn(server.url);
    try {
      assert.equal((await kv.consumeRate('client', rule)).remaining, 4);
      assert.equal(kv.health().status, 'ok');
      await server.kill();
      const first = await kv.consumeRate('client', rule);
      assert.equal(first.allowed, true, 'the call that met the dead Redis is answered from memory');
      assert.equal(kv.health().status, 'degraded');
      const callsWhenOpen = shared.calls;
      for (let i = 0; i < 100; i++) await kv.consumeRate(`client-${i}`, rule);
      await kv.set('session', 'local', 60_000);
      assert.equal(await kv.get('session'), 'local');
      assert.equal(shared.calls, callsWhenOpen, 'an open breaker sends nothing to Redis');
      assert.equal(kv.health().localDecisions, 101);

      await server.restart();
      await until(() => kv.health().status === 'ok', 'the probe closes the breaker once Redis answers');
      assert.equal((await kv.consumeRate('client', rule)).remaining, 4, 'a fresh Redis counts afresh');
      assert.ok(shared.calls > callsWhenOpen);
      assert.deepEqual(
        logs.map((line) => line.split(' ')[0]),
        ['warn', 'info'],
        'one warning on open and one info on close, not one per call',
      );
    } finally {
      await kv.close();
      await server.kill();
    }
  });

  test('a hung Redis (frozen, its connection still open) is not waited on: the command times out and the breaker opens', async () => {
    const server = await ownRedis();
    const { kv, logs } = await breakerOn(server.url, 50);
    try {
      await kv.consumeRate('client', rule);
      server.pause();
      const answers = await Promise.all(Array.from({ length: 20 }, () => kv.consumeRate('client', rule)));
      assert.equal(answers.length, 20);
      assert.equal(kv.health().status, 'degraded');
      server.resume();
      await until(() => kv.health().status === 'ok', 'the probe closes the breaker once Redis answers');
      assert.equal(logs.length, 2);
    } finally {
      server.resume();
      await kv.close();
      await server.kill();
    }
  });
});
