// API versions (issue 6, item 4): v2 renames a user's `name` to `fullName` and makes `location` an object; v1 and
// v2 clients edit the same users and each sees the other's writes; v1 answers say they are deprecated; unversioned
// paths negotiate a version; calls to v1 are counted per credential; each version has its OpenAPI document.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { lintOpenApi } from '../scripts/openapi-lint.ts';
import { runCli } from './cli-runner.ts';
import { type ApiResponse, client, expectEnvelope, startServer, storageKinds, type TestServer } from './helpers.ts';

let sequence = 0;
const email = () => `v${Date.now().toString(36)}${(sequence++).toString(36)}@example.test`;

function assertDeprecated(response: ApiResponse, successorPath: string) {
  assert.match(response.headers.get('deprecation') ?? '', /^@\d+$/, `no Deprecation on ${response.status}`);
  const sunset = response.headers.get('sunset') ?? '';
  assert.ok(!Number.isNaN(Date.parse(sunset)) && sunset.endsWith('GMT'), `Sunset is not an HTTP date: ${sunset}`);
  assert.match(response.headers.get('link') ?? '', new RegExp(`<[^>]*${successorPath}>; rel="successor-version"`));
}

function assertNotDeprecated(response: ApiResponse) {
  assert.equal(response.headers.get('deprecation'), null);
  assert.equal(response.headers.get('sunset'), null);
}

for (const kind of storageKinds()) {
  describe(`versioning on ${kind}`, () => {
    let server: TestServer;
    let api: ReturnType<typeof client>;
    before(async () => {
      server = await startServer({ storage: kind });
      api = client(server);
    });
    after(() => server.close());

    test('a user created through v1 reads back through v2 with fullName and a location object', async () => {
      const created = await api('POST', '/v1/users', {
        body: { email: email(), name: 'Ada Lovelace', location: 'London, UK' },
      });
      assert.equal(created.status, 201);
      const v2 = await api('GET', `/v2/users/${created.body.id}`);
      assert.equal(v2.status, 200);
      assert.equal(v2.body.fullName, 'Ada Lovelace');
      assert.equal('name' in v2.body, false);
      assert.deepEqual(v2.body.location, { city: 'London', country: 'UK' });
      assert.equal(v2.body._links.self.href, `${server.url}/v2/users/${created.body.id}`);
      assertNotDeprecated(v2);
    });

    test('a user created through v2 reads back through v1, and v2 writes with PUT and PATCH show in v1', async () => {
      const created = await api('POST', '/v2/users', {
        body: { email: email(), fullName: 'Grace Hopper', location: { city: 'Washington, D.C.', country: 'USA' } },
      });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.headers.get('location'), `${server.url}/v2/users/${created.body.id}`);
      assert.deepEqual(created.body.location, { city: 'Washington, D.C.', country: 'USA' });
      const id = created.body.id;
      const v1 = await api('GET', `/v1/users/${id}`);
      assert.equal(v1.body.name, 'Grace Hopper');
      assert.equal(v1.body.location, 'Washington, D.C., USA');
      assert.equal('fullName' in v1.body, false);

      // A merge patch of the city alone keeps the country (RFC 7396 on the v2 shape).
      const patched = await api('PATCH', `/v2/users/${id}`, { body: { location: { city: 'Arlington' } } });
      assert.equal(patched.status, 200, patched.text);
      assert.deepEqual(patched.body.location, { city: 'Arlington', country: 'USA' });
      assert.equal((await api('GET', `/v1/users/${id}`)).body.location, 'Arlington, USA');
      const cleared = await api('PATCH', `/v2/users/${id}`, { body: { location: { country: null } } });
      assert.deepEqual(cleared.body.location, { city: 'Arlington', country: null });
      assert.equal((await api('GET', `/v1/users/${id}`)).body.location, 'Arlington');

      const replaced = await api('PUT', `/v2/users/${id}`, {
        body: {
          email: created.body.email,
          fullName: 'Rear Admiral Hopper',
          location: { city: 'New York', country: 'USA' },
        },
      });
      assert.equal(replaced.status, 200, replaced.text);
      const afterPut = await api('GET', `/v1/users/${id}`);
      assert.equal(afterPut.body.name, 'Rear Admiral Hopper');
      assert.equal(afterPut.body.location, 'New York, USA');

      // And back: v1 writes read through v2.
      await api('PATCH', `/v1/users/${id}`, { body: { name: 'Grace', location: 'Paris, France' } });
      const v2 = await api('GET', `/v2/users/${id}`);
      assert.equal(v2.body.fullName, 'Grace');
      assert.deepEqual(v2.body.location, { city: 'Paris', country: 'France' });
      await api('PUT', `/v1/users/${id}`, { body: { email: created.body.email, name: 'G' } });
      const afterV1Put = await api('GET', `/v2/users/${id}`);
      assert.equal(afterV1Put.body.fullName, 'G');
      assert.equal(afterV1Put.body.location, null);
    });

    test('an ETag read through one version guards a write through the other', async () => {
      const created = await api('POST', '/v2/users', { body: { email: email(), fullName: 'Etag Person' } });
      const read = await api('GET', `/v1/users/${created.body.id}`);
      const stale = await api('PATCH', `/v2/users/${created.body.id}`, {
        body: { fullName: 'Changed' },
        headers: { 'if-match': '"stale"' },
      });
      expectEnvelope(stale, 412, 'PRECONDITION_FAILED');
      const fresh = await api('PATCH', `/v2/users/${created.body.id}`, {
        body: { fullName: 'Changed' },
        headers: { 'if-match': read.headers.get('etag') ?? '' },
      });
      assert.equal(fresh.status, 200);
    });

    test('v2 refuses v1 shapes and bad locations with 400, and nothing changes', async () => {
      const created = await api('POST', '/v2/users', { body: { email: email(), fullName: 'Unchanged' } });
      const id = created.body.id;
      const cases: [unknown, string][] = [
        [{ name: 'Old Name' }, 'name'],
        [{ location: 'London' }, 'location'],
        [{ location: { city: 'London', planet: 'Earth' } }, 'location.planet'],
        [{ location: { country: 'UK' } }, 'location.city'],
        [{ location: { city: 'London', country: 'U,K' } }, 'location.country'],
        [{ location: { city: 'Washington, D.C.' } }, 'location.city'],
        [{ fullName: '' }, 'fullName'],
        [{ location: { city: 'x'.repeat(151), country: 'UK' } }, 'location.city'],
        [{ location: { city: 'London', country: 7 } }, 'location.country'],
      ];
      for (const [body, field] of cases) {
        const response = await api('PATCH', `/v2/users/${id}`, { body });
        const error = expectEnvelope(response, 400, 'VALIDATION_ERROR');
        assert.equal(error.details[0].field, field, JSON.stringify(body));
      }
      const batch = await api('POST', '/v2/users/batch', {
        body: {
          items: [
            { email: email(), fullName: 'Ok' },
            { email: email(), name: 'v1 shape' },
          ],
        },
      });
      assert.equal(expectEnvelope(batch, 400, 'VALIDATION_ERROR').details[0].field, 'items.1.name');
      const after = await api('GET', `/v2/users/${id}`);
      assert.equal(after.body.fullName, 'Unchanged');
      assert.equal(after.body.location, null);
      assert.equal(after.body.updatedAt, created.body.updatedAt);
    });

    test('sorting and sparse fieldsets name the field as each version calls it', async () => {
      const prefix = `sort${Date.now().toString(36)}`;
      for (const name of ['Charlie', 'Alice', 'Bob']) {
        await api('POST', '/v1/users', { body: { email: `${prefix}${name}@example.test`, name } });
      }
      const v1 = await api('GET', '/v1/users?sort=name&fields=id,name&limit=100');
      const v2 = await api('GET', '/v2/users?sort=fullName&fields=id,fullName&limit=100');
      assert.equal(v1.status, 200, v1.text);
      assert.equal(v2.status, 200, v2.text);
      assert.deepEqual(
        v2.body.data.map((user: { fullName: string }) => user.fullName),
        v1.body.data.map((user: { name: string }) => user.name),
      );
      for (const user of v2.body.data) assert.deepEqual(Object.keys(user).sort(), ['_links', 'fullName', 'id']);
      assert.match(v2.body._links.self.href, /\/v2\/users\?sort=fullName/);
      expectEnvelope(await api('GET', '/v2/users?sort=name'), 400, 'VALIDATION_ERROR');
      expectEnvelope(await api('GET', '/v2/users?fields=name'), 400, 'VALIDATION_ERROR');
      expectEnvelope(await api('GET', '/v1/users?sort=fullName'), 400, 'VALIDATION_ERROR');
    });

    test('pagination links of a v2 page point at v2 and follow to the next page', async () => {
      const page = await api('GET', '/v2/users?limit=1');
      assert.equal(page.status, 200);
      assert.match(page.headers.get('link') ?? '', /\/v2\/users\?limit=1&cursor=/);
      const next = await api('GET', page.body._links.next.href);
      assert.equal(next.status, 200);
      assert.equal(next.body.data.length, 1);
    });

    test('an order expanded under v2 embeds the customer as v2 shows users', async () => {
      const customer = await api('POST', '/v1/users', {
        body: { email: email(), name: 'Buyer', location: 'Berlin, Germany' },
      });
      const product = await api('POST', '/v1/products', {
        body: {
          name: 'Thing',
          category: 'kitchen',
          price: { amount: 500, currency: 'EUR' },
          stock: 10,
          status: 'active',
        },
      });
      assert.equal(product.status, 201, product.text);
      const order = await api('POST', '/v1/orders', {
        body: { customerId: customer.body.id, items: [{ productId: product.body.id, quantity: 1 }] },
      });
      assert.equal(order.status, 201, order.text);
      const v2 = await api('GET', `/v2/orders/${order.body.id}?expand=customer`);
      assert.equal(v2.status, 200, v2.text);
      assert.equal(v2.body.customer.fullName, 'Buyer');
      assert.deepEqual(v2.body.customer.location, { city: 'Berlin', country: 'Germany' });
      assert.equal(v2.body._links.self.href, `${server.url}/v2/orders/${order.body.id}`);
      const v1 = await api('GET', `/v1/orders/${order.body.id}?expand=customer`);
      assert.equal(v1.body.customer.name, 'Buyer');
      assert.equal(v1.body.customer.location, 'Berlin, Germany');
      // Everything but the embedded user and the links is the same in both versions.
      const { _links: _l1, customer: _c1, ...v1Rest } = v1.body;
      const { _links: _l2, customer: _c2, ...v2Rest } = v2.body;
      assert.deepEqual(v2Rest, v1Rest);
    });

    test('every v1 answer carries Deprecation, Sunset and the successor link, errors and 304 included', async () => {
      const created = await api('POST', '/v1/users', { body: { email: email(), name: 'Dep' } });
      assertDeprecated(created, '/v2/users');
      const read = await api('GET', `/v1/users/${created.body.id}`);
      assertDeprecated(read, `/v2/users/${created.body.id}`);
      const notModified = await api('GET', `/v1/users/${created.body.id}`, {
        headers: { 'if-none-match': read.headers.get('etag') ?? '' },
      });
      assert.equal(notModified.status, 304);
      assertDeprecated(notModified, `/v2/users/${created.body.id}`);
      assertDeprecated(
        await api('GET', '/v1/users/usr_00000000000000000000000000'),
        '/v2/users/usr_00000000000000000000000000',
      );
      assertDeprecated(await api('GET', '/v1/no-such-thing'), '/v2/no-such-thing');
      const badUrl = await api('GET', '/v1/users/%');
      expectEnvelope(badUrl, 400, 'MALFORMED_REQUEST');
      assertDeprecated(badUrl, '/v2/users/%');
      assertDeprecated(await client(server.url)('GET', '/v1/users'), '/v2/users');
      assertDeprecated(await api('POST', '/v1/users', { body: { nope: 1 } }), '/v2/users');
      const page = await api('GET', '/v1/users?limit=1');
      const link = page.headers.get('link') ?? '';
      assert.match(link, /rel="next"/, 'pagination links are kept');
      assert.match(link, /rel="successor-version"/);
      const deprecation = Number((read.headers.get('deprecation') ?? '').slice(1));
      assert.ok(
        Date.parse(read.headers.get('sunset') ?? '') > deprecation * 1000,
        'the sunset follows the deprecation',
      );
      assertNotDeprecated(await api('GET', '/v2/users?limit=1'));
    });

    test('an unversioned path is served in the version asked for by Accept, X-API-Version or ?version', async () => {
      const created = await api('POST', '/v1/users', {
        body: { email: email(), name: 'Nego', location: 'Oslo, Norway' },
      });
      const path = `/users/${created.body.id}`;
      for (const ask of [
        { headers: { accept: 'application/vnd.portico.v1+json' } },
        { headers: { 'x-api-version': '1' } },
        { path: '?version=1' },
      ]) {
        const response = await api('GET', `${path}${ask.path ?? ''}`, { headers: ask.headers ?? {} });
        assert.equal(response.status, 200, response.text);
        assert.equal(response.body.name, 'Nego');
        assertDeprecated(response, `/v2/users/${created.body.id}`);
        assert.match(response.headers.get('vary') ?? '', /Accept/);
        assert.match(response.headers.get('vary') ?? '', /X-API-Version/);
      }
      for (const ask of [
        { headers: { accept: 'application/vnd.portico.v2+json' } },
        { headers: { 'x-api-version': '2' } },
        { path: '?version=2' },
        {},
      ]) {
        const response = await api('GET', `${path}${ask.path ?? ''}`, { headers: ask.headers ?? {} });
        assert.equal(response.status, 200, response.text);
        assert.equal(response.body.fullName, 'Nego');
        assert.equal(response.headers.get('api-version'), 'v2');
        assertNotDeprecated(response);
      }
      const write = await api('PATCH', path, { body: { fullName: 'Negotiated' }, headers: { 'x-api-version': '2' } });
      assert.equal(write.status, 200, write.text);
      assert.equal((await api('GET', `/v1/users/${created.body.id}`)).body.name, 'Negotiated');
    });

    test('an unknown version in Accept, X-API-Version or ?version is a 400 naming the supported ones', async () => {
      const before = await api('GET', '/v2/users?limit=100');
      const asks: [string, Record<string, string>][] = [
        ['/users', { accept: 'application/vnd.portico.v9+json' }],
        ['/users', { 'x-api-version': '9' }],
        ['/users', { 'x-api-version': 'latest' }],
        ['/users?version=0', {}],
        ['/v2/users', { 'x-api-version': '3' }],
        ['/users', { 'x-api-version': '1', accept: 'application/vnd.portico.v2+json' }],
      ];
      for (const [path, headers] of asks) {
        const response = await api('POST', path, { headers, body: { email: email(), fullName: 'Never' } });
        const error = expectEnvelope(response, 400, 'VALIDATION_ERROR');
        assert.match(error.message, /v1, v2|v1 and v2|v2 and v1/, `${path} ${JSON.stringify(headers)}`);
      }
      assert.equal((await api('GET', '/v2/users?limit=100')).body.data.length, before.body.data.length);
    });

    test('an API key pinned to v1 gets v1 on unversioned paths; an explicit ask wins', async () => {
      const owner = await api('POST', '/v1/users', {
        body: { email: email(), name: 'Pinned', location: 'Rome, Italy' },
      });
      const key = await api('POST', '/v1/api-keys', { body: { ownerId: owner.body.id, apiVersion: 'v1' } });
      assert.equal(key.status, 201, key.text);
      assert.equal(key.body.apiVersion, 'v1');
      const headers = { authorization: `Bearer ${key.body.secret}` };
      const pinned = await api('GET', `/users/${owner.body.id}`, { headers });
      assert.equal(pinned.status, 200, pinned.text);
      assert.equal(pinned.body.name, 'Pinned');
      assertDeprecated(pinned, `/v2/users/${owner.body.id}`);
      const asked = await api('GET', `/users/${owner.body.id}`, { headers: { ...headers, 'x-api-version': '2' } });
      assert.equal(asked.body.fullName, 'Pinned');
      const issued = await runCli(['keys', 'create', '--email', owner.body.email, '--api-version', 'v1'], {
        DATABASE_URL: server.config.databaseUrl,
      });
      assert.equal(issued.code, 0, issued.stderr);
      const cliKey = issued.stdout.trim().split('\n').at(-1) ?? '';
      const viaCli = await api('GET', `/users/${owner.body.id}`, { headers: { authorization: `Bearer ${cliKey}` } });
      assert.equal(viaCli.body.name, 'Pinned');
      const bad = await api('POST', '/v1/api-keys', { body: { ownerId: owner.body.id, apiVersion: 'v7' } });
      assert.match(expectEnvelope(bad, 400, 'VALIDATION_ERROR').message, /v1, v2/);
      // The path is the fourth place a version can be named, refused like the other three.
      for (const path of ['/v9/users', '/v0/products/prd_x', '/v10/nothing']) {
        const refused = expectEnvelope(await api('GET', path), 400, 'VALIDATION_ERROR');
        assert.match(refused.message, /it has v1, v2/);
        assert.equal(refused.details[0].field, 'path');
      }
    });

    test('calls to v1 are counted per credential and shown to admins only', async () => {
      const owner = await api('POST', '/v1/users', { body: { email: email(), name: 'Counted' } });
      const key = await api('POST', '/v1/api-keys', { body: { ownerId: owner.body.id } });
      const headers = { authorization: `Bearer ${key.body.secret}` };
      for (let i = 0; i < 3; i++) await api('GET', `/v1/users/${owner.body.id}`, { headers });
      await api('GET', `/v2/users/${owner.body.id}`, { headers });
      const usage = await api('GET', '/v1/deprecated-usage');
      assert.equal(usage.status, 200, usage.text);
      const row = usage.body.data.find((entry: { caller: string }) => entry.caller === `api-key:${key.body.id}`);
      assert.ok(row, usage.text);
      assert.equal(row.calls, 3);
      assert.equal(row.version, 'v1');
      assert.equal(row.userId, owner.body.id);
      expectEnvelope(await api('GET', '/v2/deprecated-usage', { headers }), 403, 'INSUFFICIENT_PERMISSIONS');
      expectEnvelope(await client(server.url)('GET', '/v2/deprecated-usage'), 401, 'AUTHENTICATION_REQUIRED');
    });

    test('the root links the collections of both versions, and each version has its OpenAPI document', async () => {
      const root = await api('GET', '/');
      assert.deepEqual(root.body.versions, ['v1', 'v2']);
      assert.match(root.body._links.users.href, /\/v1\/users/);
      assert.match(root.body._links['v2:users'].href, /\/v2\/users/);
      assert.match(root.body._links['v2:orders'].href, /\/v2\/orders/);
      const v1 = await client(server.url)('GET', '/v1/openapi.json');
      const v2 = await client(server.url)('GET', '/v2/openapi.json');
      assert.equal(v1.status, 200);
      assert.equal(v2.status, 200);
      assert.equal(v1.body.paths['/v1/users'].get.deprecated, true);
      assert.equal(v2.body.paths['/v2/users'].get.deprecated, undefined);
      assert.ok(v2.body.components.schemas.User.properties.fullName);
      assert.equal(v2.body.components.schemas.User.properties.name, undefined);
      assert.ok(v2.body.paths['/v2/orders/{id}'], 'every other resource is in v2 too');
      assert.match(v2.body.info.description, /API changelog/);
      assert.match(v1.body.info.description, /`name` is now `fullName`/);
      assert.match(v1.body.paths['/v1/users'].get.responses['200'].headers.Deprecation.schema.pattern, /@/);
      assert.equal(v2.body.paths['/v2/users'].get.responses['200'].headers.Deprecation, undefined);
      const docs = await client(server.url)('GET', '/docs');
      assert.equal(docs.status, 200);
      assert.match(
        docs.text,
        /\/v2\/openapi\.json/,
        '/docs shows the latest version, whose description holds the changelog',
      );
      const findings = await lintOpenApi(v2.text, '/v2/openapi.json');
      assert.deepEqual(
        findings.filter((finding) => finding.severity === 'error'),
        [],
      );
    });
  });
}
