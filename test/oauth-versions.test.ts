// An OAuth client's pinned API version (issue 6, item 4): "without one, an API key or OAuth client's pinned version
// applies, else the latest". A client registered with `apiVersion` (the admin API or `portico oauth-clients create
// --api-version`) has its tokens served that version on unversioned paths; a version the request names still wins.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { oauthClientsCommand } from '../src/cli/oauth-clients.ts';
import { client, expectEnvelope, startServer, storageKinds, type TestServer } from './helpers.ts';

/** A client-credentials access token, asked for the way any OAuth client does (RFC 6749 §4.4). */
async function clientToken(server: TestServer, clientId: string, clientSecret: string): Promise<string> {
  const response = await fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'users:read' }),
  });
  const body = (await response.json()) as { access_token?: string };
  assert.equal(response.status, 200, JSON.stringify(body));
  return String(body.access_token);
}

for (const kind of storageKinds()) {
  describe(`OAuth clients' pinned API versions on ${kind}`, () => {
    let server: TestServer;
    let api: ReturnType<typeof client>;
    let userId: string;
    before(async () => {
      server = await startServer({ storage: kind });
      api = client(server);
      const created = await api('POST', '/v1/users', {
        body: { email: `pinned-${kind}@example.test`, name: 'Ada Lovelace', location: 'London, UK' },
      });
      assert.equal(created.status, 201, created.text);
      userId = created.body.id;
    });
    after(() => server.close());

    /** Registers a client-credentials client through the admin API, pinned to `apiVersion` when given. */
    async function register(apiVersion?: string) {
      return api('POST', '/v1/oauth-clients', {
        body: {
          name: 'Reporting',
          grantTypes: ['client_credentials'],
          scopes: ['users:read'],
          ...(apiVersion === undefined ? {} : { apiVersion }),
        },
      });
    }

    test('a client pinned to v1 gets v1 shapes on unversioned paths, an unpinned one the latest; a named version wins', async () => {
      const pinned = await register('v1');
      assert.equal(pinned.status, 201, pinned.text);
      assert.equal(pinned.body.apiVersion, 'v1');
      assert.equal((await api('GET', `/v1/oauth-clients/${pinned.body.id}`)).body.apiVersion, 'v1');
      const unpinned = await register();
      assert.equal(unpinned.status, 201, unpinned.text);
      assert.equal(unpinned.body.apiVersion, null);

      const asPinned = {
        authorization: `Bearer ${await clientToken(server, pinned.body.id, pinned.body.clientSecret)}`,
      };
      const v1 = await api('GET', `/users/${userId}`, { headers: asPinned });
      assert.equal(v1.status, 200, v1.text);
      assert.equal(v1.body.name, 'Ada Lovelace');
      assert.equal(v1.body.location, 'London, UK');
      assert.equal('fullName' in v1.body, false);
      assert.match(v1.headers.get('deprecation') ?? '', /^@\d+$/);

      const named = await api('GET', `/users/${userId}`, { headers: { ...asPinned, 'x-api-version': '2' } });
      assert.equal(named.status, 200, named.text);
      assert.equal(named.body.fullName, 'Ada Lovelace');
      assert.equal('name' in named.body, false);
      assert.equal(named.headers.get('deprecation'), null);

      const asUnpinned = {
        authorization: `Bearer ${await clientToken(server, unpinned.body.id, unpinned.body.clientSecret)}`,
      };
      const latest = await api('GET', `/users/${userId}`, { headers: asUnpinned });
      assert.equal(latest.status, 200, latest.text);
      assert.equal(latest.body.fullName, 'Ada Lovelace');
      assert.deepEqual(latest.body.location, { city: 'London', country: 'UK' });
      assert.equal(latest.headers.get('deprecation'), null);
    });

    test('an unknown version is refused on registration, and no client is made', async () => {
      const before = (await api('GET', '/v1/oauth-clients?limit=100')).body.data.length;
      for (const apiVersion of ['v3', '2', 'V1', '']) {
        const refused = await register(apiVersion);
        expectEnvelope(refused, 400, 'VALIDATION_ERROR');
        assert.equal(refused.body.error.details[0].field, 'apiVersion', refused.text);
      }
      assert.equal((await api('GET', '/v1/oauth-clients?limit=100')).body.data.length, before);
    });

    test('`portico oauth-clients create --api-version v1` pins the client; an unknown version is a usage error', async () => {
      const lines: string[] = [];
      const run = (args: string[]) =>
        oauthClientsCommand(['create', ...args], {
          env: { DATABASE_URL: server.config.databaseUrl, PUBLIC_URL: server.config.publicUrl },
          stdout: (line) => lines.push(line),
          stderr: () => {},
        });
      await run(['--name', 'Nightly export', '--scopes', 'users:read', '--api-version', 'v1']);
      assert.match(lines.at(-2) ?? '', /pinned to API v1/);
      const { clientId, clientSecret } = JSON.parse(lines.at(-1) ?? '') as { clientId: string; clientSecret: string };
      assert.equal((await api('GET', `/v1/oauth-clients/${clientId}`)).body.apiVersion, 'v1');
      const bearer = { authorization: `Bearer ${await clientToken(server, clientId, clientSecret)}` };
      assert.equal((await api('GET', `/users/${userId}`, { headers: bearer })).body.name, 'Ada Lovelace');

      await assert.rejects(run(['--name', 'Bad', '--scopes', 'users:read', '--api-version', 'v9']), /API version/);
    });
  });
}
