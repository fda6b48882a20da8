// The behaviour every key-value adapter must show; each adapter's test file runs this suite against it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KeyValue } from './port.ts';

/** `make` gets a clock the suite moves by hand, so no test waits for real time. */
export function keyValueConformance(name: string, make: (nowMs: () => number) => Promise<KeyValue>): void {
  const rule = { limit: 5, windowMs: 10_000 };

  async function withStore(run: (kv: KeyValue, advance: (ms: number) => void) => Promise<void>) {
    let now = 1_700_000_000_000;
    const kv = await make(() => now);
    try {
      await run(kv, (ms) => {
        now += ms;
      });
    } finally {
      await kv.close();
    }
  }

  test(`${name}: a burst of the whole allowance passes and the next request is refused with a retry time`, () =>
    withStore(async (kv) => {
      const remaining: number[] = [];
      for (let i = 0; i < rule.limit; i++) {
        const decision = await kv.consumeRate('client', rule);
        assert.equal(decision.allowed, true);
        remaining.push(decision.remaining);
      }
      assert.deepEqual(remaining, [4, 3, 2, 1, 0]);
      const refused = await kv.consumeRate('client', rule);
      assert.equal(refused.allowed, false);
      assert.equal(refused.remaining, 0);
      assert.equal(refused.retryAfterMs, rule.windowMs / rule.limit);
    }));

  test(`${name}: the allowance refills smoothly as time passes`, () =>
    withStore(async (kv, advance) => {
      for (let i = 0; i < rule.limit; i++) await kv.consumeRate('client', rule);
      advance(rule.windowMs / rule.limit);
      assert.equal((await kv.consumeRate('client', rule)).allowed, true);
      assert.equal((await kv.consumeRate('client', rule)).allowed, false);
      advance(rule.windowMs);
      const whole = await kv.consumeRate('client', rule);
      assert.equal(whole.remaining, rule.limit - 1);
    }));

  test(`${name}: a refused request takes nothing from the allowance`, () =>
    withStore(async (kv, advance) => {
      for (let i = 0; i < rule.limit; i++) await kv.consumeRate('client', rule);
      for (let i = 0; i < 20; i++) assert.equal((await kv.consumeRate('client', rule)).allowed, false);
      advance(rule.windowMs / rule.limit);
      assert.equal((await kv.consumeRate('client', rule)).allowed, true);
    }));

  test(`${name}: keys are independent`, () =>
    withStore(async (kv) => {
      for (let i = 0; i < rule.limit; i++) await kv.consumeRate('a', rule);
      assert.equal((await kv.consumeRate('a', rule)).allowed, false);
      assert.equal((await kv.consumeRate('b', rule)).allowed, true);
    }));

  test(`${name}: a costly request takes several units and is refused when they are not all there`, () =>
    withStore(async (kv) => {
      assert.equal((await kv.consumeRate('client', rule, 3)).remaining, 2);
      assert.equal((await kv.consumeRate('client', rule, 3)).allowed, false);
      assert.equal((await kv.consumeRate('client', rule, 2)).allowed, true);
    }));

  test(`${name}: a clock stepped back does not lock a client out for the length of the step`, () =>
    withStore(async (kv, advance) => {
      for (let i = 0; i < rule.limit; i++) await kv.consumeRate('client', rule);
      advance(-3_600_000);
      assert.equal((await kv.consumeRate('client', rule)).allowed, true);
    }));

  test(`${name}: concurrent requests never pass more than the allowance`, () =>
    withStore(async (kv) => {
      const decisions = await Promise.all(Array.from({ length: 50 }, () => kv.consumeRate('client', rule)));
      assert.equal(decisions.filter((d) => d.allowed).length, rule.limit);
    }));

  test(`${name}: a value set is read back until its time to live runs out, then it is gone`, () =>
    withStore(async (kv, advance) => {
      await kv.set('session', 'one', 1_000);
      assert.equal(await kv.get('session'), 'one');
      advance(999);
      assert.equal(await kv.get('session'), 'one');
      advance(1);
      assert.equal(await kv.get('session'), null);
      assert.equal(await kv.get('never-set'), null);
    }));

  test(`${name}: setting a key again replaces its value and its expiry`, () =>
    withStore(async (kv, advance) => {
      await kv.set('session', 'one', 1_000);
      advance(500);
      await kv.set('session', 'two', 5_000);
      advance(4_000);
      assert.equal(await kv.get('session'), 'two');
    }));

  test(`${name}: a deleted key is gone at once, and deleting a missing key is no error`, () =>
    withStore(async (kv) => {
      await kv.set('session', 'one', 60_000);
      await kv.delete('session');
      assert.equal(await kv.get('session'), null);
      await kv.delete('session');
      assert.equal(await kv.getAndTouch('session', 60_000), null);
    }));

  test(`${name}: getAndTouch returns the value and slides its expiry; an expired key is not revived`, () =>
    withStore(async (kv, advance) => {
      await kv.set('session', 'one', 1_000);
      advance(800);
      assert.equal(await kv.getAndTouch('session', 1_000), 'one');
      advance(800);
      assert.equal(await kv.get('session'), 'one');
      advance(200);
      assert.equal(await kv.get('session'), null);
      assert.equal(await kv.getAndTouch('session', 1_000), null);
      assert.equal(await kv.get('session'), null);
    }));
}
