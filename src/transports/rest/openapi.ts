// The OpenAPI 3.1 documents, generated from the route schemas (DESIGN principle 1) and finished here with what
// a schema cannot say: error examples, response headers, the statuses every operation can meet, one document per
// version. Security comes from each route's declared scope (edge/scopes.ts).
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { headersTooLarge, requestTimeout } from '../../edge/client-errors.ts';
import { envelopeOf } from '../../edge/error-envelope.ts';
import { idempotencyKeyMaxLength } from '../../edge/idempotency.ts';
import { securitySchemes } from '../../edge/scopes.ts';
import { ApiError, type ErrorCode, errorStatus } from '../../kernel/errors.ts';
import { errorSchemaId } from './error-responses.ts';

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI documents are walked as plain JSON.
type Doc = Record<string, any>;

/** The example each documented status shows; the wire codes are the contract, so each is a real one. */
const examples: Record<number, [ErrorCode, string, { field: string; code: string; message: string }[]]> = {
  400: [
    'VALIDATION_ERROR',
    'The request is not valid: email must match format "email".',
    [{ field: 'email', code: 'INVALID_FORMAT', message: 'email must match format "email".' }],
  ],
  401: ['AUTHENTICATION_REQUIRED', 'Send credentials: a Bearer token or an API key.', []],
  403: ['INSUFFICIENT_PERMISSIONS', 'Your credentials do not carry the scope this operation needs.', []],
  404: ['RESOURCE_NOT_FOUND', "No user has the id 'usr_01jd2gq6f1e8x9v3k4m5n6p7q8'.", []],
  408: ['REQUEST_TIMEOUT', requestTimeout.message, []],
  409: [
    'CONFLICT',
    'A user with this email already exists (emails are compared case-insensitively).',
    [{ field: 'email', code: 'DUPLICATE', message: 'email is already taken.' }],
  ],
  412: [
    'PRECONDITION_FAILED',
    'The user has changed since you read it (If-Match did not match). Read it again, then retry.',
    [],
  ],
  413: ['PAYLOAD_TOO_LARGE', 'The body is larger than the 1 MiB this API accepts.', []],
  415: ['UNSUPPORTED_MEDIA_TYPE', 'This endpoint takes application/json bodies, not text/plain.', []],
  422: [
    'IDEMPOTENCY_KEY_MISMATCH',
    'This Idempotency-Key was already used for a request with another method, path or body. Send a new key for a ' +
      'new request, or repeat the first request exactly to get its response again.',
    [{ field: 'Idempotency-Key', code: 'MISMATCH', message: 'The key names another request.' }],
  ],
  429: [
    'RATE_LIMITED',
    'The per-minute burst limit of the free tier (20 requests) is used up. Retry in 12 s.',
    [
      {
        field: 'RateLimit',
        code: 'BURST_LIMIT',
        message: 'The per-minute burst limit of the free tier (20 requests) is used up.',
      },
    ],
  ],
  431: ['HEADERS_TOO_LARGE', headersTooLarge.message, []],
  500: [
    'INTERNAL_ERROR',
    'An internal error occurred. Quote request id req_01jd2gq6f1e8x9v3k4m5n6p7q8 when you report it.',
    [],
  ],
};

const descriptions: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No content',
  304: 'Not modified: the representation matching If-None-Match is still current.',
  400: 'The request is malformed (a URL or body that cannot be read) or not valid.',
  401: 'No or bad credentials.',
  403: 'Authenticated but not allowed.',
  404: 'Not found.',
  408: 'The request line, headers or body did not arrive in time; the connection is closed.',
  409: 'Conflict with the current state.',
  412: 'If-Match did not match the current ETag.',
  413: 'The body is larger than 1 MiB.',
  415: 'The body is not of a media type this operation reads.',
  422: 'The Idempotency-Key was already used, within 24 hours, for another method, path or body.',
  429: 'Too many requests from this address; Retry-After says when to try again.',
  431: 'The request line and headers (a long URL counts) are larger than 16 KiB; the connection is closed.',
  500: 'Internal error; the body says only that, and the request id.',
};

/**
 * Statuses an operation can answer whatever its route declares: a URL that is not validly encoded (400), the
 * anonymous rate limit (429) and a server failure (500) on every one, and so are a request too slow to arrive
 * (408) and a request line and headers over 16 KiB (431), which Node's parser refuses (edge/client-errors.ts); a
 * body that is too large or of the wrong type (413, 415) on every method whose body Fastify reads, which is all
 * but GET and HEAD; an Idempotency-Key still in use (409) or used for another request (422) on every POST
 * (edge/idempotency.ts); a credential that is not valid (401) on every one, public or not
 * (edge/authentication.ts), and a scope or an object the caller may not touch (403) on every one that needs
 * credentials (edge/authorization.ts, transports/rest/access.ts).
 */
const crossCutting: { statuses: number[]; applies(method: string, operation: Doc): boolean }[] = [
  { statuses: [400, 401, 408, 429, 431, 500], applies: () => true },
  { statuses: [403], applies: (_method, operation) => (operation.security ?? []).length > 0 },
  { statuses: [413, 415], applies: (method) => method !== 'get' },
  { statuses: [409, 422], applies: (method) => method === 'post' },
];

/** What a status means on a POST beyond its general description, because of the Idempotency-Key. */
const postDescriptions: Record<number, string> = {
  409:
    'Conflict with the current state, or the first request with this Idempotency-Key is still being processed ' +
    '(retry shortly to get its response).',
};

const wholeNumber = (description: string) => ({
  description,
  schema: { type: 'integer', minimum: 0, maximum: 4_294_967_295, format: 'int64' },
});

const headers = {
  'X-Request-Id': {
    description: "The request's id: the caller's X-Request-Id if it was acceptable, else a new req_ id.",
    schema: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' },
  },
  'Access-Control-Allow-Origin': {
    description: 'The calling origin, echoed when it is one of CORS_ORIGINS; absent for any other origin.',
    schema: { type: 'string', format: 'uri', maxLength: 2048 },
  },
  'X-RateLimit-Limit': wholeNumber(
    'Requests this caller may make in the window of the allowance closest to refusing (see RateLimit-Policy).',
  ),
  'X-RateLimit-Remaining': wholeNumber('Requests left in that allowance.'),
  'X-RateLimit-Reset': wholeNumber('When that allowance is whole again, in seconds since the Unix epoch.'),
  'RateLimit-Policy': {
    description:
      'The allowances that apply, as draft-ietf-httpapi-ratelimit-headers-11 spells them: a name, the quota ' +
      '(q, requests) and the window (w, seconds). Without valid credentials, `"anonymous"` per client address ' +
      '(RATE_LIMIT_ANONYMOUS); with them, the tier\'s `"burst";q=…;w=60` and, except for the internal tier, ' +
      '`"daily";q=…;w=86400`. The `RateLimit` field of that draft comes with it and says what is left of each: ' +
      '`"burst";r=<remaining>;t=<seconds until whole>, "daily";r=…;t=…`. A route may cost more than one request ' +
      '(batch creates cost 10).',
    schema: {
      type: 'string',
      maxLength: 256,
      pattern: '^"[a-z-]+";q=\\d+;w=\\d+(, "[a-z-]+";q=\\d+;w=\\d+)*$',
    },
  },
  'WWW-Authenticate': {
    description:
      'The RFC 6750 challenge: `Bearer realm="portico"`, with `error="invalid_token"` when a credential was sent ' +
      'but is not valid, or `error="insufficient_scope"` and the `scope` needed on a 403 for a missing scope.',
    schema: { type: 'string', maxLength: 512, pattern: '^Bearer realm="[a-z]+"(, [a-z_]+="[^"]*")*$' },
  },
  'Retry-After': {
    description: 'Seconds to wait before retrying (RFC 9110 §10.2.3).',
    schema: { type: 'integer', minimum: 1, maximum: 4_294_967_295, format: 'int64' },
  },
  ETag: {
    description: 'Strong validator of this representation (RFC 9110 §8.8.3).',
    schema: { type: 'string', maxLength: 256, pattern: '^"[\\x21\\x23-\\x7e]*"$' },
  },
  'Cache-Control': {
    description: 'Caching policy of this representation (RFC 9111 §5.2).',
    schema: { type: 'string', maxLength: 256, pattern: '^[a-z-]+(=\\d+)?(, ?[a-z-]+(=\\d+)?)*$' },
  },
  Location: { description: 'URL of the created resource.', schema: { type: 'string', format: 'uri', maxLength: 2048 } },
  'Idempotent-Replayed': {
    description:
      'Present on a replay: the answer stored for the first request with this Idempotency-Key, sent again ' +
      'without running the operation; its X-Request-Id names that first request.',
    schema: { type: 'string', enum: ['true'] },
  },
  Link: {
    description: 'RFC 8288 links to the first, next, prev and last pages; on v1, also its successor version.',
    schema: { type: 'string', maxLength: 8192, pattern: '^<[^>]+>; rel="[a-z-]+"(, <[^>]+>; rel="[a-z-]+")*$' },
  },
};
type HeaderName = keyof typeof headers;

const rateLimitHeaders: HeaderName[] = [
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'RateLimit-Policy',
];

/**
 * Whether a header is always there. A CORS grant goes only to a listed origin, and Idempotent-Replayed only to a
 * replay. The rate-limit fields are set by the first hook of every request (edge/rate-limit.ts), but a URL that
 * cannot be decoded is refused with 400 before any hook runs, so a 400 may come without them.
 */
/** Statuses that can be answered before the rate limiter runs (by the parser, or for a URL it cannot decode). */
const answeredBeforeTheEdge = [400, 408, 431];

function isRequired(name: HeaderName, status: number): boolean {
  if (name === 'Access-Control-Allow-Origin' || name === 'Idempotent-Replayed') return false;
  // Only a 403 for a missing scope challenges; one for someone else's object or a forbidden field does not.
  if (name === 'WWW-Authenticate') return status === 401;
  return !(answeredBeforeTheEdge.includes(status) && rateLimitHeaders.includes(name));
}

interface Answer {
  status: number;
  method: string;
  isItem: boolean;
}

/**
 * Which responses carry which headers, in one table. The IETF `RateLimit` field goes with `RateLimit-Policy` but is
 * not listed as a header of its own, because the OWASP rule api4:2023-rate-limit takes `RateLimit` and
 * `X-RateLimit-Limit` as exclusive alternatives (its `oneOf`) and fails a response that documents both.
 */
const headerRules: { names: HeaderName[]; applies(answer: Answer): boolean }[] = [
  {
    names: ['X-Request-Id', 'Access-Control-Allow-Origin', ...rateLimitHeaders],
    applies: () => true,
  },
  { names: ['Retry-After'], applies: ({ status }) => status === 429 },
  { names: ['WWW-Authenticate'], applies: ({ status }) => status === 401 || status === 403 },
  {
    names: ['ETag', 'Cache-Control'],
    applies: ({ method, status }) => method === 'get' && status < 400,
  },
  {
    names: ['Cache-Control', 'Link'],
    applies: ({ method, isItem, status }) => method === 'get' && !isItem && status === 200,
  },
  // A write answers the resource's new state and its tag; a 202 answers work queued, which has no tag to hold.
  {
    names: ['ETag'],
    applies: ({ method, isItem, status }) =>
      method !== 'get' && isItem && status >= 200 && status < 300 && status !== 202 && status !== 204,
  },
  {
    names: ['Cache-Control'],
    applies: ({ method, status }) => method !== 'get' && status >= 200 && status < 300 && status !== 204,
  },
  { names: ['Location'], applies: ({ isItem, status }) => isItem && status === 201 },
  // A replay repeats what the operation answered; statuses decided before it runs, and 5xx, are never stored.
  {
    names: ['Idempotent-Replayed'],
    applies: ({ method, status }) => method === 'post' && status < 500 && ![413, 415, 422, 429].includes(status),
  },
];

function headersFor(answer: Answer): Doc {
  const names = headerRules.filter((rule) => rule.applies(answer)).flatMap((rule) => rule.names);
  return Object.fromEntries(
    [...new Set(names)].map((name) => [name, { ...headers[name], required: isRequired(name, answer.status) }]),
  );
}

function exampleFor(status: number, publicUrl: string) {
  const [code, message, details] = examples[status] ?? ['INTERNAL_ERROR', 'An internal error occurred.', []];
  return envelopeOf(new ApiError(code, message, { details }), 'req_01jd2gq6f1e8x9v3k4m5n6p7q8', publicUrl);
}

function errorContent(status: number, publicUrl: string): Doc {
  const envelope = exampleFor(status, publicUrl);
  const [errorCode] = examples[status] ?? ['INTERNAL_ERROR'];
  return {
    'application/json': { schema: { $ref: `#/components/schemas/${errorSchemaId}` }, example: envelope },
    'application/problem+json': {
      schema: { $ref: '#/components/schemas/Problem' },
      example: {
        type: envelope.error.documentationUrl,
        title: errorCode,
        status: errorStatus[errorCode as ErrorCode],
        detail: envelope.error.message,
        instance: '/v1/users',
        code: errorCode,
        errors: envelope.error.details,
        requestId: envelope.error.requestId,
      },
    },
  };
}

function finishResponses(operation: Doc, method: string, publicUrl: string): void {
  const responses: Doc = operation.responses ?? {};
  for (const rule of crossCutting) {
    if (!rule.applies(method, operation)) continue;
    for (const status of rule.statuses) responses[status] ??= {};
  }
  if (method === 'get' && responses['200']) responses['304'] = {};
  for (const [status, response] of Object.entries(responses)) {
    const code = Number(status);
    // An item, or a sub-resource such as an order's tracking, answers one representation, whatever its path ends
    // with; a page or a batch answers a `data` list, and some answers (a revocation's 200) have no body at all.
    const schema = response.content?.['application/json']?.schema;
    const isItem = schema !== undefined && !schema.properties?.data;
    const general = descriptions[code] ?? response.description ?? 'Response';
    response.description = (method === 'post' ? postDescriptions[code] : undefined) ?? general;
    if (code >= 400) response.content = errorContent(code, publicUrl);
    response.headers = { ...response.headers, ...headersFor({ status: code, method, isItem }) };
  }
  // Statuses in ascending order read best in every renderer.
  operation.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)));
}

const requestHeaders: Record<string, Doc> = {
  'If-None-Match': {
    name: 'If-None-Match',
    in: 'header',
    required: false,
    description: 'ETags you hold; 304 when one is current.',
    schema: { type: 'string', maxLength: 2048 },
  },
  'If-Match': {
    name: 'If-Match',
    in: 'header',
    required: false,
    description: 'The ETag you read; the write answers 412 if the resource has changed since.',
    schema: { type: 'string', maxLength: 2048 },
  },
  'Idempotency-Key': {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description:
      'A key you choose (a UUID serves) to make this POST safe to retry. For 24 hours, the same key with the ' +
      'same method, path and body replays the first answer (2xx or 4xx) with Idempotent-Replayed: true and ' +
      'does nothing again; with another request it is a 422; while the first request runs it is a 409. A 5xx ' +
      'frees the key, and so does a request refused before it ran (400, 413, 415, 429).',
    schema: { type: 'string', minLength: 1, maxLength: idempotencyKeyMaxLength, pattern: '^[\\x20-\\x7e]+$' },
    example: '5f1c2a7e-8d4b-4a63-9a8e-3b2f0c6d9e11',
  },
};

/** Narrows the whole document to one API version's paths. */
export function versionDocument(document: Doc, version: string, publicUrl: string): Doc {
  const paths = Object.fromEntries(
    Object.entries(document.paths ?? {}).filter(([path]) => path.startsWith(`/${version}/`)),
  );
  for (const item of Object.values(paths) as Doc[]) {
    for (const [method, operation] of Object.entries(item) as [string, Doc][]) {
      finishResponses(operation, method, publicUrl);
      const parameters: Doc[] = operation.parameters ?? [];
      if (method === 'get') parameters.push(requestHeaders['If-None-Match'] as Doc);
      if (['put', 'patch', 'delete'].includes(method)) parameters.push(requestHeaders['If-Match'] as Doc);
      if (method === 'post') parameters.push(requestHeaders['Idempotency-Key'] as Doc);
      if (parameters.length > 0) operation.parameters = parameters;
    }
  }
  return { ...document, info: { ...document.info, version: `${version}` }, paths };
}

export async function registerOpenApi(app: FastifyInstance, publicUrl: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Portico API',
        version: 'v1',
        description:
          'Users, products, orders and posts through REST done right. Every error is one JSON envelope with a ' +
          'reason code; see /docs/errors. Answers carry the rate limits (per client address without credentials, ' +
          'per API key, user or OAuth client by tier with them) as X-RateLimit-* and the IETF RateLimit-Policy and ' +
          'RateLimit fields; a 429 names the limit that was hit and says when to retry in Retry-After.',
        contact: { name: 'Portico', url: `${publicUrl}/docs` },
        license: { name: 'MIT', identifier: 'MIT' },
      },
      components: { securitySchemes: securitySchemes(publicUrl) },
      // A relative URL: the document describes whichever instance serves it. `x-internal` is OWASP API9 inventory.
      servers: [
        {
          url: '/',
          description: 'This Portico instance (local development, staging or production, as deployed).',
          'x-internal': false,
        } as { url: string },
      ],
      tags: [
        { name: 'Users', description: 'People who buy and write.' },
        { name: 'Products', description: 'The catalog.' },
        { name: 'Orders', description: 'Purchases, from pending through paid and shipped to delivered.' },
        { name: 'Posts', description: 'Articles by users, drafts until published, tagged for finding.' },
        { name: 'Comments', description: 'What readers say about a post.' },
        { name: 'Sessions', description: 'Signing a browser in and out with a cookie.' },
        { name: 'Tokens', description: 'Access and refresh tokens for API clients, and the keys that verify them.' },
        { name: 'API keys', description: 'Secret and publishable keys for servers and scripts.' },
        { name: 'OAuth clients', description: 'Applications registered with the OAuth 2.0 server (admins only).' },
        { name: 'Events', description: 'Everything that happened, kept 30 days, to catch up on (admins only).' },
        { name: 'Webhook endpoints', description: 'Where events are delivered, signed per Standard Webhooks.' },
        { name: 'API usage', description: 'Who still calls deprecated API versions (admins only).' },
      ],
    },
    // A route that reads more than JSON (PATCH also takes application/merge-patch+json) documents each media type.
    transform: ({ schema, url, route }) => {
      const bodyTypes = route.config?.bodyTypes;
      return { schema: bodyTypes && schema ? { ...schema, consumes: bodyTypes } : schema, url };
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
}
