// The OpenAPI 3.1 documents, generated from the route schemas (DESIGN principle 1) and finished here with what
// a schema cannot say: error examples, response headers, security by declared scope, one document per version.
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { envelopeOf } from '../../edge/error-envelope.ts';
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
  429: ['RATE_LIMITED', 'Too many requests; retry after the number of seconds in Retry-After.', []],
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
  400: 'The request is malformed or not valid.',
  401: 'No or bad credentials.',
  403: 'Authenticated but not allowed.',
  404: 'Not found.',
  409: 'Conflict with the current state.',
  412: 'If-Match did not match the current ETag.',
  413: 'The body is too large.',
  415: 'The body is not of a supported media type.',
  429: 'Too many requests.',
  500: 'Internal error; the body says only that, and the request id.',
};

const header = (description: string, schema: Doc = { type: 'string', maxLength: 2048 }) => ({ description, schema });
const headers = {
  'X-Request-Id': header("The request's id: the caller's X-Request-Id if it was acceptable, else a new req_ id.", {
    type: 'string',
    maxLength: 128,
  }),
  ETag: header('Strong validator of this representation (RFC 9110 §8.8.3).'),
  'Cache-Control': header('Caching policy of this representation.'),
  Location: header('URL of the created resource.', { type: 'string', format: 'uri', maxLength: 2048 }),
  Link: header('RFC 8288 links to the first, next, prev and last pages.'),
  Allow: header('Methods the resource supports.', { type: 'string', maxLength: 100 }),
};

function exampleFor(status: number, publicUrl: string) {
  const [code, message, details] = examples[status] ?? ['INTERNAL_ERROR', 'An internal error occurred.', []];
  return envelopeOf(new ApiError(code, message, { details }), 'req_01jd2gq6f1e8x9v3k4m5n6p7q8', publicUrl);
}

function finishResponses(operation: Doc, method: string, publicUrl: string): void {
  const responses: Doc = operation.responses ?? {};
  // Every operation can meet a server failure; say so, so generated clients handle it.
  if (!responses['500'])
    responses['500'] = {
      content: { 'application/json': { schema: { $ref: `#/components/schemas/${errorSchemaId}` } } },
    };
  for (const [status, response] of Object.entries(responses)) {
    const code = Number(status);
    response.description = descriptions[code] ?? response.description ?? 'Response';
    response.headers = { 'X-Request-Id': headers['X-Request-Id'], ...response.headers };
    if (code >= 400) {
      const schema = { $ref: `#/components/schemas/${errorSchemaId}` };
      const envelope = exampleFor(code, publicUrl);
      const [errorCode] = examples[code] ?? ['INTERNAL_ERROR'];
      response.content = {
        'application/json': { schema, example: envelope },
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
      continue;
    }
    if (method === 'get' && code === 200)
      response.headers = { ...response.headers, ETag: headers.ETag, 'Cache-Control': headers['Cache-Control'] };
    if (response.content?.['application/json']?.schema?.properties?.pagination) response.headers.Link = headers.Link;
    if (code === 201) response.headers = { ...response.headers, Location: headers.Location, ETag: headers.ETag };
    if ((method === 'put' || method === 'patch') && code === 200) response.headers.ETag = headers.ETag;
  }
  if (method === 'get' && responses['200'])
    responses['304'] = {
      description: descriptions[304],
      headers: { 'X-Request-Id': headers['X-Request-Id'], ETag: headers.ETag },
    };
  operation.responses = responses;
}

const conditionalHeaders: Record<string, Doc> = {
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
};

/** Narrows the whole document to one API version's paths. */
export function versionDocument(document: Doc, version: string, publicUrl: string): Doc {
  const paths = Object.fromEntries(
    Object.entries(document.paths ?? {}).filter(([path]) => path.startsWith(`/${version}/`)),
  );
  for (const [path, item] of Object.entries(paths) as [string, Doc][]) {
    for (const [method, operation] of Object.entries(item) as [string, Doc][]) {
      finishResponses(operation, method, publicUrl);
      const parameters: Doc[] = operation.parameters ?? [];
      if (method === 'get' && path.includes('{id}')) parameters.push(conditionalHeaders['If-None-Match'] as Doc);
      if (['put', 'patch', 'delete'].includes(method)) parameters.push(conditionalHeaders['If-Match'] as Doc);
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
          'Users, products, orders and posts through REST done right. Every error is one JSON envelope with a reason code; see /docs/errors.',
        contact: { name: 'Portico', url: `${publicUrl}/docs` },
        license: { name: 'MIT', identifier: 'MIT' },
      },
      components: { securitySchemes },
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
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
}
