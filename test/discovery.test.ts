// What a client starts from: the API root and its links, the docs, the error reference, health and readiness.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { errorCodes } from '../src/kernel/errors.ts';
import { client, expectEnvelope, startServer, type TestServer } from './helpers.ts';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(() => server.close());

test('every error code has its entry in docs/errors.md, and every entry names a real code', async () => {
  const markdown = await readFile(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...markdown.matchAll(/^## ([A-Z_]+)$/gm)].map((match) => match[1]);
  assert.deepEqual([...documented].sort(), [...errorCodes].sort());
});

test("an error's documentationUrl opens the errors page at that code's entry", async () => {
  const api = client(server);
  const error = expectEnvelope(await api('GET', '/v1/users/usr_missing'), 404, 'RESOURCE_NOT_FOUND');
  const url = new URL(error.documentationUrl);
  const page = await api('GET', url.pathname);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(page.text, new RegExp(`<h2 id="${url.hash.slice(1)}">`));
});

test('every link of the API root resolves, templated ones expanded with no parameters', async () => {
  const api = client(server);
  const root = await api('GET', '/');
  assert.equal(root.status, 200);
  for (const [rel, link] of Object.entries(root.body._links as Record<string, { href: string; templated?: boolean }>)) {
    const href = link.templated ? link.href.replace(/\{\?[^}]*\}/, '').replace('{id}', 'usr_none') : link.href;
    const response = await api('GET', href);
    const expected = rel.endsWith(':item') ? 404 : 200;
    assert.equal(response.status, expected, `${rel} → ${href}`);
  }
});

test('the root links every collection of v1 with a templated query', async () => {
  const root = (await client(server)('GET', '/')).body;
  assert.equal(root._links.users.templated, true);
  assert.match(root._links.products.href, /\/v1\/products\{\?.*cursor.*\}$/);
  assert.match(root._links['openapi:v1'].href, /\/v1\/openapi\.json$/);
});

test('the interactive docs and the OpenAPI 3.1 document are served', async () => {
  const api = client(server);
  const docs = await api('GET', '/docs/');
  assert.equal(docs.status, 200);
  assert.match(docs.text, /<html/i);
  const openapi = await api('GET', '/v1/openapi.json');
  assert.equal(openapi.body.openapi, '3.1.0');
  assert.ok(openapi.body.paths['/v1/users/{id}'].patch, 'PATCH /v1/users/{id} is documented');
});

test('liveness answers 200', async () => {
  const health = await client(server)('GET', '/healthz');
  assert.deepEqual([health.status, health.body], [200, { status: 'ok' }]);
});

test('readiness answers 200 while the database answers, and 503 in the envelope once it does not', async () => {
  const other = await startServer();
  try {
    // Probes send no credentials.
    const api = client(other.url);
    assert.equal((await api('GET', '/readyz')).status, 200);
    await other.storage.close();
    const error = expectEnvelope(await api('GET', '/readyz'), 503, 'SERVICE_UNAVAILABLE');
    assert.equal(error.details[0].field, 'database');
  } finally {
    await other.app.close();
  }
});

test('a collection page carries an ETag, and answers 304 to If-None-Match until a row changes', async () => {
  const api = client(server);
  const first = await api('GET', '/v1/products?limit=5');
  const etag = first.headers.get('etag');
  assert.match(etag ?? '', /^"[A-Za-z0-9_-]+"$/);
  const again = await api('GET', '/v1/products?limit=5', { headers: { 'if-none-match': etag ?? '' } });
  assert.equal(again.status, 304);
  assert.equal(again.text, '');
  await api('POST', '/v1/products', {
    body: { name: 'Lamp', category: 'lighting', price: { amount: 4500, currency: 'EUR' } },
  });
  const changed = await api('GET', '/v1/products?limit=5', { headers: { 'if-none-match': etag ?? '' } });
  assert.equal(changed.status, 200);
  assert.notEqual(changed.headers.get('etag'), etag);
});

test('the root and the OpenAPI document answer 304 to their own ETag', async () => {
  const api = client(server);
  for (const path of ['/', '/v1/openapi.json', '/docs/errors']) {
    const first = await api('GET', path);
    const etag = first.headers.get('etag') ?? '';
    assert.match(etag, /^"/, `${path} has an ETag`);
    assert.equal((await api('GET', path, { headers: { 'if-none-match': etag } })).status, 304, path);
  }
});

test('public routes are exactly those listed in one place; every other route needs credentials', async () => {
  const open: string[] = [];
  const guarded: string[] = [];
  const probe = await startServer({
    routes: (app) => {
      const routes: { method: 'GET'; url: string; config: { scope?: string } }[] = [
        { method: 'GET', url: '/probe/unlisted', config: { scope: 'public' } },
        { method: 'GET', url: '/probe/undeclared', config: {} },
      ];
      for (const route of routes) {
        try {
          app.route({ ...route, handler: async () => ({}) });
          open.push(route.url);
        } catch (error) {
          guarded.push(`${route.url}: ${(error as Error).message}`);
        }
      }
    },
  });
  try {
    assert.deepEqual(open, [], 'a route can be public only by being listed');
    assert.match(guarded[0] ?? '', /calls itself public, but only routes listed in src\/edge\/public-routes.ts are/);
    assert.match(guarded[1] ?? '', /must declare config.scope/);
    const anonymous = client(probe.url);
    for (const path of ['/', '/healthz', '/v1/openapi.json', '/v1/products', '/.well-known/jwks.json']) {
      assert.equal((await anonymous('GET', path)).status, 200, path);
    }
    for (const path of ['/v1/users', '/v1/orders', '/v1/posts', '/v1/comments', '/v1/api-keys', '/v1/oauth-clients']) {
      expectEnvelope(await anonymous('GET', path), 401, 'AUTHENTICATION_REQUIRED');
    }
  } finally {
    await probe.close();
  }
});
