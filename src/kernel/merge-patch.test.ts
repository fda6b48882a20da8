// JSON Merge Patch: every example of RFC 7396 Appendix A, and what a patch must not do to its inputs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyMergePatch, type Json } from './merge-patch.ts';

// RFC 7396 Appendix A, in its order: [original, patch, result].
const appendixA: [string, string, string][] = [
  ['{"a":"b"}', '{"a":"c"}', '{"a":"c"}'],
  ['{"a":"b"}', '{"b":"c"}', '{"a":"b","b":"c"}'],
  ['{"a":"b"}', '{"a":null}', '{}'],
  ['{"a":"b","b":"c"}', '{"a":null}', '{"b":"c"}'],
  ['{"a":["b"]}', '{"a":"c"}', '{"a":"c"}'],
  ['{"a":"c"}', '{"a":["b"]}', '{"a":["b"]}'],
  ['{"a":{"b":"c"}}', '{"a":{"b":"d","c":null}}', '{"a":{"b":"d"}}'],
  ['{"a":[{"b":"c"}]}', '{"a":[1]}', '{"a":[1]}'],
  ['["a","b"]', '["c","d"]', '["c","d"]'],
  ['{"a":"b"}', '["c"]', '["c"]'],
  ['{"a":"foo"}', 'null', 'null'],
  ['{"a":"foo"}', '"bar"', '"bar"'],
  ['{"e":null}', '{"a":1}', '{"e":null,"a":1}'],
  ['[1,2]', '{"a":"b","c":null}', '{"a":"b"}'],
  ['{}', '{"a":{"bb":{"ccc":null}}}', '{"a":{"bb":{}}}'],
];

for (const [original, patch, result] of appendixA) {
  test(`RFC 7396 Appendix A: ${original} patched with ${patch} is ${result}`, () => {
    assert.deepEqual(applyMergePatch(JSON.parse(original), JSON.parse(patch)), JSON.parse(result));
  });
}

test('the RFC 7396 §3 example: a nested member is replaced, one removed, an array replaced whole', () => {
  const original = {
    title: 'Goodbye!',
    author: { givenName: 'John', familyName: 'Doe' },
    tags: ['example', 'sample'],
    content: 'This will be unchanged',
  };
  const patch = { title: 'Hello!', phoneNumber: '+01-123-456-7890', author: { familyName: null }, tags: ['example'] };
  assert.deepEqual(applyMergePatch(original, patch), {
    title: 'Hello!',
    author: { givenName: 'John' },
    tags: ['example'],
    content: 'This will be unchanged',
    phoneNumber: '+01-123-456-7890',
  });
});

test('patching leaves the original document and the patch unchanged', () => {
  const original: Json = { a: { b: 'c', d: [1, 2] }, e: 'f' };
  const patch: Json = { a: { b: null, x: { y: 1 } }, e: null };
  const before = structuredClone(original);
  const patchBefore = structuredClone(patch);
  assert.deepEqual(applyMergePatch(original, patch), { a: { d: [1, 2], x: { y: 1 } } });
  assert.deepEqual(original, before);
  assert.deepEqual(patch, patchBefore);
});

test('a member named "__proto__" is patched as data and never changes what the result inherits', () => {
  const patch = JSON.parse('{"__proto__":{"polluted":true},"name":"x"}') as Json;
  const result = applyMergePatch({ name: 'a' }, patch) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(result), Object.prototype);
  assert.equal(result.polluted, undefined);
  assert.equal(JSON.stringify(result), '{"name":"x","__proto__":{"polluted":true}}');
  const removed = applyMergePatch(JSON.parse('{"__proto__":{"a":1},"b":2}'), JSON.parse('{"__proto__":null}'));
  assert.equal(JSON.stringify(removed), '{"b":2}');
});
