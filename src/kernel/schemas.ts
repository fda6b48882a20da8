// Schemas every resource shares: timestamps, money, links, the error envelope and the list query and page shapes.
import { type Static, type TSchema, Type } from 'typebox';
import { type ErrorCode, errorCodes } from './errors.ts';
import { defaultLimit, maxLimit } from './pagination.ts';

/** A closed set of strings as a JSON Schema `enum`: one clear "must be one of" error instead of anyOf branches. */
export const StringEnum = <const T extends readonly string[]>(values: T, options: { description?: string } = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });

export const Timestamp = Type.String({ format: 'date-time', maxLength: 30, description: 'ISO 8601, UTC' });

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** ISO 4217 alphabetic code; the service also checks it names a real currency. */
export const CurrencyCode = Type.String({ pattern: '^[A-Z]{3}$', minLength: 3, maxLength: 3, examples: ['EUR'] });

export const Money = Type.Object(
  {
    amount: Type.Integer({
      minimum: 0,
      maximum: 1_000_000_000_000,
      format: 'int64',
      description: 'Integer minor units (cents for EUR, yen for JPY).',
    }),
    currency: CurrencyCode,
  },
  { additionalProperties: false },
);
export type Money = Static<typeof Money>;

export const Link = Type.Object(
  {
    href: Type.String({ maxLength: 2048, format: 'uri-reference' }),
    templated: Type.Optional(Type.Boolean()),
    /** The method to use when it is not GET: actions (`pay`, `cancel` …) are followed with POST. */
    method: Type.Optional(StringEnum(['POST', 'PUT', 'PATCH', 'DELETE'])),
    title: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export const Links = Type.Record(Type.String({ maxLength: 64, pattern: '^[a-z][a-zA-Z0-9:-]*$' }), Link, {
  maxProperties: 64,
  description: 'HAL links; `self` is always present.',
});

export const ErrorDetail = Type.Object(
  {
    field: Type.String({ maxLength: 200 }),
    message: Type.String({ maxLength: 1000 }),
    code: Type.String({ maxLength: 64, pattern: '^[A-Z][A-Z0-9_]*$' }),
  },
  { additionalProperties: false },
);

export const ErrorEnvelope = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.Unsafe<ErrorCode>({ type: 'string', enum: errorCodes }),
        message: Type.String({ maxLength: 2000 }),
        details: Type.Array(ErrorDetail, { maxItems: 100 }),
        requestId: Type.String({ maxLength: 128 }),
        documentationUrl: Type.String({ maxLength: 2048, format: 'uri' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, title: 'Error' },
);
export type ErrorEnvelope = Static<typeof ErrorEnvelope>;

export const CursorPagination = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: maxLimit, format: 'int32' }),
    nextCursor: Nullable(Type.String({ maxLength: 1024 })),
    prevCursor: Nullable(Type.String({ maxLength: 1024 })),
    hasMore: Type.Boolean(),
  },
  { additionalProperties: false },
);

export const OffsetPagination = Type.Object(
  {
    page: Type.Integer({ minimum: 1, maximum: 1_000_000_000, format: 'int32' }),
    perPage: Type.Integer({ minimum: 1, maximum: maxLimit, format: 'int32' }),
    total: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, format: 'int64' }),
    totalPages: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, format: 'int64' }),
  },
  { additionalProperties: false },
);

export const Pagination = Type.Union([CursorPagination, OffsetPagination]);

/** The query parameters every collection takes; resources add their filters and sort fields. */
export const pageQueryProperties = {
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: maxLimit,
      format: 'int32',
      description: `Page size for cursor pages (default ${defaultLimit}).`,
    }),
  ),
  cursor: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 1024,
      description: 'Opaque; from `pagination.nextCursor` or `prevCursor`.',
    }),
  ),
  page: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1_000_000_000, format: 'int32', description: 'Switches to offset pages.' }),
  ),
  perPage: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: maxLimit,
      format: 'int32',
      description: `Offset page size (default ${defaultLimit}).`,
    }),
  ),
  order: Type.Optional(StringEnum(['asc', 'desc'], { description: 'Default: desc for timestamps, asc otherwise.' })),
  fields: Type.Optional(
    Type.String({
      maxLength: 500,
      pattern: '^[a-zA-Z]+(,[a-zA-Z]+)*$',
      description: 'Comma list of fields to return; `id` and `_links` always come.',
    }),
  ),
  createdFrom: Type.Optional(
    Type.String({ format: 'date-time', maxLength: 30, description: 'Inclusive lower bound on createdAt.' }),
  ),
  createdTo: Type.Optional(
    Type.String({ format: 'date-time', maxLength: 30, description: 'Exclusive upper bound on createdAt.' }),
  ),
};

// No pattern and no minimum: an id of the wrong shape, even empty (`/v1/users/`), is simply not found (404),
// never a validation error.
export const IdParam = Type.Object({ id: Type.String({ maxLength: 255 }) }, { additionalProperties: false });

/** RFC 9457 problem document, sent instead of the envelope when the client asks for application/problem+json. */
export const Problem = Type.Object(
  {
    type: Type.String({ format: 'uri', maxLength: 2048 }),
    title: Type.String({ maxLength: 200 }),
    status: Type.Integer({ minimum: 400, maximum: 599, format: 'int32' }),
    detail: Type.String({ maxLength: 2000 }),
    instance: Type.String({ maxLength: 8192 }),
    code: Type.String({ maxLength: 64, pattern: '^[A-Z][A-Z0-9_]*$' }),
    errors: Type.Array(ErrorDetail, { maxItems: 100 }),
    requestId: Type.String({ maxLength: 128 }),
  },
  { additionalProperties: false, $id: 'Problem' },
);
