// Sending one representation: ETag, Cache-Control, conditional GET (RFC 9110 §13.1.2), sparse fieldsets.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TSchema } from 'typebox';
import { invalid } from '../../kernel/errors.ts';
import { noneMatch } from '../../kernel/etag.ts';

/** Fields that every sparse representation keeps, so a client can always follow and identify what it got. */
const alwaysKept = ['id', '_links'];

export function parseFields(fields: string | undefined, allowed: readonly string[]): string[] | null {
  if (fields === undefined) return null;
  const requested = fields.split(',');
  const unknown = requested.filter((field) => !allowed.includes(field));
  if (unknown.length > 0) {
    throw invalid(
      'fields',
      'UNKNOWN_FIELD',
      `fields names ${unknown.join(', ')}, which this resource does not have; it has ${allowed.join(', ')}.`,
    );
  }
  return [...new Set([...alwaysKept, ...requested])];
}

export function project<T extends Record<string, unknown>>(body: T, fields: string[] | null): Partial<T> {
  if (fields === null) return body;
  return Object.fromEntries(fields.filter((field) => field in body).map((field) => [field, body[field]])) as Partial<T>;
}

export interface Caching {
  etag: string;
  cacheControl: string;
}

/** Sets validators; answers 304 and returns true when the client's copy is current. */
export function notModified(request: FastifyRequest, reply: FastifyReply, caching: Caching): boolean {
  reply.header('etag', caching.etag).header('cache-control', caching.cacheControl);
  const header = request.headers['if-none-match'];
  if (noneMatch(header, caching.etag)) return false;
  reply.code(304).send();
  return true;
}

/**
 * The body as JSON text to return from the handler, serialized with `schema` (compiled once per route and schema)
 * instead of the route's response schema: for a route that declares several shapes and knows which one it sends.
 * Undeclared fields are dropped, as the route's own serializer drops them.
 */
export function serializeAs(reply: FastifyReply, schema: TSchema, body: unknown): string {
  reply.type('application/json; charset=utf-8');
  // Typed as plain records: a TypeBox schema is one, and any value its schema describes is serialized.
  return reply.serializeInput(body as Record<string, unknown>, schema as Record<string, unknown>);
}
