// Webhook signing secrets: `whsec_` + base64 of 32 random bytes (Standard Webhooks allows 24 to 64). Deliveries
// must sign with them, so they cannot be stored as hashes: they are sealed with AES-256-GCM under a key kept in
// app_settings, bound to their endpoint's id so a sealed secret copied onto another endpoint does not open.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Storage } from '../../storage/database.ts';
import { sharedSecret } from '../../storage/settings.ts';

const secretPrefix = 'whsec_';
const secretBytes = 32;
const sealVersion = 'v1';
const ivBytes = 12;
const tagBytes = 16;

export const newWebhookSecret = (): string => `${secretPrefix}${randomBytes(secretBytes).toString('base64')}`;

export interface SecretBox {
  seal(secret: string, endpointId: string): string;
  /** Throws when the ciphertext was not sealed by this box for this endpoint. */
  open(sealed: string, endpointId: string): string;
}

export function secretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('the webhook secret key must be 32 bytes');
  return {
    seal(secret, endpointId) {
      const iv = randomBytes(ivBytes);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(endpointId));
      const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
      return `${sealVersion}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
    },
    open(sealed, endpointId) {
      const [version, text = ''] = sealed.split('.');
      if (version !== sealVersion) throw new Error(`unknown sealed secret version '${version}'`);
      const raw = Buffer.from(text, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, ivBytes));
      decipher.setAAD(Buffer.from(endpointId));
      decipher.setAuthTag(raw.subarray(ivBytes, ivBytes + tagBytes));
      return Buffer.concat([decipher.update(raw.subarray(ivBytes + tagBytes)), decipher.final()]).toString('utf8');
    },
  };
}

/** The box every process sharing the database agrees on: its key is made on first use and kept in app_settings. */
export async function storedSecretBox(storage: Storage): Promise<SecretBox> {
  return secretBox(Buffer.from(await sharedSecret(storage, 'webhook-secret-key'), 'base64url'));
}
