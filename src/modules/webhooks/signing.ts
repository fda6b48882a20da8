// Standard Webhooks signatures (https://www.standardwebhooks.com, "Signature scheme"). Rules:
//   1. The signed content is `${webhook-id}.${webhook-timestamp}.${body}`, the body exactly as sent.
//   2. The key is the secret's bytes: the base64 after the `whsec_` prefix.
//   3. A signature is `v1,` then the base64 of HMAC-SHA256(key, content).
//   4. Several signatures (a secret being rotated) are sent in one header, separated by spaces.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';

const secretPrefix = 'whsec_';

/** The key bytes of a `whsec_…` secret (rule 2); a secret without the prefix is read as bare base64. */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(secretPrefix) ? secret.slice(secretPrefix.length) : secret, 'base64');
}

/** Key objects by secret, the most recently made kept: an HMAC keyed with bytes cost 12 µs against 2 with a key
 * object, most of a worker's signing time in the webhook-fanout bench. */
const keys = new Map<string, KeyObject>();
const keptKeys = 1_000;

function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    if (keys.size >= keptKeys) keys.delete(keys.keys().next().value as string);
    key = createSecretKey(secretKey(secret));
    keys.set(secret, key);
  }
  return key;
}

/** One `v1,` signature of a message under one secret (rules 1 and 3). */
export function signMessage(secret: string, messageId: string, timestampSeconds: number, body: string): string {
  const content = `${messageId}.${timestampSeconds}.${body}`;
  return `v1,${createHmac('sha256', keyOf(secret)).update(content).digest('base64')}`;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The three headers of a delivery, signed with every current secret (rule 4). */
export function signedHeaders(
  secrets: readonly string[],
  messageId: string,
  timestampSeconds: number,
  body: string,
): SignedHeaders {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': secrets.map((secret) => signMessage(secret, messageId, timestampSeconds, body)).join(' '),
  };
}
