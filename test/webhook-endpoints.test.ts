// Webhook endpoints over the real API, on each storage: create (the secret shown once), read (never again), change,
// delete, rotate the secret, the SSRF rules on the URL, the event patterns, and who may see whose endpoints.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { usersService } from '../src/modules/users/index.ts';
import { webhookEndpointsService } from '../src/modules/webhooks/index.ts';
import {
  type ApiResponse,
  client,
  countRows,
  expectEnvelope,
  startServer,
  storageKinds,
  type TestServer,
} from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are read freely and asserted on.
type Body = any;

const path = '/v1/webhook-endpoints';
// A public address written as an IP literal, so registering it needs no DNS.
const publicUrl = 'https://93.184.215.14/webhooks';

let sequence = 0;
const email = () => `w${Date.now().toString(36)}${(sequence++).toString(36)}@example.test`;

function created(response: ApiResponse): Body {
  assert.equal(response.status, 201, response.text);
  return response.body;
}

function assertSecret(secret: unknown): string {
  assert.equal(typeof secret, 'string');
  const text = secret as string;
  assert.match(text, /^whsec_[A-Za-z0-9+/]+={0,2}$/);
  const bytes = Buffer.from(text.slice('whsec_'.length), 'base64').length;
  assert.ok(bytes >= 24 && bytes <= 64, `${bytes} bytes`);
  return text;
}

for (const kind of storageKinds()) {
  describe(`webhook endpoints on ${kind}`, () => {
    let now = Date.parse('2026-03-01T10:00:00.000Z');
    const clock = () => new Date(now);
    let server: TestServer;
    let admin: ReturnType<typeof client>;

    before(async () => {
      server = await startServer({ storage: kind, clock });
      admin = client(server);
    });
    const post = (body: unknown) => admin('POST', path, { body });
    const postTo = (url: string, body: unknown) => admin('POST', url, { body });
    after(() => server.close());

    async function customer(): Promise<{ id: string; headers: Record<string, string> }> {
      const user = created(await postTo('/v1/users', { email: email(), name: 'Hook Owner', role: 'customer' }));
      const key = created(await postTo('/v1/api-keys', { ownerId: user.id, name: 'hooks' }));
      return { id: user.id, headers: { authorization: `Bearer ${key.secret}` } };
    }

    test('an endpoint is created, read, changed and deleted; its secret is shown in the 201 only', async () => {
      const response = await post({
        url: publicUrl,
        events: ['order.*', 'user.created'],
        description: 'Orders to the ERP',
      });
      const endpoint = created(response);
      assert.match(endpoint.id, /^whe_[0-9a-z]{26}$/);
      const secret = assertSecret(endpoint.secret);
      assert.equal(response.headers.get('location'), `${server.url}${path}/${endpoint.id}`);
      assert.equal(endpoint.ownerId, server.admin.userId);
      assert.deepEqual(endpoint.events, ['order.*', 'user.created']);
      assert.equal(endpoint.enabled, true);
      assert.equal(endpoint.description, 'Orders to the ERP');

      const read = await admin('GET', `${path}/${endpoint.id}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.secret, null);
      assert.equal(read.body.url, publicUrl);
      const listed = await admin('GET', path);
      assert.equal(listed.status, 200);
      const inList = listed.body.data.find((item: Body) => item.id === endpoint.id);
      assert.equal(inList.secret, null);

      const patched = await admin('PATCH', `${path}/${endpoint.id}`, {
        body: { url: 'https://93.184.215.15/hooks', events: ['product.*'], description: null, enabled: false },
        headers: { 'content-type': 'application/merge-patch+json' },
      });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.body.secret, null);
      const after = (await admin('GET', `${path}/${endpoint.id}`)).body;
      assert.equal(after.url, 'https://93.184.215.15/hooks');
      assert.deepEqual(after.events, ['product.*']);
      assert.equal(after.description, null);
      assert.equal(after.enabled, false);

      for (const answer of [read, listed, patched]) assert.ok(!answer.text.includes(secret.slice(6)));

      assert.equal((await admin('DELETE', `${path}/${endpoint.id}`)).status, 204);
      expectEnvelope(await admin('GET', `${path}/${endpoint.id}`), 404, 'RESOURCE_NOT_FOUND');
      expectEnvelope(await admin('DELETE', `${path}/${endpoint.id}`), 404, 'RESOURCE_NOT_FOUND');
    });

    test('the secret is stored sealed: no row holds it in plain text', async () => {
      const endpoint = created(await post({ url: publicUrl, events: ['*'] }));
      const rotated = await admin('POST', `${path}/${endpoint.id}/rotate-secret`);
      assert.equal(rotated.status, 200, rotated.text);
      const secrets = [endpoint.secret as string, rotated.body.secret as string];
      for (const table of ['webhook_endpoints', 'idempotency_keys', 'app_settings']) {
        const rows = await sql`select * from ${sql.table(table)}`.execute(server.storage.db);
        const text = JSON.stringify(rows.rows);
        for (const secret of secrets) {
          assert.ok(!text.includes(secret.slice('whsec_'.length)), `${table} holds a secret in plain text`);
          const raw = Buffer.from(secret.slice('whsec_'.length), 'base64');
          for (const encoding of ['hex', 'base64url'] as const) {
            assert.ok(!text.includes(raw.toString(encoding)), `${table} holds a secret as ${encoding}`);
          }
        }
      }
    });

    test('rotating the secret shows a new one once; the previous one keeps signing for 24 hours', async () => {
      const endpoint = created(await post({ url: publicUrl, events: ['order.paid'] }));
      const service = webhookEndpointsService(server.storage, clock, {
        users: usersService(server.storage, clock),
        targets: { allowPrivate: false },
      });
      assert.deepEqual(await service.signingSecrets(endpoint.id), [endpoint.secret]);

      const rotated = await admin('POST', `${path}/${endpoint.id}/rotate-secret`);
      assert.equal(rotated.status, 200, rotated.text);
      const secret = assertSecret(rotated.body.secret);
      assert.notEqual(secret, endpoint.secret);
      assert.equal(rotated.body.previousSecretUntil, new Date(now + 24 * 3600_000).toISOString());
      assert.equal((await admin('GET', `${path}/${endpoint.id}`)).body.secret, null);
      assert.deepEqual(await service.signingSecrets(endpoint.id), [secret, endpoint.secret]);

      now += 24 * 3600_000 - 1000;
      assert.deepEqual(await service.signingSecrets(endpoint.id), [secret, endpoint.secret]);
      now += 2000;
      assert.deepEqual(await service.signingSecrets(endpoint.id), [secret]);

      expectEnvelope(
        await admin('POST', `${path}/whe_00000000000000000000000000/rotate-secret`),
        404,
        'RESOURCE_NOT_FOUND',
      );
    });

    test('URLs that are not https or reach a private, loopback, link-local or metadata address are refused', async () => {
      const refused = [
        'http://93.184.215.14/webhooks',
        'https://127.0.0.1/webhooks',
        'https://10.0.0.1/webhooks',
        'https://172.16.5.4/webhooks',
        'https://192.168.1.1/webhooks',
        'https://100.64.0.1/webhooks',
        'https://[::1]/webhooks',
        'https://[::ffff:127.0.0.1]/webhooks',
        'https://[fe80::1]/webhooks',
        'https://169.254.169.254/latest/meta-data',
        'https://[fd00:ec2::254]/webhooks',
        'https://0.0.0.0/webhooks',
        // A host name that resolves to loopback.
        'https://localhost/webhooks',
        'https://user:password@93.184.215.14/webhooks',
        'not a url',
        'ftp://93.184.215.14/webhooks',
      ];
      const before = await countRows(server.storage, 'webhook_endpoints');
      for (const url of refused) {
        const error = expectEnvelope(await post({ url, events: ['order.*'] }), 400, 'VALIDATION_ERROR');
        assert.equal(error.details[0]?.field, 'url', url);
      }
      assert.equal(await countRows(server.storage, 'webhook_endpoints'), before);

      const endpoint = created(await post({ url: publicUrl, events: ['order.*'] }));
      const error = expectEnvelope(
        await admin('PATCH', `${path}/${endpoint.id}`, { body: { url: 'https://10.0.0.1/webhooks' } }),
        400,
        'VALIDATION_ERROR',
      );
      assert.equal(error.details[0]?.field, 'url');
      assert.equal((await admin('GET', `${path}/${endpoint.id}`)).body.url, publicUrl);
    });

    test('event patterns must be types or wildcards that name at least one event type', async () => {
      const before = await countRows(server.storage, 'webhook_endpoints');
      for (const events of [
        ['order.unknown'],
        ['nothing.*'],
        ['Order.*'],
        ['order.**'],
        ['order.*.paid'],
        ['order.paid', 'order paid'],
      ]) {
        const error = expectEnvelope(await post({ url: publicUrl, events }), 400, 'VALIDATION_ERROR');
        assert.match(error.details[0]?.field ?? '', /^events/, JSON.stringify(events));
      }
      for (const events of [[], [''], ['order.paid', 'order.paid']]) {
        expectEnvelope(await post({ url: publicUrl, events }), 400, 'VALIDATION_ERROR');
      }
      assert.equal(await countRows(server.storage, 'webhook_endpoints'), before);

      const endpoint = created(await post({ url: publicUrl, events: ['*'] }));
      expectEnvelope(
        await admin('PATCH', `${path}/${endpoint.id}`, { body: { events: ['order.nope'] } }),
        400,
        'VALIDATION_ERROR',
      );
      assert.deepEqual((await admin('GET', `${path}/${endpoint.id}`)).body.events, ['*']);
    });

    test('a customer manages only their own endpoints; another customer gets 404', async () => {
      const [owner, other] = [await customer(), await customer()];
      const asOwner = (method: string, url: string, body?: unknown) =>
        admin(method, url, { headers: owner.headers, ...(body === undefined ? {} : { body }) });
      const asOther = (method: string, url: string, body?: unknown) =>
        admin(method, url, { headers: other.headers, ...(body === undefined ? {} : { body }) });

      const endpoint = created(await asOwner('POST', path, { url: publicUrl, events: ['order.*'] }));
      assert.equal(endpoint.ownerId, owner.id);
      assertSecret(endpoint.secret);
      assert.equal((await asOwner('GET', `${path}/${endpoint.id}`)).status, 200);

      const item = `${path}/${endpoint.id}`;
      expectEnvelope(await asOther('GET', item), 404, 'RESOURCE_NOT_FOUND');
      expectEnvelope(await asOther('PATCH', item, { enabled: false }), 404, 'RESOURCE_NOT_FOUND');
      expectEnvelope(await asOther('POST', `${item}/rotate-secret`), 404, 'RESOURCE_NOT_FOUND');
      expectEnvelope(await asOther('DELETE', item), 404, 'RESOURCE_NOT_FOUND');
      const othersList = await asOther('GET', path);
      assert.equal(othersList.status, 200);
      assert.deepEqual(othersList.body.data, []);
      assert.deepEqual((await asOther('GET', `${path}?ownerId=${owner.id}`)).body.data, []);
      expectEnvelope(
        await asOther('POST', path, { url: publicUrl, events: ['order.*'], ownerId: owner.id }),
        403,
        'INSUFFICIENT_PERMISSIONS',
      );

      const unchanged = (await asOwner('GET', item)).body;
      assert.equal(unchanged.enabled, true);
      assert.equal(unchanged.secret, null);
      assert.deepEqual(
        (await asOwner('GET', path)).body.data.map((e: Body) => e.id),
        [endpoint.id],
      );
      assert.equal((await admin('GET', item)).status, 200);
      assert.equal((await asOwner('DELETE', item)).status, 204);
    });

    test('an anonymous caller gets 401', async () => {
      expectEnvelope(await client(server.url)('GET', path), 401, 'AUTHENTICATION_REQUIRED');
      expectEnvelope(
        await client(server.url)('POST', path, { body: { url: publicUrl, events: ['*'] } }),
        401,
        'AUTHENTICATION_REQUIRED',
      );
    });
  });
}

describe('webhook endpoints with WEBHOOK_ALLOW_PRIVATE_TARGETS=1', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { WEBHOOK_ALLOW_PRIVATE_TARGETS: '1' } });
  });
  after(() => server.close());

  test('loopback and plain http URLs are accepted, for development and tests', async () => {
    const admin = client(server);
    const post = (body: unknown) => admin('POST', path, { body });
    for (const url of ['http://127.0.0.1:9/webhooks', 'http://localhost:9/webhooks', 'https://10.0.0.1/webhooks']) {
      const endpoint = created(await post({ url, events: ['order.*'] }));
      assert.equal(endpoint.url, url);
    }
    expectEnvelope(await post({ url: 'ftp://127.0.0.1/webhooks', events: ['order.*'] }), 400, 'VALIDATION_ERROR');
  });
});
