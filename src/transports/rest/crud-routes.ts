// The REST method contract for one resource, written once: list (both page modes), get, create (201 + Location),
// PUT replaces, PATCH merges (RFC 7396), DELETE, with ETags, conditional requests and declared scopes.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type TObject, type TSchema, Type } from 'typebox';
import { mergePatchType } from '../../edge/content-types.ts';
import type { CrudService, Precondition, Versioned } from '../../kernel/crud.ts';
import { invalid } from '../../kernel/errors.ts';
import { entityTag, ifMatch } from '../../kernel/etag.ts';
import { type CursorCodec, listingKey, pageRequest, type Sort } from '../../kernel/pagination.ts';
import { IdParam, Links, Pagination, pageQueryProperties, StringEnum } from '../../kernel/schemas.ts';
import { collectionBody } from './collection.ts';
import { errorResponses } from './error-responses.ts';
import { notModified, parseFields, project } from './representation.ts';

export interface CrudResource<R extends Versioned, Create, Patch, Filters> {
  /** Singular, for messages: "user". */
  kind: string;
  /** Plural, for tags and summaries: "users". */
  plural: string;
  path: string;
  scopes: { read: string; write: string };
  cacheControl: string;
  /** The representation's $id, registered with addSchema; its properties are the fields `?fields=` may name. */
  representation: TObject;
  create: TObject;
  patch: TObject;
  filters: Record<string, TSchema>;
  sortFields: readonly [string, ...string[]];
  service: CrudService<R, Create, Patch, Filters>;
  represent(record: R): Record<string, unknown>;
}

export interface RestContext {
  publicUrl: string;
  codec: CursorCodec;
}

const pageKeys = new Set(['limit', 'cursor', 'page', 'perPage', 'sort', 'order', 'fields']);

const defaultOrder = (field: string): Sort['order'] => (field.endsWith('At') ? 'desc' : 'asc');

const rangeKeys = new Set(['createdFrom', 'createdTo']);

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

function preconditionFrom<R extends Versioned>(request: FastifyRequest): Precondition<R> {
  const header = request.headers['if-match'];
  return (current) => ifMatch(header, entityTag(current.id, current.version));
}

export function crudRoutes<R extends Versioned, Create, Patch, Filters>(
  app: FastifyInstance,
  resource: CrudResource<R, Create, Patch, Filters>,
  context: RestContext,
): void {
  const { path, kind, plural, scopes, service, represent } = resource;
  const schemaId = String((resource.representation as { $id?: string }).$id);
  const ref = Type.Ref(schemaId);
  const sparse = Type.Ref(`${schemaId}Sparse`);
  const oneOrSparse = Type.Union([ref, sparse]);
  const fieldNames = Object.keys(resource.representation.properties).filter((name) => name !== '_links');
  const tags = [plural[0]?.toUpperCase() + plural.slice(1)];
  const itemUrl = (id: string) => `${context.publicUrl}${path}/${id}`;

  const sendOne = (request: FastifyRequest, reply: FastifyReply, record: R, fields: string[] | null) => {
    const caching = {
      etag: entityTag(record.id, record.version, fields?.join(',') ?? ''),
      cacheControl: resource.cacheControl,
    };
    if (notModified(request, reply, caching)) return reply;
    return reply.send(project(represent(record), fields));
  };
  const writeHeaders = (reply: FastifyReply, record: R) =>
    reply.header('etag', entityTag(record.id, record.version)).header('cache-control', 'no-store');

  app.get(
    path,
    {
      config: { scope: scopes.read },
      schema: {
        operationId: `list${tags[0]}`,
        summary: `List ${plural}`,
        description: `A page of ${plural}: cursor pages by default, offset pages with \`page\`. Filter, sort and pick fields.`,
        tags,
        querystring: Type.Object(
          { ...pageQueryProperties, sort: Type.Optional(StringEnum(resource.sortFields)), ...resource.filters },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ data: Type.Array(oneOrSparse, { maxItems: 100 }), pagination: Pagination, _links: Links }),
          ...errorResponses(400),
        },
      },
    },
    async (request, reply) => {
      const query = request.query as Record<string, unknown> & {
        sort?: string;
        order?: Sort['order'];
        fields?: string;
      };
      const fields = parseFields(query.fields, fieldNames);
      const field = query.sort ?? resource.sortFields[0];
      const sort: Sort = { field, order: query.order ?? defaultOrder(field) };
      const filters = Object.fromEntries(
        Object.entries(query)
          .filter(([key]) => !pageKeys.has(key))
          .map(([key, value]) => [key, rangeKeys.has(key) ? storedInstant(key, String(value)) : value]),
      );
      const listing = listingKey(path, filters);
      const page = pageRequest(query as Parameters<typeof pageRequest>[0], sort, listing, context.codec);
      const result = await service.list(filters as Filters, page);
      const projected = { ...result, items: result.items.map((record) => project(represent(record), fields)) };
      reply.header('cache-control', resource.cacheControl);
      return collectionBody(request, reply, page, projected, {
        publicUrl: context.publicUrl,
        codec: context.codec,
        listing,
      });
    },
  );

  app.post(
    path,
    {
      config: { scope: scopes.write },
      schema: {
        operationId: `create${tags[0]?.slice(0, -1)}`,
        summary: `Create a ${kind}`,
        description: `Creates a ${kind}; answers 201 with its Location and ETag.`,
        tags,
        body: resource.create,
        response: { 201: ref, ...errorResponses(400, 409, 413, 415) },
      },
    },
    async (request, reply) => {
      const record = await service.create(request.body as Create);
      writeHeaders(reply, record).header('location', itemUrl(record.id)).code(201);
      return represent(record);
    },
  );

  const itemPath = `${path}/:id`;
  app.get(
    itemPath,
    {
      config: { scope: scopes.read },
      schema: {
        operationId: `get${tags[0]?.slice(0, -1)}`,
        summary: `Get a ${kind}`,
        description: `One ${kind}. Send If-None-Match with its ETag to get 304 when it has not changed.`,
        tags,
        params: IdParam,
        querystring: Type.Object({ fields: pageQueryProperties.fields }, { additionalProperties: false }),
        response: { 200: oneOrSparse, ...errorResponses(400, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const { fields } = request.query as { fields?: string };
      return sendOne(request, reply, await service.get(id), parseFields(fields, fieldNames));
    },
  );

  app.put(
    itemPath,
    {
      config: { scope: scopes.write },
      schema: {
        operationId: `replace${tags[0]?.slice(0, -1)}`,
        summary: `Replace a ${kind}`,
        description: `Replaces the whole ${kind}: optional fields left out become null or their default. Send If-Match to avoid lost updates.`,
        tags,
        params: IdParam,
        body: resource.create,
        response: { 200: ref, ...errorResponses(400, 404, 409, 412, 413, 415) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const record = await service.replace(id, request.body as Create, preconditionFrom<R>(request));
      writeHeaders(reply, record);
      return represent(record);
    },
  );

  app.patch(
    itemPath,
    {
      config: { scope: scopes.write, bodyTypes: [mergePatchType, 'application/json'] },
      schema: {
        operationId: `update${tags[0]?.slice(0, -1)}`,
        summary: `Update a ${kind}`,
        description: `JSON Merge Patch (RFC 7396): fields present are set, null clears an optional field, absent fields stay. Send If-Match to avoid lost updates.`,
        tags,
        params: IdParam,
        body: resource.patch,
        response: { 200: ref, ...errorResponses(400, 404, 409, 412, 413, 415) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const record = await service.patch(id, request.body as Patch, preconditionFrom<R>(request));
      writeHeaders(reply, record);
      return represent(record);
    },
  );

  app.delete(
    itemPath,
    {
      config: { scope: scopes.write },
      schema: {
        operationId: `delete${tags[0]?.slice(0, -1)}`,
        summary: `Delete a ${kind}`,
        description: `Deletes the ${kind}. Deleting it again answers 404 and changes nothing.`,
        tags,
        params: IdParam,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(404, 412) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      await service.remove(id, preconditionFrom<R>(request));
      return reply.code(204).send();
    },
  );
}
