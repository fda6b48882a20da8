// The composition root: builds the whole application from a config object and an open storage (STYLE §7).
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import type { TObject } from 'typebox';
import { memoryBus } from './adapters/bus/memory.ts';
import type { EventBus } from './adapters/bus/port.ts';
import { rabbitMqBus } from './adapters/bus/rabbitmq.ts';
import { memoryKeyValue } from './adapters/kv/memory.ts';
import type { KeyValue } from './adapters/kv/port.ts';
import { redisKeyValue } from './adapters/kv/redis.ts';
import { type ResilientKeyValue, resilientKeyValue } from './adapters/kv/resilient.ts';
import type { Config } from './config.ts';
import { installAuthentication } from './edge/authentication.ts';
import { installAuthorization } from './edge/authorization.ts';
import { clientErrorHandler } from './edge/client-errors.ts';
import { installContentTypes } from './edge/content-types.ts';
import { installCors } from './edge/cors.ts';
import { refuseCredentialsInQuery } from './edge/credentials-in-query.ts';
import { deprecatedCallCounter, deprecatedUsageRoutes } from './edge/deprecated-usage.ts';
import { sendError } from './edge/error-envelope.ts';
import { installErrorHandler, toApiError } from './edge/error-handler.ts';
import { installIdempotency } from './edge/idempotency.ts';
import { installMethodTable } from './edge/method-table.ts';
import { countRequests, metricsRoutes } from './edge/metrics.ts';
import { publicRoutes as defaultPublicRoutes } from './edge/public-routes.ts';
import { installRateLimits } from './edge/rate-limit.ts';
import { echoRequestId, requestIdFor } from './edge/request-id.ts';
import { deferredRequestLogger } from './edge/request-logger.ts';
import { requireDeclaredScopes } from './edge/scopes.ts';
import { installSecurityHeaders } from './edge/security-headers.ts';
import { httpsServerOptions } from './edge/tls.ts';
import { installValidators } from './edge/validation.ts';
import {
  type ApiVersion,
  apiVersions,
  collectVersionedPaths,
  installVersioning,
  type ServedPaths,
  versionHeaders,
  versionRewriter,
} from './edge/versioning.ts';
import { outboxRelay } from './events/index.ts';
import { type Clock, millisecondsOf, systemClock } from './kernel/clock.ts';
import { ApiError } from './kernel/errors.ts';
import { cursorCodec } from './kernel/pagination.ts';
import { ErrorEnvelope, Problem } from './kernel/schemas.ts';
import { Product, productsRoutes, productsService } from './modules/catalog/index.ts';
import { Comment, contentRoutes, contentService, Post } from './modules/content/index.ts';
import { Event, eventsRoutes, eventsService, schedulePurge } from './modules/events/index.ts';
import { accounts, loginService } from './modules/identity/accounts/index.ts';
import {
  ApiKey,
  apiKeyAuthenticator,
  apiKeysRoutes,
  apiKeysService,
  forgettingKeysOf,
} from './modules/identity/api-keys/index.ts';
import { sessionAuthentication, sessionRoutes, sessionStore } from './modules/identity/sessions/index.ts';
import {
  buildProvider,
  OAuthClientRepresentation,
  oauthAuthenticator,
  oauthClientsRoutes,
  oauthClientsService,
  oauthRoutes,
} from './modules/oauth/index.ts';
import { Order, ordersRoutes, ordersService } from './modules/orders/index.ts';
import { User, usersRoutes, usersService, usersV2 } from './modules/users/index.ts';
import {
  deliveriesService,
  installWebhookDelivery,
  WebhookDelivery,
  WebhookEndpoint,
  webhookDeliveriesRoutes,
  webhookEndpointsRoutes,
  webhookEndpointsService,
} from './modules/webhooks/index.ts';
import type { Storage } from './storage/database.ts';
import { sharedSecret } from './storage/settings.ts';
import { apiVersionDocument } from './transports/rest/api-versions.ts';
import { installConditionalGet } from './transports/rest/conditional-get.ts';
import { discoveryRoutes } from './transports/rest/discovery.ts';
import { errorSchemaId } from './transports/rest/error-responses.ts';
import { registerOpenApi } from './transports/rest/openapi.ts';

export interface AppDependencies {
  config: Config;
  storage: Storage;
  clock?: Clock;
  /** Counters for rate limits; the in-memory adapter when not given. */
  keyValue?: KeyValue;
  /** Where the outbox relay publishes; RabbitMQ when AMQP_URL is set, else in-process. One passed in is not closed. */
  bus?: EventBus;
  /** What anyone may call without credentials: edge/public-routes.ts, unless the host lists more (tests do). */
  publicRoutes?: readonly string[];
  /** Whether this process sends webhook deliveries (true by default); suites that drive their own worker say false. */
  webhookWorker?: boolean;
  /** Where the logs go: standard output, written synchronously, unless given (`portico serve` writes in the background). */
  logStream?: DestinationStream;
}

const errorsDoc = fileURLToPath(new URL('../docs/errors.md', import.meta.url));
export const bodyLimitBytes = 1024 * 1024;

/** A representation's sparse variant: what `?fields=` returns, with only `id` and `_links` sure to be present. */
function sparseOf(schema: TObject) {
  const id = String((schema as { $id?: string }).$id);
  return {
    ...schema,
    $id: `${id}Sparse`,
    required: ['id', '_links'],
    description: `${id} with only the fields named in \`fields\`.`,
  };
}

/** Redis behind a circuit breaker, with this process's memory to answer from while Redis fails. */
async function redisCounters(
  url: string,
  commandTimeoutMs: number,
  nowMs: () => number,
  log: FastifyBaseLogger,
): Promise<ResilientKeyValue> {
  const shared = await redisKeyValue({ url, nowMs, commandTimeoutMs });
  return resilientKeyValue({
    shared,
    local: memoryKeyValue(nowMs),
    probe: shared.ping,
    log: { warn: (message) => log.warn(message), info: (message) => log.info(message) },
  });
}

export async function buildApp({
  config,
  storage,
  clock = systemClock,
  keyValue,
  bus: eventBus,
  publicRoutes = defaultPublicRoutes,
  webhookWorker = true,
  logStream,
}: AppDependencies): Promise<FastifyInstance> {
  const { publicUrl } = config;
  // Over TLS the server speaks HTTP/2 and HTTP/1.1 on one port, so its request and reply objects are the HTTP/2
  // compatibility ones; every hook and route here uses only what both kinds share.
  const serverOptions = config.tls ? await httpsServerOptions(config.tls) : {};
  // Filled as routes are registered: which paths `/v2/…` and unversioned ones are routed to (edge/versioning.ts).
  const versioned: ServedPaths = { segments: new Set(), ownRoutes: new Set() };
  const app = Fastify({
    ...serverOptions,
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]'],
      ...(logStream ? { stream: logStream } : {}),
    },
    childLoggerFactory: deferredRequestLogger,
    genReqId: requestIdFor,
    rewriteUrl: versionRewriter(versioned),
    requestIdHeader: false,
    bodyLimit: bodyLimitBytes,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    return503OnClosing: true,
    // Ids up to the 255 characters IdParam allows reach the handler, which answers 404 (find-my-way's default is 100).
    routerOptions: { maxParamLength: 256 },
    clientErrorHandler: clientErrorHandler(publicUrl),
    // Framework errors found before routing (a badly encoded URL) still answer with the envelope.
    frameworkErrors: (error, request, reply) => {
      versionHeaders(request, reply, publicUrl);
      sendError(
        request,
        reply,
        toApiError(error) ?? new ApiError('MALFORMED_REQUEST', 'The request could not be read.'),
        publicUrl,
      );
    },
  });

  collectVersionedPaths(app, versioned);
  const requestCounts = countRequests(app);
  installValidators(app);
  installContentTypes(app);
  echoRequestId(app);
  installSecurityHeaders(app, { tls: config.tls !== null });
  installErrorHandler(app, publicUrl);
  installMethodTable(app, publicUrl);
  await installCors(app, config.corsOrigins);
  const nowMs = millisecondsOf(clock);
  const redis =
    !keyValue && config.redisUrl
      ? await redisCounters(config.redisUrl, config.redisCommandTimeoutMs, nowMs, app.log)
      : null;
  const kv = keyValue ?? redis ?? memoryKeyValue(nowMs);
  const rateLimits = installRateLimits(
    app,
    kv,
    { anonymous: config.rateLimitAnonymous, tiers: config.rateLimitTiers },
    nowMs,
  );
  // A store passed in belongs to the caller; only the one made here is closed here.
  if (!keyValue) app.addHook('onClose', () => kv.close());
  const bus =
    eventBus ?? (config.amqpUrl ? await rabbitMqBus({ url: config.amqpUrl, prefix: config.amqpPrefix }) : memoryBus());
  const relay = outboxRelay({
    storage,
    bus,
    clock,
    onError: (error) =>
      app.log.warn({ err: error }, 'Outbox relay: the event bus failed; the events wait in the outbox'),
  });
  app.addHook('onReady', async () => relay.start());
  // A write that succeeded may have committed events: publish them now rather than at the next poll.
  app.addHook('onResponse', (request, reply, done) => {
    if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400) relay.nudge();
    done();
  });
  app.addHook('onClose', async () => {
    await relay.stop();
    if (!eventBus) await bus.close();
  });
  await app.register(cookie);
  const users = usersService(storage, clock);
  const deprecatedCalls = deprecatedCallCounter(storage, clock);
  const versionTransforms = [usersV2((id) => users.get(id))];
  installVersioning(app, { publicUrl, transforms: versionTransforms, counter: deprecatedCalls });
  const trusted = { publicUrl, corsOrigins: config.corsOrigins };
  const sessions = sessionStore(kv, nowMs);
  const sessionAuth = sessionAuthentication(sessions, users, trusted);
  const apiKeys = apiKeysService(storage, clock, users, kv);
  const oauthProvider = await buildProvider({ storage, publicUrl, users, behindProxy: config.trustProxy.length > 0 });
  refuseCredentialsInQuery(app);
  const identity = accounts({ storage, keyValue: kv, clock, publicUrl, accessTokens: config.accessTokens });
  // Bearer tokens and API keys come first: a request that sends one is not subject to the cookie's CSRF checks.
  installAuthentication(app, [
    identity.authenticator,
    apiKeyAuthenticator(apiKeys),
    oauthAuthenticator(oauthProvider, users),
    sessionAuth.authenticator,
  ]);
  rateLimits.afterAuthentication();
  installAuthorization(app);
  requireDeclaredScopes(app, publicRoutes);
  installConditionalGet(app);
  installIdempotency(app, storage, clock);

  app.addSchema({ ...ErrorEnvelope, $id: errorSchemaId });
  app.addSchema(Problem);
  for (const representation of [
    User,
    Product,
    Order,
    Post,
    Comment,
    ApiKey,
    OAuthClientRepresentation,
    Event,
    WebhookEndpoint,
    WebhookDelivery,
  ]) {
    app.addSchema(representation);
    app.addSchema(sparseOf(representation));
  }
  await registerOpenApi(app, publicUrl);

  const codec = cursorCodec(await sharedSecret(storage, 'cursor-secret'));
  const context = { publicUrl, codec };
  const products = productsService(storage, clock);
  usersRoutes(app, forgettingKeysOf(users, apiKeys), context);
  apiKeysRoutes(app, apiKeys, context);
  identity.routes(app);
  sessionRoutes(app, {
    store: sessions,
    authentication: sessionAuth,
    login: loginService({ storage, keyValue: kv }),
    users,
    trusted,
  });
  oauthRoutes(app, { provider: oauthProvider, login: loginService({ storage, keyValue: kv }), users, storage });
  oauthClientsRoutes(app, oauthClientsService(storage, oauthProvider), context);
  productsRoutes(app, products, context);
  ordersRoutes(app, { service: ordersService(storage, clock, { users, products }), users, products }, context);
  contentRoutes(app, contentService(storage, clock, users), users, context);
  const events = eventsService(storage, clock);
  eventsRoutes(app, events, context);
  schedulePurge(app, events);
  const webhookTargets = { allowPrivate: config.webhookAllowPrivateTargets };
  const webhookEndpoints = webhookEndpointsService(storage, clock, { users, targets: webhookTargets });
  webhookEndpointsRoutes(app, webhookEndpoints, context);
  const webhookDelivery = await installWebhookDelivery(app, {
    storage,
    clock,
    bus,
    endpoints: webhookEndpoints,
    owners: users,
    retryScheduleMs: config.webhookRetryScheduleMs,
    timeoutMs: config.webhookTimeoutMs,
    pollMs: config.webhookPollMs,
    targets: webhookTargets,
    runWorker: webhookWorker,
  });
  webhookDeliveriesRoutes(
    app,
    { deliveries: deliveriesService(storage, clock, users, webhookDelivery.dueNow), endpoints: webhookEndpoints },
    context,
  );
  deprecatedUsageRoutes(app, deprecatedCalls);
  metricsRoutes(app, { requests: requestCounts, ...(redis ? { keyValueHealth: redis.health } : {}), deprecatedCalls });

  await discoveryRoutes(app, {
    publicUrl,
    storage,
    ...(redis ? { keyValueHealth: redis.health } : {}),
    versions: [...apiVersions],
    openapi: (swagger, version) => apiVersionDocument(swagger, version as ApiVersion, publicUrl, versionTransforms),
    errorsDoc,
    collections: [
      { rel: 'users', path: '/v1/users', title: 'Users', query: ['sort', 'role', 'status', 'email'] },
      {
        rel: 'products',
        path: '/v1/products',
        title: 'Products',
        query: ['sort', 'category', 'status', 'currency', 'priceMin', 'priceMax'],
      },
      { rel: 'orders', path: '/v1/orders', title: 'Orders', query: ['sort', 'expand', 'status', 'customerId'] },
      { rel: 'posts', path: '/v1/posts', title: 'Posts', query: ['sort', 'expand', 'author', 'tag', 'published'] },
      { rel: 'comments', path: '/v1/comments', title: 'Comments', query: ['sort', 'expand', 'postId', 'author'] },
      { rel: 'api-keys', path: '/v1/api-keys', title: 'API keys', query: ['ownerId'] },
      { rel: 'oauth-clients', path: '/v1/oauth-clients', title: 'OAuth clients (admins)', query: [] },
      { rel: 'events', path: '/v1/events', title: 'Events of the last 30 days (admins)', query: ['type'] },
      { rel: 'webhook-endpoints', path: '/v1/webhook-endpoints', title: 'Webhook endpoints', query: ['ownerId'] },
    ],
    documents: {
      'oauth-metadata': {
        path: '/.well-known/oauth-authorization-server/oauth',
        title: 'OAuth 2.0 authorization server metadata (RFC 8414)',
      },
      jwks: { path: '/.well-known/jwks.json', title: 'Public keys that verify access tokens' },
    },
  });

  return app;
}
