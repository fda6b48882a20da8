// Events as the API shows them: what happened, when, and the resource as it was then.
import { Type } from 'typebox';
import { Links, Timestamp } from '../../kernel/schemas.ts';
import { patternSource } from './patterns.ts';

/** An outbox row as the events API and webhooks show it; `version` only because every resource has an ETag. */
export interface EventRecord {
  id: string;
  type: string;
  createdAt: string;
  apiVersion: string;
  data: unknown;
  version: number;
}

export interface EventFilters {
  /** An exact type or a wildcard (`order.*`, `*`). */
  type?: string;
  createdFrom?: string;
  createdTo?: string;
}

export const eventFilters = {
  type: Type.Optional(
    Type.String({
      maxLength: 100,
      pattern: patternSource,
      description: 'An event type (`order.paid`) or a wildcard (`order.*`).',
    }),
  ),
};

export const eventSortFields = ['createdAt'] as const;

export const Event = Type.Object(
  {
    id: Type.String({ maxLength: 64, pattern: '^evt_[0-9a-z]{26}$', examples: ['evt_01jd2gq6f1e8x9v3k4m5n6p7q8'] }),
    type: Type.String({ maxLength: 100, examples: ['order.paid'] }),
    createdAt: Timestamp,
    apiVersion: Type.String({ maxLength: 16, examples: ['v1'] }),
    data: Type.Unknown({ description: 'The resource the event is about, as it was when the event happened.' }),
    _links: Links,
  },
  {
    $id: 'Event',
    additionalProperties: false,
    description: 'Something that happened, kept 30 days: the same body webhooks deliver.',
  },
);
