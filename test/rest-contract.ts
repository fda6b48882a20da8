// The REST contract for users and products under /v1 (CONTRACT.md "HTTP"), registered once per storage kind so
// SQLite and PostgreSQL pass the very same end-to-end suite against the real server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import {
  type ApiResponse,
  client,
  countRows,
  eventTypesOf,
  expectEnvelope,
  type RequestOptions,
  type StorageKind,
  startServer,
  type TestServer,
} from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read freely and asserted on.
type Body = any;

interface Spec {
  kind: 'user' | 'product';
  path: '/v1/users' | '/v1/products';
  table: 'users' | 'products';
  prefix: 'usr' | 'prd';
  /** A well-formed id of the other resource type. */
  foreignId: string;
  /** Users are personal data (private); the catalog may sit in shared caches (public). */
  cacheability: 'private' | 'public';
  /** A valid create body, unique on every call. */
  body(): Record<string, unknown>;
  /** A valid merge patch that changes the resource. */
  change: Record<string, unknown>;
  sortFields: string[];
  sortValue(item: Body, field: string): string | number;
}

const leaks = [/\n\s+at /, /SQLITE/i, /syntax/i, /node_modules/, /\.ts:\d+/];

/** No client input may produce a 5xx, and no error body may carry a stack trace or database text. */
function assertClean(response: ApiResponse, label: string): void {
  assert.ok(response.status < 500, `${label} answered ${response.status}: ${response.text}`);
  if (response.status >= 400) {
    for (const leak of leaks) assert.doesNotMatch(response.text, leak, `${label} leaks internals: ${response.text}`);
  }
  assert.ok(response.headers.get('x-request-id'), `${label} has no X-Request-Id`);
}

/** RFC 8288 Link header → rel → href. */
/** The pagination links of a Link header; the successor of deprecated v1 (versioning.test.ts) is left out. */
function parseLinks(header: string | null): Map<string, string> {
  const links = new Map<string, string>();
  for (const match of (header ?? '').matchAll(/<([^>]*)>\s*;\s*rel="([^"]+)"/g)) {
    if (match[2] !== 'successor-version') links.set(match[2] ?? '', match[1] ?? '');
  }
  return links;
}

const query = (params: Record<string, string | number>): string =>
  new URLSearchParams(Object.entries(params).map(([key, value]): [string, string] => [key, String(value)])).toString();

/** The createdAt window holding exactly these rows: created in one test, so no other test's rows fall in it. */
function windowOf(rows: Body[]): { createdFrom: string; createdTo: string } {
  const times = rows.map((row) => Date.parse(row.createdAt));
  return {
    createdFrom: new Date(Math.min(...times)).toISOString(),
    createdTo: new Date(Math.max(...times) + 1).toISOString(),
  };
}

const ids = (items: Body[]): string[] => items.map((item) => item.id);

export function restContract(kind: StorageKind): void {
  describe(`the /v1 REST contract for users and products on ${kind}`, () => {
    let server: TestServer;
    let api: ReturnType<typeof client>;
    let serial = 0;
    // Every write reads the clock once; whole seconds apart, each row gets its own createdAt, so ranges and
    // sorts have exact expected answers on both databases.
    let nowMs = Date.parse('2025-03-01T00:00:00.000Z');
    const clock = () => {
      nowMs += 1000;
      return new Date(nowMs);
    };

    before(async () => {
      server = await startServer({ storage: kind, clock });
      api = client(server);
    });
    after(() => server?.close());

    const call = async (method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> => {
      const response = await api(method, path, options);
      assertClean(response, `${method} ${path}`);
      return response;
    };
    const unique = () => `${++serial}`;

    const specs: Spec[] = [
      {
        kind: 'user',
        path: '/v1/users',
        table: 'users',
        prefix: 'usr',
        foreignId: `prd_0${'a'.repeat(25)}`,
        cacheability: 'private',
        body: () => ({ email: `user${unique()}@example.com`, name: 'Test User' }),
        change: { name: 'renamed' },
        sortFields: ['createdAt', 'updatedAt', 'name', 'email'],
        sortValue: (item, field) => (field === 'email' ? String(item.email).toLowerCase() : item[field]),
      },
      {
        kind: 'product',
        path: '/v1/products',
        table: 'products',
        prefix: 'prd',
        foreignId: `usr_0${'a'.repeat(25)}`,
        cacheability: 'public',
        body: () => ({ name: `Lamp ${unique()}`, category: 'lighting', price: { amount: 1999, currency: 'EUR' } }),
        change: { stock: 7 },
        sortFields: ['createdAt', 'updatedAt', 'name', 'price', 'stock'],
        sortValue: (item, field) => (field === 'price' ? item.price.amount : item[field]),
      },
    ];
    const [users, products] = specs as [Spec, Spec];

    async function create(spec: Spec, overrides: Record<string, unknown> = {}): Promise<ApiResponse> {
      const response = await call('POST', spec.path, { body: { ...spec.body(), ...overrides } });
      assert.equal(response.status, 201, response.text);
      return response;
    }
    const make = async (spec: Spec, overrides: Record<string, unknown> = {}): Promise<Body> =>
      (await create(spec, overrides)).body;

    const rowCount = (table: string) => countRows(server.storage, table);
    const eventsOf = (aggregateId: string) => eventTypesOf(server.storage, aggregateId);
    /** Rows and events of a table, to show a refused request changed nothing. */
    async function snapshot(table: string): Promise<[number, number]> {
      return [await rowCount(table), await rowCount('outbox')];
    }
    async function fetchOne(spec: Spec, id: string): Promise<Body> {
      const response = await call('GET', `${spec.path}/${id}`);
      assert.equal(response.status, 200, response.text);
      return response.body;
    }
    async function list(spec: Spec, params: Record<string, string | number>): Promise<ApiResponse> {
      const response = await call('GET', `${spec.path}?${query(params)}`);
      assert.equal(response.status, 200, response.text);
      return response;
    }
    /** Follows nextCursor to the end and returns every page's ids. */
    async function walk(spec: Spec, params: Record<string, string | number>): Promise<string[][]> {
      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const response = await list(spec, cursor ? { ...params, cursor } : params);
        pages.push(ids(response.body.data));
        cursor = response.body.pagination.nextCursor;
        assert.ok(pages.length < 50, 'the walk does not end');
      } while (cursor);
      return pages;
    }

    describe('listing', () => {
      test('filtering users by role and status returns exactly the matching users', async () => {
        const rows = [
          await make(users, { role: 'admin', status: 'active' }),
          await make(users, { role: 'admin', status: 'inactive' }),
          await make(users, { role: 'customer', status: 'active' }),
          await make(users, { role: 'customer', status: 'inactive' }),
        ];
        const window = windowOf(rows);
        const matching = async (filters: Record<string, string>) =>
          ids((await list(users, { ...window, ...filters, order: 'asc' })).body.data);
        assert.deepEqual(await matching({ role: 'admin' }), ids([rows[0], rows[1]]));
        assert.deepEqual(await matching({ status: 'inactive' }), ids([rows[1], rows[3]]));
        assert.deepEqual(await matching({ role: 'customer', status: 'active' }), ids([rows[2]]));
      });

      test('filtering users by email ignores letter case and returns the address as it was given', async () => {
        const n = unique();
        const user = await make(users, { email: `Grace.Hopper${n}@Example.COM` });
        for (const email of [`grace.hopper${n}@example.com`, `GRACE.HOPPER${n}@EXAMPLE.COM`]) {
          const found = (await list(users, { email })).body.data;
          assert.deepEqual(ids(found), [user.id]);
          assert.equal(found[0].email, `Grace.Hopper${n}@Example.COM`);
        }
      });

      test('filtering products by category, status and currency returns exactly the matching products', async () => {
        const eur = { amount: 500, currency: 'EUR' };
        const rows = [
          await make(products, { category: 'lamps', status: 'active', price: eur }),
          await make(products, { category: 'lamps', status: 'archived', price: eur }),
          await make(products, { category: 'chairs', status: 'active', price: { amount: 500, currency: 'USD' } }),
        ];
        const window = windowOf(rows);
        const matching = async (filters: Record<string, string>) =>
          ids((await list(products, { ...window, ...filters, order: 'asc' })).body.data);
        assert.deepEqual(await matching({ category: 'lamps' }), ids([rows[0], rows[1]]));
        assert.deepEqual(await matching({ status: 'archived' }), ids([rows[1]]));
        assert.deepEqual(await matching({ currency: 'USD' }), ids([rows[2]]));
        assert.deepEqual(await matching({ category: 'lamps', status: 'active', currency: 'EUR' }), ids([rows[0]]));
      });

      test('priceMin and priceMax bound price.amount inclusively', async () => {
        const rows = [];
        for (const amount of [100, 200, 300]) rows.push(await make(products, { price: { amount, currency: 'EUR' } }));
        const window = windowOf(rows);
        const matching = async (filters: Record<string, number>) =>
          ids((await list(products, { ...window, ...filters, order: 'asc' })).body.data);
        assert.deepEqual(await matching({ priceMin: 200 }), ids([rows[1], rows[2]]));
        assert.deepEqual(await matching({ priceMax: 200 }), ids([rows[0], rows[1]]));
        assert.deepEqual(await matching({ priceMin: 150, priceMax: 250 }), ids([rows[1]]));
      });

      for (const spec of specs) {
        test(`createdFrom includes the ${spec.kind} created at that instant and createdTo excludes it`, async () => {
          const [a, b, c] = [await make(spec), await make(spec), await make(spec)];
          const between = async (createdFrom: string, createdTo: string) =>
            ids((await list(spec, { createdFrom, createdTo, order: 'asc' })).body.data);
          assert.deepEqual(await between(b.createdAt, c.createdAt), [b.id]);
          assert.deepEqual(await between(a.createdAt, c.createdAt), [a.id, b.id]);
          assert.deepEqual(await between(a.createdAt, a.createdAt), []);
        });

        test(`${spec.kind} date bounds without milliseconds or with a UTC offset name the same instant`, async () => {
          const [, b, c] = [await make(spec), await make(spec), await make(spec)];
          const withoutMs = String(b.createdAt).replace(/\.\d{3}Z$/, 'Z');
          const inParis = new Date(Date.parse(c.createdAt) + 3_600_000).toISOString().replace(/\.\d{3}Z$/, '+01:00');
          const found = await list(spec, { createdFrom: withoutMs, createdTo: inParis });
          assert.deepEqual(ids(found.body.data), [b.id]);
          // Rows hold whole milliseconds: a bound a microsecond later excludes b at the start and keeps c at the end.
          const finer = (stamp: string) => stamp.replace(/Z$/, '001Z');
          const shifted = await list(spec, { createdFrom: finer(b.createdAt), createdTo: finer(c.createdAt) });
          assert.deepEqual(ids(shifted.body.data), [c.id]);
        });

        test(`a ${spec.kind} date bound on a leap second answers 400, not a 5xx`, async () => {
          const response = await call('GET', `${spec.path}?createdFrom=2016-12-31T23:59:60Z`);
          const error = expectEnvelope(response, 400, 'VALIDATION_ERROR');
          assert.equal(error.details[0].field, 'createdFrom');
        });
      }

      for (const spec of specs) {
        describe(`sorting ${spec.kind}s`, () => {
          let rows: Body[] = [];
          let window: Record<string, string> = {};
          before(async () => {
            // Ties in name, price and stock make the id the tie-breaker the cursor has to respect.
            const names = ['delta', 'alpha', 'delta', 'charlie', 'bravo'];
            const amounts = [300, 100, 500, 100, 200];
            const stocks = [5, 3, 3, 1, 9];
            const made = [];
            for (const [i, name] of names.entries()) {
              const overrides: Record<string, unknown> =
                spec.kind === 'user'
                  ? { name, email: `${name}${unique()}@sort.example` }
                  : { name, price: { amount: amounts[i], currency: 'EUR' }, stock: stocks[i] };
              made.push(await make(spec, overrides));
            }
            // Later writes to two rows make updatedAt order differ from createdAt order.
            for (const row of [made[3], made[1]]) {
              const patched = await call('PATCH', `${spec.path}/${row.id}`, { body: spec.change });
              assert.equal(patched.status, 200, patched.text);
            }
            window = windowOf(made);
            rows = (await list(spec, { ...window, limit: 100 })).body.data;
            assert.equal(rows.length, 5);
          });

          for (const field of spec.sortFields) {
            for (const order of ['asc', 'desc'] as const) {
              test(`sorting ${spec.kind}s by ${field} ${order}ending orders them so across cursor pages`, async () => {
                const value = (item: Body) => spec.sortValue(item, field);
                const expected = [...rows].sort((x, y) => {
                  const [vx, vy] = [value(x), value(y)];
                  const byValue = vx < vy ? -1 : vx > vy ? 1 : 0;
                  return byValue !== 0 ? byValue : x.id < y.id ? -1 : 1;
                });
                if (order === 'desc') expected.reverse();
                const pages = await walk(spec, { ...window, sort: field, order, limit: 2 });
                assert.deepEqual(pages.flat(), ids(expected));
                assert.deepEqual(
                  pages.map((page) => page.length),
                  [2, 2, 1],
                );
              });
            }
          }

          test(`without order, ${spec.kind}s sort newest first by createdAt and ascending by name`, async () => {
            const byCreated = ids((await list(spec, window)).body.data);
            assert.deepEqual(byCreated, ids([...rows].sort((x, y) => (x.createdAt < y.createdAt ? 1 : -1))));
            const byName = (await list(spec, { ...window, sort: 'name' })).body.data.map((item: Body) => item.name);
            assert.deepEqual(byName, [...byName].sort());
          });
        });
      }

      for (const spec of specs) {
        test(`a sparse fieldset of ${spec.kind}s returns only the requested fields plus id and _links`, async () => {
          const row = await make(spec);
          const listed = (await list(spec, { ...windowOf([row]), fields: 'name,createdAt' })).body.data;
          assert.equal(listed.length, 1);
          assert.deepEqual(Object.keys(listed[0]).sort(), ['_links', 'createdAt', 'id', 'name']);
          assert.equal(listed[0].name, row.name);
          const one = await call('GET', `${spec.path}/${row.id}?fields=name`);
          assert.equal(one.status, 200);
          assert.deepEqual(Object.keys(one.body).sort(), ['_links', 'id', 'name']);
          assert.equal(one.body._links.self.href, row._links.self.href);
        });
      }

      for (const spec of specs) {
        test(`a ${spec.kind} is sent byte for byte alike by its create, its GET and a page, in full and sparse`, async () => {
          const created = await create(spec);
          const row = created.body;
          const full = await call('GET', `${spec.path}/${row.id}`);
          assert.equal(full.text, created.text);
          assert.equal(full.headers.get('content-type'), 'application/json; charset=utf-8');
          const page = await list(spec, windowOf([row]));
          assert.ok(page.text.includes(`"data":[${full.text}]`), page.text);

          const sparse = await call('GET', `${spec.path}/${row.id}?fields=createdAt,name`);
          assert.equal(sparse.headers.get('content-type'), 'application/json; charset=utf-8');
          assert.deepEqual(Object.keys(sparse.body).sort(), ['_links', 'createdAt', 'id', 'name']);
          const sparsePage = await list(spec, { ...windowOf([row]), fields: 'createdAt,name' });
          assert.ok(sparsePage.text.includes(`"data":[${sparse.text}]`), sparsePage.text);
        });
      }

      for (const spec of specs) {
        test(`cursor pages of ${spec.kind}s walked forward and back hold the same rows`, async () => {
          const rows = [];
          for (let i = 0; i < 5; i++) rows.push(await make(spec));
          const params = { ...windowOf(rows), limit: 2 };
          const forward: Body[] = [];
          let response = await list(spec, params);
          assert.equal(response.body.pagination.prevCursor, null, 'the first page has no previous page');
          for (;;) {
            forward.push(response.body);
            assert.equal(response.body.pagination.limit, 2);
            assert.equal(response.body.pagination.hasMore, response.body.pagination.nextCursor !== null);
            if (!response.body.pagination.hasMore) break;
            response = await list(spec, { ...params, cursor: response.body.pagination.nextCursor });
          }
          assert.deepEqual(
            forward.map((page) => page.data.length),
            [2, 2, 1],
          );
          assert.deepEqual(
            forward.flatMap((page) => ids(page.data)),
            ids([...rows].reverse()),
          );
          assert.equal(forward[2].pagination.nextCursor, null);

          const backward: string[][] = [];
          let cursor: string | null = forward[2].pagination.prevCursor;
          while (cursor) {
            const page = (await list(spec, { ...params, cursor })).body;
            backward.unshift(ids(page.data));
            cursor = page.pagination.prevCursor;
            assert.ok(backward.length < 5, 'walking back does not end');
          }
          assert.deepEqual(
            backward,
            forward.slice(0, 2).map((page) => ids(page.data)),
          );
        });

        test(`?page=&perPage= pages ${spec.kind}s by offset with page, perPage, total and totalPages`, async () => {
          const rows = [];
          for (let i = 0; i < 5; i++) rows.push(await make(spec));
          const newestFirst = ids([...rows].reverse());
          const response = await list(spec, { ...windowOf(rows), page: 2, perPage: 2 });
          assert.deepEqual(response.body.pagination, { page: 2, perPage: 2, total: 5, totalPages: 3 });
          assert.deepEqual(ids(response.body.data), newestFirst.slice(2, 4));
          const last = await list(spec, { ...windowOf(rows), page: 3, perPage: 2 });
          assert.deepEqual(ids(last.body.data), newestFirst.slice(4));
          const beyond = await list(spec, { ...windowOf(rows), page: 9, perPage: 2 });
          assert.deepEqual(beyond.body.data, []);
          assert.equal(beyond.body.pagination.total, 5);
        });

        test(`a cursor page of ${spec.kind}s sends Link next, prev and first, as in its _links`, async () => {
          const rows = [];
          for (let i = 0; i < 5; i++) rows.push(await make(spec));
          const first = await list(spec, { ...windowOf(rows), limit: 2 });
          const firstLinks = parseLinks(first.headers.get('link'));
          assert.deepEqual([...firstLinks.keys()].sort(), ['first', 'next']);
          const second = await call('GET', firstLinks.get('next') ?? '');
          assert.equal(second.status, 200);
          assert.deepEqual(ids(second.body.data), ids([rows[2], rows[1]]));
          const links = parseLinks(second.headers.get('link'));
          assert.deepEqual([...links.keys()].sort(), ['first', 'next', 'prev']);
          for (const [rel, href] of links) assert.equal(second.body._links[rel].href, href);
          assert.ok(second.body._links.self.href.startsWith(`${server.url}${spec.path}?`));
          const back = await call('GET', links.get('prev') ?? '');
          assert.deepEqual(ids(back.body.data), ids(first.body.data));
          const restart = await call('GET', links.get('first') ?? '');
          assert.deepEqual(ids(restart.body.data), ids(first.body.data));
        });

        test(`an offset page of ${spec.kind}s sends Link first, prev, next and last, as in its _links`, async () => {
          const rows = [];
          for (let i = 0; i < 5; i++) rows.push(await make(spec));
          const response = await list(spec, { ...windowOf(rows), page: 2, perPage: 2 });
          const links = parseLinks(response.headers.get('link'));
          assert.deepEqual([...links.keys()].sort(), ['first', 'last', 'next', 'prev']);
          for (const [rel, href] of links) assert.equal(response.body._links[rel].href, href);
          const pageOf = (rel: string) => new URL(links.get(rel) ?? '').searchParams.get('page');
          assert.deepEqual(['first', 'prev', 'next', 'last'].map(pageOf), ['1', '1', '3', '3']);
          const last = await call('GET', links.get('last') ?? '');
          assert.deepEqual(ids(last.body.data), [rows[0].id]);
        });
      }
    });

    describe('reading one resource', () => {
      for (const spec of specs) {
        test(`GET of a ${spec.kind} answers 200 with an ETag and ${spec.cacheability} Cache-Control`, async () => {
          const row = await make(spec);
          const response = await call('GET', `${spec.path}/${row.id}`);
          assert.equal(response.status, 200);
          assert.deepEqual(response.body, row);
          assert.match(response.headers.get('etag') ?? '', /^"[^"]+"$/);
          const directives = (response.headers.get('cache-control') ?? '').split(/,\s*/);
          assert.ok(directives.includes(spec.cacheability), `Cache-Control ${directives} is ${spec.cacheability}`);
        });

        test(`GET of a ${spec.kind} with If-None-Match of its ETag answers 304 with no body`, async () => {
          const row = await make(spec);
          const first = await call('GET', `${spec.path}/${row.id}`);
          const etag = first.headers.get('etag') ?? '';
          const again = await call('GET', `${spec.path}/${row.id}`, { headers: { 'if-none-match': etag } });
          assert.equal(again.status, 304);
          assert.equal(again.text, '');
          assert.equal(again.headers.get('etag'), etag);
          const weak = await call('GET', `${spec.path}/${row.id}`, { headers: { 'if-none-match': `W/${etag}` } });
          assert.equal(weak.status, 304, 'If-None-Match compares weakly (RFC 9110 §13.1.2)');
          await call('PATCH', `${spec.path}/${row.id}`, { body: spec.change });
          const changed = await call('GET', `${spec.path}/${row.id}`, { headers: { 'if-none-match': etag } });
          assert.equal(changed.status, 200, 'a changed resource is sent again');
          assert.notEqual(changed.headers.get('etag'), etag);
        });

        test(`a sparse representation of a ${spec.kind} has its own ETag`, async () => {
          const row = await make(spec);
          const full = await call('GET', `${spec.path}/${row.id}`);
          const sparse = await call('GET', `${spec.path}/${row.id}?fields=name`);
          const fullTag = full.headers.get('etag');
          assert.ok(sparse.headers.get('etag'));
          assert.notEqual(sparse.headers.get('etag'), fullTag);
          const revalidated = await call('GET', `${spec.path}/${row.id}?fields=name`, {
            headers: { 'if-none-match': fullTag ?? '' },
          });
          assert.equal(revalidated.status, 200, "the full representation's ETag does not validate the sparse one");
        });

        test(`HEAD on a ${spec.kind} answers like GET without a body`, async () => {
          const row = await make(spec);
          const get = await call('GET', `${spec.path}/${row.id}`);
          const head = await call('HEAD', `${spec.path}/${row.id}`);
          assert.equal(head.status, 200);
          assert.equal(head.text, '');
          assert.equal(head.headers.get('etag'), get.headers.get('etag'));
          assert.equal(head.headers.get('cache-control'), get.headers.get('cache-control'));
          assert.match(head.headers.get('content-type') ?? '', /^application\/json/);
          const collection = await call('HEAD', spec.path);
          assert.equal(collection.status, 200);
          assert.equal(collection.text, '');
          const missing = await call('HEAD', `${spec.path}/${spec.prefix}_0${'b'.repeat(25)}`);
          assert.equal(missing.status, 404);
        });
      }
    });

    describe('creating', () => {
      for (const spec of specs) {
        test(`POST of a ${spec.kind} answers 201, an ETag and a Location that GETs the same ${spec.kind}`, async () => {
          const created = await create(spec);
          const location = created.headers.get('location') ?? '';
          assert.equal(location, `${server.url}${spec.path}/${created.body.id}`);
          assert.match(created.body.id, new RegExp(`^${spec.prefix}_[0-9a-z]{26}$`));
          assert.equal(created.body._links.self.href, location);
          const fetched = await call('GET', location);
          assert.equal(fetched.status, 200);
          assert.deepEqual(fetched.body, created.body);
          assert.ok(created.headers.get('etag'));
          assert.equal(fetched.headers.get('etag'), created.headers.get('etag'));
          assert.equal(created.body.createdAt, created.body.updatedAt);
          assert.match(created.body.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        });
      }

      test('a new user defaults to role customer, status active and location null, present as null', async () => {
        const user = await make(users);
        assert.equal(user.role, 'customer');
        assert.equal(user.status, 'active');
        assert.ok('location' in user, 'location is present, not omitted');
        assert.equal(user.location, null);
        const listed = (await list(users, windowOf([user]))).body.data[0];
        assert.ok('location' in listed);
        assert.equal(listed.location, null);
      });

      test('a new product defaults to stock 0, status active and description null, present as null', async () => {
        const product = await make(products);
        assert.equal(product.stock, 0);
        assert.equal(product.status, 'active');
        assert.ok('description' in product, 'description is present, not omitted');
        assert.equal(product.description, null);
        const fetched = await fetchOne(products, product.id);
        assert.ok('description' in fetched);
        assert.equal(fetched.description, null);
      });

      test('a user created with every field keeps every value', async () => {
        const body = { email: `full${unique()}@example.com`, name: 'Full', role: 'admin', status: 'inactive' };
        const user = await make(users, { ...body, location: 'Lisbon' });
        assert.deepEqual(
          { ...user, id: undefined, createdAt: undefined, updatedAt: undefined, _links: undefined },
          {
            ...body,
            location: 'Lisbon',
            id: undefined,
            createdAt: undefined,
            updatedAt: undefined,
            _links: undefined,
          },
        );
      });
    });

    describe('replacing with PUT', () => {
      test('PUT replaces the whole user: omitted optional fields become null or their default', async () => {
        const created = await create(users, { role: 'admin', status: 'inactive', location: 'Paris' });
        const user = created.body;
        const email = `replaced${unique()}@example.com`;
        const replaced = await call('PUT', `/v1/users/${user.id}`, { body: { email, name: 'Replaced' } });
        assert.equal(replaced.status, 200, replaced.text);
        assert.equal(replaced.body.email, email);
        assert.equal(replaced.body.name, 'Replaced');
        assert.equal(replaced.body.role, 'customer');
        assert.equal(replaced.body.status, 'active');
        assert.equal(replaced.body.location, null);
        assert.equal(replaced.body.createdAt, user.createdAt);
        assert.ok(replaced.body.updatedAt > user.updatedAt);
        assert.deepEqual(await fetchOne(users, user.id), replaced.body);
        assert.ok(replaced.headers.get('etag'));
        assert.notEqual(replaced.headers.get('etag'), created.headers.get('etag'));
      });

      test('PUT replaces the whole product: omitted optional fields become null or their default', async () => {
        const product = await make(products, { description: 'Old', stock: 12, status: 'archived' });
        const body = { name: 'Desk', category: 'furniture', price: { amount: 25000, currency: 'USD' } };
        const replaced = await call('PUT', `/v1/products/${product.id}`, { body });
        assert.equal(replaced.status, 200, replaced.text);
        assert.equal(replaced.body.description, null);
        assert.equal(replaced.body.stock, 0);
        assert.equal(replaced.body.status, 'active');
        assert.deepEqual(replaced.body.price, body.price);
        assert.deepEqual(await fetchOne(products, product.id), replaced.body);
      });

      for (const spec of specs) {
        test(`PUT on a ${spec.kind} id that does not exist answers 404 and creates nothing`, async () => {
          const before = await snapshot(spec.table);
          const missing = `${spec.prefix}_0${'c'.repeat(25)}`;
          const response = await call('PUT', `${spec.path}/${missing}`, { body: spec.body() });
          expectEnvelope(response, 404, 'RESOURCE_NOT_FOUND');
          assert.deepEqual(await snapshot(spec.table), before);
        });
      }
    });

    describe('patching with JSON Merge Patch', () => {
      for (const contentType of ['application/merge-patch+json', 'application/json']) {
        test(`PATCH with ${contentType} changes only the fields it names`, async () => {
          const user = await make(users, { location: 'Oslo', role: 'admin' });
          const response = await call('PATCH', `/v1/users/${user.id}`, {
            raw: JSON.stringify({ name: 'Patched' }),
            headers: { 'content-type': contentType },
          });
          assert.equal(response.status, 200, response.text);
          assert.deepEqual(
            { ...response.body, updatedAt: user.updatedAt },
            { ...user, name: 'Patched' },
            'only name and updatedAt changed',
          );
          assert.ok(response.body.updatedAt > user.updatedAt);
          assert.ok(response.headers.get('etag'));
          assert.deepEqual(await fetchOne(users, user.id), response.body);
        });
      }

      test('null in a merge patch clears a user location', async () => {
        const user = await make(users, { location: 'Oslo' });
        const response = await call('PATCH', `/v1/users/${user.id}`, { body: { location: null } });
        assert.equal(response.status, 200, response.text);
        assert.equal(response.body.location, null);
        assert.equal((await fetchOne(users, user.id)).location, null);
      });

      test('null in a merge patch clears a product description', async () => {
        const product = await make(products, { description: 'Brass, 40 cm' });
        const response = await call('PATCH', `/v1/products/${product.id}`, {
          raw: JSON.stringify({ description: null }),
          headers: { 'content-type': 'application/merge-patch+json' },
        });
        assert.equal(response.status, 200, response.text);
        assert.equal(response.body.description, null);
        assert.equal((await fetchOne(products, product.id)).description, null);
      });

      test('patching price.amount alone keeps the currency', async () => {
        const product = await make(products, { price: { amount: 1000, currency: 'JPY' } });
        const response = await call('PATCH', `/v1/products/${product.id}`, { body: { price: { amount: 1500 } } });
        assert.equal(response.status, 200, response.text);
        assert.deepEqual(response.body.price, { amount: 1500, currency: 'JPY' });
        assert.deepEqual((await fetchOne(products, product.id)).price, { amount: 1500, currency: 'JPY' });
      });

      const requiredNulls: [Spec, Record<string, unknown>, string][] = [
        [users, { name: null }, 'name'],
        [users, { email: null }, 'email'],
        [users, { role: null }, 'role'],
        [products, { name: null }, 'name'],
        [products, { price: null }, 'price'],
        [products, { price: { currency: null } }, 'price.currency'],
      ];
      for (const [spec, patch, field] of requiredNulls) {
        test(`null on the required ${spec.kind} field ${field} answers 400 and changes nothing`, async () => {
          const row = await make(spec);
          const before = await snapshot(spec.table);
          const response = await call('PATCH', `${spec.path}/${row.id}`, { body: patch });
          const error = expectEnvelope(response, 400, 'VALIDATION_ERROR');
          assert.ok(
            error.details.some((detail: Body) => detail.field === field),
            `details name ${field}: ${response.text}`,
          );
          assert.deepEqual(await fetchOne(spec, row.id), row);
          assert.deepEqual(await snapshot(spec.table), before);
        });
      }

      for (const spec of specs) {
        test(`PATCH on a ${spec.kind} id that does not exist answers 404`, async () => {
          const response = await call('PATCH', `${spec.path}/${spec.prefix}_0${'d'.repeat(25)}`, {
            body: spec.change,
          });
          expectEnvelope(response, 404, 'RESOURCE_NOT_FOUND');
        });
      }
    });

    describe('deleting', () => {
      for (const spec of specs) {
        test(`DELETE of a ${spec.kind} answers 204 and a GET then answers 404`, async () => {
          const row = await make(spec);
          const response = await call('DELETE', `${spec.path}/${row.id}`);
          assert.equal(response.status, 204);
          assert.equal(response.text, '');
          expectEnvelope(await call('GET', `${spec.path}/${row.id}`), 404, 'RESOURCE_NOT_FOUND');
          const listed = await list(spec, windowOf([row]));
          assert.deepEqual(listed.body.data, []);
        });

        test(`a second DELETE of the same ${spec.kind} answers 404 and changes nothing`, async () => {
          const row = await make(spec);
          await make(spec);
          assert.equal((await call('DELETE', `${spec.path}/${row.id}`)).status, 204);
          const before = await snapshot(spec.table);
          const again = await call('DELETE', `${spec.path}/${row.id}`);
          expectEnvelope(again, 404, 'RESOURCE_NOT_FOUND');
          assert.deepEqual(await snapshot(spec.table), before);
        });
      }
    });

    describe('methods', () => {
      const notAllowed: [string, string, string[]][] = [
        ['PATCH', '/v1/users', ['GET', 'POST']],
        ['PUT', '/v1/users', ['GET', 'POST']],
        ['DELETE', '/v1/products', ['GET', 'POST']],
        ['POST', '/v1/products/prd_00000000000000000000000000', ['GET', 'PUT', 'PATCH', 'DELETE']],
      ];
      for (const [method, path, allowed] of notAllowed) {
        test(`${method} ${path} answers 405 with an Allow header naming the methods it takes`, async () => {
          const before = await snapshot(path.includes('users') ? 'users' : 'products');
          const response = await call(method, path, { body: {} });
          expectEnvelope(response, 405, 'METHOD_NOT_ALLOWED');
          const allow = (response.headers.get('allow') ?? '').split(/,\s*/);
          for (const name of allowed) assert.ok(allow.includes(name), `Allow ${allow} names ${name}`);
          assert.ok(!allow.includes(method), `Allow ${allow} does not name ${method}`);
          assert.deepEqual(await snapshot(path.includes('users') ? 'users' : 'products'), before);
        });
      }

      for (const spec of specs) {
        test(`OPTIONS on the ${spec.kind}s collection and on a ${spec.kind} answers 204 with Allow`, async () => {
          const row = await make(spec);
          const collection = await call('OPTIONS', spec.path);
          assert.equal(collection.status, 204);
          const collectionAllow = (collection.headers.get('allow') ?? '').split(/,\s*/);
          for (const name of ['GET', 'POST', 'OPTIONS']) assert.ok(collectionAllow.includes(name));
          assert.ok(!collectionAllow.includes('DELETE'));
          const item = await call('OPTIONS', `${spec.path}/${row.id}`);
          assert.equal(item.status, 204);
          const itemAllow = (item.headers.get('allow') ?? '').split(/,\s*/);
          for (const name of ['GET', 'PUT', 'PATCH', 'DELETE']) assert.ok(itemAllow.includes(name));
          assert.ok(!itemAllow.includes('POST'));
        });
      }
    });

    describe('conditional writes with If-Match', () => {
      for (const spec of specs) {
        const writes: [string, (row: Body) => RequestOptions][] = [
          ['PUT', () => ({ body: spec.body() })],
          ['PATCH', () => ({ body: spec.change })],
          ['DELETE', () => ({})],
        ];
        for (const [method, options] of writes) {
          test(`${method} of a ${spec.kind} with its current ETag in If-Match succeeds`, async () => {
            const created = await create(spec);
            const etag = created.headers.get('etag') ?? '';
            const response = await call(method, `${spec.path}/${created.body.id}`, {
              ...options(created.body),
              headers: { 'if-match': etag },
            });
            assert.equal(response.status, method === 'DELETE' ? 204 : 200, response.text);
          });

          test(`${method} of a ${spec.kind} with a stale ETag answers 412 and changes nothing`, async () => {
            const created = await create(spec);
            const stale = created.headers.get('etag') ?? '';
            const patched = await call('PATCH', `${spec.path}/${created.body.id}`, { body: spec.change });
            assert.equal(patched.status, 200);
            const before = await snapshot(spec.table);
            const response = await call(method, `${spec.path}/${created.body.id}`, {
              ...options(created.body),
              headers: { 'if-match': stale },
            });
            expectEnvelope(response, 412, 'PRECONDITION_FAILED');
            assert.deepEqual(await fetchOne(spec, created.body.id), patched.body);
            assert.deepEqual(await snapshot(spec.table), before);
          });
        }
      }

      test('If-Match with a weak ETag never matches, since writes need the strong comparison', async () => {
        const created = await create(users);
        const weak = `W/${created.headers.get('etag')}`;
        const response = await call('PATCH', `/v1/users/${created.body.id}`, {
          body: { name: 'Weak' },
          headers: { 'if-match': weak },
        });
        expectEnvelope(response, 412, 'PRECONDITION_FAILED');
        assert.equal((await fetchOne(users, created.body.id)).name, created.body.name);
      });

      for (const spec of specs) {
        test(`of two concurrent PATCHes of a ${spec.kind} with the same If-Match exactly one wins`, async () => {
          const created = await create(spec);
          const etag = created.headers.get('etag') ?? '';
          const patches = spec.kind === 'user' ? [{ name: 'First' }, { name: 'Second' }] : [{ stock: 1 }, { stock: 2 }];
          const responses = await Promise.all(
            patches.map((body) =>
              call('PATCH', `${spec.path}/${created.body.id}`, { body, headers: { 'if-match': etag } }),
            ),
          );
          const statuses = responses.map((response) => response.status).sort();
          assert.deepEqual(statuses, [200, 412], responses.map((response) => response.text).join('\n'));
          const winner = responses.find((response) => response.status === 200);
          const loser = responses.find((response) => response.status === 412);
          if (loser) expectEnvelope(loser, 412, 'PRECONDITION_FAILED');
          assert.deepEqual(await fetchOne(spec, created.body.id), winner?.body);
          const updates = (await eventsOf(created.body.id)).filter((type) => type.endsWith('.updated'));
          assert.equal(updates.length, 1, 'only the winning write left an event');
        });
      }
    });

    describe('duplicate emails', () => {
      test('creating a user whose email differs only in case answers 409 CONFLICT on email', async () => {
        const n = unique();
        await make(users, { email: `Ada${n}@X.com` });
        const before = await snapshot('users');
        const response = await call('POST', '/v1/users', { body: { email: `ada${n}@x.com`, name: 'Copy' } });
        const error = expectEnvelope(response, 409, 'CONFLICT');
        assert.equal(error.details[0].field, 'email');
        assert.deepEqual(await snapshot('users'), before, 'no row and no event');
      });

      test('replacing a user with another user’s email in other case answers 409 and changes nothing', async () => {
        const n = unique();
        await make(users, { email: `Ada${n}@X.com` });
        const other = await make(users);
        const before = await snapshot('users');
        const response = await call('PUT', `/v1/users/${other.id}`, { body: { email: `ADA${n}@x.COM`, name: 'Copy' } });
        const error = expectEnvelope(response, 409, 'CONFLICT');
        assert.equal(error.details[0].field, 'email');
        assert.deepEqual(await fetchOne(users, other.id), other);
        assert.deepEqual(await snapshot('users'), before);
      });

      test('patching a user to another user’s email in other case answers 409 and changes nothing', async () => {
        const n = unique();
        await make(users, { email: `Ada${n}@X.com` });
        const other = await make(users);
        const before = await snapshot('users');
        const response = await call('PATCH', `/v1/users/${other.id}`, { body: { email: `ada${n}@x.com` } });
        const error = expectEnvelope(response, 409, 'CONFLICT');
        assert.equal(error.details[0].field, 'email');
        assert.deepEqual(await fetchOne(users, other.id), other);
        assert.deepEqual(await snapshot('users'), before);
      });

      test('a user may change only the letter case of their own email', async () => {
        const n = unique();
        const user = await make(users, { email: `ada${n}@x.com` });
        const response = await call('PATCH', `/v1/users/${user.id}`, { body: { email: `Ada${n}@X.com` } });
        assert.equal(response.status, 200, response.text);
        assert.equal(response.body.email, `Ada${n}@X.com`);
      });
    });

    describe('field-level validation', () => {
      const cases: [Spec, string, Record<string, unknown>, string, string][] = [
        [users, 'an invalid email', { email: 'not-an-email' }, 'email', 'INVALID_FORMAT'],
        [users, 'a missing name', { name: undefined }, 'name', 'REQUIRED'],
        [users, 'an unknown role', { role: 'root' }, 'role', 'INVALID_VALUE'],
        [users, 'an empty name', { name: '' }, 'name', 'TOO_SHORT'],
        [products, 'a negative price.amount', { price: { amount: -1, currency: 'EUR' } }, 'price.amount', 'TOO_SMALL'],
        [
          products,
          'a fractional price.amount',
          { price: { amount: 1.5, currency: 'EUR' } },
          'price.amount',
          'INVALID_TYPE',
        ],
        [
          products,
          'a price.amount sent as a string',
          { price: { amount: '100', currency: 'EUR' } },
          'price.amount',
          'INVALID_TYPE',
        ],
        [products, 'a price without currency', { price: { amount: 100 } }, 'price.currency', 'REQUIRED'],
        [
          products,
          'an unknown currency',
          { price: { amount: 100, currency: 'ABC' } },
          'price.currency',
          'UNKNOWN_CURRENCY',
        ],
        [products, 'a negative stock', { stock: -3 }, 'stock', 'TOO_SMALL'],
        [products, 'a category with spaces', { category: 'Office Chairs' }, 'category', 'INVALID_FORMAT'],
      ];
      for (const [spec, what, overrides, field, code] of cases) {
        test(`creating a ${spec.kind} with ${what} answers 400 naming ${field} with ${code}`, async () => {
          const before = await snapshot(spec.table);
          const response = await call('POST', spec.path, { body: { ...spec.body(), ...overrides } });
          const error = expectEnvelope(response, 400, 'VALIDATION_ERROR');
          assert.ok(
            error.details.some((detail: Body) => detail.field === field && detail.code === code),
            `details name ${field} with ${code}: ${response.text}`,
          );
          for (const detail of error.details) assert.equal(typeof detail.message, 'string');
          assert.deepEqual(await snapshot(spec.table), before);
        });
      }

      test('every invalid field of one body is reported at once', async () => {
        const response = await call('POST', '/v1/users', { body: { email: 'nope', name: '', role: 'root' } });
        const error = expectEnvelope(response, 400, 'VALIDATION_ERROR');
        const fields = error.details.map((detail: Body) => detail.field).sort();
        assert.deepEqual(fields, ['email', 'name', 'role']);
      });

      test('an invalid patch names the nested field path', async () => {
        const product = await make(products);
        const response = await call('PATCH', `/v1/products/${product.id}`, { body: { price: { amount: -5 } } });
        const error = expectEnvelope(response, 400, 'VALIDATION_ERROR');
        assert.deepEqual(
          error.details.map((detail: Body) => [detail.field, detail.code]),
          [['price.amount', 'TOO_SMALL']],
        );
        assert.deepEqual(await fetchOne(products, product.id), product);
      });
    });

    describe('hostile input', () => {
      for (const spec of specs) {
        test(`malformed JSON sent to create or patch a ${spec.kind} answers 400 and changes nothing`, async () => {
          const row = await make(spec);
          const before = await snapshot(spec.table);
          for (const raw of ['{"name": "x",', "{'name': 'x'}", '{"name": "x"} trailing', '']) {
            const created = await call('POST', spec.path, { raw, headers: { 'content-type': 'application/json' } });
            expectEnvelope(created, 400, 'MALFORMED_REQUEST');
            for (const type of ['application/json', 'application/merge-patch+json']) {
              const patched = await call('PATCH', `${spec.path}/${row.id}`, { raw, headers: { 'content-type': type } });
              expectEnvelope(patched, 400, 'MALFORMED_REQUEST');
            }
          }
          assert.deepEqual(await snapshot(spec.table), before);
          assert.deepEqual(await fetchOne(spec, row.id), row);
        });

        test(`a ${spec.kind} body that is not JSON answers 415 and changes nothing`, async () => {
          const row = await make(spec);
          const before = await snapshot(spec.table);
          const bodies: [string, string][] = [
            ['text/plain', JSON.stringify(spec.body())],
            ['application/x-www-form-urlencoded', 'name=x&email=x%40example.com'],
            ['application/xml', '<user><name>x</name></user>'],
          ];
          for (const [type, raw] of bodies) {
            const headers = { 'content-type': type };
            expectEnvelope(await call('POST', spec.path, { raw, headers }), 415, 'UNSUPPORTED_MEDIA_TYPE');
            expectEnvelope(
              await call('PUT', `${spec.path}/${row.id}`, { raw, headers }),
              415,
              'UNSUPPORTED_MEDIA_TYPE',
            );
            expectEnvelope(
              await call('PATCH', `${spec.path}/${row.id}`, { raw, headers }),
              415,
              'UNSUPPORTED_MEDIA_TYPE',
            );
          }
          const patchAsPost = await call('POST', spec.path, {
            raw: JSON.stringify(spec.body()),
            headers: { 'content-type': 'application/merge-patch+json' },
          });
          expectEnvelope(patchAsPost, 415, 'UNSUPPORTED_MEDIA_TYPE');
          assert.deepEqual(await snapshot(spec.table), before);
          assert.deepEqual(await fetchOne(spec, row.id), row);
        });

        test(`a ${spec.kind} body over 1 MiB answers 413 and changes nothing`, async () => {
          const before = await snapshot(spec.table);
          const raw = JSON.stringify({ ...spec.body(), name: 'x'.repeat(1024 * 1024 + 1) });
          const response = await call('POST', spec.path, { raw, headers: { 'content-type': 'application/json' } });
          expectEnvelope(response, 413, 'PAYLOAD_TOO_LARGE');
          assert.deepEqual(await snapshot(spec.table), before);
        });

        test(`unknown fields in a ${spec.kind} body answer 400 on POST, PUT and PATCH and change nothing`, async () => {
          const row = await make(spec);
          const before = await snapshot(spec.table);
          const extra = { isAdmin: true };
          const attempts: [string, string, Record<string, unknown>][] = [
            ['POST', spec.path, { ...spec.body(), ...extra }],
            ['PUT', `${spec.path}/${row.id}`, { ...spec.body(), ...extra }],
            ['PATCH', `${spec.path}/${row.id}`, extra],
          ];
          for (const [method, path, body] of attempts) {
            const error = expectEnvelope(await call(method, path, { body }), 400, 'VALIDATION_ERROR');
            assert.deepEqual(error.details, [
              { field: 'isAdmin', code: 'UNKNOWN_FIELD', message: error.details[0]?.message },
            ]);
          }
          if (spec.kind === 'product') {
            const nested = await call('PATCH', `${spec.path}/${row.id}`, { body: { price: { amount: 1, rate: 2 } } });
            const error = expectEnvelope(nested, 400, 'VALIDATION_ERROR');
            assert.equal(error.details[0].field, 'price.rate');
          }
          assert.deepEqual(await snapshot(spec.table), before);
          assert.deepEqual(await fetchOne(spec, row.id), row);
        });

        const readOnly: [string, unknown][] = [
          ['id', `${spec.prefix}_0${'e'.repeat(25)}`],
          ['createdAt', '2020-01-01T00:00:00.000Z'],
          ['updatedAt', '2020-01-01T00:00:00.000Z'],
          ['_links', { self: { href: 'https://evil.example/' } }],
        ];
        for (const [field, value] of readOnly) {
          test(`sending the read-only ${field} in a ${spec.kind} body answers 400 and changes nothing`, async () => {
            const row = await make(spec);
            const before = await snapshot(spec.table);
            const attempts: [string, string, Record<string, unknown>][] = [
              ['POST', spec.path, { ...spec.body(), [field]: value }],
              ['PUT', `${spec.path}/${row.id}`, { ...spec.body(), [field]: value }],
              ['PATCH', `${spec.path}/${row.id}`, { [field]: value }],
            ];
            for (const [method, path, body] of attempts) {
              const error = expectEnvelope(await call(method, path, { body }), 400, 'VALIDATION_ERROR');
              assert.equal(error.details[0].field, field);
            }
            assert.deepEqual(await snapshot(spec.table), before);
            assert.deepEqual(await fetchOne(spec, row.id), row);
          });
        }
      }

      describe('cursors and page parameters', () => {
        let cursor = '';
        let window: Record<string, string> = {};
        before(async () => {
          const rows = [await make(users), await make(users), await make(users)];
          window = windowOf(rows);
          cursor = (await list(users, { ...window, limit: 1 })).body.pagination.nextCursor;
          assert.ok(cursor);
        });

        const badCursor = async (params: Record<string, string | number>) => {
          const response = await call('GET', `/v1/users?${query(params)}`);
          const error = expectEnvelope(response, 400, 'VALIDATION_ERROR');
          assert.equal(error.details[0].field, 'cursor');
          return error;
        };

        test('a cursor that is not one of ours answers 400 on cursor', async () => {
          for (const garbage of ['garbage', 'a.b', 'a.b.c', '%%%', '.', 'eyJ9.eyJ9']) {
            await badCursor({ ...window, limit: 1, cursor: garbage });
          }
        });

        test('a cursor with one character flipped answers 400 on cursor', async () => {
          for (const index of [0, Math.floor(cursor.length / 3), cursor.length - 1]) {
            const original = cursor[index];
            const tampered = `${cursor.slice(0, index)}${original === 'A' ? 'B' : 'A'}${cursor.slice(index + 1)}`;
            const error = await badCursor({ ...window, limit: 1, cursor: tampered });
            assert.equal(error.details[0].code, 'INVALID_CURSOR');
          }
        });

        test('a cursor reused with other filters or another sort answers 400 on cursor', async () => {
          await badCursor({ ...window, limit: 1, cursor, role: 'admin' });
          await badCursor({ createdFrom: window.createdFrom ?? '', limit: 1, cursor });
          await badCursor({ ...window, limit: 1, cursor, order: 'asc' });
          await badCursor({ ...window, limit: 1, cursor, sort: 'name' });
          const products = await call('GET', `/v1/products?${query({ ...window, limit: 1, cursor })}`);
          expectEnvelope(products, 400, 'VALIDATION_ERROR');
          assert.equal((await list(users, { ...window, limit: 1, cursor })).body.data.length, 1, 'it still works');
        });

        for (const limit of ['101', '0', '-1', 'ten', '2.5']) {
          test(`limit=${limit} answers 400 on limit`, async () => {
            const error = expectEnvelope(await call('GET', `/v1/users?limit=${limit}`), 400, 'VALIDATION_ERROR');
            assert.equal(error.details[0].field, 'limit');
          });
        }

        test('limit=100 is accepted as the largest page', async () => {
          assert.equal((await list(users, { limit: 100 })).body.pagination.limit, 100);
        });

        for (const spec of specs) {
          test(`an unknown sort field on ${spec.kind}s answers 400 on sort`, async () => {
            for (const sort of ['password', 'email_key', 'created_at', 'name;drop table users']) {
              if (spec.kind === 'product' && sort === 'email_key') continue;
              const error = expectEnvelope(
                await call('GET', `${spec.path}?${query({ sort })}`),
                400,
                'VALIDATION_ERROR',
              );
              assert.equal(error.details[0].field, 'sort');
            }
          });

          test(`an unknown name in fields= on ${spec.kind}s answers 400 on fields`, async () => {
            const row = await make(spec);
            for (const fields of ['password', 'name,version', 'name,,id', '__proto__']) {
              for (const path of [`${spec.path}?`, `${spec.path}/${row.id}?`]) {
                const error = expectEnvelope(await call('GET', `${path}${query({ fields })}`), 400, 'VALIDATION_ERROR');
                assert.equal(error.details[0].field, 'fields');
              }
            }
          });
        }

        test('page and cursor parameters of the other mode together answer 400', async () => {
          for (const params of [{ page: 1, cursor }, { page: 1, limit: 5 }, { perPage: 5 }, { page: 0 }]) {
            expectEnvelope(await call('GET', `/v1/users?${query(params)}`), 400, 'VALIDATION_ERROR');
          }
        });
      });

      for (const spec of specs) {
        test(`ids of the wrong type or shape on ${spec.kind}s answer 404 and change nothing`, async () => {
          const before = await snapshot(spec.table);
          const wrong = [
            spec.foreignId,
            `${spec.prefix}_0${'a'.repeat(24)}`,
            `${spec.prefix}_ZZZZZZZZZZZZZZZZZZZZZZZZZZ`,
            "'; drop table users;--",
            "1' OR '1'='1",
            '../users',
            '0',
            '<script>',
          ];
          for (const id of wrong) {
            const path = `${spec.path}/${encodeURIComponent(id)}`;
            expectEnvelope(await call('GET', path), 404, 'RESOURCE_NOT_FOUND');
            expectEnvelope(await call('PUT', path, { body: spec.body() }), 404, 'RESOURCE_NOT_FOUND');
            expectEnvelope(await call('PATCH', path, { body: spec.change }), 404, 'RESOURCE_NOT_FOUND');
            expectEnvelope(await call('DELETE', path), 404, 'RESOURCE_NOT_FOUND');
          }
          assert.deepEqual(await snapshot(spec.table), before);
        });
      }

      test('unknown routes answer 404 in the envelope', async () => {
        for (const path of ['/v1/nothing', '/v1/users/usr_x/orders/extra', '/vx/users', '/v1/USERS']) {
          for (const method of ['GET', 'POST', 'DELETE']) {
            const response = await call(method, path, method === 'POST' ? { body: {} } : {});
            expectEnvelope(response, 404, 'RESOURCE_NOT_FOUND');
          }
        }
        // An empty id is an id that names nothing, not an invalid request.
        for (const method of ['GET', 'DELETE']) {
          expectEnvelope(await call(method, '/v1/users/'), 404, 'RESOURCE_NOT_FOUND');
        }
      });

      for (const spec of specs) {
        test(`__proto__ and constructor.prototype in a ${spec.kind} body answer 400 and pollute nothing`, async () => {
          const row = await make(spec);
          const before = await snapshot(spec.table);
          const valid = JSON.stringify(spec.body()).slice(0, -1);
          const payloads = [
            `${valid}, "__proto__": { "polluted": "yes" }}`,
            `${valid}, "constructor": { "prototype": { "polluted": "yes" } }}`,
          ];
          for (const raw of payloads) {
            for (const [method, path, type] of [
              ['POST', spec.path, 'application/json'],
              ['PUT', `${spec.path}/${row.id}`, 'application/json'],
              ['PATCH', `${spec.path}/${row.id}`, 'application/merge-patch+json'],
            ] as const) {
              const response = await call(method, path, { raw, headers: { 'content-type': type } });
              assert.equal(response.status, 400, response.text);
              assert.ok(response.body?.error?.requestId, 'the error is in the envelope');
            }
          }
          const nested = await call('PATCH', `${spec.path}/${row.id}`, {
            raw: '{"price": {"__proto__": {"polluted": "yes"}}}',
            headers: { 'content-type': 'application/merge-patch+json' },
          });
          assert.equal(nested.status, 400, nested.text);
          assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched');
          assert.deepEqual(await snapshot(spec.table), before);
          assert.deepEqual(await fetchOne(spec, row.id), row);
        });
      }

      const verbatim = [
        "Robert'); DROP TABLE users;--",
        '<script>alert(1)</script>',
        '" OR 1=1 --',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, sent as plain text.
        '${7*7} {{7*7}} %s %n',
        "\\'; SELECT pg_sleep(10); --",
      ];
      for (const text of verbatim) {
        test(`the string ${JSON.stringify(text)} is stored and returned verbatim`, async () => {
          const user = await make(users, { name: text, location: text });
          assert.equal(user.name, text);
          const fetched = await fetchOne(users, user.id);
          assert.equal(fetched.name, text);
          assert.equal(fetched.location, text);
          const product = await make(products, { name: text, description: text });
          assert.equal((await fetchOne(products, product.id)).description, text);
          const listed = (await list(products, { ...windowOf([product]) })).body.data[0];
          assert.equal(listed.name, text);
          assert.ok((await rowCount('users')) > 0, 'the users table is still there');
        });
      }

      test('unicode names, emoji and right-to-left text round-trip unchanged', async () => {
        for (const name of ['Zoë Ångström', '李小龙', 'Ωμέγα', 'مرحبا بالعالم', '👩🏽‍💻 Ada', 'e\u0301 combining']) {
          const user = await make(users, { name, location: name });
          assert.equal(user.name, name);
          const fetched = await fetchOne(users, user.id);
          assert.equal(fetched.name, name);
          assert.equal(fetched.location, name);
          const sparse = await call('GET', `/v1/users/${user.id}?fields=name`);
          assert.equal(sparse.body.name, name);
        }
      });

      test('no client input produces a 5xx, a stack trace or database text', async () => {
        const product = await make(products);
        const attempts: [string, string, RequestOptions][] = [
          ['GET', '/v1/users?createdFrom=yesterday', {}],
          ['GET', '/v1/users?createdFrom=2025-13-45T99:99:99Z', {}],
          ['GET', '/v1/users?role=superuser', {}],
          ['GET', '/v1/users?role=admin&role=customer', {}],
          ['GET', '/v1/users?sort=name&sort=email', {}],
          ['GET', `/v1/users?cursor=${'A'.repeat(5000)}`, {}],
          ['GET', '/v1/users?page=99999999999999999999', {}],
          ['GET', '/v1/products?priceMin=-1', {}],
          ['GET', '/v1/products?priceMax=1e400', {}],
          ['GET', '/v1/products?currency=euro', {}],
          ['GET', '/v1/users/%E0%A4%A', {}],
          ['GET', '/v1/users/%00', {}],
          ['GET', `/v1/users/usr_${'x'.repeat(300)}`, {}],
          ['GET', `/v1/users?${'a'.repeat(5000)}=1`, {}],
          ['POST', '/v1/users', { raw: '[]', headers: { 'content-type': 'application/json' } }],
          ['POST', '/v1/users', { raw: 'null', headers: { 'content-type': 'application/json' } }],
          ['POST', '/v1/users', { raw: '"user"', headers: { 'content-type': 'application/json' } }],
          ['POST', '/v1/users', { raw: '12', headers: { 'content-type': 'application/json' } }],
          [
            'POST',
            '/v1/users',
            { raw: `${'['.repeat(5000)}${']'.repeat(5000)}`, headers: { 'content-type': 'application/json' } },
          ],
          [
            'POST',
            '/v1/users',
            { raw: '{"name":"x"}', headers: { 'content-type': 'application/json; charset=latin1' } },
          ],
          ['POST', '/v1/users', { body: { email: 'x@example.com', name: { first: 'x' } } }],
          ['POST', '/v1/users', { body: { email: `${'a'.repeat(300)}@example.com`, name: 'Long' } }],
          ['POST', '/v1/users', { body: { email: 'nul@example.com', name: 'a\u0000b' } }],
          ['POST', '/v1/products', { body: { ...products.body(), price: { amount: 1e300, currency: 'EUR' } } }],
          ['POST', '/v1/products', { body: { ...products.body(), stock: Number.MAX_SAFE_INTEGER + 2 } }],
          [
            'PATCH',
            `/v1/products/${product.id}`,
            { raw: '[]', headers: { 'content-type': 'application/merge-patch+json' } },
          ],
          [
            'PATCH',
            `/v1/products/${product.id}`,
            { raw: 'null', headers: { 'content-type': 'application/merge-patch+json' } },
          ],
          ['PATCH', `/v1/products/${product.id}`, { body: { price: 5 } }],
          ['PUT', `/v1/products/${product.id}`, { body: null }],
          ['GET', '/v1/users', { headers: { 'if-none-match': '"\u00ff' } }],
          ['PATCH', `/v1/products/${product.id}`, { body: { stock: 1 }, headers: { 'if-match': 'not a tag, ,,' } }],
        ];
        for (const [method, path, options] of attempts) {
          const response = await call(method, path, options);
          assert.ok(response.status >= 200, `${method} ${path}`);
          if (response.status >= 400) {
            assert.equal(response.body?.error?.requestId, response.headers.get('x-request-id'), `${method} ${path}`);
          }
        }
      });

      test('text containing a NUL character is refused with 400 on every storage, never a 5xx', async () => {
        const user = await make(users);
        const product = await make(products);
        const before = [await snapshot('users'), await snapshot('products')];
        const attempts: [string, string, Record<string, unknown>, string][] = [
          ['POST', '/v1/users', { ...users.body(), name: 'a\u0000b' }, 'name'],
          ['PATCH', `/v1/users/${user.id}`, { location: '\u0000' }, 'location'],
          ['POST', '/v1/products', { ...products.body(), description: 'x\u0000' }, 'description'],
          ['PUT', `/v1/products/${product.id}`, { ...products.body(), name: '\u0000' }, 'name'],
        ];
        for (const [method, path, body, field] of attempts) {
          const error = expectEnvelope(await call(method, path, { body }), 400, 'VALIDATION_ERROR');
          assert.equal(error.details[0].field, field);
        }
        const filtered = await call('GET', '/v1/users?email=a%00b%40example.com');
        expectEnvelope(filtered, 400, 'VALIDATION_ERROR');
        assert.deepEqual([await snapshot('users'), await snapshot('products')], before);
      });
    });

    describe('request ids', () => {
      test('a valid incoming X-Request-Id is kept on the response and in the envelope', async () => {
        for (const id of ['3f2b6c1e-8a4d-4f7b-9c2e-1d5a6b7c8d9e', 'trace.abc:42', 'req_01jd2gq6f1e8x9v3k4m5n6p7q8']) {
          const ok = await call('GET', '/v1/users?limit=1', { headers: { 'x-request-id': id } });
          assert.equal(ok.headers.get('x-request-id'), id);
          const failed = await call('GET', '/v1/users/usr_missing', { headers: { 'x-request-id': id } });
          assert.equal(expectEnvelope(failed, 404, 'RESOURCE_NOT_FOUND').requestId, id);
        }
      });

      test('an invalid incoming X-Request-Id is replaced by a new req_ id', async () => {
        for (const id of ['a b', 'x'.repeat(129), 'id;rm -rf', '<script>', '']) {
          const response = await call('GET', '/v1/users/usr_missing', { headers: { 'x-request-id': id } });
          const error = expectEnvelope(response, 404, 'RESOURCE_NOT_FOUND');
          assert.match(error.requestId, /^req_[0-9a-z]{26}$/);
        }
      });

      test('every response carries an X-Request-Id, including 201, 204, 304, 405 and 415', async () => {
        const created = await create(users);
        const etag = created.headers.get('etag') ?? '';
        const responses = [
          created,
          await call('GET', `/v1/users/${created.body.id}`, { headers: { 'if-none-match': etag } }),
          await call('PATCH', '/v1/users', { body: {} }),
          await call('POST', '/v1/users', { raw: 'x', headers: { 'content-type': 'text/plain' } }),
          await call('OPTIONS', '/v1/users'),
          await call('DELETE', `/v1/users/${created.body.id}`),
        ];
        assert.deepEqual(
          responses.map((response) => response.status),
          [201, 304, 405, 415, 204, 204],
        );
        const seen = responses.map((response) => response.headers.get('x-request-id'));
        for (const id of seen) assert.match(id ?? '', /^req_[0-9a-z]{26}$/);
        assert.equal(new Set(seen).size, seen.length, 'each response has its own id');
      });
    });

    describe('problem documents', () => {
      test('with Accept: application/problem+json an error is an RFC 9457 problem document', async () => {
        const path = `/v1/users/usr_0${'f'.repeat(25)}`;
        const response = await call('GET', path, { headers: { accept: 'application/problem+json' } });
        assert.equal(response.status, 404);
        assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
        const problem = response.body;
        assert.match(problem.type, /^https?:\/\/.+#RESOURCE_NOT_FOUND$/);
        assert.equal(typeof problem.title, 'string');
        assert.equal(problem.status, 404);
        assert.equal(typeof problem.detail, 'string');
        assert.equal(problem.instance, path);
        assert.equal(problem.code, 'RESOURCE_NOT_FOUND');
        assert.deepEqual(problem.errors, []);
        assert.equal(problem.requestId, response.headers.get('x-request-id'));
        assert.equal(problem.error, undefined, 'not the envelope');
      });

      test('a validation error as a problem document lists the field errors', async () => {
        const response = await call('POST', '/v1/products', {
          body: { ...products.body(), price: { amount: -1, currency: 'EUR' } },
          headers: { accept: 'application/problem+json, application/json;q=0.5' },
        });
        assert.equal(response.status, 400);
        assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
        assert.equal(response.body.status, 400);
        assert.equal(response.body.code, 'VALIDATION_ERROR');
        assert.deepEqual(
          response.body.errors.map((detail: Body) => [detail.field, detail.code]),
          [['price.amount', 'TOO_SMALL']],
        );
      });

      test('without asking for a problem document an error is the JSON envelope', async () => {
        const response = await call('GET', '/v1/nothing', { headers: { accept: 'application/json' } });
        assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
        expectEnvelope(response, 404, 'RESOURCE_NOT_FOUND');
      });
    });

    describe('events in the outbox', () => {
      test('creating, updating and deleting a user writes user.created, user.updated and user.deleted', async () => {
        const user = await make(users);
        assert.deepEqual(await eventsOf(user.id), ['user.created']);
        await call('PATCH', `/v1/users/${user.id}`, { body: { name: 'Changed' } });
        await call('PUT', `/v1/users/${user.id}`, { body: { email: user.email, name: 'Put' } });
        assert.equal((await call('DELETE', `/v1/users/${user.id}`)).status, 204);
        assert.deepEqual(await eventsOf(user.id), ['user.created', 'user.updated', 'user.updated', 'user.deleted']);
      });

      test('an event carries the resource as the response showed it, without internal fields', async () => {
        const user = await make(users, { location: 'Rome' });
        const result = await sql<{
          payload: unknown;
          type: string;
          created_at: string;
        }>`select payload, type, created_at
          from outbox where aggregate_id = ${user.id}`.execute(server.storage.db);
        const row = result.rows[0];
        const payload = typeof row?.payload === 'string' ? JSON.parse(row.payload) : row?.payload;
        const { _links, ...expected } = user;
        assert.deepEqual(payload, expected);
      });

      test('a product writes product.price_changed only when its price changes', async () => {
        const product = await make(products);
        await call('PATCH', `/v1/products/${product.id}`, { body: { stock: 4 } });
        assert.deepEqual(await eventsOf(product.id), ['product.created', 'product.updated']);
        await call('PATCH', `/v1/products/${product.id}`, { body: { price: { amount: 2500 } } });
        assert.deepEqual(await eventsOf(product.id), [
          'product.created',
          'product.updated',
          'product.updated',
          'product.price_changed',
        ]);
        const { id, createdAt, updatedAt, _links, ...same } = await fetchOne(products, product.id);
        await call('PUT', `/v1/products/${product.id}`, { body: { ...same, name: 'Renamed' } });
        await call('PUT', `/v1/products/${product.id}`, {
          body: { ...same, price: { amount: 2500, currency: 'USD' } },
        });
        assert.equal((await call('DELETE', `/v1/products/${product.id}`)).status, 204);
        assert.deepEqual(await eventsOf(product.id), [
          'product.created',
          'product.updated',
          'product.updated',
          'product.price_changed',
          'product.updated',
          'product.updated',
          'product.price_changed',
          'product.deleted',
        ]);
      });

      test('a request that fails writes no event', async () => {
        const n = unique();
        const user = await make(users, { email: `dup${n}@example.com` });
        const other = await make(users);
        const before = await rowCount('outbox');
        expectEnvelope(
          await call('POST', '/v1/users', { body: { email: `DUP${n}@example.com`, name: 'x' } }),
          409,
          'CONFLICT',
        );
        expectEnvelope(
          await call('PATCH', `/v1/users/${other.id}`, { body: { email: `dup${n}@EXAMPLE.com` } }),
          409,
          'CONFLICT',
        );
        expectEnvelope(
          await call('PATCH', `/v1/users/${user.id}`, { body: { name: 'x' }, headers: { 'if-match': '"stale"' } }),
          412,
          'PRECONDITION_FAILED',
        );
        assert.equal(await rowCount('outbox'), before);
        assert.deepEqual(await eventsOf(other.id), ['user.created']);
      });
    });
  });
}
