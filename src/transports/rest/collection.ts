// A page of a collection on the wire: `{ data, pagination, _links }` and the same links in an RFC 8288 Link header.
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  type CursorCodec,
  type Link,
  linkHeader,
  type PageRequest,
  type PageResult,
  totalPages,
} from '../../kernel/pagination.ts';

function urlWith(
  publicUrl: string,
  request: FastifyRequest,
  changes: Record<string, string | number | undefined>,
): string {
  const url = new URL(request.url, publicUrl);
  const target = new URL(publicUrl + url.pathname);
  const params = new URLSearchParams(url.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) params.delete(key);
    else params.set(key, String(value));
  }
  target.search = params.toString();
  return target.toString();
}

export interface CollectionContext {
  publicUrl: string;
  codec: CursorCodec;
  listing: string;
}

export function collectionBody<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  page: PageRequest,
  result: PageResult<T>,
  context: CollectionContext,
) {
  const self = urlWith(context.publicUrl, request, {});
  const links: Link[] = [];
  let pagination: Record<string, unknown>;
  if (result.mode === 'offset' && page.mode === 'offset') {
    const pages = totalPages(result.total, page.perPage);
    pagination = { page: page.page, perPage: page.perPage, total: result.total, totalPages: pages };
    links.push({ rel: 'first', href: urlWith(context.publicUrl, request, { page: 1 }) });
    if (page.page < pages)
      links.push({ rel: 'next', href: urlWith(context.publicUrl, request, { page: page.page + 1 }) });
    if (page.page > 1)
      links.push({
        rel: 'prev',
        href: urlWith(context.publicUrl, request, { page: Math.min(page.page - 1, Math.max(pages, 1)) }),
      });
    if (pages > 0) links.push({ rel: 'last', href: urlWith(context.publicUrl, request, { page: pages }) });
  } else if (result.mode === 'cursor' && page.mode === 'cursor') {
    const nextCursor = result.next ? context.codec.encode(context.listing, page.sort, 'next', result.next) : null;
    const prevCursor = result.prev ? context.codec.encode(context.listing, page.sort, 'prev', result.prev) : null;
    pagination = { limit: page.limit, nextCursor, prevCursor, hasMore: nextCursor !== null };
    links.push({ rel: 'first', href: urlWith(context.publicUrl, request, { cursor: undefined }) });
    if (nextCursor) links.push({ rel: 'next', href: urlWith(context.publicUrl, request, { cursor: nextCursor }) });
    if (prevCursor) links.push({ rel: 'prev', href: urlWith(context.publicUrl, request, { cursor: prevCursor }) });
  } else {
    throw new Error('page request and result are of different modes');
  }
  if (links.length > 0) reply.header('link', linkHeader(links));
  const hal = Object.fromEntries([['self', { href: self }], ...links.map((link) => [link.rel, { href: link.href }])]);
  return { data: result.items, pagination, _links: hal };
}
