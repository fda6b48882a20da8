import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryKeyValue } from '../../../adapters/kv/memory.ts';
import type { KeyValue } from '../../../adapters/kv/port.ts';
import { sessionStore } from './store.ts';

/** The memory adapter, keeping a copy of everything written to it: what a dump of Redis would show. */
function dumpedKeyValue(nowMs: () => number) {
  const kv = memoryKeyValue(nowMs);
  const written: string[] = [];
  const recording: KeyValue = {
    ...kv,
    async set(key, value, ttlMs) {
      written.push(key, value);
      await kv.set(key, value, ttlMs);
    },
  };
  return { kv: recording, written };
}

test('a dump of the key-value store holds no session id, and a stored key cannot be used as one', async () => {
  const now = Date.parse('2026-11-25T12:00:00Z');
  const { kv, written } = dumpedKeyValue(() => now);
  const store = sessionStore(kv, () => now);
  const { id } = await store.create('usr_01jd2gq6f1e8x9v3k4m5n6p7q8');
  assert.ok(written.length > 0);
  for (const entry of written) assert.ok(!entry.includes(id), 'the id is not in the store');
  assert.equal((await store.use(id))?.userId, 'usr_01jd2gq6f1e8x9v3k4m5n6p7q8');
  const storedKey = written[0] ?? '';
  assert.equal(await store.use(storedKey), null);
  assert.equal(await store.use(storedKey.replace(/^session:/, '')), null);
  await kv.close();
});
