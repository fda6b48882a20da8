// Where the OAuth server meets HTTP: oidc-provider's own endpoints under /oauth, its metadata at the RFC 8414
// addresses, and the sign-in and consent pages of the authorization code flow.
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { documentHeaders } from '../../edge/security-headers.ts';
import { isApiError } from '../../kernel/errors.ts';
import type { Storage } from '../../storage/database.ts';
import type { LoginService } from '../identity/accounts/index.ts';
import { scopesOfRole } from '../identity/principal.ts';
import type { UsersService } from '../users/index.ts';
import { purgeExpired } from './adapter.ts';
import { consentPage, errorPage, loginPage, pageSecurityPolicy } from './pages.ts';
import { interactionPath, oauthMountPath } from './provider.ts';

export interface OAuthRouteDependencies {
  provider: Provider;
  /** The password check every sign-in goes through: throttled, 401 or 429 ApiErrors. */
  login: LoginService;
  users: UsersService;
  storage: Storage;
}

const metadataPath = '/.well-known/oauth-authorization-server';
const formType = 'application/x-www-form-urlencoded';

/**
 * Hands the raw request to oidc-provider (Koa) before Fastify reads the body or runs authentication: the token
 * endpoint takes form bodies and HTTP Basic client credentials, which the API's own edge would refuse.
 */
function handOver(provider: Provider, rewrite: (url: string) => { originalUrl: string; url: string }) {
  const callback = provider.callback();
  return async (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    const raw = request.raw as IncomingMessage & { originalUrl?: string };
    // oidc-provider finds its mount path by comparing the two, and builds its endpoint URLs from it.
    Object.assign(raw, rewrite(raw.url ?? '/'));
    // What the edge has decided so far (the request id, security and rate-limit fields) would otherwise be lost;
    // the onSend hook that gives pages their document fields does not run for what oidc-provider writes.
    for (const [name, value] of [...Object.entries(reply.getHeaders()), ...documentHeaders]) {
      if (value !== undefined) reply.raw.setHeader(name, value);
    }
    await callback(raw, reply.raw);
  };
}

/** Never reached: the onRequest hook has handed the request over, so no later hook or handler runs. */
const untouched = async () => {};

/** Expired codes, tokens and sessions are invisible at once; their rows go in the background, now and then. */
const purgeEveryMs = 10 * 60 * 1000;

function purgeNowAndThen(app: FastifyInstance, storage: Storage): void {
  const timer = setInterval(() => {
    purgeExpired(storage, Date.now).catch((error: unknown) => app.log.warn({ err: error }, 'OAuth purge failed'));
  }, purgeEveryMs);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}

export function oauthRoutes(app: FastifyInstance, { provider, login, users, storage }: OAuthRouteDependencies): void {
  purgeNowAndThen(app, storage);
  app.route({
    method: ['GET', 'POST', 'DELETE'],
    url: `${oauthMountPath}/*`,
    config: { scope: 'public' },
    schema: { hide: true },
    onRequest: handOver(provider, (url) => ({ originalUrl: url, url: url.slice(oauthMountPath.length) || '/' })),
    handler: untouched,
  });
  // RFC 8414 §3: an issuer with a path has its metadata at the path-inserted address; the root one is for
  // clients that look there first.
  for (const url of [metadataPath, `${metadataPath}${oauthMountPath}`]) {
    app.route({
      method: 'GET',
      url,
      config: { scope: 'public' },
      schema: { hide: true },
      onRequest: handOver(provider, () => ({ originalUrl: `${oauthMountPath}${metadataPath}`, url: metadataPath })),
      handler: untouched,
    });
  }

  app.register(async (pages) => {
    pages.addContentTypeParser(formType, { parseAs: 'string', bodyLimit: 8 * 1024 }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    });
    interactionRoutes(pages, provider, login, users);
  });
}

type Form = Record<string, string | undefined>;

function interactionRoutes(app: FastifyInstance, provider: Provider, login: LoginService, users: UsersService) {
  // The pages' own cookies (oidc-provider's, SameSite=Lax and signed) carry the flow; a Portico session cookie the
  // browser may also hold is not what they act on, so its CSRF rules for API calls do not apply here.
  const formRoute = { scope: 'public', bodyTypes: [formType], idempotency: false, ignoresSessionCookie: true };
  const base = (uid: string) => `${interactionPath}/${encodeURIComponent(uid)}`;

  const html = (reply: FastifyReply, status: number, body: string) =>
    reply
      .code(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', pageSecurityPolicy)
      .header('cache-control', 'no-store')
      .header('x-frame-options', 'DENY')
      .send(body);

  /** The interaction the browser's signed cookie names, or null when it has none, another or an expired one. */
  async function details(request: FastifyRequest, reply: FastifyReply, uid: string) {
    try {
      const found = await provider.interactionDetails(request.raw, reply.raw);
      return found.uid === uid ? found : null;
    } catch {
      return null;
    }
  }

  const expired = (reply: FastifyReply) =>
    html(reply, 400, errorPage('This sign-in request has expired or was already used.'));

  async function clientName(clientId: unknown): Promise<string> {
    const client = typeof clientId === 'string' ? await provider.Client.find(clientId) : undefined;
    return client?.clientName ?? String(clientId);
  }

  /** The requested scopes the user's role allows: what consent grants; the rest is recorded as refused. */
  async function grantable(accountId: string, requested: readonly string[]) {
    const [user] = await users.getMany([accountId]);
    const allowed = new Set<string>(user ? [...scopesOfRole(user.role), 'openid', 'offline_access'] : []);
    return {
      granted: requested.filter((scope) => allowed.has(scope)),
      refused: requested.filter((scope) => !allowed.has(scope)),
    };
  }

  app.get<{ Params: { uid: string } }>(
    `${interactionPath}/:uid`,
    { config: { scope: 'public' }, schema: { hide: true } },
    async (request, reply) => {
      const { uid } = request.params;
      const interaction = await details(request, reply, uid);
      if (!interaction) return expired(reply);
      const name = await clientName(interaction.params.client_id);
      if (interaction.prompt.name === 'login') {
        return html(reply, 200, loginPage({ action: `${base(uid)}/login`, clientName: name }));
      }
      const accountId = interaction.session?.accountId;
      if (interaction.prompt.name !== 'consent' || !accountId) return expired(reply);
      const requested = String(interaction.params.scope ?? '')
        .split(' ')
        .filter(Boolean);
      const { granted } = await grantable(accountId, requested);
      return html(
        reply,
        200,
        consentPage({
          confirm: `${base(uid)}/confirm`,
          abort: `${base(uid)}/abort`,
          clientName: name,
          scopes: granted.filter((scope) => scope !== 'openid'),
        }),
      );
    },
  );

  app.post<{ Params: { uid: string }; Body: Form }>(
    `${interactionPath}/:uid/login`,
    { config: formRoute, schema: { hide: true } },
    async (request, reply) => {
      const { uid } = request.params;
      const interaction = await details(request, reply, uid);
      if (interaction?.prompt.name !== 'login') return expired(reply);
      const email = typeof request.body?.email === 'string' ? request.body.email.slice(0, 254) : '';
      const password = typeof request.body?.password === 'string' ? request.body.password.slice(0, 1024) : '';
      const action = `${base(uid)}/login`;
      const name = await clientName(interaction.params.client_id);
      try {
        const { userId } = await login.login({ email, password, ip: request.ip });
        const to = await provider.interactionResult(
          request.raw,
          reply.raw,
          { login: { accountId: userId } },
          { mergeWithLastSubmission: false },
        );
        return reply.redirect(to, 303);
      } catch (error) {
        if (!isApiError(error) || (error.status !== 401 && error.status !== 429)) throw error;
        for (const [header, value] of Object.entries(error.headers)) reply.header(header, value);
        return html(reply, error.status, loginPage({ action, clientName: name, email, error: error.message }));
      }
    },
  );

  app.post<{ Params: { uid: string } }>(
    `${interactionPath}/:uid/confirm`,
    { config: formRoute, schema: { hide: true } },
    async (request, reply) => {
      const { uid } = request.params;
      const interaction = await details(request, reply, uid);
      const accountId = interaction?.session?.accountId;
      if (interaction?.prompt.name !== 'consent' || !accountId) return expired(reply);
      const clientId = String(interaction.params.client_id);
      const grant = interaction.grantId
        ? await provider.Grant.find(interaction.grantId)
        : new provider.Grant({ accountId, clientId });
      if (!grant) return expired(reply);
      const missing = (interaction.prompt.details.missingOIDCScope as string[] | undefined) ?? [];
      const { granted, refused } = await grantable(accountId, missing);
      if (granted.length > 0) grant.addOIDCScope(granted.join(' '));
      if (refused.length > 0) grant.rejectOIDCScope(refused.join(' '));
      const grantId = await grant.save();
      const to = await provider.interactionResult(
        request.raw,
        reply.raw,
        { consent: { grantId } },
        { mergeWithLastSubmission: true },
      );
      return reply.redirect(to, 303);
    },
  );

  app.post<{ Params: { uid: string } }>(
    `${interactionPath}/:uid/abort`,
    { config: formRoute, schema: { hide: true } },
    async (request, reply) => {
      const { uid } = request.params;
      const interaction = await details(request, reply, uid);
      if (!interaction) return expired(reply);
      const result = { error: 'access_denied', error_description: 'The user denied access.' };
      const to = await provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: false });
      return reply.redirect(to, 303);
    },
  );
}
