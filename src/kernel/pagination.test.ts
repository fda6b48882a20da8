// Page requests: the opaque cursor's round trip and tamper evidence, and the rules that pick a page mode.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from './errors.ts';
import {
  cursorCodec,
  defaultLimit,
  linkHeader,
  listingKey,
  type PageQuery,
  pageRequest,
  type Sort,
  totalPages,
} from './pagination.ts';

const codec = cursorCodec('a-test-secret-of-reasonable-length');
const newest: Sort = { field: 'createdAt', order: 'desc' };
const listing = listingKey('/v1/products', { status: 'active' });
const position = { value: '2030-01-02T03:04:05.678Z', id: 'prd_01h455vb4pex5vsknk084sn02q' };

/** Asserts the error a client gets for an unusable cursor, and returns it. */
function assertInvalid(work: () => unknown, field: string, code: string): ApiError {
  let caught: unknown;
  try {
    work();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ApiError, `expected an ApiError, got ${String(caught)}`);
  assert.equal(caught.code, 'VALIDATION_ERROR');
  assert.equal(caught.status, 400);
  assert.deepEqual(
    caught.details.map(({ field, code }) => ({ field, code })),
    [{ field, code }],
  );
  return caught;
}

const rejectsCursor = (work: () => unknown) => assertInvalid(work, 'cursor', 'INVALID_CURSOR');

/** Flips one character of a base64url string to another, so the decoded bytes change. */
const flipAt = (text: string, index: number): string =>
  text.slice(0, index) + (text[index] === 'A' ? 'B' : 'A') + text.slice(index + 1);

test('a cursor decodes to the direction and position it was made from', () => {
  for (const direction of ['next', 'prev'] as const) {
    const token = codec.encode(listing, newest, direction, position);
    assert.deepEqual(codec.decode(token, listing, newest), { direction, position });
  }
  const byPrice: Sort = { field: 'price', order: 'asc' };
  const numeric = { value: 1999, id: 'prd_01h455vb4pex5vsknk084sn02q' };
  assert.deepEqual(codec.decode(codec.encode(listing, byPrice, 'next', numeric), listing, byPrice), {
    direction: 'next',
    position: numeric,
  });
});

test('a cursor is URL-safe and does not show its position in clear text', () => {
  const token = codec.encode(listing, newest, 'next', position);
  assert.match(token, /^[A-Za-z0-9_.-]+$/);
  assert.ok(!token.includes(position.id));
  assert.equal(encodeURIComponent(token), token);
});

test('a cursor whose payload was altered is rejected as INVALID_CURSOR', () => {
  const token = codec.encode(listing, newest, 'next', position);
  const [payload = '', mac = ''] = token.split('.');
  for (const index of [0, Math.floor(payload.length / 2), payload.length - 2]) {
    rejectsCursor(() => codec.decode(`${flipAt(payload, index)}.${mac}`, listing, newest));
  }
  // A forged payload pointing elsewhere, carrying the original signature.
  const forged = Buffer.from(
    JSON.stringify({ s: 'createdAt', o: 'desc', q: listing, d: 'n', v: '1970-01-01T00:00:00.000Z', i: position.id }),
  ).toString('base64url');
  rejectsCursor(() => codec.decode(`${forged}.${mac}`, listing, newest));
});

test('a cursor whose signature was altered, cut or dropped is rejected as INVALID_CURSOR', () => {
  const token = codec.encode(listing, newest, 'next', position);
  const [payload = '', mac = ''] = token.split('.');
  rejectsCursor(() => codec.decode(`${payload}.${flipAt(mac, 0)}`, listing, newest));
  rejectsCursor(() => codec.decode(`${payload}.${mac.slice(0, -4)}`, listing, newest));
  rejectsCursor(() => codec.decode(`${payload}.${mac}AAAA`, listing, newest));
  rejectsCursor(() => codec.decode(`${payload}.`, listing, newest));
  rejectsCursor(() => codec.decode(payload, listing, newest));
});

test('strings that are not cursors are rejected as INVALID_CURSOR, not as a server error', () => {
  for (const token of ['', '.', '..', 'abc', 'a.b.c', 'not a cursor', '%%%.%%%', `${'x'.repeat(5000)}.y`]) {
    rejectsCursor(() => codec.decode(token, listing, newest));
  }
});

test('a cursor signed with another secret is rejected', () => {
  const foreign = cursorCodec('another-deployment-secret').encode(listing, newest, 'next', position);
  rejectsCursor(() => codec.decode(foreign, listing, newest));
});

test('a cursor from another listing, sort field or sort order is rejected', () => {
  const token = codec.encode(listing, newest, 'next', position);
  rejectsCursor(() => codec.decode(token, listingKey('/v1/products', { status: 'archived' }), newest));
  rejectsCursor(() => codec.decode(token, listingKey('/v1/products', {}), newest));
  rejectsCursor(() => codec.decode(token, listingKey('/v1/users', { status: 'active' }), newest));
  rejectsCursor(() => codec.decode(token, listing, { field: 'createdAt', order: 'asc' }));
  rejectsCursor(() => codec.decode(token, listing, { field: 'updatedAt', order: 'desc' }));
});

test('the INVALID_CURSOR message tells the client to start again without a cursor', () => {
  const error = rejectsCursor(() => codec.decode('abc.def', listing, newest));
  assert.match(error.message, /without a cursor/);
});

test('a listing key ignores the order of filters and unset filters, and follows the path and every value', () => {
  const key = listingKey('/v1/products', { status: 'active', category: 'desks' });
  assert.equal(listingKey('/v1/products', { category: 'desks', status: 'active' }), key);
  assert.equal(listingKey('/v1/products', { category: 'desks', status: 'active', currency: undefined }), key);
  assert.notEqual(listingKey('/v1/products', { category: 'desks', status: 'archived' }), key);
  assert.notEqual(listingKey('/v1/products', { category: 'desks' }), key);
  assert.notEqual(listingKey('/v2/products', { status: 'active', category: 'desks' }), key);
});

const request = (query: PageQuery) => pageRequest(query, newest, listing, codec);

test('with no paging parameters the first cursor page of 20 is asked for', () => {
  assert.deepEqual(request({}), {
    mode: 'cursor',
    limit: defaultLimit,
    sort: newest,
    position: null,
    direction: 'next',
  });
  assert.equal(defaultLimit, 20);
});

test('limit sizes a cursor page and a cursor continues from its position', () => {
  assert.deepEqual(request({ limit: 5 }), {
    mode: 'cursor',
    limit: 5,
    sort: newest,
    position: null,
    direction: 'next',
  });
  const back = codec.encode(listing, newest, 'prev', position);
  assert.deepEqual(request({ limit: 7, cursor: back }), {
    mode: 'cursor',
    limit: 7,
    sort: newest,
    position,
    direction: 'prev',
  });
});

test('page asks for an offset page of 20 unless perPage says otherwise', () => {
  assert.deepEqual(request({ page: 3 }), { mode: 'offset', page: 3, perPage: 20, sort: newest });
  assert.deepEqual(request({ page: 1, perPage: 50 }), { mode: 'offset', page: 1, perPage: 50, sort: newest });
});

test('cursor together with page is a conflict named on cursor', () => {
  const cursor = codec.encode(listing, newest, 'next', position);
  assertInvalid(() => request({ cursor, page: 1 }), 'cursor', 'CONFLICTING_PARAMETERS');
});

test('limit together with page is a conflict named on limit', () => {
  assertInvalid(() => request({ limit: 10, page: 2 }), 'limit', 'CONFLICTING_PARAMETERS');
});

test('perPage without page is a conflict named on perPage', () => {
  assertInvalid(() => request({ perPage: 10 }), 'perPage', 'CONFLICTING_PARAMETERS');
  assertInvalid(() => request({ perPage: 10, limit: 10 }), 'perPage', 'CONFLICTING_PARAMETERS');
});

test('a bad cursor in a page request is INVALID_CURSOR', () => {
  rejectsCursor(() => request({ cursor: 'garbage' }));
});

test('the Link header lists each link as an RFC 8288 link-value', () => {
  assert.equal(
    linkHeader([
      { rel: 'next', href: 'http://x.test/v1/products?cursor=a' },
      { rel: 'prev', href: 'http://x.test/v1/products?cursor=b' },
    ]),
    '<http://x.test/v1/products?cursor=a>; rel="next", <http://x.test/v1/products?cursor=b>; rel="prev"',
  );
});

test('the page count rounds up, and is zero for an empty collection', () => {
  assert.equal(totalPages(0, 20), 0);
  assert.equal(totalPages(1, 20), 1);
  assert.equal(totalPages(20, 20), 1);
  assert.equal(totalPages(21, 20), 2);
});
