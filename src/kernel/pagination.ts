// Page requests and results: opaque, tamper-evident keyset cursors (AIP-158), offset pages on request, RFC 8288 links.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { type ApiError, invalid } from './errors.ts';

export const defaultLimit = 20;
export const maxLimit = 100;

export type SortOrder = 'asc' | 'desc';
export interface Sort {
  field: string;
  order: SortOrder;
}

/** Where a cursor points: just after (or, going back, just before) the row with this sort value and id. */
export interface KeysetPosition {
  value: string | number;
  id: string;
}

export type PageRequest =
  | { mode: 'cursor'; limit: number; sort: Sort; position: KeysetPosition | null; direction: 'next' | 'prev' }
  | { mode: 'offset'; page: number; perPage: number; sort: Sort };

export type PageResult<T> =
  | { mode: 'cursor'; items: T[]; next: KeysetPosition | null; prev: KeysetPosition | null }
  | { mode: 'offset'; items: T[]; total: number };

interface CursorPayload {
  /** sort field and order, and a digest of the filters: a cursor only continues the listing that made it */
  s: string;
  o: SortOrder;
  q: string;
  d: 'n' | 'p';
  v: string | number;
  i: string;
}

export interface CursorCodec {
  encode(listing: string, sort: Sort, direction: 'next' | 'prev', position: KeysetPosition): string;
  decode(token: string, listing: string, sort: Sort): { direction: 'next' | 'prev'; position: KeysetPosition };
}

const badCursor = (reason: string): ApiError =>
  invalid('cursor', 'INVALID_CURSOR', `${reason} Start again from the first page, without a cursor.`);

/** A digest that names one listing: its path and every filter, in a stable order. */
export function listingKey(path: string, filters: Record<string, unknown>): string {
  const stable = Object.keys(filters)
    .sort()
    .filter((key) => filters[key] !== undefined)
    .map((key) => [key, filters[key]]);
  return createHash('sha256')
    .update(JSON.stringify([path, stable]))
    .digest('base64url')
    .slice(0, 16);
}

export function cursorCodec(secret: string): CursorCodec {
  const sign = (payload: string): Buffer => createHmac('sha256', secret).update(payload).digest().subarray(0, 16);
  return {
    encode(listing, sort, direction, position) {
      const body: CursorPayload = {
        s: sort.field,
        o: sort.order,
        q: listing,
        d: direction === 'next' ? 'n' : 'p',
        v: position.value,
        i: position.id,
      };
      const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
      return `${payload}.${sign(payload).toString('base64url')}`;
    },
    decode(token, listing, sort) {
      const [payload, mac, extra] = token.split('.');
      if (!payload || !mac || extra !== undefined) throw badCursor('The cursor is malformed.');
      const given = Buffer.from(mac, 'base64url');
      const expected = sign(payload);
      // Decoding ignores a last character's spare bits and stray characters: only the canonical spelling is ours.
      if (
        given.length !== expected.length ||
        given.toString('base64url') !== mac ||
        !timingSafeEqual(given, expected)
      ) {
        throw badCursor('The cursor was altered or was not issued by this API.');
      }
      const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as CursorPayload;
      if (body.q !== listing || body.s !== sort.field || body.o !== sort.order) {
        throw badCursor('The cursor belongs to a listing with other filters or another sort order.');
      }
      return { direction: body.d === 'p' ? 'prev' : 'next', position: { value: body.v, id: body.i } };
    },
  };
}

export interface PageQuery {
  limit?: number | undefined;
  cursor?: string | undefined;
  page?: number | undefined;
  perPage?: number | undefined;
}

/** Cursor pages by default; offset pages when `page` is given (CONTRACT: Pagination). */
export function pageRequest(query: PageQuery, sort: Sort, listing: string, codec: CursorCodec): PageRequest {
  if (query.page !== undefined) {
    if (query.cursor !== undefined) {
      throw invalid('cursor', 'CONFLICTING_PARAMETERS', 'use either cursor or page, not both.');
    }
    if (query.limit !== undefined) {
      throw invalid('limit', 'CONFLICTING_PARAMETERS', 'offset pages are sized by perPage, not limit.');
    }
    return { mode: 'offset', page: query.page, perPage: query.perPage ?? defaultLimit, sort };
  }
  if (query.perPage !== undefined) {
    throw invalid('perPage', 'CONFLICTING_PARAMETERS', 'perPage goes with page; cursor pages are sized by limit.');
  }
  const limit = query.limit ?? defaultLimit;
  if (query.cursor === undefined) return { mode: 'cursor', limit, sort, position: null, direction: 'next' };
  const { direction, position } = codec.decode(query.cursor, listing, sort);
  return { mode: 'cursor', limit, sort, position, direction };
}

export interface Link {
  rel: string;
  href: string;
}

/** An RFC 8288 Link header value. */
export const linkHeader = (links: Link[]): string =>
  links.map((link) => `<${link.href}>; rel="${link.rel}"`).join(', ');

export const totalPages = (total: number, perPage: number): number => Math.ceil(total / perPage);
