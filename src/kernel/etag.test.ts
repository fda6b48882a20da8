// Entity tags and the If-None-Match / If-Match comparisons of RFC 9110 §13.1.1 and §13.1.2.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentTag, entityTag, ifMatch, noneMatch } from './etag.ts';

const current = entityTag('prd_01h455vb4pex5vsknk084sn02q', 3);
const other = entityTag('prd_01h455vb4pex5vsknk084sn02q', 2);
const weak = `W/${current}`;

test('an entity tag is a strong, quoted opaque tag (RFC 9110 §8.8.3)', () => {
  assert.match(current, /^"[\x21\x23-\x7e]+"$/);
  assert.ok(!current.startsWith('W/'));
  assert.equal(entityTag('prd_01h455vb4pex5vsknk084sn02q', 3), current);
});

test('tags are the ones earlier releases sent, so copies clients cached before an upgrade still revalidate', () => {
  assert.equal(current, '"o0qNTuw7VL7J0ZzATFiQ8KDJ_tt"');
  assert.equal(entityTag('prd_01h455vb4pex5vsknk084sn02q', 3, 'name,price'), '"-bEPiDPuU7s4QcpX4Br2khCc949"');
  assert.equal(contentTag('{"a":1}'), '"AVq9f1zFei3ZS3WQ8ErYCEJzkF7"');
});

test('the entity tag changes with the version, the variant and the resource', () => {
  const id = 'usr_01h455vb4pex5vsknk084sn02q';
  const tags = [
    entityTag(id, 1),
    entityTag(id, 2),
    entityTag(id, 1, 'id,name'),
    entityTag(id, 1, 'id,email'),
    entityTag('usr_01h455vb4pex5vsknk084sn02r', 1),
  ];
  assert.equal(new Set(tags).size, tags.length);
});

test('a content tag follows the bytes of the body', () => {
  assert.equal(contentTag('{"a":1}'), contentTag(Buffer.from('{"a":1}')));
  assert.notEqual(contentTag('{"a":1}'), contentTag('{"a":2}'));
  assert.match(contentTag(''), /^"[\x21\x23-\x7e]+"$/);
});

test('without If-None-Match the request proceeds', () => {
  assert.equal(noneMatch(undefined, current), true);
});

test('If-None-Match with the current tag stops the request', () => {
  assert.equal(noneMatch(current, current), false);
});

test('If-None-Match uses the weak comparison: W/"x" matches "x" (RFC 9110 §13.1.2)', () => {
  assert.equal(noneMatch(weak, current), false);
  assert.equal(noneMatch(current, weak), false);
  assert.equal(noneMatch(weak, weak), false);
});

test('If-None-Match with only other tags lets the request proceed', () => {
  assert.equal(noneMatch(other, current), true);
  assert.equal(noneMatch(`W/${other}`, current), true);
  assert.equal(noneMatch('"unrelated", W/"also-unrelated"', current), true);
});

test('If-None-Match: * matches any current representation', () => {
  assert.equal(noneMatch('*', current), false);
});

test('If-None-Match matches when any tag of a list matches, with or without spaces', () => {
  assert.equal(noneMatch(`${other}, ${current}`, current), false);
  assert.equal(noneMatch(`${other},${weak}`, current), false);
  assert.equal(noneMatch(` ${other} ,  ${current} `, current), false);
  assert.equal(noneMatch(`${other}, W/"x"`, current), true);
});

test('without If-Match the write proceeds', () => {
  assert.equal(ifMatch(undefined, current), true);
});

test('If-Match with the current strong tag lets the write proceed', () => {
  assert.equal(ifMatch(current, current), true);
});

test('If-Match uses the strong comparison: a weak tag never matches (RFC 9110 §13.1.1)', () => {
  assert.equal(ifMatch(weak, current), false);
  assert.equal(ifMatch(`${other}, ${weak}`, current), false);
});

test('If-Match with an older tag stops the write', () => {
  assert.equal(ifMatch(other, current), false);
  assert.equal(ifMatch('"x"', current), false);
});

test('If-Match: * lets the write proceed when the resource exists', () => {
  assert.equal(ifMatch('*', current), true);
});

test('If-Match matches when any tag of a list matches', () => {
  assert.equal(ifMatch(`${other}, ${current}`, current), true);
  assert.equal(ifMatch(`"a","b",${current}`, current), true);
  assert.equal(ifMatch(`"a", "b"`, current), false);
});

test('an unquoted tag matches nothing, since an entity tag is a quoted string', () => {
  const bare = current.slice(1, -1);
  assert.equal(ifMatch(bare, current), false);
  assert.equal(noneMatch(bare, current), true);
});
