// The routes a client starts from: the API root with HAL links, health and readiness, the OpenAPI documents and docs.
import { readFile } from 'node:fs/promises';
import scalar from '@scalar/fastify-api-reference';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../kernel/errors.ts';
import { contentTag } from '../../kernel/etag.ts';
import { pageQueryProperties } from '../../kernel/schemas.ts';
import type { Storage } from '../../storage/database.ts';
import { renderErrorsPage } from './errors-page.ts';
import { versionDocument } from './openapi.ts';
import { notModified } from './representation.ts';

export interface Collection {
  rel: string;
  path: string;
  title: string;
  /** Query parameters the collection takes, for the templated link (RFC 6570). */
  query: string[];
}

const hidden = { hide: true };

/** A body that never changes while the process runs: its ETag is computed once, not per request. */
interface Fixed {
  body: string;
  type: string;
  etag: string;
}
const fixed = (body: string, type: string): Fixed => ({ body, type, etag: contentTag(body) });

function send(request: FastifyRequest, reply: FastifyReply, content: Fixed) {
  if (notModified(request, reply, { etag: content.etag, cacheControl: 'public, max-age=300' })) return reply;
  return reply.type(content.type).send(content.body);
}

export async function discoveryRoutes(
  app: FastifyInstance,
  options: {
    publicUrl: string;
    storage: Storage;
    collections: Collection[];
    versions: string[];
    errorsDoc: string;
    /** Other documents a client may start from (the OAuth metadata, the JWK Set), by link relation. */
    documents: Record<string, { path: string; title: string }>;
  },
): Promise<void> {
  const { publicUrl, storage, collections, versions } = options;
  const link = (path: string, title: string) => ({ href: `${publicUrl}${path}`, title });
  const root = {
    name: 'Portico',
    description: 'Users, products, orders and posts through REST done right.',
    versions,
    _links: {
      self: link('/', 'This document'),
      ...Object.fromEntries(
        collections.map((c) => [
          c.rel,
          {
            href: `${publicUrl}${c.path}{?${[...Object.keys(pageQueryProperties), ...c.query].join(',')}}`,
            templated: true,
            title: c.title,
          },
        ]),
      ),
      ...Object.fromEntries(
        collections.map((c) => [
          `${c.rel}:item`,
          { href: `${publicUrl}${c.path}/{id}`, templated: true, title: `One of ${c.title.toLowerCase()}` },
        ]),
      ),
      ...Object.fromEntries(
        versions.map((v) => [`openapi:${v}`, link(`/${v}/openapi.json`, `OpenAPI 3.1 document of ${v}`)]),
      ),
      docs: link('/docs', 'Interactive API reference'),
      'docs:errors': link('/docs/errors', 'Every error code and what to do about it'),
      ...Object.fromEntries(
        Object.entries(options.documents).map(([rel, document]) => [rel, link(document.path, document.title)]),
      ),
      health: link('/healthz', 'Liveness'),
      ready: link('/readyz', 'Readiness'),
    },
  };
  const rootBody = fixed(JSON.stringify(root), 'application/json; charset=utf-8');
  app.get('/', { schema: hidden }, (request, reply) => send(request, reply, rootBody));

  app.get('/healthz', { schema: hidden }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });

  app.get('/readyz', { schema: hidden }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    try {
      await storage.ping();
    } catch {
      throw new ApiError('SERVICE_UNAVAILABLE', 'Not ready: the database does not answer.', {
        details: [
          { field: 'database', code: 'UNREACHABLE', message: `The ${storage.dialect} database does not answer.` },
        ],
      });
    }
    return { status: 'ready', checks: { database: 'ok' } };
  });

  for (const version of versions) {
    let document: Fixed | null = null;
    app.get(`/${version}/openapi.json`, { schema: hidden, config: { scope: 'public' } }, (request, reply) => {
      document ??= fixed(
        JSON.stringify(versionDocument(app.swagger() as Record<string, unknown>, version, publicUrl)),
        'application/json; charset=utf-8',
      );
      return send(request, reply, document);
    });
  }

  const errorsPage = fixed(renderErrorsPage(await readFile(options.errorsDoc, 'utf8')), 'text/html; charset=utf-8');
  app.get('/docs/errors', { schema: hidden }, (request, reply) => send(request, reply, errorsPage));

  await app.register(scalar, {
    routePrefix: '/docs',
    configuration: { url: `/${versions[0]}/openapi.json`, title: 'Portico API' },
  });
}
