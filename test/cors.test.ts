// CORS as a matrix: every origin a browser might send (listed, unlisted, look-alikes, `null`) × every method ×
// with and without credentials, for actual requests and for preflights. A grant goes only to a listed origin,
// echoed exactly and never as `*`, with credentials allowed; everything else gets no CORS header at all.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ApiResponse, client, startServer, type TestServer } from './helpers.ts';

const listed = ['https://app.example.test', 'https://admin.example.test:8443'];
const refused = [
  'https://evil.example.net',
  'https://app.example.test.evil.com',
  'https://evilapp.example.test',
  'http://app.example.test',
  'https://app.example.test:444',
  'https://admin.example.test',
  'null',
];
const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const allowedHeaders = ['content-type', 'authorization', 'x-api-key', 'if-match', 'idempotency-key', 'x-csrf-token'];

/** The credential a browser would attach: none, a bearer token, or (with `credentials: 'include'`) a cookie. */
type Credentials = 'none' | 'bearer' | 'cookie';
const credentialKinds: Credentials[] = ['none', 'bearer', 'cookie'];

describe('CORS matrix', () => {
  let server: TestServer;
  let userPath: string;
  before(async () => {
    server = await startServer({ env: { CORS_ORIGINS: listed.join(',') } });
    const created = await client(server)('POST', '/v1/users', {
      body: { email: `cors-${Date.now()}@example.test`, name: 'Cors' },
    });
    userPath = `/v1/users/${created.body.id}`;
  });
  after(() => server.close());

  function headersFor(origin: string, credentials: Credentials): Record<string, string> {
    if (credentials === 'bearer') return { origin, ...server.admin.headers };
    if (credentials === 'cookie') return { origin, cookie: 'portico_session=not-a-session' };
    return { origin, authorization: '' };
  }

  function assertGrant(response: ApiResponse, origin: string, context: string): void {
    assert.equal(response.headers.get('access-control-allow-origin'), origin, context);
    assert.equal(response.headers.get('access-control-allow-credentials'), 'true', context);
    assert.match(response.headers.get('vary') ?? '', /\bOrigin\b/i, context);
  }

  function assertNoGrant(response: ApiResponse, context: string): void {
    for (const name of [
      'access-control-allow-origin',
      'access-control-allow-credentials',
      'access-control-allow-methods',
      'access-control-allow-headers',
      'access-control-expose-headers',
    ]) {
      assert.equal(response.headers.get(name), null, `${context}: ${name}`);
    }
  }

  for (const credentials of credentialKinds) {
    test(`actual requests with ${credentials} credentials: listed origins are granted on every method and answer, others never`, async () => {
      const api = client(server);
      for (const origin of [...listed, ...refused]) {
        for (const method of methods) {
          const path = method === 'POST' ? '/v1/users' : userPath;
          const body = method === 'GET' || method === 'DELETE' ? undefined : {};
          const response = await api(method, `${path}?probe=${encodeURIComponent(origin)}`, {
            headers: headersFor(origin, credentials),
            ...(body === undefined ? {} : { body }),
          });
          // Whatever the answer (a 400 for the probe parameter, a 401 for a bad cookie), the browser may read it
          // only when the origin is listed.
          assert.ok(response.status >= 200 && response.status < 500, `${method} ${origin}: ${response.status}`);
          const context = `${credentials} ${method} from ${origin} → ${response.status}`;
          if (listed.includes(origin)) assertGrant(response, origin, context);
          else assertNoGrant(response, context);
          assert.notEqual(response.headers.get('access-control-allow-origin'), '*', context);
        }
      }
    });
  }

  test('preflights: a listed origin gets the allowed methods and headers, never more; others get nothing', async () => {
    const api = client(server.url);
    for (const origin of [...listed, ...refused]) {
      for (const method of [...methods, 'TRACE', 'CONNECT']) {
        const response = await api('OPTIONS', userPath, {
          headers: {
            origin,
            'access-control-request-method': method,
            'access-control-request-headers': 'content-type,if-match,x-evil-header',
          },
        });
        const context = `preflight ${method} from ${origin}`;
        if (!listed.includes(origin)) {
          assertNoGrant(response, context);
          continue;
        }
        assert.equal(response.status, 204, context);
        assertGrant(response, origin, context);
        const grantedMethods = (response.headers.get('access-control-allow-methods') ?? '').split(/, */);
        assert.deepEqual(grantedMethods, ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], context);
        const grantedHeaders = (response.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/, */);
        for (const name of allowedHeaders) assert.ok(grantedHeaders.includes(name), `${context}: ${name}`);
        assert.ok(!grantedHeaders.includes('x-evil-header'), `${context}: an unlisted header is never granted`);
        assert.equal(response.headers.get('access-control-max-age'), '600', context);
      }
    }
  });

  test('a refused credential still reaches a listed origin as a readable 401, and nothing else leaks', async () => {
    const api = client(server);
    const response = await api('GET', userPath, {
      headers: { origin: listed[0] ?? '', authorization: 'Bearer sk_test_not_a_real_key_000000000000000000000' },
    });
    assert.equal(response.status, 401);
    assertGrant(response, listed[0] ?? '', 'a 401 to a listed origin');
    const exposed = (response.headers.get('access-control-expose-headers') ?? '').split(/, */);
    assert.ok(exposed.includes('X-Request-Id'));
    assert.ok(!exposed.some((name) => /authorization|cookie/i.test(name)), 'no credential header is exposed');
  });
});
