// API keys: the stored record, its v1 representation (masked: prefix and last four characters), and the bodies that
// create and roll a key.
import { type Static, Type } from 'typebox';
import { Links, Nullable, StringEnum, Timestamp } from '../../../kernel/schemas.ts';
import { allScopes, type Tier, tiers } from '../principal.ts';
import type { KeyMode, KeyType } from './secrets.ts';

// PostgreSQL text cannot hold U+0000, so no string may carry it on either storage (a 400, never a 500).
const noNul = '^[^\\u0000]*$';
const name = Type.String({ minLength: 1, maxLength: 200, pattern: noNul, examples: ['Checkout server'] });
const KeyTypeSchema = StringEnum(['secret', 'publishable'], {
  description: 'A secret key (`sk_…`) acts for its owner; a publishable key (`pk_…`) may only read the catalog.',
});
const KeyModeSchema = StringEnum(['test', 'live']);
const Scope = StringEnum(allScopes);
const Scopes = Type.Array(Scope, { maxItems: allScopes.length, uniqueItems: true });
const TierSchema = StringEnum(tiers, {
  description:
    "Admins only: the key's rate-limit tier (default: the owner's, internal for admins and free otherwise). " +
    'By default free allows 100 requests a day, basic 1,000, pro 10,000, enterprise 100,000, each with a ' +
    'per-minute burst; internal has no daily quota (RATE_LIMIT_TIERS).',
});
const ApiVersionSchema = StringEnum(['v1', 'v2'], {
  description: 'The API version unversioned paths (`/users`) serve this key when the request asks for none.',
});
const userId = (description?: string) =>
  Type.String({
    maxLength: 64,
    pattern: '^usr_[0-9a-z]{26}$',
    examples: ['usr_01jd2gq6f1e8x9v3k4m5n6p7q8'],
    ...(description ? { description } : {}),
  });

/** Seven days: the longest a rolled key's old secret keeps working. */
export const maxGracePeriodSeconds = 7 * 24 * 60 * 60;
export const defaultGracePeriodSeconds = 24 * 60 * 60;

export const ApiKey = Type.Object(
  {
    id: Type.String({ maxLength: 64, pattern: '^key_[0-9a-z]{26}$', examples: ['key_01jd2gq6f1e8x9v3k4m5n6p7q8'] }),
    name,
    type: KeyTypeSchema,
    mode: KeyModeSchema,
    ownerId: userId(),
    scopes: Scopes,
    tier: Nullable(
      StringEnum(tiers, {
        description: "The key's rate-limit tier; null means its owner's: internal for admins, free otherwise.",
      }),
    ),
    apiVersion: Nullable(ApiVersionSchema),
    prefix: Type.String({ maxLength: 8, examples: ['sk_test_'] }),
    last4: Type.String({ maxLength: 4, examples: ['x7Qa'] }),
    secret: Nullable(
      Type.String({
        maxLength: 64,
        description: 'The whole key: only in the answer that creates or rolls it, null everywhere else. Keep it then.',
      }),
    ),
    createdAt: Timestamp,
    lastUsedAt: Nullable(Timestamp),
    expiresAt: Nullable(Timestamp),
    revokedAt: Nullable(Timestamp),
    _links: Links,
  },
  { $id: 'ApiKey', additionalProperties: false },
);

/** What the service stores and returns; never the secret, which only its creation and roll hand back. */
export interface ApiKeyRecord {
  id: string;
  ownerId: string;
  name: string;
  type: KeyType;
  mode: KeyMode;
  scopes: string[];
  /** Null: the owner's default tier, decided on each use. */
  tier: Tier | null;
  /** Null: the latest version. */
  apiVersion: 'v1' | 'v2' | null;
  prefix: string;
  last4: string;
  version: number;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** A record and, once, the secret that goes with it. */
export interface IssuedApiKey {
  key: ApiKeyRecord;
  secret: string;
}

export const ApiKeyCreate = Type.Object(
  {
    name: Type.Optional(name),
    type: Type.Optional(KeyTypeSchema),
    mode: Type.Optional(KeyModeSchema),
    scopes: Type.Optional(
      Type.Array(Scope, {
        maxItems: allScopes.length,
        uniqueItems: true,
        description:
          "Default: all the owner's role allows (`products:read` for a publishable key). Never more than the owner's role and your own credential allow.",
      }),
    ),
    ownerId: Type.Optional(userId('Admins only: create the key for another user.')),
    tier: Type.Optional(TierSchema),
    apiVersion: Type.Optional(ApiVersionSchema),
    expiresAt: Type.Optional(Timestamp),
  },
  {
    additionalProperties: false,
    title: 'ApiKeyCreate',
    description: 'Left out: name "API key", type secret, mode test, no expiry.',
  },
);
export type ApiKeyCreate = Static<typeof ApiKeyCreate>;

export const ApiKeyRoll = Type.Object(
  {
    gracePeriodSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: maxGracePeriodSeconds,
        format: 'int32',
        description: 'How long the old secret keeps working (default 86400, one day; 0 ends it at once).',
      }),
    ),
  },
  { additionalProperties: false, title: 'ApiKeyRoll' },
);
export type ApiKeyRoll = Static<typeof ApiKeyRoll>;

export const apiKeySortFields = ['createdAt'] as const;
