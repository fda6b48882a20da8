import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { client, startServer, type TestServer } from './helpers.ts';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(() => server.close());

test('the API root links to the users collection', async () => {
  const response = await client(server.url)('GET', '/');
  assert.equal(response.status, 200);
  assert.match(response.body._links.users.href, /\/v1\/users\{\?/);
});
