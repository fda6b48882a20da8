// API keys over the real server on every storage: creating (the secret once), masked reads, authenticating by
// Bearer and X-API-Key, rolling with a grace period, revoking, scopes and publishable keys, the last-used time,
// and the hostile cases: revoked, rolled past grace, expired, unknown, malformed, in the query string.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { memoryKeyValue } from '../src/adapters/kv/memory.ts';
import { apiKeysService } from '../src/modules/identity/api-keys/index.ts';
import { type UserRecord, usersService } from '../src/modules/users/index.ts';
import { runCli } from './cli-runner.ts';
import {
  type ApiResponse,
  client,
  expectEnvelope,
  serviceUrl,
  startServer,
  storageKinds,
  type TestServer,
  testDatabase,
} from './helpers.ts';

const whoamiPath = '/test/whoami';

/** A test-only route answering the request's principal, with its scopes as a sorted list. */
const whoamiRoute = (app: FastifyInstance) =>
  app.get(whoamiPath, { config: { scope: 'public' } }, async (request) => {
    const principal = request.principal;
    return principal === null
      ? { principal: null }
      : { principal: { ...principal, scopes: [...principal.scopes].sort() } };
  });

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

/** Every secret any test saw, to look for in the database at the end. */
const issuedSecrets: string[] = [];

function expectBadKey(response: ApiResponse): void {
  const error = expectEnvelope(response, 401, 'AUTHENTICATION_REQUIRED');
  assert.equal(error.message, 'The API key is not valid. Authenticate again.', 'no reason is given');
  assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
}

for (const kind of storageKinds()) {
  describe(`API keys on ${kind}`, () => {
    let server: TestServer;
    let request: ReturnType<typeof client>;
    let nowMs = Date.parse('2026-03-01T09:00:00.000Z');
    const clock = () => new Date(nowMs);
    const advanceSeconds = (seconds: number) => {
      nowMs += seconds * 1000;
    };
    let users: ReturnType<typeof usersService>;
    let keys: ReturnType<typeof apiKeysService>;
    let admin: UserRecord;
    let alice: UserRecord;
    let bob: UserRecord;
    /** Secrets made through the service: the first credential, before any HTTP call can be authenticated. */
    let adminSecret: string;
    let aliceSecret: string;
    let bobSecret: string;

    const issue = async (ownerId: string, input: Parameters<typeof keys.createForOwner>[1] = {}) => {
      const issued = await keys.createForOwner(ownerId, input);
      issuedSecrets.push(issued.secret);
      return issued;
    };
    const whoami = async (headers: Record<string, string>) => request('GET', whoamiPath, { headers });
    const createOverHttp = async (secret: string, body: Record<string, unknown>, headers = {}) => {
      const response = await request('POST', '/v1/api-keys', { headers: { ...bearer(secret), ...headers }, body });
      if (typeof response.body?.secret === 'string') issuedSecrets.push(response.body.secret);
      return response;
    };

    before(async () => {
      server = await startServer({ storage: kind, clock, routes: whoamiRoute, publicRoutes: ['* /test/*'] });
      request = client(server.url);
      users = usersService(server.storage, clock);
      keys = apiKeysService(server.storage, clock, users, memoryKeyValue());
      admin = await users.create({ email: 'admin@example.com', name: 'Admin', role: 'admin' });
      alice = await users.create({ email: 'alice@example.com', name: 'Alice' });
      bob = await users.create({ email: 'bob@example.com', name: 'Bob' });
      adminSecret = (await issue(admin.id, { name: 'admin bootstrap' })).secret;
      aliceSecret = (await issue(alice.id, { name: 'alice bootstrap' })).secret;
      bobSecret = (await issue(bob.id, { name: 'bob bootstrap' })).secret;
    });
    after(() => server.close());

    test('creating a key answers 201 with its Location and the secret, which no read ever shows again', async () => {
      const created = await createOverHttp(aliceSecret, { name: 'Checkout server', mode: 'live' });
      assert.equal(created.status, 201, created.text);
      const { secret } = created.body;
      assert.match(secret, /^sk_live_[0-9A-Za-z]{43}$/);
      assert.equal(created.body.prefix, 'sk_live_');
      assert.equal(created.body.last4, secret.slice(-4));
      assert.equal(created.body.ownerId, alice.id);
      assert.equal(created.body.type, 'secret');
      assert.match(created.body.id, /^key_[0-9a-z]{26}$/);
      assert.equal(created.headers.get('location'), `${server.url}/v1/api-keys/${created.body.id}`);

      const read = await request('GET', `/v1/api-keys/${created.body.id}`, { headers: bearer(aliceSecret) });
      assert.equal(read.status, 200, read.text);
      assert.equal(read.body.secret, null);
      assert.equal(read.body.last4, secret.slice(-4));
      assert.ok(!read.text.includes(secret.slice(8)), 'the secret is not in the read');

      const listed = await request('GET', '/v1/api-keys', { headers: bearer(aliceSecret) });
      assert.equal(listed.status, 200, listed.text);
      assert.ok(listed.body.data.length >= 2);
      assert.ok(listed.body.data.every((key: { secret: unknown }) => key.secret === null));
      assert.ok(
        listed.body.data.every((key: { ownerId: string }) => key.ownerId === alice.id),
        'only her keys',
      );
      assert.ok(!listed.text.includes(secret.slice(8)) && !listed.text.includes(aliceSecret.slice(8)));
      assert.ok(!/hash/i.test(listed.text), 'no hash either');
    });

    test('the list pages like every other collection', async () => {
      for (const name of ['one', 'two', 'three']) await issue(bob.id, { name });
      const first = await request('GET', '/v1/api-keys?limit=2', { headers: bearer(bobSecret) });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.body.data.length, 2);
      assert.equal(first.body.pagination.hasMore, true);
      const second = await request('GET', `/v1/api-keys?limit=2&cursor=${first.body.pagination.nextCursor}`, {
        headers: bearer(bobSecret),
      });
      assert.equal(second.body.data.length, 2);
      const ids = [...first.body.data, ...second.body.data].map((key: { id: string }) => key.id);
      assert.equal(new Set(ids).size, 4, 'four keys, none twice');
      const offset = await request('GET', '/v1/api-keys?page=1&perPage=3', { headers: bearer(bobSecret) });
      assert.equal(offset.body.pagination.total, 4);
    });

    test('a key authenticates by Bearer and by X-API-Key as its owner, with its scopes, id and mode', async () => {
      const live = await issue(alice.id, { mode: 'live', scopes: ['orders:read', 'products:read'] });
      for (const headers of [bearer(live.secret), { 'x-api-key': live.secret }]) {
        const response = await whoami(headers);
        assert.equal(response.status, 200, response.text);
        assert.deepEqual(response.body.principal, {
          method: 'api-key',
          userId: alice.id,
          role: 'customer',
          scopes: ['orders:read', 'products:read'],
          credentialId: live.key.id,
          publishable: false,
          mode: 'live',
        });
      }
      // The mode travels with the principal: a test key is never mistaken for a live one.
      const test = await whoami(bearer(aliceSecret));
      assert.equal(test.body.principal.mode, 'test');
    });

    test("a key holds the owner's role's scopes by default, and asking for more is 403 with nothing created", async () => {
      const own = await whoami(bearer(aliceSecret));
      assert.ok(!own.body.principal.scopes.includes('products:write'), 'a customer cannot write products');
      assert.ok(own.body.principal.scopes.includes('api-keys:write'));
      const adminOwn = await whoami(bearer(adminSecret));
      assert.ok(adminOwn.body.principal.scopes.includes('products:write'));

      const before = await request('GET', '/v1/api-keys?page=1', { headers: bearer(aliceSecret) });
      const tooMuch = await createOverHttp(aliceSecret, { scopes: ['products:write'] });
      const error = expectEnvelope(tooMuch, 403, 'INSUFFICIENT_PERMISSIONS');
      assert.equal(error.details[0].field, 'scopes');
      const forBob = await createOverHttp(aliceSecret, { ownerId: bob.id });
      expectEnvelope(forBob, 403, 'INSUFFICIENT_PERMISSIONS');
      // A narrow key cannot mint a wider one.
      const narrow = await issue(alice.id, { scopes: ['api-keys:write', 'api-keys:read'] });
      const wider = await createOverHttp(narrow.secret, { scopes: ['orders:write'] });
      expectEnvelope(wider, 403, 'INSUFFICIENT_PERMISSIONS');
      const after = await request('GET', '/v1/api-keys?page=1', { headers: bearer(aliceSecret) });
      assert.equal(after.body.pagination.total, before.body.pagination.total + 1, 'only the narrow key was added');
    });

    test('an admin may create a key for another user, bounded by that user’s role', async () => {
      const created = await createOverHttp(adminSecret, { ownerId: bob.id, name: 'for bob' });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.ownerId, bob.id);
      assert.ok(!created.body.scopes.includes('products:write'));
      const asBob = await whoami(bearer(created.body.secret));
      assert.equal(asBob.body.principal.userId, bob.id);
      const listed = await request('GET', `/v1/api-keys?ownerId=${bob.id}`, { headers: bearer(adminSecret) });
      assert.ok(listed.body.data.some((key: { id: string }) => key.id === created.body.id));
      const notYours = await request('GET', `/v1/api-keys?ownerId=${bob.id}`, { headers: bearer(aliceSecret) });
      expectEnvelope(notYours, 403, 'INSUFFICIENT_PERMISSIONS');
    });

    test('a publishable key holds products:read only, cannot be given more, and cannot manage keys', async () => {
      const created = await createOverHttp(aliceSecret, { type: 'publishable' });
      assert.equal(created.status, 201, created.text);
      assert.match(created.body.secret, /^pk_test_[0-9A-Za-z]{43}$/);
      assert.deepEqual(created.body.scopes, ['products:read']);
      const principal = (await whoami(bearer(created.body.secret))).body.principal;
      assert.equal(principal.publishable, true);
      // A write needs a :write scope, which this key does not hold (the route-level check refuses it).
      assert.deepEqual(principal.scopes, ['products:read']);
      const wider = await createOverHttp(aliceSecret, { type: 'publishable', scopes: ['orders:write'] });
      expectEnvelope(wider, 403, 'INSUFFICIENT_PERMISSIONS');

      // A write with the publishable key itself: managing keys is refused, and nothing is created.
      const before = await request('GET', '/v1/api-keys?page=1', { headers: bearer(aliceSecret) });
      const minted = await createOverHttp(created.body.secret, { name: 'from a public key' });
      expectEnvelope(minted, 403, 'INSUFFICIENT_PERMISSIONS');
      const revoke = await request('DELETE', `/v1/api-keys/${created.body.id}`, {
        headers: bearer(created.body.secret),
      });
      expectEnvelope(revoke, 403, 'INSUFFICIENT_PERMISSIONS');
      const after = await request('GET', '/v1/api-keys?page=1', { headers: bearer(aliceSecret) });
      assert.equal(after.body.pagination.total, before.body.pagination.total);
      assert.equal((await whoami(bearer(created.body.secret))).status, 200, 'the key itself still works');
      const write = await request('POST', '/v1/products', {
        headers: bearer(created.body.secret),
        body: { name: 'Forged', category: 'test', price: { amount: 1, currency: 'EUR' } },
      });
      expectEnvelope(write, 403, 'INSUFFICIENT_PERMISSIONS');
      const read = await request('GET', '/v1/products', { headers: bearer(created.body.secret) });
      assert.equal(read.status, 200, read.text);
      assert.ok(
        read.body.data.every((product: { name: string }) => product.name !== 'Forged'),
        'nothing was created',
      );
    });

    test('a rolled key’s old secret works through the grace period and is refused after it', async () => {
      const original = await issue(alice.id, { name: 'to roll' });
      const rolled = await request('POST', `/v1/api-keys/${original.key.id}/roll`, {
        headers: bearer(aliceSecret),
        body: { gracePeriodSeconds: 3600 },
      });
      assert.equal(rolled.status, 200, rolled.text);
      issuedSecrets.push(rolled.body.secret);
      assert.match(rolled.body.secret, /^sk_test_[0-9A-Za-z]{43}$/);
      assert.notEqual(rolled.body.secret, original.secret);
      assert.equal(rolled.body.id, original.key.id);
      assert.equal(rolled.body.last4, rolled.body.secret.slice(-4));

      advanceSeconds(3599);
      assert.equal((await whoami(bearer(original.secret))).status, 200, 'the old secret works during the grace');
      assert.equal((await whoami(bearer(rolled.body.secret))).status, 200);
      advanceSeconds(1);
      expectBadKey(await whoami(bearer(original.secret)));
      expectBadKey(await whoami({ 'x-api-key': original.secret }));
      assert.equal((await whoami(bearer(rolled.body.secret))).status, 200, 'the new secret still works');
    });

    test('a roll without a body keeps the old secret for a day; a grace of 0 ends it at once', async () => {
      const byDefault = await issue(alice.id);
      const rolled = await request('POST', `/v1/api-keys/${byDefault.key.id}/roll`, { headers: bearer(aliceSecret) });
      assert.equal(rolled.status, 200, rolled.text);
      issuedSecrets.push(rolled.body.secret);
      advanceSeconds(24 * 3600 - 1);
      assert.equal((await whoami(bearer(byDefault.secret))).status, 200);
      advanceSeconds(1);
      expectBadKey(await whoami(bearer(byDefault.secret)));

      const atOnce = await issue(alice.id);
      const now = await request('POST', `/v1/api-keys/${atOnce.key.id}/roll`, {
        headers: bearer(aliceSecret),
        body: { gracePeriodSeconds: 0 },
      });
      issuedSecrets.push(now.body.secret);
      expectBadKey(await whoami(bearer(atOnce.secret)));
      assert.equal((await whoami(bearer(now.body.secret))).status, 200);

      const tooLong = await request('POST', `/v1/api-keys/${atOnce.key.id}/roll`, {
        headers: bearer(aliceSecret),
        body: { gracePeriodSeconds: 7 * 24 * 3600 + 1 },
      });
      expectEnvelope(tooLong, 400, 'VALIDATION_ERROR');
      assert.equal((await whoami(bearer(now.body.secret))).status, 200, 'a refused roll changes nothing');
    });

    test('a revoked key is refused at once; revoking again changes nothing; it cannot be rolled', async () => {
      const doomed = await issue(alice.id, { name: 'doomed' });
      assert.equal((await whoami(bearer(doomed.secret))).status, 200);
      const revoked = await request('DELETE', `/v1/api-keys/${doomed.key.id}`, { headers: bearer(aliceSecret) });
      assert.equal(revoked.status, 204, revoked.text);
      expectBadKey(await whoami(bearer(doomed.secret)));
      const read = await request('GET', `/v1/api-keys/${doomed.key.id}`, { headers: bearer(aliceSecret) });
      assert.equal(read.body.revokedAt, clock().toISOString());

      advanceSeconds(10);
      const again = await request('DELETE', `/v1/api-keys/${doomed.key.id}`, { headers: bearer(aliceSecret) });
      assert.equal(again.status, 204);
      const reread = await request('GET', `/v1/api-keys/${doomed.key.id}`, { headers: bearer(aliceSecret) });
      assert.equal(reread.body.revokedAt, read.body.revokedAt, 'the first revocation time stays');

      const roll = await request('POST', `/v1/api-keys/${doomed.key.id}/roll`, { headers: bearer(aliceSecret) });
      expectEnvelope(roll, 409, 'INVALID_STATE_TRANSITION');
      expectBadKey(await whoami(bearer(doomed.secret)));
    });

    test("another customer's key is not found, and stays working", async () => {
      const alices = await issue(alice.id, { name: 'private' });
      for (const [method, path] of [
        ['GET', `/v1/api-keys/${alices.key.id}`],
        ['DELETE', `/v1/api-keys/${alices.key.id}`],
        ['POST', `/v1/api-keys/${alices.key.id}/roll`],
      ] as const) {
        expectEnvelope(await request(method, path, { headers: bearer(bobSecret) }), 404, 'RESOURCE_NOT_FOUND');
      }
      assert.equal((await whoami(bearer(alices.secret))).status, 200);
      const asAdmin = await request('GET', `/v1/api-keys/${alices.key.id}`, { headers: bearer(adminSecret) });
      assert.equal(asAdmin.status, 200, 'an admin sees every key');
    });

    test('an expired key is refused', async () => {
      const expiresAt = new Date(nowMs + 60 * 60 * 1000).toISOString();
      const short = await createOverHttp(aliceSecret, { expiresAt });
      assert.equal(short.status, 201, short.text);
      assert.equal(short.body.expiresAt, expiresAt);
      assert.equal((await whoami(bearer(short.body.secret))).status, 200);
      advanceSeconds(3600);
      expectBadKey(await whoami(bearer(short.body.secret)));
      const past = await createOverHttp(aliceSecret, { expiresAt: new Date(nowMs - 1000).toISOString() });
      expectEnvelope(past, 400, 'VALIDATION_ERROR');
    });

    test('unknown and malformed keys are the same 401, naming no reason', async () => {
      const unknown = `sk_test_${'A'.repeat(43)}`;
      for (const headers of [
        bearer(unknown),
        { 'x-api-key': unknown },
        bearer(`pk_live_${'b'.repeat(43)}`),
        bearer('sk_test_short'),
        bearer(`sk_test_${'A'.repeat(42)}!`),
        bearer(`${aliceSecret}x`),
        { 'x-api-key': 'not a key at all' },
        { 'x-api-key': '' },
      ]) {
        expectBadKey(await whoami(headers));
      }
      // A Bearer token of another form is not an API key: it is left to the other means of authentication.
      const other = await whoami(bearer('eyJhbGciOiJFZERTQSJ9.e30.c2ln'));
      assert.notEqual(other.body?.principal?.method, 'api-key');
    });

    test('a key in the query string is refused with 400 before it is looked up, whether valid or not', async () => {
      const watched = await issue(alice.id, { name: 'watched' });
      for (const name of ['api_key', 'apiKey', 'key', 'access_token']) {
        for (const path of [whoamiPath, '/v1/products', '/v1/no-such-route']) {
          const response = await request('GET', `${path}?${name}=${watched.secret}`);
          const error = expectEnvelope(response, 400, 'VALIDATION_ERROR');
          assert.match(error.message, /query string.*logs/);
          assert.deepEqual(error.details[0], {
            field: name,
            code: 'CREDENTIAL_IN_QUERY',
            message: `${name} holds an API key.`,
          });
        }
      }
      const refusedUnknown = await request('GET', `${whoamiPath}?api_key=pk_live_whatever`);
      expectEnvelope(refusedUnknown, 400, 'VALIDATION_ERROR');
      const read = await request('GET', `/v1/api-keys/${watched.key.id}`, { headers: bearer(aliceSecret) });
      assert.equal(read.body.lastUsedAt, null, 'the key was never looked up');
      const harmless = await request('GET', `${whoamiPath}?key=colour`);
      assert.equal(harmless.status, 200, 'a parameter that holds no key passes');
    });

    test('the last-used time is set by a use and written at most once a minute', async () => {
      const used = await issue(alice.id, { name: 'used' });
      const readKey = async () =>
        (await request('GET', `/v1/api-keys/${used.key.id}`, { headers: bearer(aliceSecret) })).body;
      assert.equal((await readKey()).lastUsedAt, null);
      await whoami(bearer(used.secret));
      const firstUse = clock().toISOString();
      assert.equal((await readKey()).lastUsedAt, firstUse);
      advanceSeconds(30);
      await whoami(bearer(used.secret));
      assert.equal((await readKey()).lastUsedAt, firstUse, 'not written again within the minute');
      advanceSeconds(30);
      await whoami(bearer(used.secret));
      assert.equal((await readKey()).lastUsedAt, clock().toISOString());
    });

    test('a key follows its owner: inactive or deleted refuses it, a lost admin role narrows it', async () => {
      const carol = await users.create({ email: 'carol@example.com', name: 'Carol', role: 'admin' });
      const carols = await issue(carol.id);
      assert.ok((await whoami(bearer(carols.secret))).body.principal.scopes.includes('products:write'));
      // Through the API, as an admin would: the server's own write path is what makes the key follow at once.
      const admin = client(server);
      const change = async (body: Record<string, unknown>) => {
        const headers = { 'content-type': 'application/merge-patch+json' };
        const changed = await admin('PATCH', `/v1/users/${carol.id}`, { body, headers });
        assert.equal(changed.status, 200, changed.text);
      };
      await change({ role: 'customer' });
      const narrowed = (await whoami(bearer(carols.secret))).body.principal;
      assert.equal(narrowed.role, 'customer');
      assert.ok(!narrowed.scopes.includes('products:write'));
      await change({ status: 'inactive' });
      expectBadKey(await whoami(bearer(carols.secret)));
      await change({ status: 'active' });
      assert.equal((await whoami(bearer(carols.secret))).status, 200);
      assert.equal((await admin('DELETE', `/v1/users/${carol.id}`)).status, 204);
      expectBadKey(await whoami(bearer(carols.secret)));
    });

    test('without an authenticated user the key routes answer 401', async () => {
      expectEnvelope(await request('GET', '/v1/api-keys'), 401, 'AUTHENTICATION_REQUIRED');
      const anonymousCreate = await request('POST', '/v1/api-keys', { body: { name: 'x' } });
      expectEnvelope(anonymousCreate, 401, 'AUTHENTICATION_REQUIRED');
      assert.equal(anonymousCreate.body.secret, undefined);
    });

    test('an Idempotency-Key never replays a secret: each create makes its own key', async () => {
      const headers = { 'idempotency-key': 'create-key-once' };
      const first = await createOverHttp(aliceSecret, { name: 'idempotent?' }, headers);
      const second = await createOverHttp(aliceSecret, { name: 'idempotent?' }, headers);
      assert.equal(first.status, 201);
      assert.equal(second.status, 201);
      assert.equal(second.headers.get('idempotent-replayed'), null);
      assert.notEqual(first.body.id, second.body.id);
    });

    test('the database holds no key secret in plain text', async () => {
      const db = server.storage.db.withTables<Record<string, Record<string, unknown>>>();
      const rows = [];
      for (const table of ['api_keys', 'api_key_secrets', 'idempotency_keys', 'outbox']) {
        rows.push(...(await db.selectFrom(table).selectAll().execute()));
      }
      assert.ok(rows.length > 0);
      const dump = JSON.stringify(rows);
      assert.ok(issuedSecrets.length > 10);
      for (const secret of issuedSecrets) {
        // The random part alone: the visible prefix and last four are stored on purpose.
        assert.ok(!dump.includes(secret.slice(8, -4)), 'a secret is stored in plain text');
      }
    });
  });
}

describe('portico keys create', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portico-keys-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const run = (args: string[], databaseUrl: string) => runCli(args, { DATABASE_URL: databaseUrl });

  test('prints the secret alone on the last line, and the server accepts it with the scopes asked for', async () => {
    const databaseUrl = `sqlite:${join(dir, 'portico.sqlite')}`;
    const user = await run(['users', 'create', '--email', 'dev@example.com'], databaseUrl);
    assert.equal(user.code, 0, user.stderr);
    const created = await run(
      ['keys', 'create', '--email', 'dev@example.com', '--mode', 'live', '--scopes', 'orders:read,products:read'],
      databaseUrl,
    );
    assert.equal(created.code, 0, created.stderr);
    const secret = created.stdout.trimEnd().split('\n').at(-1) ?? '';
    assert.match(secret, /^sk_live_[0-9A-Za-z]{43}$/);

    const publishable = await run(['keys', 'create', '--email', 'dev@example.com', '--publishable'], databaseUrl);
    assert.match(publishable.stdout.trimEnd().split('\n').at(-1) ?? '', /^pk_test_[0-9A-Za-z]{43}$/);

    const server = await startServer({ databaseUrl, routes: whoamiRoute, publicRoutes: ['* /test/*'] });
    try {
      const response = await client(server.url)('GET', whoamiPath, { headers: bearer(secret) });
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.body.principal.scopes, ['orders:read', 'products:read']);
      assert.equal(response.body.principal.mode, 'live');
    } finally {
      await server.close();
    }

    const nobody = await run(['keys', 'create', '--email', 'nobody@example.com'], databaseUrl);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /no user has the email/);
    const tooMuch = await run(
      ['keys', 'create', '--email', 'dev@example.com', '--scopes', 'products:write'],
      databaseUrl,
    );
    assert.equal(tooMuch.code, 1);
    const badScope = await run(['keys', 'create', '--email', 'dev@example.com', '--scopes', 'everything'], databaseUrl);
    assert.equal(badScope.code, 2);
  });
});

describe('API key lookups are remembered and forgotten when the key or its owner changes', () => {
  for (const kind of storageKinds()) {
    test(`a key used again costs no query; revoked through the API it is refused at once (${kind})`, async () => {
      const lookups: string[] = [];
      const server = await startServer({
        storage: kind,
        routes: whoamiRoute,
        publicRoutes: ['* /test/*'],
        onQuery: (sql) => {
          if (sql.includes('api_key_secrets')) lookups.push(sql);
        },
      });
      try {
        const admin = client(server);
        const created = await admin('POST', '/v1/api-keys', { body: { name: 'remembered' } });
        assert.equal(created.status, 201, created.text);
        const secret = String(created.body.secret);
        issuedSecrets.push(secret);
        lookups.length = 0;
        for (let i = 0; i < 3; i++) {
          assert.equal((await admin('GET', whoamiPath, { headers: bearer(secret) })).status, 200);
        }
        assert.equal(lookups.length, 1, 'the secret is looked up in the database once');
        assert.equal((await admin('DELETE', `/v1/api-keys/${created.body.id}`)).status, 204);
        expectBadKey(await admin('GET', whoamiPath, { headers: bearer(secret) }));
      } finally {
        await server.close();
      }
    });
  }

  test('two servers sharing one database and Redis: a key revoked or an owner deactivated on one is refused on the other at once', {
    skip: !serviceUrl('TEST_REDIS_URL') && 'TEST_REDIS_URL is not set',
  }, async () => {
    const [kind] = storageKinds().slice(-1);
    const database = await testDatabase(kind ?? 'sqlite');
    const env = { REDIS_URL: serviceUrl('TEST_REDIS_URL') ?? '' };
    const options = { databaseUrl: database.url, env, routes: whoamiRoute, publicRoutes: ['* /test/*'] };
    const one = await startServer(options);
    const other = await startServer(options);
    try {
      const [onOne, onOther] = [client(one), client(other)];
      const owner = await onOne('POST', '/v1/users', { body: { email: `owner-${Date.now()}@example.com`, name: 'O' } });
      assert.equal(owner.status, 201, owner.text);
      const issue = async () => {
        const created = await onOne('POST', '/v1/api-keys', { body: { name: 'shared', ownerId: owner.body.id } });
        assert.equal(created.status, 201, created.text);
        issuedSecrets.push(String(created.body.secret));
        return { id: String(created.body.id), secret: String(created.body.secret) };
      };
      const [revoked, deactivated] = [await issue(), await issue()];
      for (const key of [revoked, deactivated])
        for (const server of [onOne, onOther])
          assert.equal((await server('GET', whoamiPath, { headers: bearer(key.secret) })).status, 200);

      assert.equal((await onOne('DELETE', `/v1/api-keys/${revoked.id}`)).status, 204);
      expectBadKey(await onOther('GET', whoamiPath, { headers: bearer(revoked.secret) }));

      const headers = { 'content-type': 'application/merge-patch+json' };
      const patched = await onOne('PATCH', `/v1/users/${owner.body.id}`, { body: { status: 'inactive' }, headers });
      assert.equal(patched.status, 200, patched.text);
      expectBadKey(await onOther('GET', whoamiPath, { headers: bearer(deactivated.secret) }));
    } finally {
      await one.close();
      await other.close();
      await database.drop();
    }
  });
});
