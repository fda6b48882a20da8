// A cursor walk over /v1/products while products are created between and during page fetches (CONTRACT: a cursor
// stays correct when rows are inserted meanwhile): every row that existed at the start comes back exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ApiResponse, client, startServer, storageKinds, type TestServer } from './helpers.ts';

interface Product {
  id: string;
  name: string;
  price: { amount: number; currency: string };
  createdAt: string;
}

type Key = string | number;

interface Walk {
  title: string;
  /** The query of the first page, without limit. */
  query: string;
  order: 'asc' | 'desc';
  keyOf(product: Product): Key;
  /** Sort keys that come before and after every existing one in the walk's order, for new rows on both sides. */
  first: Key;
  last: Key;
  /** A new product whose sort key is `key`; `at` is when it is created, which is its key when sorting by createdAt. */
  make(key: Key): { body: Record<string, unknown>; at?: number };
}

const base = Date.UTC(2030, 0, 1);
const hourMs = 3_600_000;
// Few distinct values of every sort key, so pages end in the middle of ties and must break them on id.
const names = ['hazel', 'juniper', 'larch', 'maple'];
const amounts = [1_000, 2_500, 4_000];
const instants = [base, base + hourMs, base + 2 * hourMs, base + 3 * hourMs];

const body = (name: string, amount: number) => ({ name, category: 'walk', price: { amount, currency: 'EUR' } });

const walks: Walk[] = [
  {
    title: 'newest first (the default sort, createdAt desc)',
    query: '',
    order: 'desc',
    keyOf: (product) => product.createdAt,
    // Descending: a later instant comes first, an earlier one last.
    first: new Date(base + 10 * hourMs).toISOString(),
    last: new Date(base - 10 * hourMs).toISOString(),
    make: (key) => ({ body: body('maple', 1_000), at: Date.parse(String(key)) }),
  },
  {
    title: 'sort=name (asc)',
    query: 'sort=name',
    order: 'asc',
    keyOf: (product) => product.name,
    first: 'aaa',
    last: 'zzz',
    make: (key) => ({ body: body(String(key), 2_500) }),
  },
  {
    title: 'sort=price (asc)',
    query: 'sort=price',
    order: 'asc',
    keyOf: (product) => product.price.amount,
    first: 1,
    last: 9_000_000,
    make: (key) => ({ body: body('larch', Number(key)) }),
  },
];

/** -1, 0 or 1 as (key, id) of a is before, tied with or after that of b in the walk's order. */
function compare(walk: Walk, a: Product, b: Product): number {
  const [x, y] = [walk.keyOf(a), walk.keyOf(b)];
  const byKey = x < y ? -1 : x > y ? 1 : 0;
  const byId = a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  return (walk.order === 'asc' ? 1 : -1) * (byKey || byId);
}

function nextLink(header: string | null): string | null {
  const match = /<([^>]+)>;\s*rel="next"/.exec(header ?? '');
  return match?.[1] ?? null;
}

for (const kind of storageKinds()) {
  describe(`walking /v1/products with cursors while products are created, on ${kind}`, () => {
    let server: TestServer;
    let nowMs = base;
    const created: Product[] = [];
    let api: ReturnType<typeof client>;

    before(async () => {
      server = await startServer({ storage: kind, clock: () => new Date(nowMs) });
      api = client(server);
      for (let i = 0; i < 40; i++) {
        nowMs = instants[i % instants.length] as number;
        await create(body(names[(i * 3) % names.length] as string, amounts[i % amounts.length] as number));
      }
    });
    after(() => server.close());

    async function create(productBody: Record<string, unknown>): Promise<Product> {
      const response = await api('POST', '/v1/products', { body: productBody });
      assert.equal(response.status, 201, response.text);
      created.push(response.body as Product);
      return response.body as Product;
    }

    for (const walk of walks) {
      test(`a walk ${walk.title}, 7 a page, returns every earlier product once, in order, whatever is created meanwhile`, async () => {
        const existing = new Set(created.map((product) => product.id));
        const { first, last } = walk;
        const seen: Product[] = [];
        let url: string | null = `${server.url}/v1/products?${walk.query ? `${walk.query}&` : ''}limit=7`;
        let during: Promise<unknown> = Promise.resolve();
        for (let pages = 0; url !== null; pages++) {
          assert.ok(pages < 60, 'the walk ends');
          const [response]: [ApiResponse, unknown] = await Promise.all([api('GET', url), during]);
          assert.equal(response.status, 200, response.text);
          const data = response.body.data as Product[];
          seen.push(...data);
          url = nextLink(response.headers.get('link'));
          assert.equal(url !== null, response.body.pagination.nextCursor !== null);
          const position = data.at(-1);
          if (!url || !position) break;

          // Between this page and the next: rows sorting before every row, tied with the cursor's row, and after it.
          for (const key of [first, walk.keyOf(position), last]) {
            const { body: productBody, at } = walk.make(key);
            if (at !== undefined) nowMs = at;
            await create(productBody);
          }
          // And two more created while the next page is being read (when sorting by createdAt, both at one instant:
          // the clock is shared, so it alternates between the newest and the oldest end).
          const racing = [walk.make(first), walk.make(last)];
          nowMs = racing[pages % 2]?.at ?? nowMs;
          during = Promise.all(racing.map(({ body: productBody }) => create(productBody)));
        }
        await during;

        const ids = seen.map((product) => product.id);
        assert.equal(new Set(ids).size, ids.length, 'no product is returned twice');
        const missing = [...existing].filter((id) => !ids.includes(id));
        assert.deepEqual(missing, [], 'every product that existed when the walk started is returned');
        for (let i = 1; i < seen.length; i++) {
          const [a, b] = [seen[i - 1] as Product, seen[i] as Product];
          assert.equal(compare(walk, a, b), -1, `item ${i - 1} (${walk.keyOf(a)}, ${a.id}) comes before item ${i}`);
        }
        assert.ok(created.length > existing.size, 'products were created during the walk');
      });
    }
  });
}
