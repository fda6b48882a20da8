// Access and refresh tokens over real sockets, on every storage: issuing, claims, the JWK Set, refresh rotation and
// replay, revocation, signing-key rotation, and the attack list against a route that needs an access token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import {
  base64url,
  type CryptoKey,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import { sql } from 'kysely';
import { rotateSigningCommand } from '../src/cli/rotate-signing.ts';
import { setPassword } from '../src/modules/identity/accounts/index.ts';
import { scopesOfRole } from '../src/modules/identity/principal.ts';
import { usersService } from '../src/modules/users/index.ts';
import { type ApiResponse, client, expectEnvelope, startServer, storageKinds, type TestServer } from './helpers.ts';

const password = 'correct horse battery staple';
const minute = 60_000;

/** A clock the test moves; it starts at the real time, which the CLI (rotate-signing) goes by. */
function testClock() {
  let nowMs = Date.now();
  return {
    clock: () => new Date(nowMs),
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

/** A test-only route that needs an access token and answers who the server thinks is calling. */
function whoami(app: FastifyInstance) {
  app.get('/test/whoami', { config: { scope: 'public' } }, (request, reply) => {
    const principal = request.principal;
    if (!principal) return reply.code(401).send({ error: { code: 'AUTHENTICATION_REQUIRED' } });
    return { ...principal, scopes: [...principal.scopes].sort() };
  });
}

interface Fixture {
  server: TestServer;
  api: ReturnType<typeof client>;
  time: ReturnType<typeof testClock>;
  userId: string;
  email: string;
}

async function fixture(kind: 'sqlite' | 'postgres', env: Record<string, string> = {}): Promise<Fixture> {
  const time = testClock();
  const server = await startServer({
    storage: kind,
    clock: time.clock,
    routes: whoami,
    publicRoutes: ['* /test/*'],
    env,
  });
  const email = 'ada@example.com';
  const user = await usersService(server.storage, time.clock).create({ email, name: 'Ada', role: 'customer' });
  await setPassword(server.storage.db, user.id, password);
  return { server, api: client(server.url), time, userId: user.id, email };
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

async function signIn(f: Fixture) {
  const response = await f.api('POST', '/v1/auth/tokens', { body: { email: f.email, password } });
  assert.equal(response.status, 200, response.text);
  return response.body as { accessToken: string; refreshToken: string; tokenType: string; expiresIn: number };
}

for (const kind of storageKinds()) {
  describe(`access and refresh tokens (${kind})`, () => {
    let f: Fixture;
    before(async () => {
      f = await fixture(kind);
    });
    after(() => f.server.close());

    test('signing in answers 200 with a Bearer access token, a refresh token and expiresIn, never cached', async () => {
      const response = await f.api('POST', '/v1/auth/tokens', { body: { email: 'ADA@example.com', password } });
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(Object.keys(response.body).sort(), ['accessToken', 'expiresIn', 'refreshToken', 'tokenType']);
      assert.equal(response.body.tokenType, 'Bearer');
      assert.equal(response.body.expiresIn, 900);
      assert.match(response.body.refreshToken, /^[A-Za-z0-9_-]{43,}$/);
      assert.equal(response.headers.get('cache-control'), 'no-store');

      const me = await f.api('GET', '/test/whoami', bearer(response.body.accessToken));
      assert.equal(me.status, 200, me.text);
      assert.equal(me.body.method, 'jwt');
      assert.equal(me.body.userId, f.userId);
      assert.equal(me.body.role, 'customer');
      assert.deepEqual(me.body.scopes, [...scopesOfRole('customer')].sort());
      assert.equal(me.body.credentialId, decodeJwt(response.body.accessToken).jti);
    });

    test('the access token is an EdDSA at+jwt with iss, aud, sub, iat, exp 15 minutes on, jti and the scopes', async () => {
      const { accessToken } = await signIn(f);
      const header = decodeProtectedHeader(accessToken);
      assert.equal(header.alg, 'EdDSA');
      assert.equal(header.typ, 'at+jwt');
      assert.equal(typeof header.kid, 'string');
      const claims = decodeJwt(accessToken);
      assert.equal(claims.iss, f.server.config.publicUrl);
      assert.equal(claims.aud, `${f.server.config.publicUrl}/v1`);
      assert.equal(claims.sub, f.userId);
      assert.equal(claims.iat, Math.floor(f.time.clock().getTime() / 1000));
      assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 15 * 60);
      assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
      assert.equal(claims.scope, scopesOfRole('customer').join(' '));
      assert.notEqual(decodeJwt((await signIn(f)).accessToken).jti, claims.jti, 'every token has its own jti');
    });

    test('the JWK Set at /.well-known/jwks.json verifies the access token, and holds no private key', async () => {
      const { accessToken } = await signIn(f);
      const response = await f.api('GET', '/.well-known/jwks.json');
      assert.equal(response.status, 200, response.text);
      const jwks = response.body as { keys: JWK[] };
      assert.ok(jwks.keys.length >= 1);
      for (const key of jwks.keys) {
        assert.equal(key.d, undefined, 'no private part');
        assert.equal(typeof key.kid, 'string');
      }
      const { payload, protectedHeader } = await jwtVerify(accessToken, createLocalJWKSet(jwks), {
        issuer: f.server.config.publicUrl,
        audience: `${f.server.config.publicUrl}/v1`,
        typ: 'at+jwt',
        currentDate: f.time.clock(),
      });
      assert.equal(payload.sub, f.userId);
      assert.ok(jwks.keys.some((key) => key.kid === protectedHeader.kid));
    });

    test('a refresh answers a new pair; the old refresh token is spent and the new one works', async () => {
      const first = await signIn(f);
      const second = await f.api('POST', '/v1/auth/tokens/refresh', { body: { refreshToken: first.refreshToken } });
      assert.equal(second.status, 200, second.text);
      assert.notEqual(second.body.refreshToken, first.refreshToken);
      assert.notEqual(second.body.accessToken, first.accessToken);
      assert.equal((await f.api('GET', '/test/whoami', bearer(second.body.accessToken))).body.userId, f.userId);
      const third = await f.api('POST', '/v1/auth/tokens/refresh', {
        body: { refreshToken: second.body.refreshToken },
      });
      assert.equal(third.status, 200, third.text);
    });

    test('replaying a rotated refresh token is refused and revokes its family: the newer token stops working too', async () => {
      const first = await signIn(f);
      const other = await signIn(f);
      const second = await f.api('POST', '/v1/auth/tokens/refresh', { body: { refreshToken: first.refreshToken } });
      assert.equal(second.status, 200);

      const replay = await f.api('POST', '/v1/auth/tokens/refresh', { body: { refreshToken: first.refreshToken } });
      expectEnvelope(replay, 401, 'AUTHENTICATION_REQUIRED');
      assert.match(replay.headers.get('www-authenticate') ?? '', /^Bearer /);
      const newer = await f.api('POST', '/v1/auth/tokens/refresh', {
        body: { refreshToken: second.body.refreshToken },
      });
      expectEnvelope(newer, 401, 'AUTHENTICATION_REQUIRED');
      assert.equal(newer.body.error.message, replay.body.error.message, 'replayed and revoked look alike');

      const unrelated = await f.api('POST', '/v1/auth/tokens/refresh', { body: { refreshToken: other.refreshToken } });
      assert.equal(unrelated.status, 200, 'another sign-in of the same user is another family');
    });

    test('an unknown, malformed or expired refresh token is a 401', async () => {
      for (const refreshToken of ['x'.repeat(43), 'not a token', first43()]) {
        const response = await f.api('POST', '/v1/auth/tokens/refresh', { body: { refreshToken } });
        expectEnvelope(response, 401, 'AUTHENTICATION_REQUIRED');
      }
      const { refreshToken } = await signIn(f);
      f.time.advance(31 * 24 * 60 * minute);
      const expired = await f.api('POST', '/v1/auth/tokens/refresh', { body: { refreshToken } });
      expectEnvelope(expired, 401, 'AUTHENTICATION_REQUIRED');
    });

    test('revoking a refresh token answers 200 and it no longer refreshes; unknown tokens also answer 200', async () => {
      const { refreshToken, accessToken } = await signIn(f);
      const revoked = await f.api('POST', '/v1/auth/tokens/revoke', { body: { token: refreshToken } });
      assert.equal(revoked.status, 200, revoked.text);
      assert.equal(revoked.text, '');
      const refresh = await f.api('POST', '/v1/auth/tokens/refresh', { body: { refreshToken } });
      expectEnvelope(refresh, 401, 'AUTHENTICATION_REQUIRED');
      for (const token of ['unknown-token', accessToken, refreshToken]) {
        const again = await f.api('POST', '/v1/auth/tokens/revoke', { body: { token } });
        assert.equal(again.status, 200, again.text);
      }
    });

    test('a deactivated user can no longer refresh, and the family is revoked', async () => {
      const users = usersService(f.server.storage, f.time.clock);
      const user = await users.create({ email: 'grace@example.com', name: 'Grace' });
      await setPassword(f.server.storage.db, user.id, password);
      const signedIn = await f.api('POST', '/v1/auth/tokens', { body: { email: 'grace@example.com', password } });
      assert.equal(signedIn.status, 200);
      await users.patch(user.id, { status: 'inactive' }, () => true);
      const refresh = await f.api('POST', '/v1/auth/tokens/refresh', {
        body: { refreshToken: signedIn.body.refreshToken },
      });
      expectEnvelope(refresh, 401, 'AUTHENTICATION_REQUIRED');
    });

    test('neither a refresh token nor a password is stored in plain text, and Idempotency-Key stores no tokens', async () => {
      const response = await f.api('POST', '/v1/auth/tokens', {
        body: { email: f.email, password },
        headers: { 'idempotency-key': 'sign-in-1' },
      });
      assert.equal(response.status, 200);
      const again = await f.api('POST', '/v1/auth/tokens', {
        body: { email: f.email, password },
        headers: { 'idempotency-key': 'sign-in-1' },
      });
      assert.equal(again.headers.get('idempotent-replayed'), null, 'a sign-in is never replayed');
      assert.notEqual(again.body.refreshToken, response.body.refreshToken);
      const dump = await databaseText(f.server);
      for (const secret of [password, response.body.refreshToken, again.body.refreshToken]) {
        assert.equal(dump.includes(secret), false, 'a secret was found in the database');
      }
      assert.match(dump, /\$argon2id\$v=19\$/);
    });
  });

  describe(`sign-in failures and throttling (${kind})`, () => {
    test('a wrong password, an unknown email, an inactive user and a user without a password all get the same 401', async () => {
      const f = await fixture(kind);
      try {
        const users = usersService(f.server.storage, f.time.clock);
        const inactive = await users.create({ email: 'inactive@example.com', name: 'In', status: 'inactive' });
        await setPassword(f.server.storage.db, inactive.id, password);
        await users.create({ email: 'nopassword@example.com', name: 'No' });
        const attempts = [
          { email: f.email, password: 'wrong password' },
          { email: 'nobody@example.com', password },
          { email: 'inactive@example.com', password },
          { email: 'nopassword@example.com', password },
          { email: 'nopassword@example.com', password: '' },
        ];
        const messages = new Set<string>();
        for (const body of attempts.slice(0, 4)) {
          const response = await f.api('POST', '/v1/auth/tokens', { body });
          const error = expectEnvelope(response, 401, 'AUTHENTICATION_REQUIRED');
          assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
          assert.equal(response.headers.get('cache-control'), 'no-store');
          messages.add(error.message);
          assert.deepEqual(error.details, []);
        }
        assert.equal(messages.size, 1, [...messages].join(' | '));
        expectEnvelope(await f.api('POST', '/v1/auth/tokens', { body: attempts[4] }), 400, 'VALIDATION_ERROR');
      } finally {
        await f.server.close();
      }
    });

    test('after 10 attempts on one account the next is 429 with Retry-After, even with the right password', async () => {
      const f = await fixture(kind);
      try {
        for (let attempt = 1; attempt <= 10; attempt++) {
          const response = await f.api('POST', '/v1/auth/tokens', { body: { email: f.email, password: 'wrong!' } });
          expectEnvelope(response, 401, 'AUTHENTICATION_REQUIRED');
        }
        const limited = await f.api('POST', '/v1/auth/tokens', { body: { email: 'Ada@Example.com', password } });
        expectEnvelope(limited, 429, 'RATE_LIMITED');
        const retryAfter = Number(limited.headers.get('retry-after'));
        assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${retryAfter}`);

        const otherAccount = await f.api('POST', '/v1/auth/tokens', { body: { email: 'other@example.com', password } });
        expectEnvelope(otherAccount, 401, 'AUTHENTICATION_REQUIRED');

        f.time.advance(retryAfter * 1000);
        assert.equal((await f.api('POST', '/v1/auth/tokens', { body: { email: f.email, password } })).status, 200);
      } finally {
        await f.server.close();
      }
    });

    test('after 50 attempts from one address the next is 429 with Retry-After, whatever the account', async () => {
      const f = await fixture(kind);
      try {
        for (let attempt = 1; attempt <= 50; attempt++) {
          const body = { email: `guess${attempt}@example.com`, password: 'guess' };
          expectEnvelope(await f.api('POST', '/v1/auth/tokens', { body }), 401, 'AUTHENTICATION_REQUIRED');
        }
        const limited = await f.api('POST', '/v1/auth/tokens', { body: { email: f.email, password } });
        expectEnvelope(limited, 429, 'RATE_LIMITED');
        assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      } finally {
        await f.server.close();
      }
    });
  });

  describe(`signing keys (${kind})`, () => {
    test('rotate-signing: new tokens carry the new kid, old tokens verify until they expire, then the old key goes', async () => {
      const f = await fixture(kind);
      try {
        const before = await signIn(f);
        const oldKid = decodeProtectedHeader(before.accessToken).kid;
        const lines: string[] = [];
        await rotateSigningCommand([], {
          env: { DATABASE_URL: f.server.config.databaseUrl },
          stdout: (line) => lines.push(line),
          stderr: () => {},
        });
        assert.match(lines.join('\n'), /New EdDSA signing key/);

        // The server reads the keys again within a minute.
        f.time.advance(minute + 1000);
        const afterRotation = await signIn(f);
        const newKid = decodeProtectedHeader(afterRotation.accessToken).kid;
        assert.notEqual(newKid, oldKid);
        assert.equal((await f.api('GET', '/test/whoami', bearer(before.accessToken))).status, 200);
        assert.equal((await f.api('GET', '/test/whoami', bearer(afterRotation.accessToken))).status, 200);
        const kids = (await f.api('GET', '/.well-known/jwks.json')).body.keys.map((key: JWK) => key.kid);
        assert.deepEqual(new Set(kids), new Set([oldKid, newKid]));

        // Every token the old key signed has now expired: it is no longer published.
        f.time.advance(15 * minute);
        const later = (await f.api('GET', '/.well-known/jwks.json')).body.keys.map((key: JWK) => key.kid);
        assert.deepEqual(later, [newKid]);
        expectEnvelope(await f.api('GET', '/test/whoami', bearer(before.accessToken)), 401, 'AUTHENTICATION_REQUIRED');
        assert.equal((await f.api('GET', '/test/whoami', bearer((await signIn(f)).accessToken))).status, 200);
      } finally {
        await f.server.close();
      }
    });

    test('with JWT_ALGORITHM=ES256 tokens are ES256 and verify against the JWK Set', async () => {
      const f = await fixture(kind, { JWT_ALGORITHM: 'ES256' });
      try {
        const { accessToken } = await signIn(f);
        assert.equal(decodeProtectedHeader(accessToken).alg, 'ES256');
        const jwks = (await f.api('GET', '/.well-known/jwks.json')).body;
        await jwtVerify(accessToken, createLocalJWKSet(jwks), { currentDate: f.time.clock() });
        assert.equal((await f.api('GET', '/test/whoami', bearer(accessToken))).status, 200);
      } finally {
        await f.server.close();
      }
    });

    test('with JWT_ALGORITHM=HS256 tokens are HS256, the secret is never published, and they authenticate', async () => {
      const secret = base64url.encode(new Uint8Array(32).map((_, i) => (i * 37 + 11) % 256));
      const f = await fixture(kind, { JWT_ALGORITHM: 'HS256', JWT_HS256_SECRET: secret });
      try {
        const { accessToken } = await signIn(f);
        assert.equal(decodeProtectedHeader(accessToken).alg, 'HS256');
        assert.deepEqual((await f.api('GET', '/.well-known/jwks.json')).body, { keys: [] });
        assert.equal((await f.api('GET', '/test/whoami', bearer(accessToken))).status, 200);
      } finally {
        await f.server.close();
      }
    });
  });

  describe(`forged and broken access tokens are refused alike (${kind})`, () => {
    let f: Fixture;
    let genuine: string;
    let kid: string;
    let claims: JWTPayload;
    let privateKey: CryptoKey;
    let publicJwk: JWK;
    const refusals: ApiResponse[] = [];

    before(async () => {
      f = await fixture(kind);
      genuine = (await signIn(f)).accessToken;
      kid = String(decodeProtectedHeader(genuine).kid);
      claims = decodeJwt(genuine);
      const row = (
        await sql<{
          private_jwk: string;
          public_jwk: string;
        }>`select private_jwk, public_jwk from signing_keys`.execute(f.server.storage.db)
      ).rows[0];
      assert.ok(row);
      privateKey = (await importJWK(JSON.parse(row.private_jwk), 'EdDSA')) as CryptoKey;
      publicJwk = JSON.parse(row.public_jwk);
    });
    after(async () => {
      try {
        // Nothing about the reason leaks: every refusal reads the same. (Only what the server wrote is read: the
        // request id in the body is random and may spell anything.)
        const messages = new Set(refusals.map((response) => response.body.error.message));
        assert.equal(messages.size, 1, [...messages].join(' | '));
        for (const response of refusals) {
          const { message, details } = response.body.error;
          const said = `${message} ${JSON.stringify(details)} ${response.headers.get('www-authenticate')}`;
          assert.doesNotMatch(said, /expired|signature|kid|alg|issuer|audience|typ|claim|size|long/i);
        }
      } finally {
        await f.server.close();
      }
    });

    /** Signs with our own private key, as only the server could, so the claim checks alone must refuse it. */
    const forge = (payload: Record<string, unknown>, header: Record<string, unknown> = {}) =>
      new SignJWT({ ...claims, ...payload })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid, ...header })
        .sign(privateKey);

    const encode = (value: unknown) => base64url.encode(JSON.stringify(value));

    async function expectRefused(token: string) {
      const response = await f.api('GET', '/test/whoami', bearer(token));
      expectEnvelope(response, 401, 'AUTHENTICATION_REQUIRED');
      const challenge = response.headers.get('www-authenticate') ?? '';
      assert.match(challenge, /^Bearer realm="portico", error="invalid_token"/);
      refusals.push(response);
    }

    test('a token signed by our key with our claims is accepted (the forger works)', async () => {
      assert.equal((await f.api('GET', '/test/whoami', bearer(await forge({})))).status, 200);
    });

    test('alg none is refused', async () => {
      await expectRefused(`${encode({ alg: 'none', typ: 'at+jwt', kid })}.${encode(claims)}.`);
      await expectRefused(`${encode({ alg: 'none', typ: 'at+jwt' })}.${encode(claims)}.`);
    });

    test('HS256 keyed with the public key (algorithm confusion) is refused', async () => {
      const secrets = [
        base64url.decode(String(publicJwk.x)),
        new TextEncoder().encode(JSON.stringify(publicJwk)),
        new TextEncoder().encode(String(publicJwk.x)),
      ];
      for (const secret of secrets) {
        const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid }).sign(secret);
        await expectRefused(token);
      }
    });

    test('an expired token is refused', async () => {
      const now = Math.floor(f.time.clock().getTime() / 1000);
      await expectRefused(await forge({ iat: now - 20 * 60, exp: now - 5 * 60 }));
    });

    test('a token not yet valid (nbf or iat in the future) is refused', async () => {
      const now = Math.floor(f.time.clock().getTime() / 1000);
      await expectRefused(await forge({ nbf: now + 5 * 60 }));
      await expectRefused(await forge({ iat: now + 5 * 60, exp: now + 20 * 60 }));
    });

    test('a token living longer than 15 minutes is refused', async () => {
      const now = Math.floor(f.time.clock().getTime() / 1000);
      await expectRefused(await forge({ iat: now - 60 * 60, exp: now + 24 * 60 * 60 }));
    });

    test('a wrong iss, a wrong aud or a wrong typ is refused', async () => {
      await expectRefused(await forge({ iss: 'https://evil.example.com' }));
      await expectRefused(await forge({ aud: 'https://evil.example.com/v1' }));
      await expectRefused(await forge({}, { typ: 'JWT' }));
    });

    test('a tampered payload or a tampered signature is refused', async () => {
      const [header, , signature] = genuine.split('.');
      await expectRefused(`${header}.${encode({ ...claims, role: 'admin', scope: 'products:write' })}.${signature}`);
      const flipped = `${signature?.[0] === 'A' ? 'B' : 'A'}${signature?.slice(1)}`;
      await expectRefused(`${header}.${genuine.split('.')[1]}.${flipped}`);
      await expectRefused(`${header}.${genuine.split('.')[1]}.`);
    });

    test('an unknown kid, a missing kid, and a kid with path or SQL characters are refused', async () => {
      for (const badKid of ['unknown', '../../etc/passwd', "' OR 1=1 --", `${kid}\u0000`, kid.toUpperCase()]) {
        await expectRefused(await forge({}, { kid: badKid }));
      }
      await expectRefused(await forge({}, { kid: undefined }));
      const row = await sql<{ n: number }>`select count(*) as n from signing_keys`.execute(f.server.storage.db);
      assert.equal(Number(row.rows[0]?.n), 1, 'the keys are unchanged');
    });

    test('an oversized token is refused before it is parsed, even when correctly signed', async () => {
      await expectRefused(await forge({ padding: 'x'.repeat(9 * 1024) }));
    });

    test('a token with a bad role or without a sub is refused', async () => {
      await expectRefused(await forge({ role: 'root' }));
      await expectRefused(await forge({ sub: undefined }));
    });

    test('API keys and other opaque bearer tokens are not taken for JWTs', async () => {
      const apiKey = await f.api('GET', '/test/whoami', bearer('sk_test_abcdefghijklmnopqrstuvwxyz'));
      assert.notEqual(apiKey.body?.method, 'jwt');
    });
  });
}

function first43(): string {
  return 'A'.repeat(43);
}

/** Every text value of every table, as one string, to search for secrets. */
async function databaseText(server: TestServer): Promise<string> {
  const { db } = server.storage;
  const tables =
    server.storage.dialect === 'sqlite'
      ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)).rows
      : (
          await sql<{ name: string }>`select table_name as name from information_schema.tables
            where table_schema = current_schema()`.execute(db)
        ).rows;
  const parts: string[] = [];
  for (const { name } of tables) {
    const rows = (await sql`select * from ${sql.table(name)}`.execute(db)).rows;
    parts.push(JSON.stringify(rows));
  }
  return parts.join('\n');
}
