// Webhooks: the stored records of endpoints, deliveries and attempts, the endpoint's v1 representation, and the
// bodies that create and change an endpoint.
import { type Static, Type } from 'typebox';
import { Links, Nullable, Timestamp } from '../../kernel/schemas.ts';

/** The body of every delivery (Standard Webhooks), as the events API shows the event too. */
export interface WebhookEvent {
  id: string;
  type: string;
  createdAt: string;
  apiVersion: string;
  data: unknown;
}

/** What the service stores and returns; secrets are never part of it (see secrets.ts). */
export interface WebhookEndpointRecord {
  id: string;
  ownerId: string;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  /** Why delivery stopped (`gone`, `failing`, …) when the endpoint was disabled for the owner; null otherwise. */
  disabledReason: string | null;
  failingSince: string | null;
  /** While a rotation's grace period runs: when the previous secret stops signing. */
  previousSecretUntil: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface WebhookDeliveryRecord {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  payload: WebhookEvent;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  createdAt: string;
}

export interface WebhookAttemptRecord {
  deliveryId: string;
  attemptedAt: string;
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  responseBody: string | null;
}

export interface EndpointFilters {
  ownerId?: string;
  enabled?: boolean;
}

export const maxPatterns = 50;

const EndpointId = Type.String({
  maxLength: 64,
  pattern: '^whe_[0-9a-z]{26}$',
  examples: ['whe_01jd2gq6f1e8x9v3k4m5n6p7q8'],
});
const OwnerId = Type.String({
  maxLength: 64,
  pattern: '^usr_[0-9a-z]{26}$',
  description: 'The user the endpoint belongs to. Customers: your own id, the default.',
});
const Url = Type.String({
  minLength: 1,
  maxLength: 2048,
  description:
    'Where events are POSTed: https, and a host that resolves only to public addresses (not loopback, private, ' +
    'link-local or cloud metadata ones).',
  // A documentation address (RFC 5737): public, so it passes the checks, and needs no DNS.
  examples: ['https://203.0.113.10/webhooks/portico'],
});
const Patterns = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  minItems: 1,
  maxItems: maxPatterns,
  uniqueItems: true,
  description: 'Event types (`order.paid`) and wildcards (`order.*`, or `*` for every event) to deliver.',
  examples: [['order.*', 'user.created']],
});
const Description = Type.String({ maxLength: 500, pattern: '^[^\\u0000]*$' });

export const WebhookEndpoint = Type.Object(
  {
    id: EndpointId,
    ownerId: OwnerId,
    url: Type.String({ maxLength: 2048 }),
    events: Patterns,
    description: Nullable(Description),
    enabled: Type.Boolean(),
    disabledReason: Nullable(
      Type.String({ maxLength: 200, description: 'Why Portico stopped delivering; null unless it did.' }),
    ),
    failingSince: Nullable({ ...Timestamp, description: 'Since when deliveries fail; null while they succeed.' }),
    previousSecretUntil: Nullable({
      ...Timestamp,
      description: 'After a rotation: until when deliveries are also signed with the previous secret.',
    }),
    secret: Nullable(
      Type.String({
        maxLength: 200,
        description:
          'The signing secret (`whsec_` + base64): only in the answers to create and rotate-secret, null otherwise.',
      }),
    ),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    _links: Links,
  },
  {
    $id: 'WebhookEndpoint',
    additionalProperties: false,
    description: 'Where and which events are delivered, signed per the Standard Webhooks specification.',
  },
);

export const WebhookEndpointCreate = Type.Object(
  {
    url: Url,
    events: Patterns,
    description: Type.Optional(Nullable(Description)),
    enabled: Type.Optional(Type.Boolean({ description: 'True by default.' })),
    ownerId: Type.Optional(OwnerId),
  },
  { additionalProperties: false, title: 'WebhookEndpointCreate' },
);
export type WebhookEndpointCreate = Static<typeof WebhookEndpointCreate>;

export const WebhookEndpointPatch = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Patterns),
    description: Type.Optional(Nullable(Description)),
    enabled: Type.Optional(Type.Boolean({ description: 'Enabling an endpoint Portico disabled clears the reason.' })),
  },
  { additionalProperties: false, minProperties: 1, title: 'WebhookEndpointPatch' },
);
export type WebhookEndpointPatch = Static<typeof WebhookEndpointPatch>;

export const endpointSortFields = ['createdAt'] as const;
