// The edge's policies over real sockets: the anonymous rate limit and CORS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { client, expectEnvelope, startServer, type TestServer } from './helpers.ts';

describe('anonymous rate limit', () => {
  let server: TestServer;
  let now = Date.parse('2026-11-25T12:00:00Z');
  before(async () => {
    server = await startServer({
      env: { RATE_LIMIT_ANONYMOUS: '3/1m', TRUST_PROXY: '127.0.0.1' },
      clock: () => new Date(now),
    });
  });
  after(() => server.close());
  // Anonymous: callers with credentials are limited by their tier instead (test/rate-limit.test.ts).
  const api = () => client(server.url);

  test('every response carries the X-RateLimit fields and the IETF RateLimit fields', async () => {
    const response = await api()('GET', '/', { headers: { 'x-forwarded-for': '203.0.113.1' } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-ratelimit-limit'), '3');
    assert.equal(response.headers.get('x-ratelimit-remaining'), '2');
    assert.equal(response.headers.get('x-ratelimit-reset'), String(Math.ceil((now + 20_000) / 1000)));
    assert.equal(response.headers.get('ratelimit-policy'), '"anonymous";q=3;w=60');
    assert.equal(response.headers.get('ratelimit'), '"anonymous";r=2;t=20');
  });

  test('the request over the limit is refused with 429, Retry-After and the envelope, and nothing is created', async () => {
    const from = { 'x-forwarded-for': '203.0.113.2' };
    for (let i = 0; i < 3; i++) assert.equal((await api()('GET', '/', { headers: from })).status, 200);
    const refused = await api()('POST', '/v1/users', {
      headers: from,
      body: { email: 'flood@example.com', name: 'Flood' },
    });
    expectEnvelope(refused, 429, 'RATE_LIMITED');
    assert.equal(refused.headers.get('retry-after'), '20');
    assert.equal(refused.headers.get('x-ratelimit-remaining'), '0');
    const listed = await client(server)('GET', '/v1/users?email=flood@example.com');
    assert.equal(listed.body.data.length, 0);
  });

  test('a refused client is served again once the allowance refills', async () => {
    const from = { 'x-forwarded-for': '203.0.113.4' };
    for (let i = 0; i < 3; i++) await api()('GET', '/', { headers: from });
    assert.equal((await api()('GET', '/', { headers: from })).status, 429);
    now += 20_000;
    assert.equal((await api()('GET', '/', { headers: from })).status, 200);
  });

  test('clients behind the trusted proxy are limited one by one', async () => {
    for (let i = 0; i < 3; i++) await api()('GET', '/', { headers: { 'x-forwarded-for': '203.0.113.5' } });
    assert.equal((await api()('GET', '/', { headers: { 'x-forwarded-for': '203.0.113.5' } })).status, 429);
    assert.equal((await api()('GET', '/', { headers: { 'x-forwarded-for': '203.0.113.6' } })).status, 200);
  });

  test('health and readiness probes are never limited', async () => {
    const from = { 'x-forwarded-for': '203.0.113.7' };
    for (let i = 0; i < 10; i++) {
      assert.equal((await api()('GET', '/healthz', { headers: from })).status, 200);
      assert.equal((await api()('GET', '/readyz', { headers: from })).status, 200);
    }
  });
});

describe('X-Forwarded-For from an untrusted peer', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { RATE_LIMIT_ANONYMOUS: '2/1m' } });
  });
  after(() => server.close());

  test('is ignored, so a client cannot dodge the limit by inventing addresses', async () => {
    const api = client(server.url);
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await api('GET', '/', { headers: { 'x-forwarded-for': `198.51.100.${i}` } })).status);
    assert.deepEqual(statuses, [200, 200, 429]);
  });
});

describe('CORS', () => {
  const listed = 'https://app.example.com';
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { CORS_ORIGINS: `${listed},https://admin.example.com` } });
  });
  after(() => server.close());
  const api = () => client(server);

  test('a listed origin is granted exactly, with credentials, Vary: Origin and the exposed headers', async () => {
    const response = await api()('GET', '/v1/products', { headers: { origin: listed } });
    assert.equal(response.headers.get('access-control-allow-origin'), listed);
    assert.equal(response.headers.get('access-control-allow-credentials'), 'true');
    assert.match(response.headers.get('vary') ?? '', /Origin/i);
    const exposed = (response.headers.get('access-control-expose-headers') ?? '').split(',').map((h) => h.trim());
    for (const name of [
      'X-Request-Id',
      'Link',
      'ETag',
      'Location',
      'X-RateLimit-Remaining',
      'RateLimit',
      'Retry-After',
    ]) {
      assert.ok(exposed.includes(name), `${name} is exposed`);
    }
  });

  test('an unlisted origin gets no CORS grant at all', async () => {
    const response = await api()('GET', '/v1/products', { headers: { origin: 'https://evil.example.net' } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('access-control-allow-origin'), null);
    assert.equal(response.headers.get('access-control-allow-credentials'), null);
  });

  test('a preflight from a listed origin is answered with methods, headers and max age', async () => {
    const response = await api()('OPTIONS', '/v1/products', {
      headers: {
        origin: listed,
        'access-control-request-method': 'PATCH',
        'access-control-request-headers': 'content-type,if-match',
      },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), listed);
    assert.match(response.headers.get('access-control-allow-methods') ?? '', /PATCH/);
    assert.match(response.headers.get('access-control-allow-headers') ?? '', /If-Match/i);
    assert.equal(response.headers.get('access-control-max-age'), '600');
  });

  test('a preflight from an unlisted origin gets no grant', async () => {
    const response = await api()('OPTIONS', '/v1/products', {
      headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'DELETE' },
    });
    assert.equal(response.headers.get('access-control-allow-origin'), null);
    assert.equal(response.headers.get('access-control-allow-methods'), null);
  });

  test('a plain OPTIONS answers 204 with Allow, and 404 where nothing is', async () => {
    const known = await api()('OPTIONS', '/v1/products');
    assert.equal(known.status, 204);
    assert.equal(known.headers.get('allow'), 'GET, HEAD, POST, OPTIONS');
    expectEnvelope(await api()('OPTIONS', '/nowhere'), 404, 'RESOURCE_NOT_FOUND');
  });
});

describe('requests the HTTP parser refuses', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  async function rawExchange(request: string): Promise<{ status: number; headers: string; body: string }> {
    const { connect } = await import('node:net');
    const port = Number(new URL(server.url).port);
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(request));
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk.toString('utf8');
      });
      socket.on('error', reject);
      socket.on('close', () => {
        const [head = '', body = ''] = data.split('\r\n\r\n');
        resolve({ status: Number(head.split(' ')[1]), headers: head, body });
      });
    });
  }

  test('headers over 16 KiB answer 431 in the envelope with a request id', async () => {
    const response = await rawExchange(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(response.status, 431);
    const envelope = JSON.parse(response.body);
    assert.equal(envelope.error.code, 'HEADERS_TOO_LARGE');
    assert.match(response.headers, new RegExp(`X-Request-Id: ${envelope.error.requestId}`));
  });

  test('a URL over 16 KiB answers 431 too, a status every operation of the document declares', async () => {
    const response = await rawExchange(`GET /v1/products/${'x'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(response.status, 431);
    assert.equal(JSON.parse(response.body).error.code, 'HEADERS_TOO_LARGE');
    const document = (await client(server.url)('GET', '/v1/openapi.json')).body;
    for (const [path, item] of Object.entries(
      document.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>,
    ))
      for (const [method, operation] of Object.entries(item))
        for (const status of ['408', '431'])
          assert.ok(operation.responses[status], `${method.toUpperCase()} ${path} does not declare ${status}`);
  });

  test('bytes that are not HTTP answer 400 MALFORMED_REQUEST in the envelope', async () => {
    const response = await rawExchange('HELLO THERE\r\n\r\n');
    assert.equal(response.status, 400);
    assert.equal(JSON.parse(response.body).error.code, 'MALFORMED_REQUEST');
  });

  test('an id of 255 characters is simply not found', async () => {
    expectEnvelope(await client(server)('GET', `/v1/users/usr_${'x'.repeat(251)}`), 404, 'RESOURCE_NOT_FOUND');
  });

  test('a body nested deeper than 32 levels is a 400 wherever it is sent, and a key sent with it stays free', async () => {
    const api = client(server);
    const nested = (levels: number): unknown => {
      let value: unknown = 1;
      for (let level = 0; level < levels; level++) value = { a: [value] };
      return value;
    };
    // Written out rather than stringified: the client's own JSON.stringify would run out of stack first.
    const deep = `${'{"a":['.repeat(50_000)}1${']}'.repeat(50_000)}`;
    for (const path of ['/v1/users', `/v1/orders/ord_${'0'.repeat(26)}/pay`]) {
      const refused = await api('POST', path, {
        raw: deep,
        headers: { 'content-type': 'application/json', 'idempotency-key': `deep-${path}` },
      });
      const error = expectEnvelope(refused, 400, 'MALFORMED_REQUEST');
      assert.match(error.message, /deeper than 32 levels/);
    }
    // Sixteen levels of objects and arrays (32 in all) are read, and refused only for what they say.
    expectEnvelope(await api('POST', '/v1/users', { body: nested(16) }), 400, 'VALIDATION_ERROR');
    const created = await api('POST', '/v1/users', {
      body: { email: `deep-${Date.now()}@example.com`, name: 'Deep' },
      headers: { 'idempotency-key': 'deep-/v1/users' },
    });
    assert.equal(created.status, 201, created.text);
  });
});
