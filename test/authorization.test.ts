// Object-level authorization, end to end: every resource route is called as anonymous, as another customer, as
// the owner and as an admin, each against a fresh world, and the exact status of each answer is asserted. Then
// what a customer's lists and expansions show, field-level checks, and the 401/403 challenge of RFC 6750.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type ApiResponse,
  client,
  expectEnvelope,
  type StorageKind,
  startServer,
  storageKinds,
  type TestServer,
} from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read freely and asserted on.
type Body = any;
type Caller = 'anonymous' | 'other' | 'owner' | 'admin';
const callers: Caller[] = ['anonymous', 'other', 'owner', 'admin'];

/** Everything one check needs: the owner's things, and a credential for each caller. */
interface World {
  owner: string;
  other: string;
  product: string;
  /** A product no order names, so deleting it is not refused for that. */
  spareProduct: string;
  pendingOrder: string;
  paidOrder: string;
  shippedOrder: string;
  draft: string;
  published: string;
  comment: string;
  headers: Record<Caller, Record<string, string>>;
}

interface Check {
  name: string;
  method: string;
  path(world: World): string;
  body?(world: World): unknown;
  expect: Record<Caller, number>;
}

const all = (status: number): Record<Caller, number> => ({
  anonymous: status,
  other: status,
  owner: status,
  admin: status,
});
const guarded = (other: number, owner: number, admin = owner) => ({ anonymous: 401, other, owner, admin });

let sequence = 0;
const unique = () => `${Date.now().toString(36)}${(sequence++).toString(36)}`;
const userBody = (role = 'customer') => ({ email: `u${unique()}@example.test`, name: 'Someone', role, location: null });

const checks: Check[] = [
  { name: 'list users', method: 'GET', path: () => '/v1/users', expect: guarded(200, 200) },
  {
    name: 'create a user',
    method: 'POST',
    path: () => '/v1/users',
    body: () => userBody(),
    expect: guarded(403, 403, 201),
  },
  {
    name: 'create users in a batch',
    method: 'POST',
    path: () => '/v1/users/batch',
    body: () => ({ items: [userBody()] }),
    expect: guarded(403, 403, 201),
  },
  { name: 'get a user', method: 'GET', path: (w) => `/v1/users/${w.owner}`, expect: guarded(404, 200) },
  {
    name: 'replace a user, keeping role and status',
    method: 'PUT',
    path: (w) => `/v1/users/${w.owner}`,
    body: () => ({ ...userBody(), status: 'active' }),
    expect: guarded(404, 200),
  },
  {
    name: 'rename a user',
    method: 'PATCH',
    path: (w) => `/v1/users/${w.owner}`,
    body: () => ({ name: 'Renamed' }),
    expect: guarded(404, 200),
  },
  {
    name: "change a user's role",
    method: 'PATCH',
    path: (w) => `/v1/users/${w.owner}`,
    body: () => ({ role: 'admin' }),
    expect: guarded(404, 403, 200),
  },
  {
    name: "change a user's status",
    method: 'PATCH',
    path: (w) => `/v1/users/${w.owner}`,
    body: () => ({ status: 'inactive' }),
    expect: guarded(404, 403, 200),
  },
  { name: 'delete a user', method: 'DELETE', path: (w) => `/v1/users/${w.owner}`, expect: guarded(404, 204) },

  { name: 'list products', method: 'GET', path: () => '/v1/products', expect: all(200) },
  { name: 'get a product', method: 'GET', path: (w) => `/v1/products/${w.product}`, expect: all(200) },
  {
    name: 'create a product',
    method: 'POST',
    path: () => '/v1/products',
    body: () => ({ name: 'Lamp', category: 'lighting', price: { amount: 1000, currency: 'EUR' }, stock: 1 }),
    expect: guarded(403, 403, 201),
  },
  {
    name: 'reprice a product',
    method: 'PATCH',
    path: (w) => `/v1/products/${w.spareProduct}`,
    body: () => ({ price: { amount: 999, currency: 'EUR' } }),
    expect: guarded(403, 403, 200),
  },
  {
    name: 'delete a product',
    method: 'DELETE',
    path: (w) => `/v1/products/${w.spareProduct}`,
    expect: guarded(403, 403, 204),
  },

  { name: 'list orders', method: 'GET', path: () => '/v1/orders', expect: guarded(200, 200) },
  { name: 'get an order', method: 'GET', path: (w) => `/v1/orders/${w.pendingOrder}`, expect: guarded(404, 200) },
  {
    name: 'place an order naming the owner',
    method: 'POST',
    path: () => '/v1/orders',
    body: (w) => ({ customerId: w.owner, items: [{ productId: w.product, quantity: 1 }] }),
    expect: guarded(403, 201),
  },
  {
    name: "list a user's orders",
    method: 'GET',
    path: (w) => `/v1/users/${w.owner}/orders`,
    expect: guarded(404, 200),
  },
  {
    name: 'place an order under the user',
    method: 'POST',
    path: (w) => `/v1/users/${w.owner}/orders`,
    body: (w) => ({ items: [{ productId: w.product, quantity: 1 }] }),
    expect: guarded(404, 201),
  },
  { name: 'pay an order', method: 'POST', path: (w) => `/v1/orders/${w.pendingOrder}/pay`, expect: guarded(404, 200) },
  {
    name: 'cancel an order',
    method: 'POST',
    path: (w) => `/v1/orders/${w.pendingOrder}/cancel`,
    expect: guarded(404, 200),
  },
  {
    name: 'ship an order',
    method: 'POST',
    path: (w) => `/v1/orders/${w.paidOrder}/ship`,
    body: () => ({}),
    expect: guarded(404, 403, 200),
  },
  {
    name: 'deliver an order',
    method: 'POST',
    path: (w) => `/v1/orders/${w.shippedOrder}/deliver`,
    expect: guarded(404, 403, 200),
  },
  {
    name: 'track an order',
    method: 'GET',
    path: (w) => `/v1/orders/${w.shippedOrder}/tracking`,
    expect: guarded(404, 200),
  },

  { name: 'list posts', method: 'GET', path: () => '/v1/posts', expect: guarded(200, 200) },
  { name: 'get a draft', method: 'GET', path: (w) => `/v1/posts/${w.draft}`, expect: guarded(404, 200) },
  { name: 'get a published post', method: 'GET', path: (w) => `/v1/posts/${w.published}`, expect: guarded(200, 200) },
  {
    name: 'write a post as the owner',
    method: 'POST',
    path: () => '/v1/posts',
    body: (w) => ({ authorId: w.owner, title: 'Hello', body: 'Text', tags: [] }),
    expect: guarded(403, 201),
  },
  {
    name: 'edit a published post',
    method: 'PATCH',
    path: (w) => `/v1/posts/${w.published}`,
    body: () => ({ title: 'Edited' }),
    expect: guarded(403, 200),
  },
  {
    name: 'edit a draft',
    method: 'PATCH',
    path: (w) => `/v1/posts/${w.draft}`,
    body: () => ({ title: 'Edited' }),
    expect: guarded(404, 200),
  },
  {
    name: 'delete a published post',
    method: 'DELETE',
    path: (w) => `/v1/posts/${w.published}`,
    expect: guarded(403, 204),
  },
  {
    name: "list a draft's comments",
    method: 'GET',
    path: (w) => `/v1/posts/${w.draft}/comments`,
    expect: guarded(404, 200),
  },
  {
    name: 'comment as the owner',
    method: 'POST',
    path: (w) => `/v1/posts/${w.published}/comments`,
    body: (w) => ({ authorId: w.owner, body: 'Nice' }),
    expect: guarded(403, 201),
  },
  { name: 'get a comment', method: 'GET', path: (w) => `/v1/comments/${w.comment}`, expect: guarded(200, 200) },
  {
    name: 'edit a comment',
    method: 'PATCH',
    path: (w) => `/v1/comments/${w.comment}`,
    body: () => ({ body: 'Edited' }),
    expect: guarded(403, 200),
  },
  { name: 'delete a comment', method: 'DELETE', path: (w) => `/v1/comments/${w.comment}`, expect: guarded(403, 204) },
];

for (const kind of storageKinds()) {
  describe(`authorization on ${kind}`, () => {
    let server: TestServer;
    let api: ReturnType<typeof client>;
    const admin = (method: string, path: string, body?: unknown) =>
      api(method, path, { ...(body === undefined ? {} : { body }), headers: server.admin.headers });

    async function created(response: ApiResponse): Promise<Body> {
      assert.equal(response.status, 201, response.text);
      return response.body;
    }

    /** A customer and a secret key of theirs, made by the admin through the API. */
    async function customer(): Promise<{ id: string; headers: Record<string, string> }> {
      const user = await created(await admin('POST', '/v1/users', userBody()));
      const key = await created(await admin('POST', '/v1/api-keys', { ownerId: user.id, name: 'test' }));
      return { id: user.id, headers: { authorization: `Bearer ${key.secret}` } };
    }

    async function order(owner: string, product: string, steps: string[]): Promise<string> {
      const placed = await created(
        await admin('POST', '/v1/orders', { customerId: owner, items: [{ productId: product, quantity: 1 }] }),
      );
      for (const step of steps) assert.equal((await admin('POST', `/v1/orders/${placed.id}/${step}`)).status, 200);
      return placed.id;
    }

    async function makeWorld(): Promise<World> {
      const [owner, other] = [await customer(), await customer()];
      const newProduct = async () =>
        created(
          await admin('POST', '/v1/products', {
            name: 'Desk',
            category: 'furniture',
            price: { amount: 12000, currency: 'EUR' },
            stock: 100,
          }),
        );
      const product = await newProduct();
      const post = (publishedAt: string | null) =>
        admin('POST', '/v1/posts', { authorId: owner.id, title: 'A post', body: 'Words', tags: [], publishedAt });
      const published = await created(await post(new Date().toISOString()));
      const comment = await created(
        await admin('POST', `/v1/posts/${published.id}/comments`, { authorId: owner.id, body: 'First' }),
      );
      return {
        owner: owner.id,
        other: other.id,
        product: product.id,
        spareProduct: (await newProduct()).id,
        pendingOrder: await order(owner.id, product.id, []),
        paidOrder: await order(owner.id, product.id, ['pay']),
        shippedOrder: await order(owner.id, product.id, ['pay', 'ship']),
        draft: (await created(await post(null))).id,
        published: published.id,
        comment: comment.id,
        headers: { anonymous: {}, other: other.headers, owner: owner.headers, admin: server.admin.headers },
      };
    }

    before(async () => {
      server = await startServer({ storage: kind as StorageKind });
      api = client(server.url);
    });
    after(() => server.close());

    for (const check of checks) {
      test(`${check.method} ${check.name}: ${callers.map((caller) => `${caller} ${check.expect[caller]}`).join(', ')}`, async () => {
        for (const caller of callers) {
          const world = await makeWorld();
          const body = check.body?.(world);
          const response = await api(check.method, check.path(world), {
            ...(body === undefined ? {} : { body }),
            headers: world.headers[caller],
          });
          assert.equal(response.status, check.expect[caller], `${caller}: ${response.text}`);
          const code = { 401: 'AUTHENTICATION_REQUIRED', 403: 'INSUFFICIENT_PERMISSIONS', 404: 'RESOURCE_NOT_FOUND' }[
            response.status
          ];
          if (code) expectEnvelope(response, response.status, code);
        }
      });
    }

    test("a customer's lists hold only what they may see, and a filter for someone else's is empty", async () => {
      const world = await makeWorld();
      const as = (caller: Caller, path: string) => api('GET', path, { headers: world.headers[caller] });
      assert.deepEqual(
        (await as('owner', '/v1/users?limit=100')).body.data.map((user: Body) => user.id),
        [world.owner],
      );
      const orders = (await as('owner', '/v1/orders?limit=100')).body.data;
      assert.equal(orders.length, 3);
      assert.ok(orders.every((placed: Body) => placed.customerId === world.owner));
      assert.deepEqual((await as('other', '/v1/orders')).body.data, []);
      assert.deepEqual((await as('other', `/v1/orders?customerId=${world.owner}`)).body.data, []);
      const offset = await as('other', `/v1/orders?customerId=${world.owner}&page=1&perPage=10`);
      assert.equal(offset.body.pagination.total, 0);

      const postsSeen = async (caller: Caller) =>
        new Set((await as(caller, `/v1/posts?author=${world.owner}&limit=100`)).body.data.map((post: Body) => post.id));
      assert.deepEqual(await postsSeen('other'), new Set([world.published]));
      assert.deepEqual(await postsSeen('owner'), new Set([world.published, world.draft]));
      assert.deepEqual(await postsSeen('admin'), new Set([world.published, world.draft]));
    });

    test('expansion embeds only what the caller may see: another customer is null, like a deleted one', async () => {
      const world = await makeWorld();
      const asOther = await api('GET', `/v1/posts/${world.published}?expand=author`, { headers: world.headers.other });
      assert.equal(asOther.status, 200);
      assert.equal(asOther.body.authorId, world.owner);
      assert.equal(asOther.body.author, null);
      const asOwner = await api('GET', `/v1/posts/${world.published}?expand=author`, { headers: world.headers.owner });
      assert.equal(asOwner.body.author.id, world.owner);
      const comments = await api('GET', `/v1/comments/${world.comment}?expand=author,post`, {
        headers: world.headers.other,
      });
      assert.equal(comments.body.author, null);
      assert.equal(comments.body.post.id, world.published);
    });

    test('401 carries the Bearer challenge; 403 names the missing scope in it', async () => {
      const world = await makeWorld();
      const anonymous = await api('GET', '/v1/orders');
      expectEnvelope(anonymous, 401, 'AUTHENTICATION_REQUIRED');
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer realm="portico"$/);
      // A credential nobody recognises is refused even where anonymous callers are welcome.
      for (const headers of [
        { authorization: 'Bearer rate:anonymous:127.0.0.1' },
        { authorization: 'Bearer opaque-but-unknown' },
        { 'x-api-key': 'garbage' },
      ]) {
        const refused = await api('GET', '/v1/products', { headers });
        expectEnvelope(refused, 401, 'AUTHENTICATION_REQUIRED');
        assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      }

      const readOnly = await created(
        await admin('POST', '/v1/api-keys', { ownerId: world.owner, scopes: ['orders:read'] }),
      );
      const headers = { authorization: `Bearer ${readOnly.secret}` };
      assert.equal((await api('GET', '/v1/orders', { headers })).status, 200);
      const refused = await api('POST', `/v1/orders/${world.pendingOrder}/pay`, { headers });
      expectEnvelope(refused, 403, 'INSUFFICIENT_PERMISSIONS');
      assert.match(refused.headers.get('www-authenticate') ?? '', /error="insufficient_scope", scope="orders:write"/);
      assert.equal((await admin('GET', `/v1/orders/${world.pendingOrder}`)).body.status, 'pending');

      const publishable = await created(
        await admin('POST', '/v1/api-keys', { ownerId: world.owner, type: 'publishable' }),
      );
      const catalog = { authorization: `Bearer ${publishable.secret}` };
      assert.equal((await api('GET', '/v1/products', { headers: catalog })).status, 200);
      expectEnvelope(
        await api('GET', `/v1/users/${world.owner}`, { headers: catalog }),
        403,
        'INSUFFICIENT_PERMISSIONS',
      );
      expectEnvelope(
        await api('POST', '/v1/products', {
          headers: catalog,
          body: { name: 'X', category: 'x', price: { amount: 1, currency: 'EUR' }, stock: 1 },
        }),
        403,
        'INSUFFICIENT_PERMISSIONS',
      );
    });

    test('a refused write changes nothing', async () => {
      const world = await makeWorld();
      const before = (await admin('GET', `/v1/users/${world.owner}`)).body;
      expectEnvelope(
        await api('PATCH', `/v1/users/${world.owner}`, {
          headers: world.headers.owner,
          body: { role: 'admin', name: 'X' },
        }),
        403,
        'INSUFFICIENT_PERMISSIONS',
      );
      expectEnvelope(
        await api('PATCH', `/v1/posts/${world.published}`, {
          headers: world.headers.other,
          body: { title: 'Mine now' },
        }),
        403,
        'INSUFFICIENT_PERMISSIONS',
      );
      assert.deepEqual((await admin('GET', `/v1/users/${world.owner}`)).body, before);
      assert.equal((await admin('GET', `/v1/posts/${world.published}`)).body.title, 'A post');
    });
  });
}
