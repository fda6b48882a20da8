// Rate limits by tier over real sockets, on the memory key-value adapter: the per-address stage before
// authentication, the per-caller stage after it, route costs, the response fields and hostile addresses.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setPassword } from '../src/modules/identity/accounts/index.ts';
import { runCli } from './cli-runner.ts';
import { type ApiResponse, client, expectEnvelope, startServer, storageKinds, type TestServer } from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read freely and asserted on.
type Body = any;

const tiers = 'free=10/3,basic=1000/20,pro=100000/50,internal=none/1000';
const policyField = /^"[a-z]+";q=\d+;w=\d+(, "[a-z]+";q=\d+;w=\d+)*$/;
const limitField = /^"[a-z]+";r=\d+;t=\d+(, "[a-z]+";r=\d+;t=\d+)*$/;
let unique = 0;
const userBody = (role = 'customer') => ({ email: `rl${++unique}@example.test`, name: 'Caller', role, location: null });
const product = { name: 'Lamp', category: 'lighting', price: { amount: 2500, currency: 'EUR' }, stock: 5 };

/** Asserts the fields of draft-ietf-httpapi-ratelimit-headers-11 and the X-RateLimit fields are on an answer. */
function assertRateFields(response: ApiResponse, openApiPattern: RegExp): void {
  const policy = response.headers.get('ratelimit-policy') ?? '';
  const limit = response.headers.get('ratelimit') ?? '';
  assert.match(policy, policyField, `RateLimit-Policy on a ${response.status}`);
  assert.match(policy, openApiPattern, `RateLimit-Policy on a ${response.status} against the OpenAPI pattern`);
  assert.match(limit, limitField, `RateLimit on a ${response.status}`);
  const names = (field: string) => [...field.matchAll(/"([a-z]+)"/g)].map((match) => match[1]);
  for (const name of names(limit)) assert.ok(names(policy).includes(name), `${name} is a declared policy`);
  for (const name of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) {
    assert.match(response.headers.get(name) ?? '', /^\d+$/, `${name} on a ${response.status}`);
  }
}

for (const kind of storageKinds()) {
  describe(`rate limits by tier on ${kind}`, () => {
    let server: TestServer;
    let now = Date.parse('2026-12-01T09:00:00Z');
    const admin = () => client(server);
    const api = () => client(server.url);

    before(async () => {
      server = await startServer({
        storage: kind,
        clock: () => new Date(now),
        env: { RATE_LIMIT_ANONYMOUS: '3/1m', TRUST_PROXY: '127.0.0.1', RATE_LIMIT_TIERS: tiers },
      });
    });
    after(() => server.close());

    async function created(response: ApiResponse): Promise<Body> {
      assert.equal(response.status, 201, response.text);
      return response.body;
    }

    /** A new user of `role` and a key of theirs, made by the admin; `tier` is the key's own, if any. */
    async function keyOf(
      role = 'customer',
      tier?: string,
    ): Promise<{ userId: string; headers: Record<string, string> }> {
      const user = await created(await admin()('POST', '/v1/users', { body: userBody(role) }));
      const body = { ownerId: user.id, ...(tier === undefined ? {} : { tier }) };
      const key = await created(await admin()('POST', '/v1/api-keys', { body }));
      return { userId: user.id, headers: { authorization: `Bearer ${key.secret}` } };
    }

    test("a free key gets its tier's burst, then 429 naming the burst limit; a refused call takes nothing", async () => {
      const { headers } = await keyOf();
      const first = await api()('GET', '/v1/products', { headers });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.headers.get('ratelimit-policy'), '"burst";q=3;w=60, "daily";q=10;w=86400');
      assert.equal(first.headers.get('ratelimit'), '"burst";r=2;t=20, "daily";r=9;t=8640');
      assert.equal(first.headers.get('x-ratelimit-limit'), '3');
      assert.equal(first.headers.get('x-ratelimit-remaining'), '2');
      assert.equal(first.headers.get('x-ratelimit-reset'), String(Math.ceil((now + 20_000) / 1000)));
      for (let i = 0; i < 2; i++) assert.equal((await api()('GET', '/v1/products', { headers })).status, 200);

      const refused = await api()('GET', '/v1/products', { headers });
      const error = expectEnvelope(refused, 429, 'RATE_LIMITED');
      assert.equal(error.details[0].code, 'BURST_LIMIT');
      assert.match(error.message, /burst limit of the free tier/);
      assert.equal(refused.headers.get('retry-after'), '20');
      assert.equal(refused.headers.get('x-ratelimit-remaining'), '0');
      assert.match(refused.headers.get('ratelimit') ?? '', /^"burst";r=0;t=\d+$/);

      for (let i = 0; i < 5; i++) assert.equal((await api()('GET', '/v1/products', { headers })).status, 429);
      now += 20_000;
      const again = await api()('GET', '/v1/products', { headers });
      assert.equal(again.status, 200, 'the refused calls took nothing, so one call is whole again after 20 s');
      assert.equal((await api()('GET', '/v1/products', { headers })).status, 429);
    });

    test('a free key has 10 calls a day: the 11th is refused naming the daily quota until a tenth of a day passes', async () => {
      const { headers } = await keyOf();
      for (let i = 0; i < 10; i++) {
        const response = await api()('GET', '/v1/products', { headers });
        assert.equal(response.status, 200, `call ${i + 1}: ${response.text}`);
        now += 60_000;
      }
      const refused = await api()('GET', '/v1/products', { headers });
      const error = expectEnvelope(refused, 429, 'RATE_LIMITED');
      assert.equal(error.details[0].code, 'DAILY_LIMIT');
      assert.equal(refused.headers.get('retry-after'), String(8640 - 600));
      assert.equal(refused.headers.get('x-ratelimit-limit'), '10');
      now += 8640_000;
      assert.equal((await api()('GET', '/v1/products', { headers })).status, 200);
    });

    test("an admin's key is internal: no daily quota, only a generous burst", async () => {
      const { headers } = await keyOf('admin');
      for (let i = 0; i < 15; i++) {
        const response = await api()('GET', '/v1/users', { headers });
        assert.equal(response.status, 200, response.text);
        assert.equal(response.headers.get('ratelimit-policy'), '"burst";q=1000;w=60');
        assert.match(response.headers.get('ratelimit') ?? '', /^"burst";r=\d+;t=\d+$/);
        now += 60_000;
      }
    });

    test('an admin gives a key its own tier; a customer cannot, and no key is made when refused', async () => {
      const basic = await keyOf('customer', 'basic');
      const response = await api()('GET', '/v1/products', { headers: basic.headers });
      assert.equal(response.headers.get('ratelimit-policy'), '"burst";q=20;w=60, "daily";q=1000;w=86400');
      const listed = await admin()('GET', `/v1/api-keys?ownerId=${basic.userId}`);
      assert.equal(listed.body.data[0].tier, 'basic');

      const plain = await keyOf();
      const own = await admin()('GET', `/v1/api-keys?ownerId=${plain.userId}`);
      assert.equal(own.body.data[0].tier, null);
      const asked = await api()('POST', '/v1/api-keys', { headers: plain.headers, body: { tier: 'enterprise' } });
      expectEnvelope(asked, 403, 'INSUFFICIENT_PERMISSIONS');
      const after = await admin()('GET', `/v1/api-keys?ownerId=${plain.userId}`);
      assert.equal(after.body.data.length, 1);
      const unknown = await admin()('POST', '/v1/api-keys', { body: { ownerId: plain.userId, tier: 'platinum' } });
      expectEnvelope(unknown, 400, 'VALIDATION_ERROR');
    });

    test("a user's access tokens share the user's allowance; each of their API keys has its own", async () => {
      now += 60_000;
      const { userId, headers: keyHeaders } = await keyOf();
      const user = await admin()('GET', `/v1/users/${userId}`);
      await setPassword(server.storage.db, userId, 'correct horse battery staple');
      const signIn = async (address: string) => {
        const response = await api()('POST', '/v1/auth/tokens', {
          headers: { 'x-forwarded-for': address },
          body: { email: user.body.email, password: 'correct horse battery staple' },
        });
        assert.equal(response.status, 200, response.text);
        return { authorization: `Bearer ${response.body.accessToken}` };
      };
      const [first, second] = [await signIn('198.51.100.50'), await signIn('198.51.100.51')];
      const statuses = [];
      for (const headers of [first, second, first, second]) {
        statuses.push((await api()('GET', '/v1/products', { headers })).status);
      }
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      assert.equal((await api()('GET', '/v1/products', { headers: keyHeaders })).status, 200);
    });

    test('a batch create costs ten calls; a single read costs one', async () => {
      const remaining = (response: ApiResponse) =>
        Number(/"burst";r=(\d+)/.exec(response.headers.get('ratelimit') ?? '')?.[1]);
      const before = await admin()('GET', '/v1/products');
      const batch = await admin()('POST', '/v1/products/batch', { body: { items: [product] } });
      assert.equal(batch.status, 201, batch.text);
      const afterwards = await admin()('GET', '/v1/products');
      assert.equal(remaining(batch), remaining(before) - 10);
      assert.equal(remaining(afterwards), remaining(batch) - 1);
    });

    test('a flood of bad credentials from one address is refused before authentication; good keys elsewhere are not', async () => {
      now += 60_000;
      const flood = { authorization: `Bearer sk_test_${'A'.repeat(43)}`, 'x-forwarded-for': '198.51.100.20' };
      for (let i = 0; i < 3; i++) {
        const response = await api()('GET', '/v1/products', { headers: flood });
        expectEnvelope(response, 401, 'AUTHENTICATION_REQUIRED');
        assert.equal(response.headers.get('ratelimit'), `"anonymous";r=${2 - i};t=${20 * (i + 1)}`);
      }
      const refused = await api()('GET', '/v1/products', { headers: flood });
      const error = expectEnvelope(refused, 429, 'RATE_LIMITED');
      assert.equal(error.details[0].code, 'ANONYMOUS_LIMIT');
      assert.equal(refused.headers.get('retry-after'), '20');
      assert.equal(refused.headers.get('ratelimit-policy'), '"anonymous";q=3;w=60');

      // A good key from another address is limited by its tier alone, not by the address allowance of 3.
      const basic = await keyOf('customer', 'basic');
      const elsewhere = { ...basic.headers, 'x-forwarded-for': '198.51.100.21' };
      for (let i = 0; i < 6; i++) {
        const response = await api()('GET', '/v1/products', { headers: elsewhere });
        assert.equal(response.status, 200, response.text);
        assert.match(response.headers.get('ratelimit-policy') ?? '', /^"burst";q=20;w=60/);
      }
      // Anonymous callers keep only the per-address limit.
      const anonymous = await api()('GET', '/', { headers: { 'x-forwarded-for': '198.51.100.22' } });
      assert.equal(anonymous.headers.get('ratelimit-policy'), '"anonymous";q=3;w=60');

      now += 20_000;
      expectEnvelope(await api()('GET', '/v1/products', { headers: flood }), 401, 'AUTHENTICATION_REQUIRED');
      expectEnvelope(await api()('GET', '/v1/products', { headers: flood }), 429, 'RATE_LIMITED');
    });

    test('HTTP Basic credentials, which only the OAuth token endpoint takes, count against the address at once', async () => {
      now += 60_000;
      const basic = { authorization: `Basic ${Buffer.from('client:wrong').toString('base64')}` };
      const statuses = [];
      for (let i = 0; i < 4; i++) {
        const response = await api()('POST', '/oauth/token', {
          headers: {
            ...basic,
            'x-forwarded-for': '198.51.100.60',
            'content-type': 'application/x-www-form-urlencoded',
          },
          raw: 'grant_type=client_credentials',
        });
        statuses.push(response.status);
      }
      assert.deepEqual(statuses, [401, 401, 401, 429]);
    });

    test('every answer, 200, 401, 403, 404, 415 and 429, carries the fields in the syntax the OpenAPI document declares', async () => {
      now += 60_000;
      const document = await admin()('GET', '/v1/openapi.json');
      const patterns = new Set<string>();
      JSON.stringify(document.body, (key, value) => {
        if (key === 'RateLimit-Policy' && typeof value?.schema?.pattern === 'string')
          patterns.add(value.schema.pattern);
        return value;
      });
      assert.equal(patterns.size, 1, 'one pattern for RateLimit-Policy');
      const openApiPattern = new RegExp([...patterns][0] ?? '');

      const customer = await keyOf();
      const answers = [
        await api()('GET', '/v1/products', { headers: customer.headers }),
        await api()('GET', '/v1/products/prd_01jd2gq6f1e8x9v3k4m5n6p7q8', { headers: customer.headers }),
        await api()('POST', '/v1/products', { headers: customer.headers, body: product }),
        await api()('GET', '/v1/users', { headers: { 'x-forwarded-for': '198.51.100.30' } }),
        await api()('GET', '/v1/products', { headers: customer.headers }),
        // Refused before authentication runs: counted against the address, and still carrying the fields.
        await api()('POST', '/v1/api-keys', {
          headers: { ...customer.headers, 'content-type': 'text/plain', 'x-forwarded-for': '198.51.100.31' },
          raw: 'a key, please',
        }),
      ];
      assert.deepEqual(
        answers.map((answer) => answer.status),
        [200, 404, 403, 401, 429, 415],
      );
      assert.match(answers[5]?.headers.get('ratelimit') ?? '', /^"anonymous";r=2;/);
      for (const answer of answers) assertRateFields(answer, openApiPattern);
    });

    test('addresses and credentials with odd characters neither crash nor share or dodge an allowance', async () => {
      now += 60_000;
      const from = (address: string) => ({ headers: { 'x-forwarded-for': address } });
      // One IPv6 /64 is one subscriber.
      for (const address of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff:ffff:ffff:fffe']) {
        assert.equal((await api()('GET', '/', from(address))).status, 200);
      }
      expectEnvelope(await api()('GET', '/', from('2001:db8:1:2:abcd::9')), 429, 'RATE_LIMITED');
      assert.equal((await api()('GET', '/', from('2001:db8:1:3::1'))).status, 200);
      // An IPv4-mapped IPv6 address is the IPv4 address.
      for (let i = 0; i < 3; i++) assert.equal((await api()('GET', '/', from('::ffff:203.0.113.50'))).status, 200);
      expectEnvelope(await api()('GET', '/', from('203.0.113.50')), 429, 'RATE_LIMITED');
      // What is not an address counts as the proxy's own: inventing names gains nothing, and collides with no key.
      const names = ['not-an-address', 'rate:burst:key:key_01jd2gq6f1e8x9v3k4m5n6p7q8', '<script>', '[::1]:80'];
      const statuses = [];
      for (const name of names) statuses.push((await api()('GET', '/', from(name))).status);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      // Odd credentials never fail with 5xx, and whether refused (401) or taken as anonymous they count against
      // their address: the third uses it up, and the address is refused before authentication.
      const odd = [
        { authorization: 'Bearer rate:anonymous:127.0.0.1' },
        { 'x-api-key': `sk_test_${'%00'.repeat(15)}` },
        { authorization: 'Bearer ::1' },
      ];
      for (const [index, credential] of odd.entries()) {
        const response = await api()('GET', '/v1/products', {
          headers: { ...credential, 'x-forwarded-for': '198.51.100.40' },
        });
        assert.ok(response.status < 500, response.text);
        assert.match(response.headers.get('ratelimit') ?? '', new RegExp(`^"anonymous";r=${2 - index};`));
      }
      const blocked = await api()('GET', '/v1/products', {
        headers: { authorization: 'Bearer x', 'x-forwarded-for': '198.51.100.40' },
      });
      expectEnvelope(blocked, 429, 'RATE_LIMITED');
    });

    test('200 concurrent calls by one key against a burst of 50 allow exactly 50', async () => {
      const { headers } = await keyOf('customer', 'pro');
      const answers = await Promise.all(
        Array.from({ length: 200 }, () => api()('GET', '/v1/products?limit=1', { headers })),
      );
      const count = (status: number) => answers.filter((answer) => answer.status === status).length;
      assert.equal(count(200), 50);
      assert.equal(count(429), 150);
    });
  });
}

describe('portico keys create --tier', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portico-tier-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('gives the key its tier, which the server then applies; an unknown tier is a usage error', async () => {
    const databaseUrl = `sqlite:${join(dir, 'portico.sqlite')}`;
    const env = { DATABASE_URL: databaseUrl };
    assert.equal((await runCli(['users', 'create', '--email', 'tier@example.com'], env)).code, 0);
    const made = await runCli(['keys', 'create', '--email', 'tier@example.com', '--tier', 'pro'], env);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /tier pro/);
    const secret = made.stdout.trimEnd().split('\n').at(-1) ?? '';
    const unknown = await runCli(['keys', 'create', '--email', 'tier@example.com', '--tier', 'gold'], env);
    assert.equal(unknown.code, 2);

    const server = await startServer({ databaseUrl, env: { RATE_LIMIT_TIERS: '' } });
    try {
      const response = await client(server.url)('GET', '/v1/products', {
        headers: { authorization: `Bearer ${secret}` },
      });
      assert.equal(response.status, 200, response.text);
      assert.equal(response.headers.get('ratelimit-policy'), '"burst";q=300;w=60, "daily";q=10000;w=86400');
    } finally {
      await server.close();
    }
  });
});
