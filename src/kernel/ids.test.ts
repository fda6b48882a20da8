// Prefixed ids: the TypeID shape, ordering by creation time, uniqueness, and what isId accepts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isId, newId } from './ids.ts';

const crockford = /^[0-7][0-9abcdefghjkmnpqrstvwxyz]{25}$/;

test('an id is its prefix, an underscore and 26 lower-case Crockford base32 characters', () => {
  for (const prefix of ['usr', 'prd', 'ord', 'pst', 'cmt', 'evt', 'req'] as const) {
    const id = newId(prefix);
    assert.equal(id.length, prefix.length + 27);
    assert.ok(id.startsWith(`${prefix}_`), id);
    assert.match(id.slice(prefix.length + 1), crockford);
  }
});

test('the first 10 characters after the prefix encode the creation millisecond (UUIDv7 timestamp)', () => {
  const at = Date.UTC(2031, 4, 17, 8, 30, 12, 345);
  const suffix = newId('ord', at).slice(4);
  const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
  let value = 0n;
  for (const char of suffix) value = value * 32n + BigInt(alphabet.indexOf(char));
  assert.equal(Number(value >> 80n), at);
  // RFC 9562 §5.7: version 7 and the 10xx variant.
  assert.equal(Number((value >> 76n) & 0xfn), 7);
  assert.equal(Number((value >> 62n) & 0x3n), 2);
});

test('ids made in later milliseconds sort after earlier ones', () => {
  const base = Date.UTC(2032, 0, 1);
  const ids = [0, 1, 2, 1000, 60_000, 86_400_000].map((offset) => newId('usr', base + offset));
  assert.deepEqual([...ids].sort(), ids);
});

test('many ids made in the same millisecond still sort in the order they were made', () => {
  const at = Date.UTC(2033, 0, 1);
  const ids = Array.from({ length: 10_000 }, () => newId('evt', at));
  const sorted = [...ids].sort();
  assert.deepEqual(sorted, ids);
  assert.equal(new Set(ids).size, ids.length);
});

test('a clock that steps back never makes an id sort before one already made', () => {
  const later = newId('req', Date.UTC(2034, 0, 1, 0, 0, 1));
  const earlier = newId('req', Date.UTC(2034, 0, 1));
  assert.ok(earlier > later, `${earlier} should sort after ${later}`);
});

test('100,000 ids made in a tight loop are all different', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 100_000; i++) ids.add(newId('prd'));
  assert.equal(ids.size, 100_000);
});

test('isId accepts ids of its prefix that newId made', () => {
  for (let i = 0; i < 100; i++) assert.ok(isId('usr', newId('usr')));
  assert.ok(isId('prd', 'prd_01h455vb4pex5vsknk084sn02q'));
  assert.ok(isId('prd', 'prd_7zzzzzzzzzzzzzzzzzzzzzzzzz'));
});

test('isId rejects another prefix, a wrong length, upper case, letters outside Crockford and a first char above 7', () => {
  const good = newId('usr');
  const suffix = good.slice(4);
  const rejected = [
    `prd_${suffix}`,
    suffix,
    `usr${suffix}`,
    `usr-${suffix}`,
    `USR_${suffix}`,
    `usr_${suffix.toUpperCase()}`,
    `usr_${suffix.slice(0, 25)}`,
    `usr_${suffix}0`,
    'usr_',
    '',
    'usr_8zzzzzzzzzzzzzzzzzzzzzzzzz',
    'usr_01h455vb4pex5vsknk084sn0iq',
    'usr_01h455vb4pex5vsknk084sn0lq',
    'usr_01h455vb4pex5vsknk084sn0oq',
    'usr_01h455vb4pex5vsknk084sn0uq',
    'usr_01h455vb4pex5vsknk084sn0 q',
    ` ${good}`,
    `${good}\n`,
  ];
  for (const value of rejected) assert.equal(isId('usr', value), false, JSON.stringify(value));
});
