// Property-based tests of every operation in the served OpenAPI document. Requests are generated from the
// document's own schemas, valid and hostile, and each answer is held to three properties:
//   1. it is never a 5xx;
//   2. its status and headers are ones the document declares for the operation, header values matching their schemas;
//   3. an error carries the one envelope (or problem document, when asked for) with the X-Request-Id as requestId,
//      and a success body validates against the schema the document declares for that status.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { type ApiResponse, client, startServer } from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document and its JSON Schemas are walked as plain JSON.
type Json = Record<string, any>;

const runsPerOperation = 50;
const listedOrigin = 'https://app.example.test';

const server = await startServer({ env: { CORS_ORIGINS: listedOrigin } });
after(() => server.close());
const api = client(server);
const document: Json = (await api('GET', '/v1/openapi.json')).body;
const componentSchemas: Json = document.components?.schemas ?? {};

// ---- the document's schemas ----------------------------------------------------------------------------------

const refPrefix = '#/components/schemas/';

function deref(schema: Json): Json {
  let current = schema;
  while (typeof current.$ref === 'string' && current.$ref.startsWith(refPrefix)) {
    current = componentSchemas[current.$ref.slice(refPrefix.length)] ?? {};
  }
  return current;
}

/** Points the document's component references at `$defs`, and drops `$id`s that would move the base URI. */
function localized(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(localized);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== '$id')
      .map(([key, inner]) => [
        key,
        key === '$ref' && typeof inner === 'string' ? inner.replace(refPrefix, '#/$defs/') : localized(inner),
      ]),
  );
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addFormat('int32', {
  type: 'number',
  validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31,
});
ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
const defs = localized(componentSchemas);
const validators = new WeakMap<Json, ValidateFunction>();

function validatorOf(schema: Json): ValidateFunction {
  let validate = validators.get(schema);
  if (!validate) {
    validate = ajv.compile({ ...(localized(schema) as Json), $defs: defs });
    validators.set(schema, validate);
  }
  return validate;
}

function assertValid(schema: Json, value: unknown, what: string): void {
  const validate = validatorOf(schema);
  if (!validate(value)) assert.fail(`${what} does not match its schema: ${ajv.errorsText(validate.errors)}`);
}

// ---- values: valid ones derived from a schema, hostile ones from everything a client could send ---------------

// Past most maxLengths; the longest URL stays under Node's 16 KiB limit on the request head.
const hugeText = 'x'.repeat(1_000);
const hugeInUrl = 'x'.repeat(5_000);
const nastyStrings = [
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  '" OR 1=1 --',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '../../../etc/passwd',
  '\u0000',
  '$' + '{jndi:ldap://127.0.0.1/a}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  '\u202eevil\u0301',
  '😀🧪𝕏',
  'NaN',
  '-1',
  '1e309',
  '0x10',
  ' ',
  '',
  'null',
  'true',
];

/** How a value reads in a URL: strings as they are, anything else as its JSON text. */
const asText = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

/** Keys no schema declares: short ones, one long enough to be echoed back at length, and a crowd of them. */
const unknownKey = fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.constant('k'.repeat(3_000)));
const manyUnknownFields = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`extra${i}`, i]));

const unicodeText = fc.string({ unit: 'binary', maxLength: 40 }).map((text) => text.toWellFormed());

function validString(schema: Json): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = schema.maxLength ?? 1000;
  const fits = (text: string) => text.length >= minLength && text.length <= maxLength;
  if (schema.format === 'date-time') {
    return fc
      .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
      .map((date) => date.toISOString());
  }
  if (schema.format === 'email') {
    return fc
      .tuple(fc.stringMatching(/^[a-z0-9]{1,20}$/), fc.stringMatching(/^[a-z]{1,12}$/))
      .map(([local, domain]) => `${local}@${domain}.test`);
  }
  if (schema.format === 'uri' || schema.format === 'uri-reference') return fc.webUrl().filter(fits);
  if (typeof schema.pattern === 'string') {
    const generated = fc.stringMatching(new RegExp(schema.pattern)).filter(fits);
    // A reference to another resource (`authorId`, `customerId`) names one that exists, once some do.
    const prefix = /^\^([a-z]+)_\[0-9a-z\]\{26\}\$$/.exec(schema.pattern)?.[1];
    if (prefix === undefined) return generated;
    return fc.tuple(fc.nat(), generated).map(([n, fresh]) => {
      const known = allIds().filter((id) => id.startsWith(`${prefix}_`));
      return known[n % known.length] ?? fresh;
    });
  }
  return fc.string({ unit: 'grapheme', minLength, maxLength: Math.min(maxLength, minLength + 30) });
}

/**
 * Values the schema accepts (formats included, as far as the generators above know them). A schema's `examples`
 * come often, since some rules sit outside JSON Schema (a currency must be a real ISO 4217 code, not just 3 letters).
 */
function valid(raw: Json): fc.Arbitrary<unknown> {
  const schema = deref(raw);
  const generated = generate(schema);
  if (!Array.isArray(schema.examples) || schema.examples.length === 0) return generated;
  return fc.oneof(fc.constantFrom(...schema.examples), generated);
}

function generate(schema: Json): fc.Arbitrary<unknown> {
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  const branches: Json[] | undefined = schema.anyOf ?? schema.oneOf;
  if (branches) return fc.oneof(...branches.map((branch) => valid(branch)));
  switch (schema.type) {
    case 'string':
      return validString(schema);
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -(2 ** 31), max: schema.maximum ?? 2 ** 31 - 1 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(valid(schema.items ?? {}), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 3, 3),
      });
    case 'object': {
      const properties: Json = schema.properties ?? {};
      return fc.record(
        Object.fromEntries(Object.entries(properties).map(([key, inner]) => [key, valid(inner as Json)])),
        { requiredKeys: schema.required ?? [] },
      );
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Values just outside what the schema allows: a step past each bound, a wrong member, a wrong shape. */
function outOfRange(raw: Json): fc.Arbitrary<unknown> {
  const schema = deref(raw);
  const near: unknown[] = [];
  if (typeof schema.minimum === 'number') near.push(schema.minimum - 1);
  if (typeof schema.maximum === 'number') near.push(schema.maximum + 1);
  if (schema.type === 'integer') near.push(1.5, '12abc');
  if (typeof schema.maxLength === 'number') near.push('y'.repeat(schema.maxLength + 1));
  if (typeof schema.minLength === 'number' && schema.minLength > 0) near.push('y'.repeat(schema.minLength - 1));
  if (Array.isArray(schema.enum)) near.push(`${String(schema.enum[0])}x`, String(schema.enum[0]).toUpperCase());
  if (schema.format) near.push('not-a-valid-value');
  return near.length > 0 ? fc.constantFrom(...near) : fc.constant('');
}

/** A JSON text nested this deep, to probe parsers and validators for recursion limits. */
const deeplyNested = (depth: number) => `${'{"a":['.repeat(depth)}1${']}'.repeat(depth)}`;

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...nastyStrings),
  unicodeText,
  fc.constantFrom(null, true, false, 0, -1, 1.5, Number.MAX_SAFE_INTEGER, -1e308, 1e308, hugeText, [], {}),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

function hostile(schema: Json): fc.Arbitrary<unknown> {
  return fc.oneof(outOfRange(schema), hostileValue);
}

// ---- requests -----------------------------------------------------------------------------------------------

interface Operation {
  method: string;
  path: string;
  spec: Json;
}

interface FuzzRequest {
  path: string;
  query: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

const operations: Operation[] = Object.entries(document.paths as Json).flatMap(([path, item]) =>
  Object.entries(item as Json).map(([method, spec]) => ({ method, path, spec: spec as Json })),
);

/** Ids of resources that exist (or existed), by collection path; ETags the server has sent, and the last per path. */
const ids = new Map<string, string[]>();
const etags: string[] = ['"not-a-current-tag"'];
const lastTags = new Map<string, string>();
/** Strings the server has sent, by lower-cased property name: `nextCursor` can feed `cursor`, `email` feed `email`. */
const sent = new Map<string, string[]>();
const sentFor = (parameter: string) =>
  [...sent.entries()].filter(([key]) => key.endsWith(parameter.toLowerCase())).flatMap(([, values]) => values);
/** Stands for "the last ETag this path answered with" until the path is known. */
const lastTagOfPath = '<last tag of this path>';
const collectionOf = (path: string) => path.replace(/\/\{[^}]+\}$/, '');
/** The collection whose ids fill a path's first parameter: `/v1/posts/{id}/comments` → `/v1/posts`. */
const ownerOf = (path: string) => (path.includes('/{') ? path.slice(0, path.indexOf('/{')) : path);
const allIds = () => [...ids.values()].flat();

const fromPool = (pool: () => string[]) => fc.nat().map((n) => pool()[n % pool().length] ?? 'none');

/**
 * Each request is drawn whole in one of two modes. A plain one sends only what the document allows (an existing
 * id of the right kind, valid parameters, a valid body in a declared media type), so the success paths and their
 * schemas are reached; a hostile one mixes in anything from the hostile generators at every position.
 */
type Mode = 'plain' | 'hostile';

/** An optional part: usually left out when plain, so one bad choice does not hide every success. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });

function pathValue(operation: Operation, schema: Json, mode: Mode): fc.Arbitrary<string> {
  const sameKind = fromPool(() => ids.get(ownerOf(operation.path)) ?? []);
  if (mode === 'plain') return sameKind.map((id) => encodeURIComponent(id));
  const encoded = fc.oneof(
    { weight: 3, arbitrary: sameKind },
    { weight: 2, arbitrary: fromPool(allIds) },
    { weight: 1, arbitrary: valid(schema).map(asText) },
    { weight: 2, arbitrary: fc.constantFrom(...nastyStrings.filter((s) => s.length > 0), 'y'.repeat(256)) },
    { weight: 1, arbitrary: unicodeText.filter((s) => s.length > 0) },
    { weight: 1, arbitrary: fc.constant(hugeInUrl) },
  );
  const raw = fc.constantFrom('%', '%zz', '%E0%A4%A', '%00', '%ff%fe');
  return fc
    .oneof({ weight: 9, arbitrary: encoded.map((id) => encodeURIComponent(id)) }, { weight: 1, arbitrary: raw })
    .filter((segment) => !/^(\.|%2e){1,2}$/i.test(segment));
}

const headerSafe = (text: string) => text.replace(/[^\x20-\x7e]/g, '').trim();

function queryString(parameters: Json[], mode: Mode): fc.Arbitrary<string> {
  const values = Object.fromEntries(
    parameters.map((parameter) => {
      const fresh = valid(parameter.schema).map(asText);
      const echoed = fc.tuple(fc.nat(), fresh).map(([n, fallback]) => {
        const pool = sentFor(parameter.name);
        return pool[n % pool.length] ?? fallback;
      });
      const one = fc.oneof(fresh, echoed).map((value) => [value]);
      const any = fc.oneof(
        { weight: 4, arbitrary: one },
        { weight: 1, arbitrary: hostile(parameter.schema).map((value) => [asText(value)]) },
        { weight: 1, arbitrary: fc.tuple(valid(parameter.schema), valid(parameter.schema)).map((v) => v.map(asText)) },
      );
      const chosen = mode === 'plain' ? one : any;
      return [parameter.name as string, parameter.required ? chosen : sometimes(chosen)];
    }),
  );
  const unknown =
    mode === 'plain'
      ? fc.constant(null)
      : fc.option(fc.tuple(unknownKey, fc.oneof(fc.string({ maxLength: 20 }), fc.constant(hugeInUrl))), { freq: 3 });
  return fc.tuple(fc.record(values), unknown).map(([known, extra]) => {
    const search = new URLSearchParams();
    for (const [name, list] of Object.entries(known)) for (const value of list ?? []) search.append(name, value);
    if (extra) search.append(extra[0], extra[1]);
    const text = search.toString();
    return text.length > 0 ? `?${text}` : '';
  });
}

function headerValue(parameter: Json, mode: Mode): fc.Arbitrary<string | undefined> {
  const fromSchema = valid(parameter.schema).map((value) => headerSafe(asText(value)));
  // A few keys come back again and again, on every POST, so replays and keys reused for other requests are met.
  if (parameter.name === 'Idempotency-Key') {
    return sometimes(fc.oneof(fromSchema, fc.constantFrom('fuzz-key-1', 'fuzz-key-2')));
  }
  if (!String(parameter.name).startsWith('If-')) return sometimes(fromSchema);
  // Conditional requests: a tag the server sent (perhaps for this very resource), or anything else.
  const tag = fc.oneof(
    fc.constant(lastTagOfPath),
    fromPool(() => etags),
  );
  if (mode === 'plain') return sometimes(tag);
  return sometimes(fc.oneof({ weight: 3, arbitrary: tag }, fc.constantFrom('*', 'W/"x"', '""'), fromSchema));
}

function hostileBody(schema: Json | undefined): fc.Arbitrary<string | undefined> {
  const base = schema ? valid(schema) : fc.jsonValue({ maxDepth: 2 });
  const resolved = schema ? deref(schema) : {};
  const properties: string[] = Object.keys(resolved.properties ?? {});
  const required: string[] = resolved.required ?? [];
  const asObject = (value: unknown): Json => (value !== null && typeof value === 'object' ? (value as Json) : {});
  const variants: fc.Arbitrary<unknown>[] = [
    base,
    fc.tuple(base, unknownKey, hostileValue).map(([value, key, extra]) => ({ ...asObject(value), [key]: extra })),
    base.map((value) => ({ ...asObject(value), ...manyUnknownFields })),
    hostileValue,
    fc.constantFrom(null, [], [{}], 'a string', 42),
  ];
  if (properties.length > 0) {
    variants.push(
      fc
        .tuple(base, fc.constantFrom(...properties))
        .chain(([value, key]) => hostile(resolved.properties[key]).map((bad) => ({ ...asObject(value), [key]: bad }))),
    );
  }
  if (required.length > 0) {
    variants.push(
      fc.tuple(base, fc.constantFrom(...required)).map(([value, key]) => {
        const { [key]: _dropped, ...rest } = asObject(value);
        return rest;
      }),
    );
  }
  const raw = fc.constantFrom(
    '',
    '{',
    '{"a":',
    'nul',
    '{"__proto__":{"isAdmin":true}}',
    '{"constructor":{"prototype":{"isAdmin":true}}}',
    deeplyNested(5_000),
    `{"name":"${'z'.repeat(1_100_000)}"}`,
  );
  return fc.oneof(
    { weight: 9, arbitrary: fc.oneof(...variants).map((value) => JSON.stringify(value)) },
    { weight: 2, arbitrary: raw },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

function requestsIn(operation: Operation, mode: Mode): fc.Arbitrary<FuzzRequest> {
  const parameters: Json[] = operation.spec.parameters ?? [];
  const pathParameters = parameters.filter((p) => p.in === 'path');
  const headerParameters = parameters.filter((p) => p.in === 'header');
  const content: Json | undefined = operation.spec.requestBody?.content;
  const declaredTypes = Object.keys(content ?? {});
  const bodySchema: Json | undefined = content ? (Object.values(content)[0] as Json).schema : undefined;
  // Fastify reads a body on every method but GET (and HEAD); DELETE gets hostile bodies too.
  const takesBody = bodySchema !== undefined;
  const mayHaveBody = operation.method !== 'get';
  const plain = mode === 'plain';
  const body =
    plain && takesBody
      ? valid(bodySchema).map((value) => JSON.stringify(value))
      : !plain && mayHaveBody
        ? hostileBody(bodySchema)
        : fc.constant(undefined);
  const contentType =
    plain && takesBody
      ? fc.constantFrom(...declaredTypes)
      : fc.constantFrom(
          ...declaredTypes,
          'application/json',
          'application/json; charset=utf-8',
          'application/merge-patch+json',
          'text/plain',
          'application/x-www-form-urlencoded',
          'none',
        );
  return fc
    .record({
      path: fc
        .tuple(...pathParameters.map((p) => pathValue(operation, p.schema, mode)))
        .map((values) =>
          pathParameters.reduce(
            (path, parameter, i) => path.replace(`{${parameter.name}}`, values[i] ?? ''),
            operation.path,
          ),
        ),
      query: queryString(
        parameters.filter((p) => p.in === 'query'),
        mode,
      ),
      conditional: fc.record(Object.fromEntries(headerParameters.map((p) => [p.name as string, headerValue(p, mode)]))),
      accept: fc.constantFrom('application/json', 'application/problem+json', '*/*', 'none'),
      origin: fc.constantFrom(listedOrigin, 'https://evil.example', 'none'),
      requestId: fc.oneof(
        fc.constant('none'),
        fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
        fc.constantFrom('bad id with spaces', 'x'.repeat(129), '<script>'),
      ),
      body,
      contentType,
    })
    .map(({ path, query, conditional, accept, origin, requestId, body, contentType: type }) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(conditional)) {
        if (value === lastTagOfPath) headers[name] = lastTags.get(path) ?? '"never-sent"';
        else if (value !== undefined) headers[name] = value;
      }
      if (accept !== 'none') headers.accept = accept;
      if (origin !== 'none') headers.origin = origin;
      if (requestId !== 'none') headers['x-request-id'] = requestId;
      if (body === undefined) return { path, query, headers };
      // A Uint8Array body goes out with no Content-Type at all; a string one would get text/plain from fetch.
      if (type === 'none') return { path, query, headers, body: new TextEncoder().encode(body) };
      return { path, query, headers: { ...headers, 'content-type': type }, body };
    });
}

const requests = (operation: Operation) => fc.oneof(requestsIn(operation, 'plain'), requestsIn(operation, 'hostile'));

// ---- the properties -----------------------------------------------------------------------------------------

function headerInstance(schema: Json, value: string): unknown {
  return deref(schema).type === 'integer' && /^-?\d+$/.test(value) ? Number(value) : value;
}

function checkHeaders(declared: Json, response: ApiResponse, where: string): void {
  for (const [name, header] of Object.entries(declared) as [string, Json][]) {
    const value = response.headers.get(name);
    if (value === null) {
      assert.ok(!header.required, `${where}: the document requires header ${name}, which is missing`);
      continue;
    }
    assertValid(header.schema, headerInstance(header.schema, value), `${where}: header ${name} (${value})`);
  }
}

function checkError(response: ApiResponse, where: string): void {
  const requestId = response.headers.get('x-request-id');
  const type = (response.headers.get('content-type') ?? '').split(';')[0];
  if (type === 'application/problem+json') {
    const problem = response.body;
    assert.equal(problem?.status, response.status, `${where}: problem status\n${response.text}`);
    assert.ok(Array.isArray(problem.errors), `${where}: problem errors is not an array\n${response.text}`);
    assert.equal(problem.requestId, requestId, `${where}: problem requestId is not X-Request-Id`);
    return;
  }
  assert.equal(type, 'application/json', `${where}: an error answered ${type}\n${response.text}`);
  const error = response.body?.error;
  assert.ok(error, `${where}: no error envelope\n${response.text}`);
  assert.equal(typeof error.code, 'string', `${where}: error.code`);
  assert.equal(typeof error.message, 'string', `${where}: error.message`);
  assert.ok(Array.isArray(error.details), `${where}: error.details is not an array`);
  assert.equal(error.requestId, requestId, `${where}: error.requestId is not the X-Request-Id header`);
  assert.ok(String(error.documentationUrl).endsWith(`#${error.code}`), `${where}: documentationUrl`);
}

function checkAnswer(operation: Operation, request: FuzzRequest, response: ApiResponse): void {
  const target = `${request.path}${request.query}`;
  const where = `${operation.method.toUpperCase()} ${target.length > 200 ? `${target.slice(0, 200)}…` : target} → ${response.status}`;
  assert.ok(response.status < 500, `${where}: a server error\n${response.text}`);
  const declared: Json | undefined = operation.spec.responses?.[String(response.status)];
  assert.ok(declared, `${where}: the document does not declare this status for the operation\n${response.text}`);
  checkHeaders(declared.headers ?? {}, response, where);
  if (response.status >= 400) checkError(response, where);
  const content: Json | undefined = declared.content;
  if (!content) {
    assert.equal(response.text, '', `${where}: a body where the document declares none`);
    return;
  }
  const type = (response.headers.get('content-type') ?? '').split(';')[0] ?? '';
  const media = content[type];
  assert.ok(media, `${where}: content type ${type} is not one the document declares\n${response.text}`);
  assertValid(media.schema, response.body, `${where}: the body`);
}

/** Remembers what the server made, so later requests can name real resources and send real ETags. */
function remember(value: unknown, key = '', depth = 0): void {
  if (typeof value === 'string' && key !== '') {
    const values = sent.get(key.toLowerCase()) ?? [];
    if (values.length < 50 && !values.includes(value)) sent.set(key.toLowerCase(), [...values, value]);
  } else if (value !== null && typeof value === 'object' && depth < 4) {
    for (const [inner, innerValue] of Object.entries(value))
      remember(innerValue, Array.isArray(value) ? key : inner, depth + 1);
  }
}

function learn(operation: Operation, request: FuzzRequest, response: ApiResponse): void {
  if (response.status < 300) remember(response.body);
  const etag = response.headers.get('etag');
  if (etag && etags.length < 200) etags.push(etag);
  if (etag) lastTags.set(request.path, etag);
  if (response.status === 201 && typeof response.body?.id === 'string') {
    // Filed under the collection its self link names: a comment made under /v1/posts/{id}/comments is one of
    // /v1/comments.
    const self = response.body._links?.self?.href;
    const collection =
      typeof self === 'string' ? new URL(self).pathname.replace(/\/[^/]*$/, '') : collectionOf(operation.path);
    ids.set(collection, [...(ids.get(collection) ?? []), response.body.id]);
    if (etag) lastTags.set(`${collection}/${encodeURIComponent(response.body.id)}`, etag);
  }
}

async function send(operation: Operation, request: FuzzRequest): Promise<ApiResponse> {
  return api(operation.method.toUpperCase(), `${request.path}${request.query}`, {
    headers: request.headers,
    ...(request.body === undefined ? {} : { raw: request.body }),
  });
}

/** A POST that creates one resource in a top-level collection: its 201 is a single representation. */
const createsOne = (operation: Operation): boolean =>
  operation.method === 'post' &&
  operation.spec.requestBody !== undefined &&
  !operation.path.includes('{') &&
  typeof operation.spec.responses?.['201']?.content?.['application/json']?.schema?.$ref === 'string';

// Resources to aim at: three of each kind, created with valid bodies drawn from the document's own schemas.
for (const operation of operations.filter(createsOne)) {
  const schema = (Object.values(operation.spec.requestBody.content)[0] as Json).schema;
  for (const body of fc.sample(valid(schema), { numRuns: 30, seed: 20261125 })) {
    if ((ids.get(operation.path)?.length ?? 0) >= 3) break;
    const response = await api('POST', operation.path, { body });
    learn(operation, { path: operation.path, query: '', headers: {} }, response);
  }
  assert.equal(ids.get(operation.path)?.length, 3, `could not create fixtures through POST ${operation.path}`);
}

test('the document has operations to exercise', () => {
  assert.ok(operations.length >= 12, `only ${operations.length} operations in /v1/openapi.json`);
});

for (const operation of operations) {
  const name = `${operation.method.toUpperCase()} ${operation.path}`;
  test(`${name} never answers 5xx to valid or hostile requests, and every answer is what the document says`, async () => {
    await fc.assert(
      fc.asyncProperty(requests(operation), async (request) => {
        const response = await send(operation, request);
        learn(operation, request, response);
        checkAnswer(operation, request, response);
      }),
      { numRuns: runsPerOperation },
    );
  });
}
