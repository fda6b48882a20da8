// API versions, the way Stripe keeps them: every route is registered once, under its v1 path, and works on the one
// current internal model; a version is a set of request and response transforms at the edge. `/v2/…` is routed to
// the same handler as `/v1/…`; an unversioned path (`/users/…`) is given the version the request asks for (Accept,
// X-API-Version, ?version), else the one its API key is pinned to, else the latest. v1 answers say they are
// deprecated (RFC 9745, RFC 8594) and name their successor, and who still calls v1 is counted.
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalid } from '../kernel/errors.ts';
import { payloadStep, requestStep } from './hook-steps.ts';

export const apiVersions = ['v1', 'v2'] as const;
export type ApiVersion = (typeof apiVersions)[number];
export const latestVersion: ApiVersion = 'v2';
/** The prefix every route is registered under; other versions are served by the same routes. */
const routedVersion: ApiVersion = 'v1';

export interface Deprecation {
  /** When the version was deprecated (`Deprecation: @<epoch seconds>`, RFC 9745). */
  deprecatedAt: Date;
  /** When it stops being served (`Sunset`, RFC 8594). */
  sunsetAt: Date;
  successor: ApiVersion;
}

export const deprecations: Partial<Record<ApiVersion, Deprecation>> = {
  v1: { deprecatedAt: new Date('2026-12-01T00:00:00Z'), sunsetAt: new Date('2027-12-01T00:00:00Z'), successor: 'v2' },
};

/**
 * What one version changes, from the internal model to what its clients send and see. A module gives one per
 * version in which its resources differ; resources with none are served unchanged.
 */
export interface VersionTransform {
  version: ApiVersion;
  /** Turns the request's query and body into the internal model's terms (before validation); throws ApiError. */
  request(request: FastifyRequest): Promise<void> | void;
  /** One object of an answer (walked depth first, so a resource embedded by `expand` is met too) as this version shows it. */
  represent(value: Record<string, unknown>): Record<string, unknown>;
  /** An error's message and details (`name`, `items.2.name`) in the words of this version, for the routes it owns. */
  error(request: FastifyRequest, error: ErrorBody): void;
  /** Changes this version's OpenAPI document (derived from v1's, paths moved under the version) in place. */
  // biome-ignore lint/suspicious/noExplicitAny: OpenAPI documents are walked as plain JSON.
  document(document: Record<string, any>): void;
}

export interface ErrorBody {
  message: string;
  details: { field: string; message: string }[];
}

interface Negotiation {
  /** From the path (`/v2/…`); null on an unversioned path. */
  path: ApiVersion | null;
  /** From Accept, X-API-Version or ?version. */
  asked: ApiVersion | null;
  unversioned: boolean;
  /** An unknown or conflicting version, answered 400 before anything else is done. */
  error: Error | null;
}

/**
 * Each request's negotiation rides on its raw request, where `rewriteUrl` (which sees nothing else) can leave it.
 * A property rather than a WeakMap: every versioned request sets one, and a WeakMap entry with a new key costs the
 * garbage collector an ephemeron each time (1.5 % of a product read's CPU in a perf profile).
 */
const negotiationKey = Symbol('api-version-negotiation');
type Negotiated = { [negotiationKey]?: Negotiation };
const negotiationOf = (raw: object): Negotiation | undefined => (raw as Negotiated)[negotiationKey];

const supported = apiVersions.join(', ');
const unknownVersion = (field: string, value: string) =>
  invalid(
    field,
    'INVALID_VALUE',
    `${field} asks for API version '${value}', which this API does not have; it has ${supported}.`,
  );

function versionNamed(field: string, value: string): ApiVersion {
  const match = /^v?([0-9]{1,3})$/i.exec(value.trim());
  const version = match ? `v${Number(match[1])}` : value;
  if (!(apiVersions as readonly string[]).includes(version)) throw unknownVersion(field, value);
  return version as ApiVersion;
}

const vendorType = /^application\/vnd\.portico\.([^+]*)\+json$/;

/** What the headers and the query ask for; an unknown version in any of them is an error, and so are two different ones. */
function askedVersion(headers: IncomingMessage['headers'], query: URLSearchParams): ApiVersion | null {
  const asked: ApiVersion[] = [];
  const accept = String(headers.accept ?? '');
  // Most requests name no version of their own: they cost three lookups here and nothing more.
  if (!/vnd\.portico/i.test(accept) && headers['x-api-version'] === undefined && !query.has('version')) return null;
  for (const type of accept.split(',')) {
    const match = vendorType.exec(type.split(';')[0]?.trim().toLowerCase() ?? '');
    if (match) asked.push(versionNamed('Accept', match[1] ?? ''));
  }
  const header = headers['x-api-version'];
  if (header !== undefined) asked.push(versionNamed('X-API-Version', String(header)));
  for (const value of query.getAll('version')) asked.push(versionNamed('version', value));
  const distinct = [...new Set(asked)];
  if (distinct.length > 1) {
    throw invalid(
      'version',
      'CONFLICT',
      `The request asks for API versions ${distinct.join(' and ')} at once; ask for one of ${supported}.`,
    );
  }
  return distinct[0] ?? null;
}

/** A first path segment that names a version, one this API has or not (`v1`, `v9`). */
const versionSegment = /^v[0-9]+$/;

/** A path-versioned request's query is not looked at for a version: the path already names it. */
const noQuery = new URLSearchParams();

/**
 * The `rewriteUrl` of the Fastify instance: `/v2/…` and unversioned paths of versioned resources are routed to the
 * routes registered under `/v1/…`. `served` tells which first path segments have versioned routes (`users`, …) and
 * which paths under a later version have routes of their own (`/v2/openapi.json`).
 */
export function versionRewriter(served: ServedPaths) {
  return (raw: IncomingMessage): string => {
    const url = raw.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    const search = queryAt < 0 ? '' : url.slice(queryAt);
    const secondSlash = path.indexOf('/', 1);
    const first = secondSlash < 0 ? path.slice(1) : path.slice(1, secondSlash);
    // Paths no version concerns (`/`, `/docs`, `/oauth/…`) are left as they are, at no further cost.
    if (!served.segments.has(first) && !versionSegment.test(first)) return url;
    const negotiation: Negotiation = { path: null, asked: null, unversioned: false, error: null };
    (raw as Negotiated)[negotiationKey] = negotiation;
    try {
      // A path under a version this API never had (`/v9/…`) is the fourth place a version can be asked for, and
      // is refused like the other three: 400 naming the versions there are.
      if (versionSegment.test(first) && !(apiVersions as readonly string[]).includes(first)) {
        throw unknownVersion('path', first);
      }
      if ((apiVersions as readonly string[]).includes(first)) {
        if (served.ownRoutes.has(path)) return url;
        negotiation.path = first as ApiVersion;
        askedVersion(raw.headers, noQuery);
        // The routes' own version is routed as it came; another one to the same path under it.
        if (first === routedVersion && secondSlash >= 0) return url;
        return `/${routedVersion}${secondSlash < 0 ? '/' : path.slice(secondSlash)}${search}`;
      }
      negotiation.unversioned = true;
      const query = new URLSearchParams(search);
      negotiation.asked = askedVersion(raw.headers, query);
      query.delete('version');
      const kept = query.toString();
      return `/${routedVersion}${path}${kept ? `?${kept}` : ''}`;
    } catch (error) {
      negotiation.error = error as Error;
      return url;
    }
  };
}

/** The version a request is served in: its path's, the one it asks for, its credential's pinned one, or the latest. */
export function versionOf(request: FastifyRequest): ApiVersion {
  const negotiation = negotiationOf(request.raw);
  return negotiation?.path ?? negotiation?.asked ?? request.principal?.apiVersion ?? latestVersion;
}

const isVersioned = (request: FastifyRequest) => {
  const negotiation = negotiationOf(request.raw);
  return negotiation !== undefined && (negotiation.path !== null || negotiation.unversioned);
};

function appendHeader(reply: FastifyReply, name: string, values: string): void {
  const existing = reply.getHeader(name);
  reply.header(name, existing === undefined || existing === '' ? values : `${String(existing)}, ${values}`);
}

/** The Deprecation and Sunset fields of each deprecated version, the same on every answer. */
const deprecationFields = Object.fromEntries(
  Object.entries(deprecations).map(([version, { deprecatedAt, sunsetAt }]) => [
    version,
    { deprecation: `@${Math.floor(deprecatedAt.getTime() / 1000)}`, sunset: sunsetAt.toUTCString() },
  ]),
) as Partial<Record<ApiVersion, { deprecation: string; sunset: string }>>;

/** The successor of a deprecated version's URL: the same path, query and all, under the successor. */
const successorUrl = (publicUrl: string, request: FastifyRequest, successor: ApiVersion): string =>
  `${publicUrl}${request.url.startsWith(`/${routedVersion}/`) ? `/${successor}/${request.url.slice(routedVersion.length + 2)}` : request.url}`;

/**
 * Sets what an answer says about its version: `Vary` where headers chose it, and on a deprecated version
 * `Deprecation`, `Sunset` and the successor in `Link` (added to the pagination links). Also called for the errors
 * Fastify answers before routing, which no hook sees. Returns the version, or null for a path that has none.
 */
export function versionHeaders(request: FastifyRequest, reply: FastifyReply, publicUrl: string): ApiVersion | null {
  const negotiation = negotiationOf(request.raw);
  if (negotiation === undefined || (negotiation.path === null && !negotiation.unversioned)) return null;
  const version = negotiation.error ? (negotiation.path ?? routedVersion) : versionOf(request);
  if (negotiation.unversioned) {
    appendHeader(reply, 'vary', 'Accept, X-API-Version');
    reply.header('api-version', version);
  }
  const deprecation = deprecations[version];
  if (deprecation) {
    reply.header('deprecation', deprecationFields[version]?.deprecation);
    reply.header('sunset', deprecationFields[version]?.sunset);
    appendHeader(
      reply,
      'link',
      `<${successorUrl(publicUrl, request, deprecation.successor)}>; rel="successor-version"`,
    );
  }
  return version;
}

/** Rewrites `…/v1/…` links of an answer to the version it is served in. */
const retarget = (publicUrl: string, version: ApiVersion) => {
  const prefix = `${publicUrl}/${routedVersion}/`;
  return (text: string) => text.split(prefix).join(`${publicUrl}/${version}/`);
};

function transformJson(value: unknown, walk: (object: Record<string, unknown>) => Record<string, unknown>): unknown {
  if (Array.isArray(value)) return value.map((item) => transformJson(item, walk));
  if (value === null || typeof value !== 'object') return value;
  const object = Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, transformJson(item, walk)]),
  );
  return walk(object);
}

/** Counts calls to deprecated versions, per credential, for operators (see deprecatedUsageRoutes). */
export interface DeprecatedCalls {
  record(version: ApiVersion, request: FastifyRequest): void;
}

export interface VersioningOptions {
  publicUrl: string;
  transforms: readonly VersionTransform[];
  counter: DeprecatedCalls;
}

/** Registers the hooks that give each request its version; call it before authentication, so a bad version is 400 first. */
export function installVersioning(app: FastifyInstance, options: VersioningOptions): void {
  const { publicUrl, transforms } = options;
  const transformsOf = (version: ApiVersion) => transforms.filter((transform) => transform.version === version);

  app.addHook('onRequest', (request, _reply, done) => {
    const error = negotiationOf(request.raw)?.error;
    if (error) throw error;
    done();
  });

  async function transformRequest(request: FastifyRequest): Promise<void> {
    for (const transform of transformsOf(versionOf(request))) await transform.request(request);
  }
  app.addHook(
    'preValidation',
    requestStep((request) => (isVersioned(request) ? transformRequest(request) : undefined)),
  );

  app.addHook(
    'onSend',
    payloadStep((request, reply, payload: unknown) => {
      const version = versionHeaders(request, reply, publicUrl);
      if (version === null) return payload;
      if (deprecations[version]) options.counter.record(version, request);
      if (version === routedVersion) return payload;
      const relink = retarget(publicUrl, version);
      for (const header of ['location', 'link']) {
        const value = reply.getHeader(header);
        if (typeof value === 'string') reply.header(header, relink(value));
      }
      const type = String(reply.getHeader('content-type') ?? '');
      if (typeof payload !== 'string' || payload === '' || !/json/.test(type)) return payload;
      const own = transformsOf(version);
      const body = transformJson(JSON.parse(payload), (object) => {
        let result = object;
        for (const transform of own) result = transform.represent(result);
        if (typeof result.href === 'string') result = { ...result, href: relink(result.href) };
        return result;
      }) as Record<string, unknown>;
      const error = body.error as ErrorBody | undefined;
      if (reply.statusCode >= 400 && error?.details) for (const transform of own) transform.error(request, error);
      return JSON.stringify(body);
    }),
  );
}

export interface ServedPaths {
  segments: Set<string>;
  ownRoutes: Set<string>;
}

/** Fills `served` as routes are registered: first segments of routes under `/v1/`, paths of routes under later ones. */
export function collectVersionedPaths(app: FastifyInstance, served: ServedPaths): void {
  app.addHook('onRoute', (route) => {
    const [, first = '', segment] = route.url.split('/');
    // Documents (`/v1/openapi.json`, hidden from OpenAPI) are each a version's own: they have no unversioned path.
    const document = (route.schema as { hide?: boolean } | undefined)?.hide === true;
    if (first === routedVersion && segment && !document) served.segments.add(segment);
    else if (versionSegment.test(first)) served.ownRoutes.add(route.url);
  });
}
