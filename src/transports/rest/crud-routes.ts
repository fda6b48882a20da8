// The REST method contract, written once as route builders: list (both page modes, filters, sort, fields, expand),
// get, create (201 + Location), PUT replaces, PATCH merges (RFC 7396), DELETE, with ETags, conditional requests and
// declared scopes. Simple resources take them all through crudRoutes; richer ones (orders) pick what they need.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type TObject, type TSchema, Type } from 'typebox';
import { mergePatchType } from '../../edge/content-types.ts';
import type { CrudService, Precondition, Versioned } from '../../kernel/crud.ts';
import { atItem, invalid } from '../../kernel/errors.ts';
import { entityTag, ifMatch } from '../../kernel/etag.ts';
import {
  type CursorCodec,
  listingKey,
  type PageRequest,
  type PageResult,
  pageRequest,
  type Sort,
} from '../../kernel/pagination.ts';
import { IdParam, Links, Pagination, pageQueryProperties, StringEnum } from '../../kernel/schemas.ts';
import { type AccessPolicy, guardBody, guardRecord, narrowFilters, restrictedCustomer } from './access.ts';
import { collectionBody } from './collection.ts';
import { errorResponses } from './error-responses.ts';
import { type Expansion, expandAll, expandedKeys, expandParameter, parseExpand } from './expansion.ts';
import { notModified, parseFields, project, serializeAs } from './representation.ts';

export interface RestContext {
  publicUrl: string;
  codec: CursorCodec;
}

/** What every route of a resource needs to know about it. */
export interface Resource<R extends Versioned> {
  /** Singular, for messages and operation ids: "user". */
  kind: string;
  /** Plural, for tags and summaries: "users". */
  plural: string;
  path: string;
  scopes: { read: string; write: string };
  cacheControl: string;
  /**
   * Cache-Control when it depends on what is sent: the record (a draft post must stay out of shared caches), a
   * list's filters, or what `expand` embeds (private data inside a public resource). `cacheControl` otherwise.
   */
  cachePolicy?(sent: { record?: R; filters?: Record<string, unknown>; expand: string | undefined }): string;
  /** Registered with addSchema under its $id; its properties are the fields `?fields=` may name. */
  representation: TObject;
  represent(record: R): Record<string, unknown>;
  expansions?: readonly Expansion[];
  /** Who may see and change which records (transports/rest/access.ts); every caller sees all when absent. */
  access?: AccessPolicy<R>;
}

export interface CrudResource<R extends Versioned, Create, Patch, Filters> extends Resource<R> {
  create: TObject;
  patch: TObject;
  filters: Record<string, TSchema>;
  sortFields: readonly [string, ...string[]];
  service: CrudService<R, Create, Patch, Filters>;
}

/** A batch is one transaction: bounded so it cannot hold the database for long. */
export const maxBatchItems = 100;

const pageKeys = new Set(['limit', 'cursor', 'page', 'perPage', 'sort', 'order', 'fields', 'expand']);
const rangeKeys = new Set(['createdFrom', 'createdTo']);
const defaultOrder = (field: string): Sort['order'] => (field.endsWith('At') ? 'desc' : 'asc');

/**
 * A date-time bound in the stored form (UTC, milliseconds), because SQLite compares timestamps as text:
 * `…T00:00:05Z` and `…T01:00:05+01:00` must mean the instant stored as `…T00:00:05.000Z`. Rows hold whole
 * milliseconds, so a finer bound rounds up for both the inclusive and the exclusive end.
 */
function storedInstant(field: string, text: string): string {
  const ms = Date.parse(text);
  // RFC 3339 allows a leap second (…:60), which no stored row can carry and Date cannot represent.
  if (Number.isNaN(ms))
    throw invalid(field, 'INVALID_FORMAT', `${field} must be an RFC 3339 date-time without a leap second.`);
  return new Date(ms + (/\.\d{3}\d*[1-9]/.test(text) ? 1 : 0)).toISOString();
}

/**
 * What a write or action checks on the stored record, inside its transaction: that the caller may see it (404
 * otherwise) and change it (403), that the body sets nothing the caller may not (403), then If-Match (412).
 */
export function preconditionFrom<R extends Versioned>(
  request: FastifyRequest,
  resource: Resource<R>,
  body?: unknown,
): Precondition<R> {
  const header = request.headers['if-match'];
  return (current) => {
    guardRecord(resource.access, request, resource.kind, current, true);
    if (body !== undefined) guardBody(resource.access, request, resource.kind, body, current);
    return ifMatch(header, entityTag(current.id, current.version));
  };
}

const emptyPage = <R>(page: PageRequest): PageResult<R> =>
  page.mode === 'cursor'
    ? { mode: 'cursor', items: [], next: null, prev: null }
    : { mode: 'offset', items: [], total: 0 };

const capital = (word: string) => (word[0]?.toUpperCase() ?? '') + word.slice(1);
/** The tag: "Users", "API keys". */
const title = (resource: Resource<never>) => capital(resource.plural);
/** For operation ids, which must be identifiers: "Users", "APIKeys"; `singular` is the same for one. */
const plural = (resource: Resource<never>) =>
  resource.plural
    .split(/[^A-Za-z0-9]+/)
    .map(capital)
    .join('');
const singular = (resource: Resource<never>) =>
  resource.kind
    .split(/[^A-Za-z0-9]+/)
    .map(capital)
    .join('');
const schemaId = (resource: Resource<never>) => String((resource.representation as { $id?: string }).$id);
const fieldNames = (resource: Resource<never>) =>
  Object.keys(resource.representation.properties).filter((name) => name !== '_links');

/**
 * What a read answers: the full representation, or a sparse one when `?fields=` is given. The route declares either
 * (`anyOf` in OpenAPI) but sends with the one asked for (bodyOf), because fast-json-stringify can only pick a branch
 * of a union by validating the body against it: formats and patterns of every field, on every answer.
 */
function shapes(resource: Resource<never>, wrap: (item: TSchema) => TSchema = (item) => item) {
  const full = Type.Ref(schemaId(resource));
  const sparse = Type.Ref(`${schemaId(resource)}Sparse`);
  return { declared: wrap(Type.Union([full, sparse])), full: wrap(full), sparse: wrap(sparse) };
}

type Shapes = ReturnType<typeof shapes>;

/** The answer's bytes, serialized with the shape its query asked for. */
const bodyOf = (reply: FastifyReply, shape: Shapes, fields: string | undefined, body: unknown): string =>
  serializeAs(reply, fields === undefined ? shape.full : shape.sparse, body);

/** Represents records, expands what was asked in one batch per path, then keeps the fields asked for. */
function presenter<R extends Versioned>(resource: Resource<R>) {
  const allowed = fieldNames(resource as Resource<never>);
  const known = resource.expansions ?? [];
  return async (
    records: R[],
    query: { fields?: string; expand?: string },
    request: FastifyRequest,
  ): Promise<Record<string, unknown>[]> => {
    const expansions = parseExpand(query.expand, known);
    const fields = parseFields(query.fields, allowed);
    const representations = records.map((record) => resource.represent(record));
    if (expansions.length > 0) await expandAll(representations, expansions, restrictedCustomer(request));
    if (fields === null) return representations;
    const kept = [...fields, ...expandedKeys(expansions)];
    return representations.map((representation) => project(representation, kept));
  };
}

export const itemUrl = (context: RestContext, resource: Resource<never>, id: string) =>
  `${context.publicUrl}${resource.path}/${id}`;

/** ETag of the current version (what If-Match compares), and no caching of a write's answer. */
export const writeHeaders = <R extends Versioned>(reply: FastifyReply, record: R) =>
  reply.header('etag', entityTag(record.id, record.version)).header('cache-control', 'no-store');

export interface ListOptions<R, Filters> {
  filters: Record<string, TSchema>;
  sortFields: readonly [string, ...string[]];
  /** `request` for what the caller is: whose records a listing holds. */
  list(filters: Filters, page: PageRequest, request: FastifyRequest): Promise<PageResult<R>>;
  /** For a nested collection (`/v1/users/:id/orders`): its path, and the filter its parent fixes (404 if absent). */
  nested?: {
    path: string;
    filtersFrom(params: { id: string }, request: FastifyRequest): Promise<Partial<Filters>>;
    operationId: string;
    summary: string;
  };
}

export function listRoute<R extends Versioned, Filters>(
  app: FastifyInstance,
  resource: Resource<R>,
  options: ListOptions<R, Filters>,
  context: RestContext,
): void {
  const anyResource = resource as Resource<never>;
  const path = options.nested?.path ?? resource.path;
  const present = presenter(resource);
  const shape = shapes(anyResource, (item) =>
    Type.Object({ data: Type.Array(item, { maxItems: 100 }), pagination: Pagination, _links: Links }),
  );
  app.get(
    path,
    {
      config: { scope: resource.scopes.read },
      schema: {
        operationId: options.nested?.operationId ?? `list${plural(anyResource)}`,
        summary: options.nested?.summary ?? `List ${resource.plural}`,
        description: `A page of ${resource.plural}: cursor pages by default, offset pages with \`page\`. Filter, sort, expand and pick fields.`,
        tags: [title(anyResource)],
        ...(options.nested ? { params: IdParam } : {}),
        querystring: Type.Object(
          {
            ...pageQueryProperties,
            sort: Type.Optional(StringEnum(options.sortFields)),
            expand: Type.Optional(expandParameter),
            ...options.filters,
          },
          { additionalProperties: false },
        ),
        response: {
          200: shape.declared,
          ...errorResponses(400, ...(options.nested ? [404] : [])),
        },
      },
    },
    async (request, reply) => {
      const query = request.query as Record<string, unknown> & {
        sort?: string;
        order?: Sort['order'];
        fields?: string;
        expand?: string;
      };
      const field = query.sort ?? options.sortFields[0];
      const sort: Sort = { field, order: query.order ?? defaultOrder(field) };
      const fixed = options.nested ? await options.nested.filtersFrom(request.params as { id: string }, request) : {};
      const filters = {
        ...Object.fromEntries(
          Object.entries(query)
            .filter(([key]) => !pageKeys.has(key))
            .map(([key, value]) => [key, rangeKeys.has(key) ? storedInstant(key, String(value)) : value]),
        ),
        ...fixed,
      };
      const listing = listingKey(
        path === resource.path ? path : new URL(request.url, context.publicUrl).pathname,
        filters,
      );
      const page = pageRequest(query as Parameters<typeof pageRequest>[0], sort, listing, context.codec);
      const visible = narrowFilters(resource.access, request, filters);
      const result = visible === null ? emptyPage<R>(page) : await options.list(visible as Filters, page, request);
      const items = await present(result.items, query, request);
      reply.header('cache-control', resource.cachePolicy?.({ filters, expand: query.expand }) ?? resource.cacheControl);
      const body = collectionBody(
        request,
        reply,
        page,
        { ...result, items },
        { publicUrl: context.publicUrl, codec: context.codec, listing },
      );
      return bodyOf(reply, shape, query.fields, body);
    },
  );
}

export function getRoute<R extends Versioned>(
  app: FastifyInstance,
  resource: Resource<R>,
  get: (id: string, request: FastifyRequest) => Promise<R>,
): void {
  const anyResource = resource as Resource<never>;
  const present = presenter(resource);
  const shape = shapes(anyResource);
  app.get(
    `${resource.path}/:id`,
    {
      config: { scope: resource.scopes.read },
      schema: {
        operationId: `get${singular(anyResource)}`,
        summary: `Get a ${resource.kind}`,
        description: `One ${resource.kind}. Send If-None-Match with its ETag to get 304 when it has not changed.`,
        tags: [title(anyResource)],
        params: IdParam,
        querystring: Type.Object(
          { fields: pageQueryProperties.fields, expand: Type.Optional(expandParameter) },
          { additionalProperties: false },
        ),
        response: { 200: shape.declared, ...errorResponses(400, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const query = request.query as { fields?: string; expand?: string };
      const record = await get(id, request);
      guardRecord(resource.access, request, resource.kind, record, false);
      const [body] = await present([record], query, request);
      const cacheControl = resource.cachePolicy?.({ record, expand: query.expand }) ?? resource.cacheControl;
      // An expanded representation also changes when what it embeds changes: its tag is then taken over the bytes
      // (conditional-get.ts) instead of from this record's version alone.
      if (query.expand === undefined) {
        const caching = {
          etag: entityTag(record.id, record.version, query.fields ?? ''),
          cacheControl,
        };
        if (notModified(request, reply, caching)) return reply;
      } else {
        reply.header('cache-control', cacheControl);
      }
      return bodyOf(reply, shape, query.fields, body);
    },
  );
}

export interface CreateOptions<R> {
  body: TObject;
  create(body: unknown, params: { id?: string }, request: FastifyRequest): Promise<R>;
  /** For creating under a parent (`POST /v1/posts/:id/comments`). */
  nested?: { path: string; operationId: string; summary: string };
  /** Statuses beyond validation and media-type errors, such as 404 for a missing parent or 409. */
  errors: number[];
  /** False when the answer carries a secret, which must be neither stored nor replayed (edge/idempotency.ts). */
  idempotency?: false;
}

export function createRoute<R extends Versioned>(
  app: FastifyInstance,
  resource: Resource<R>,
  options: CreateOptions<R>,
  context: RestContext,
): void {
  const anyResource = resource as Resource<never>;
  app.post(
    options.nested?.path ?? resource.path,
    {
      config: { scope: resource.scopes.write, ...(options.idempotency === false ? { idempotency: false } : {}) },
      schema: {
        operationId: options.nested?.operationId ?? `create${singular(anyResource)}`,
        summary: options.nested?.summary ?? `Create a ${resource.kind}`,
        description: `Creates a ${resource.kind}; answers 201 with its Location and ETag.`,
        tags: [title(anyResource)],
        ...(options.nested ? { params: IdParam } : {}),
        body: options.body,
        response: { 201: Type.Ref(schemaId(anyResource)), ...errorResponses(400, 413, 415, ...options.errors) },
      },
    },
    async (request, reply) => {
      guardBody(resource.access, request, resource.kind, request.body);
      const record = await options.create(request.body, request.params as { id?: string }, request);
      writeHeaders(reply, record)
        .header('location', itemUrl(context, anyResource, record.id))
        .code(201);
      return resource.represent(record);
    },
  );
}

export function crudRoutes<R extends Versioned, Create, Patch, Filters>(
  app: FastifyInstance,
  resource: CrudResource<R, Create, Patch, Filters>,
  context: RestContext,
): void {
  const { service } = resource;
  const anyResource = resource as unknown as Resource<never>;
  const tags = [title(anyResource)];
  const ref = Type.Ref(schemaId(anyResource));

  listRoute(app, resource, { filters: resource.filters, sortFields: resource.sortFields, list: service.list }, context);
  createRoute(
    app,
    resource,
    { body: resource.create, create: (body) => service.create(body as Create), errors: [409] },
    context,
  );
  getRoute(app, resource, service.get);

  app.post(
    `${resource.path}/batch`,
    {
      // Up to maxBatchItems writes in one call: it takes as much of the caller's allowance as ten single calls.
      config: { scope: resource.scopes.write, rateCost: 10 },
      schema: {
        operationId: `create${plural(anyResource)}Batch`,
        summary: `Create up to ${maxBatchItems} ${resource.plural} at once`,
        description: `All or nothing: when any item is not valid or conflicts, nothing is created and the error names the item (\`items.3.email\`). On success \`data\` lists the created ${resource.plural} in the order of \`items\`.`,
        tags,
        body: Type.Object(
          { items: Type.Array(resource.create, { minItems: 1, maxItems: maxBatchItems }) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object(
            { data: Type.Array(ref, { maxItems: maxBatchItems }), _links: Links },
            { additionalProperties: false },
          ),
          ...errorResponses(400, 409, 413, 415),
        },
      },
    },
    async (request, reply) => {
      const { items } = request.body as { items: Create[] };
      for (const [index, item] of items.entries()) {
        try {
          guardBody(resource.access, request, resource.kind, item);
        } catch (error) {
          throw atItem(index, error);
        }
      }
      const records = await service.createMany(items);
      reply.header('cache-control', 'no-store').code(201);
      return {
        data: records.map((record) => resource.represent(record)),
        _links: { collection: { href: `${context.publicUrl}${resource.path}` } },
      };
    },
  );

  itemWriteRoutes(app, resource, {
    replaceBody: resource.create,
    patchBody: resource.patch,
    service,
    errors: [409],
  });
}

/** What PUT, PATCH and DELETE on an item call; CrudService has them, and so do resources created elsewhere. */
export interface ItemWrites<R, Replace, Patch> {
  replace(id: string, input: Replace, precondition: Precondition<R>): Promise<R>;
  patch(id: string, patch: Patch, precondition: Precondition<R>): Promise<R>;
  remove(id: string, precondition: Precondition<R>): Promise<void>;
}

export interface ItemWriteOptions<R, Replace, Patch> {
  replaceBody: TObject;
  patchBody: TObject;
  service: ItemWrites<R, Replace, Patch>;
  /** Statuses a replace or patch may answer beyond 400, 404, 412, 413 and 415, such as 409 for a duplicate. */
  errors: number[];
  /** What PUT replaces, when it is not the whole resource (a comment keeps its post). */
  replaceDescription?: string;
}

/** PUT replaces, PATCH merges (RFC 7396), DELETE deletes: each checked against the stored record (preconditionFrom). */
export function itemWriteRoutes<R extends Versioned, Replace, Patch>(
  app: FastifyInstance,
  resource: Resource<R>,
  options: ItemWriteOptions<R, Replace, Patch>,
): void {
  const anyResource = resource as unknown as Resource<never>;
  const item = `${resource.path}/:id`;
  const tags = [title(anyResource)];
  const ref = Type.Ref(schemaId(anyResource));
  const { service } = options;
  const writeErrors = errorResponses(400, 404, ...options.errors, 412, 413, 415);

  app.put(
    item,
    {
      config: { scope: resource.scopes.write },
      schema: {
        operationId: `replace${singular(anyResource)}`,
        summary: `Replace a ${resource.kind}`,
        description:
          options.replaceDescription ??
          `Replaces the whole ${resource.kind}: optional fields left out become null or their default. Send If-Match to avoid lost updates.`,
        tags,
        params: IdParam,
        body: options.replaceBody,
        response: { 200: ref, ...writeErrors },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const record = await service.replace(
        id,
        request.body as Replace,
        preconditionFrom(request, resource, request.body),
      );
      writeHeaders(reply, record);
      return resource.represent(record);
    },
  );

  app.patch(
    item,
    {
      config: { scope: resource.scopes.write, bodyTypes: [mergePatchType, 'application/json'] },
      schema: {
        operationId: `update${singular(anyResource)}`,
        summary: `Update a ${resource.kind}`,
        description: `JSON Merge Patch (RFC 7396): fields present are set, null clears an optional field, absent fields stay. Send If-Match to avoid lost updates.`,
        tags,
        params: IdParam,
        body: options.patchBody,
        response: { 200: ref, ...writeErrors },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const record = await service.patch(id, request.body as Patch, preconditionFrom(request, resource, request.body));
      writeHeaders(reply, record);
      return resource.represent(record);
    },
  );

  app.delete(
    item,
    {
      config: { scope: resource.scopes.write },
      schema: {
        operationId: `delete${singular(anyResource)}`,
        summary: `Delete a ${resource.kind}`,
        description: `Deletes the ${resource.kind}. Deleting it again answers 404 and changes nothing.`,
        tags,
        params: IdParam,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(404, 412) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      await service.remove(id, preconditionFrom(request, resource));
      return reply.code(204).send();
    },
  );
}
