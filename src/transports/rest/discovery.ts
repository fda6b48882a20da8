// The routes a client starts from: the API root with HAL links, health and readiness, the OpenAPI documents and docs.
import { readFile } from 'node:fs/promises';
import scalar from '@scalar/fastify-api-reference';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KeyValueHealth } from '../../adapters/kv/resilient.ts';
import { sha256Source } from '../../edge/security-headers.ts';
import { ApiError } from '../../kernel/errors.ts';
import { contentTag } from '../../kernel/etag.ts';
import { pageQueryProperties } from '../../kernel/schemas.ts';
import type { Storage } from '../../storage/database.ts';
import { errorsPageSecurityPolicy, renderErrorsPage } from './errors-page.ts';
import { notModified } from './representation.ts';

export interface Collection {
  rel: string;
  path: string;
  title: string;
  /** Query parameters the collection takes, for the templated link (RFC 6570). */
  query: string[];
}

const hidden = { hide: true };

const inlineScripts = /<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g;

/**
 * The reference page loads Scalar's bundled script from /docs/js and starts it with an inline script, allowed by its
 * hash. Styles may be inline: Scalar injects its stylesheet at run time. Its web fonts come from Scalar's CDN, which
 * is not allowed, so the page falls back to system fonts rather than calling a third party.
 */
function docsSecurityPolicy(html: string): string {
  const hashes = [...html.matchAll(inlineScripts)].map((match) => sha256Source(match[1] ?? ''));
  return [
    "default-src 'none'",
    `script-src 'self' ${hashes.join(' ')}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

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
    /** The shared counter store's state, when there is one (Redis): reported, but it never makes readiness fail. */
    keyValueHealth?: () => KeyValueHealth;
    collections: Collection[];
    versions: string[];
    /** A version's OpenAPI document, from the one @fastify/swagger generates for every route. */
    openapi(swagger: Record<string, unknown>, version: string): Record<string, unknown>;
    errorsDoc: string;
    /** Other documents a client may start from (the OAuth metadata, the JWK Set), by link relation. */
    documents: Record<string, { path: string; title: string }>;
  },
): Promise<void> {
  const { publicUrl, storage, versions } = options;
  // Every route serves every version (edge/versioning.ts): the collections of later versions are linked as
  // `v2:users`, and so on.
  const [first = 'v1', ...later] = versions;
  const collections = [
    ...options.collections,
    ...later.flatMap((version) =>
      options.collections.map((c) => ({
        ...c,
        rel: `${version}:${c.rel}`,
        path: c.path.replace(`/${first}/`, `/${version}/`),
        title: `${c.title} (${version})`,
      })),
    ),
  ];
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
    if (!options.keyValueHealth) return { status: 'ready', checks: { database: 'ok' } };
    // A failing Redis degrades limits to one process each, but every request is still served: stay ready.
    const counters = options.keyValueHealth();
    return { status: 'ready', checks: { database: 'ok', counters: counters.status }, details: { counters } };
  });

  for (const version of versions) {
    let document: Fixed | null = null;
    app.get(`/${version}/openapi.json`, { schema: hidden, config: { scope: 'public' } }, (request, reply) => {
      document ??= fixed(
        JSON.stringify(options.openapi(app.swagger() as Record<string, unknown>, version)),
        'application/json; charset=utf-8',
      );
      return send(request, reply, document);
    });
  }

  const errorsPage = fixed(renderErrorsPage(await readFile(options.errorsDoc, 'utf8')), 'text/html; charset=utf-8');
  app.get('/docs/errors', { schema: hidden }, (request, reply) => {
    reply.header('content-security-policy', errorsPageSecurityPolicy);
    return send(request, reply, errorsPage);
  });

  await app.register(async (docs) => {
    // The page is the same on every request: its policy is computed once.
    let policy: { html: string; value: string } | null = null;
    docs.addHook('onSend', async (_request, reply, payload) => {
      if (typeof payload === 'string' && String(reply.getHeader('content-type')).startsWith('text/html')) {
        if (policy?.html !== payload) policy = { html: payload, value: docsSecurityPolicy(payload) };
        reply.header('content-security-policy', policy.value);
      }
      return payload;
    });
    await docs.register(scalar, {
      routePrefix: '/docs',
      configuration: { url: `/${versions.at(-1)}/openapi.json`, title: 'Portico API' },
    });
  });
}
