// Browser sessions over real sockets, with a cookie jar as a browser keeps one: sign-in and its cookie, expiry,
// sign-out, fixation, CSRF, and a deactivated user; on every storage.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { setPassword } from '../src/modules/identity/accounts/index.ts';
import { usersService } from '../src/modules/users/index.ts';
import {
  type ApiResponse,
  client,
  expectEnvelope,
  type RequestOptions,
  startServer,
  storageKinds,
  type TestServer,
} from './helpers.ts';

const password = 'correct horse battery staple';
const minute = 60_000;

interface StoredCookie {
  value: string;
  attributes: Map<string, string>;
}

/** A browser's cookie jar for one site: keeps what Set-Cookie says, drops what it expires, sends the rest back. */
function cookieJar() {
  const cookies = new Map<string, StoredCookie>();
  return {
    cookies,
    receive(response: ApiResponse) {
      for (const line of response.headers.getSetCookie()) {
        const [pair = '', ...attributeParts] = line.split(';').map((part) => part.trim());
        const equals = pair.indexOf('=');
        const name = pair.slice(0, equals);
        const attributes = new Map(
          attributeParts.map((part) => {
            const [key = '', ...rest] = part.split('=');
            return [key.toLowerCase(), rest.join('=')] as const;
          }),
        );
        const maxAge = attributes.get('max-age');
        const expires = attributes.get('expires');
        const expired =
          (maxAge !== undefined && Number(maxAge) <= 0) || (expires !== undefined && Date.parse(expires) <= Date.now());
        if (expired) cookies.delete(name);
        else cookies.set(name, { value: pair.slice(equals + 1), attributes });
      }
    },
    header(): Record<string, string> {
      if (cookies.size === 0) return {};
      return { cookie: [...cookies].map(([name, { value }]) => `${name}=${value}`).join('; ') };
    },
  };
}

/** Test-only routes: who the server thinks is calling, and an unsafe route that counts the calls it let through. */
function testRoutes(calls: { echo: number }) {
  return (app: FastifyInstance) => {
    app.get('/test/whoami', { config: { scope: 'public' } }, (request) =>
      request.principal ? { ...request.principal, scopes: [...request.principal.scopes] } : null,
    );
    app.post('/test/echo', { config: { scope: 'public' } }, (request) => {
      calls.echo++;
      return { echoed: request.body ?? null };
    });
  };
}

for (const storage of storageKinds()) {
  describe(`sessions on ${storage}`, () => {
    let server: TestServer;
    let now = Date.parse('2026-11-25T12:00:00Z');
    const calls = { echo: 0 };
    let userCount = 0;

    before(async () => {
      server = await startServer({
        storage,
        clock: () => new Date(now),
        routes: testRoutes(calls),
        publicRoutes: ['* /test/*'],
      });
    });
    after(() => server.close());

    async function newUser(role: 'admin' | 'customer' = 'customer') {
      userCount++;
      const users = usersService(server.storage, () => new Date(now));
      const user = await users.create({ email: `user${userCount}@example.com`, name: `User ${userCount}`, role });
      await setPassword(server.storage.db, user.id, password);
      return user;
    }

    /** A browser: requests carry its cookies and keep what the server sets. */
    function browser() {
      const jar = cookieJar();
      const api = client(server.url);
      return {
        jar,
        async request(method: string, path: string, options: RequestOptions = {}) {
          const response = await api(method, path, { ...options, headers: { ...jar.header(), ...options.headers } });
          jar.receive(response);
          return response;
        },
        session: () => jar.cookies.get('portico_session')?.value,
      };
    }

    async function signedIn(role: 'admin' | 'customer' = 'customer') {
      const user = await newUser(role);
      const b = browser();
      const login = await b.request('POST', '/v1/auth/session', { body: { email: user.email, password } });
      assert.equal(login.status, 201, login.text);
      return { user, browser: b, csrfToken: login.body.csrfToken as string, login };
    }

    test('sign-in answers 201 with the user and a CSRF token, and sets an HttpOnly, SameSite=Lax cookie for the whole site', async () => {
      const { user, browser: b, login } = await signedIn();
      assert.equal(login.body.user.id, user.id);
      assert.equal(login.body.user.email, user.email);
      assert.match(login.body.csrfToken, /^[A-Za-z0-9_-]{43}$/);
      assert.match(login.body.id, /^ses_/);
      assert.equal(login.headers.get('cache-control'), 'no-store');
      const cookie = b.jar.cookies.get('portico_session');
      assert.ok(cookie, 'the portico_session cookie is set');
      assert.match(cookie.value, /^[A-Za-z0-9_-]{43}$/);
      assert.notEqual(cookie.value, login.body.id);
      assert.ok(cookie.attributes.has('httponly'));
      assert.equal(cookie.attributes.get('samesite'), 'Lax');
      assert.equal(cookie.attributes.get('path'), '/');
      assert.equal(cookie.attributes.has('secure'), false, 'no Secure over plain HTTP');
    });

    test('the cookie authenticates later requests as the user, with the scopes of their role', async () => {
      const { user, browser: b, login } = await signedIn();
      const whoami = await b.request('GET', '/test/whoami');
      assert.equal(whoami.status, 200);
      assert.equal(whoami.body.method, 'session');
      assert.equal(whoami.body.userId, user.id);
      assert.equal(whoami.body.role, 'customer');
      assert.equal(whoami.body.credentialId, login.body.id);
      assert.ok(whoami.body.scopes.includes('orders:write'));
      assert.ok(!whoami.body.scopes.includes('products:write'));
      const anonymous = await client(server.url)('GET', '/test/whoami');
      assert.equal(anonymous.body, null);
    });

    test('GET /v1/auth/session shows the session: its user, expiries and CSRF token', async () => {
      const { user, browser: b, csrfToken, login } = await signedIn();
      const shown = await b.request('GET', '/v1/auth/session');
      assert.equal(shown.status, 200);
      assert.equal(shown.body.id, login.body.id);
      assert.equal(shown.body.user.id, user.id);
      assert.equal(shown.body.csrfToken, csrfToken);
      assert.equal(shown.body.createdAt, new Date(now).toISOString());
      assert.equal(shown.body.idleExpiresAt, new Date(now + 30 * minute).toISOString());
      assert.equal(shown.body.expiresAt, new Date(now + 12 * 60 * minute).toISOString());
      expectEnvelope(await client(server.url)('GET', '/v1/auth/session'), 401, 'AUTHENTICATION_REQUIRED');
    });

    test('a wrong password is refused with 401 and sets no cookie', async () => {
      const user = await newUser();
      const b = browser();
      const refused = await b.request('POST', '/v1/auth/session', { body: { email: user.email, password: 'wrong' } });
      expectEnvelope(refused, 401, 'AUTHENTICATION_REQUIRED');
      assert.equal(b.session(), undefined);
      assert.equal((await b.request('GET', '/test/whoami')).body, null);
    });

    test('a cookie naming no session is refused with 401, never treated as anonymous', async () => {
      const forged = await client(server.url)('GET', '/test/whoami', {
        headers: { cookie: 'portico_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      });
      expectEnvelope(forged, 401, 'AUTHENTICATION_REQUIRED');
      assert.match(forged.headers.get('www-authenticate') ?? '', /^Bearer realm="portico"/);
    });

    test('a session used within 30 minutes lives on; one left unused for 30 minutes is gone', async () => {
      const { browser: b } = await signedIn();
      for (let i = 0; i < 3; i++) {
        now += 29 * minute;
        assert.equal((await b.request('GET', '/test/whoami')).body?.method, 'session', `use ${i + 1}`);
      }
      now += 30 * minute;
      expectEnvelope(await b.request('GET', '/test/whoami'), 401, 'AUTHENTICATION_REQUIRED');
    });

    test('a session in constant use still ends 12 hours after sign-in', async () => {
      const { browser: b } = await signedIn();
      for (let elapsed = 20 * minute; elapsed < 12 * 60 * minute; elapsed += 20 * minute) {
        now += 20 * minute;
        assert.equal((await b.request('GET', '/test/whoami')).status, 200, `after ${elapsed / minute} minutes`);
      }
      now += 20 * minute;
      expectEnvelope(await b.request('GET', '/test/whoami'), 401, 'AUTHENTICATION_REQUIRED');
    });

    test('sign-out answers 204, clears the cookie and ends the session at once: the old cookie is refused', async () => {
      const { browser: b, csrfToken } = await signedIn();
      const id = b.session();
      const out = await b.request('DELETE', '/v1/auth/session', { headers: { 'x-csrf-token': csrfToken } });
      assert.equal(out.status, 204);
      assert.equal(b.session(), undefined, 'the browser dropped the cookie');
      const replayed = await client(server.url)('GET', '/test/whoami', {
        headers: { cookie: `portico_session=${id}` },
      });
      expectEnvelope(replayed, 401, 'AUTHENTICATION_REQUIRED');
      expectEnvelope(await b.request('DELETE', '/v1/auth/session'), 401, 'AUTHENTICATION_REQUIRED');
    });

    test('sign-out without the CSRF token is refused with 403 and the session goes on', async () => {
      const { browser: b } = await signedIn();
      const refused = await b.request('DELETE', '/v1/auth/session');
      const error = expectEnvelope(refused, 403, 'INSUFFICIENT_PERMISSIONS');
      assert.match(error.message, /CSRF/);
      assert.equal((await b.request('GET', '/test/whoami')).body?.method, 'session');
    });

    test('sign-in never reuses a session id sent in: a planted id is replaced, a live one is ended', async () => {
      const user = await newUser();
      const planted = 'planted-by-an-attacker-0000000000000000000';
      const b = browser();
      const first = await b.request('POST', '/v1/auth/session', {
        body: { email: user.email, password },
        headers: { cookie: `portico_session=${planted}` },
      });
      assert.equal(first.status, 201);
      const firstId = b.session();
      assert.ok(firstId);
      assert.notEqual(firstId, planted);
      const again = await b.request('POST', '/v1/auth/session', { body: { email: user.email, password } });
      assert.equal(again.status, 201);
      assert.notEqual(b.session(), firstId);
      assert.notEqual(again.body.csrfToken, first.body.csrfToken);
      const stale = await client(server.url)('GET', '/test/whoami', {
        headers: { cookie: `portico_session=${firstId}` },
      });
      expectEnvelope(stale, 401, 'AUTHENTICATION_REQUIRED');
      assert.equal((await b.request('GET', '/test/whoami')).body?.userId, user.id);
    });

    test('an unsafe request with the cookie but without the CSRF token, or with a wrong one, is refused with 403 and not run', async () => {
      const { browser: b, csrfToken } = await signedIn();
      const before = calls.echo;
      for (const headers of [
        {},
        { 'x-csrf-token': 'wrong' },
        { 'x-csrf-token': `${csrfToken}x` },
        { 'x-csrf-token': '' },
      ]) {
        const refused = await b.request('POST', '/test/echo', { body: { n: 1 }, headers });
        const error = expectEnvelope(refused, 403, 'INSUFFICIENT_PERMISSIONS');
        assert.match(error.message, /CSRF/);
        assert.match(error.message, /X-CSRF-Token/);
      }
      assert.equal(calls.echo, before, 'no refused request reached the handler');
      const accepted = await b.request('POST', '/test/echo', {
        body: { n: 1 },
        headers: { 'x-csrf-token': csrfToken },
      });
      assert.equal(accepted.status, 200);
      assert.deepEqual(accepted.body, { echoed: { n: 1 } });
      assert.equal(calls.echo, before + 1);
    });

    test("another session's CSRF token is refused", async () => {
      const { browser: b } = await signedIn();
      const other = await signedIn();
      const refused = await b.request('POST', '/test/echo', { body: {}, headers: { 'x-csrf-token': other.csrfToken } });
      expectEnvelope(refused, 403, 'INSUFFICIENT_PERMISSIONS');
    });

    test('a request from another site is refused with 403 even with the right CSRF token; this site is accepted', async () => {
      const { browser: b, csrfToken } = await signedIn();
      const before = calls.echo;
      for (const headers of [
        { origin: 'https://evil.example' },
        { origin: 'null' },
        { 'sec-fetch-site': 'cross-site' },
      ]) {
        const refused = await b.request('POST', '/test/echo', {
          body: {},
          headers: { ...headers, 'x-csrf-token': csrfToken },
        });
        const error = expectEnvelope(refused, 403, 'INSUFFICIENT_PERMISSIONS');
        assert.match(error.message, /CSRF/);
      }
      assert.equal(calls.echo, before);
      const sameOrigin = await b.request('POST', '/test/echo', {
        body: {},
        headers: { origin: server.url, 'sec-fetch-site': 'same-origin', 'x-csrf-token': csrfToken },
      });
      assert.equal(sameOrigin.status, 200);
    });

    test('sign-in from another site is refused with 403 and sets no cookie', async () => {
      const user = await newUser();
      const b = browser();
      const refused = await b.request('POST', '/v1/auth/session', {
        body: { email: user.email, password },
        headers: { origin: 'https://evil.example' },
      });
      expectEnvelope(refused, 403, 'INSUFFICIENT_PERMISSIONS');
      assert.equal(b.session(), undefined);
    });

    test('safe requests with the cookie need no CSRF token', async () => {
      const { browser: b } = await signedIn();
      assert.equal((await b.request('GET', '/v1/auth/session')).status, 200);
    });

    test("a deactivated user's session is refused at once, and stays ended when the user is active again", async () => {
      const { user, browser: b } = await signedIn('admin');
      assert.equal((await b.request('GET', '/test/whoami')).body?.role, 'admin');
      const users = usersService(server.storage, () => new Date(now));
      await users.patch(user.id, { status: 'inactive' }, () => true);
      expectEnvelope(await b.request('GET', '/test/whoami'), 401, 'AUTHENTICATION_REQUIRED');
      await users.patch(user.id, { status: 'active' }, () => true);
      expectEnvelope(await b.request('GET', '/test/whoami'), 401, 'AUTHENTICATION_REQUIRED');
    });

    test('a sign-in repeated with the same Idempotency-Key starts a new session, never replays the first', async () => {
      const user = await newUser();
      const first = browser();
      const second = browser();
      const headers = { 'idempotency-key': `sign-in-${user.id}` };
      const body = { email: user.email, password };
      assert.equal((await first.request('POST', '/v1/auth/session', { body, headers })).status, 201);
      const again = await second.request('POST', '/v1/auth/session', { body, headers });
      assert.equal(again.status, 201);
      assert.equal(again.headers.get('idempotent-replayed'), null);
      assert.ok(second.session());
      assert.notEqual(second.session(), first.session());
    });

    test('a request with a Bearer token is not subject to the CSRF check, even when the cookie comes along', async () => {
      const { user, browser: b } = await signedIn();
      const tokens = await client(server.url)('POST', '/v1/auth/tokens', { body: { email: user.email, password } });
      assert.equal(tokens.status, 200, tokens.text);
      const authorization = `Bearer ${tokens.body.accessToken}`;
      const echoed = await b.request('POST', '/test/echo', { body: {}, headers: { authorization } });
      assert.equal(echoed.status, 200);
      const whoami = await b.request('GET', '/test/whoami', { headers: { authorization } });
      assert.equal(whoami.body.method, 'jwt');
      assert.equal(whoami.body.userId, user.id);
    });

    test("a changed role takes effect on the session's next request", async () => {
      const { user, browser: b } = await signedIn('admin');
      const users = usersService(server.storage, () => new Date(now));
      await users.patch(user.id, { role: 'customer' }, () => true);
      const whoami = await b.request('GET', '/test/whoami');
      assert.equal(whoami.body.role, 'customer');
      assert.ok(!whoami.body.scopes.includes('products:write'));
    });
  });
}

describe('sessions behind a TLS-terminating proxy', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ env: { TRUST_PROXY: '127.0.0.1' } });
  });
  after(() => server.close());

  test('the cookie is Secure when the request came over HTTPS', async () => {
    const users = usersService(server.storage, () => new Date());
    const user = await users.create({ email: 'tls@example.com', name: 'TLS' });
    await setPassword(server.storage.db, user.id, password);
    const jar = cookieJar();
    const login = await client(server.url)('POST', '/v1/auth/session', {
      body: { email: user.email, password },
      headers: { 'x-forwarded-proto': 'https' },
    });
    assert.equal(login.status, 201, login.text);
    jar.receive(login);
    assert.ok(jar.cookies.get('portico_session')?.attributes.has('secure'));
  });
});
