// The delivery log's representation (a delivery with every attempt at it) and the bodies of its control routes.
import { type Static, Type } from 'typebox';
import { Links, Nullable, StringEnum, Timestamp } from '../../kernel/schemas.ts';
import type { WebhookAttemptRecord, WebhookDeliveryRecord } from './schema.ts';

/** A delivery with its attempts, oldest first; `version` (its attempt count) gives the ETag. */
export type DeliveryWithAttempts = WebhookDeliveryRecord & { version: number; attemptLog: WebhookAttemptRecord[] };

export const deliveryStatuses = ['pending', 'succeeded', 'failed'] as const;

export const WebhookAttempt = Type.Object(
  {
    attemptedAt: Timestamp,
    statusCode: Nullable(
      Type.Integer({ minimum: 0, maximum: 999, format: 'int32', description: 'Null when no response came.' }),
    ),
    error: Nullable(Type.String({ maxLength: 2000, description: 'Timeout, reset, TLS or refused target.' })),
    latencyMs: Type.Integer({ minimum: 0, maximum: 86_400_000, format: 'int32' }),
    responseBody: Nullable(Type.String({ maxLength: 4096, description: 'The first 4096 characters of the answer.' })),
  },
  { additionalProperties: false },
);

export const WebhookDelivery = Type.Object(
  {
    id: Type.String({ maxLength: 64, pattern: '^whd_[0-9a-z]{26}$' }),
    endpointId: Type.String({ maxLength: 64 }),
    eventId: Type.String({ maxLength: 64, description: 'Also the `webhook-id` header of every attempt.' }),
    eventType: Type.String({ maxLength: 100 }),
    status: StringEnum(deliveryStatuses),
    attemptCount: Type.Integer({ minimum: 0, maximum: 1_000_000, format: 'int32' }),
    nextAttemptAt: Nullable({ ...Timestamp, description: 'Null once the delivery succeeded or failed.' }),
    lastAttemptAt: Nullable(Timestamp),
    createdAt: Timestamp,
    attempts: Type.Array(WebhookAttempt, { maxItems: 1000 }),
    _links: Links,
  },
  {
    $id: 'WebhookDelivery',
    additionalProperties: false,
    description: 'One event sent to one endpoint, and every attempt at it.',
  },
);

export const ReplayRequest = Type.Object(
  {
    from: { ...Timestamp, description: 'Events created at or after this instant.' },
    to: { ...Timestamp, description: 'Events created before this instant.' },
  },
  { additionalProperties: false, title: 'WebhookReplayRequest' },
);
export type ReplayRequest = Static<typeof ReplayRequest>;

export const ReplayResult = Type.Object(
  {
    events: Type.Integer({
      minimum: 0,
      maximum: 10_000,
      format: 'int32',
      description: 'Events in the range that the endpoint subscribes to.',
    }),
    _links: Links,
  },
  { additionalProperties: false },
);
