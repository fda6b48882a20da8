// The signing rules of signing.ts, each checked by the official Standard Webhooks verifier.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { signedHeaders } from './signing.ts';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const body = JSON.stringify({ id: 'evt_1', type: 'order.paid', data: { amount: 100 } });
const nowSeconds = () => Math.floor(Date.now() / 1000);

test('a signed delivery verifies with the official verifier, which returns the body', () => {
  const secret = newSecret();
  const headers = signedHeaders([secret], 'msg_1', nowSeconds(), body);
  assert.deepEqual(new Webhook(secret).verify(body, { ...headers }), JSON.parse(body));
});

test('another secret, another body or another id fails verification', () => {
  const secret = newSecret();
  const headers = { ...signedHeaders([secret], 'msg_1', nowSeconds(), body) };
  assert.throws(() => new Webhook(newSecret()).verify(body, headers));
  assert.throws(() => new Webhook(secret).verify(body.replace('100', '101'), headers));
  assert.throws(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_2' }));
});

test('during a rotation both secrets verify the one delivery', () => {
  const [previous, next] = [newSecret(), newSecret()];
  const headers = { ...signedHeaders([previous, next], 'msg_1', nowSeconds(), body) };
  assert.equal(headers['webhook-signature'].split(' ').length, 2);
  assert.doesNotThrow(() => new Webhook(previous).verify(body, headers));
  assert.doesNotThrow(() => new Webhook(next).verify(body, headers));
  assert.throws(() => new Webhook(newSecret()).verify(body, headers));
});
