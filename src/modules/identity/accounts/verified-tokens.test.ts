import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { jwtVerify, SignJWT } from 'jose';
import type { Principal } from '../principal.ts';
import { accessTokenTtlSeconds, clockToleranceSeconds } from './signing-keys.ts';
import { type TokenTimes, timesHold, verifiedTokens } from './verified-tokens.ts';

const principal: Principal = {
  method: 'jwt',
  userId: 'usr_1',
  role: 'customer',
  scopes: new Set(['orders:read']),
  credentialId: 'jti-1',
};
const times: TokenTimes = { iat: 1_000_000, exp: 1_000_000 + accessTokenTtlSeconds, nbf: undefined };

test('a remembered token holds exactly where jose would accept it, leeway included', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const shapes: TokenTimes[] = [
    times,
    { iat: 1_000_000, exp: 1_000_000 + 60, nbf: 1_000_030 },
    // Lives longer than an access token may: the iat test ends it before exp.
    { iat: 1_000_000, exp: 1_000_000 + 3 * accessTokenTtlSeconds, nbf: undefined },
  ];
  for (const shape of shapes) {
    const { nbf, ...required } = shape;
    const token = await new SignJWT(nbf === undefined ? required : { ...required, nbf })
      .setProtectedHeader({ alg: 'EdDSA' })
      .sign(privateKey);
    const span = { from: shape.iat - 2 * clockToleranceSeconds, to: shape.exp + 2 * clockToleranceSeconds };
    for (let now = span.from; now <= span.to; now++) {
      const jose = await jwtVerify(token, publicKey, {
        currentDate: new Date(now * 1000 + 999),
        maxTokenAge: accessTokenTtlSeconds,
        clockTolerance: clockToleranceSeconds,
      }).then(
        () => true,
        () => false,
      );
      assert.equal(timesHold(shape, now), jose, `at ${now} for ${JSON.stringify(shape)}`);
    }
  }
});

test('a hit needs the same key under its kid and its time claims to hold; a miss forgets the token', async () => {
  const cache = verifiedTokens();
  const key = {};
  cache.remember('token', { kid: 'k1', key, times, principal });
  const found = await cache.find('token', times.iat + 60, async () => key);
  assert.deepEqual(found, principal);
  assert.notEqual(found, principal, 'each request gets its own principal object');
  assert.equal(await cache.find('other', times.iat + 60, async () => key), null);
  // The kid now names another key (rotated out and replaced): verified again, not served from memory.
  assert.equal(await cache.find('token', times.iat + 60, async () => ({})), null);
  assert.equal(await cache.find('token', times.iat + 60, async () => key), null, 'the stale entry was dropped');
  cache.remember('token', { kid: 'k1', key, times, principal });
  assert.equal(await cache.find('token', times.exp + clockToleranceSeconds, async () => key), null);
});

test('at capacity the oldest token is forgotten first', async () => {
  const cache = verifiedTokens(2);
  const key = {};
  for (const token of ['a', 'b', 'c']) cache.remember(token, { kid: 'k1', key, times, principal });
  const now = times.iat;
  assert.equal(await cache.find('a', now, async () => key), null);
  assert.ok(await cache.find('b', now, async () => key));
  assert.ok(await cache.find('c', now, async () => key));
});

test("a token that shares a remembered one's signature but not its header or claims is no hit", async () => {
  const cache = verifiedTokens();
  const key = {};
  cache.remember('header.claims.signature', { kid: 'k1', key, times, principal });
  // A forger who keeps the signature and rewrites the claims (another sub, a wider scope) gets verified afresh.
  assert.equal(await cache.find('header.forged-claims.signature', times.iat + 60, async () => key), null);
  assert.deepEqual(await cache.find('header.claims.signature', times.iat + 60, async () => key), principal);
});
