// The OAuth 2.0 authorization server against a strict third-party client (oauth4webapi), over real sockets, on
// every storage kind: client credentials, authorization code with PKCE through the HTML pages, refresh rotation,
// introspection, revocation, the Bearer tokens on the API, and the attacks the issue lists.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oauth from 'oauth4webapi';
import { CommandError, UsageError } from '../src/cli/args.ts';
import { oauthClientsCommand } from '../src/cli/oauth-clients.ts';
import { systemClock } from '../src/kernel/clock.ts';
import { setPassword } from '../src/modules/identity/accounts/index.ts';
import { purgeExpired } from '../src/modules/oauth/index.ts';
import { usersService } from '../src/modules/users/index.ts';
import { client, expectEnvelope, startServer, storageKinds, type TestServer } from './helpers.ts';

const insecure = { [oauth.allowInsecureRequests]: true } as const;

interface Registered {
  clientId: string;
  clientSecret: string | null;
}

/** Registers a client the way an operator does: the CLI, whose last line is the JSON credentials. */
async function registerClient(server: TestServer, args: string[]): Promise<Registered> {
  const lines: string[] = [];
  await oauthClientsCommand(['create', ...args], {
    env: { DATABASE_URL: server.config.databaseUrl, PUBLIC_URL: server.config.publicUrl },
    stdout: (line) => lines.push(line),
    stderr: () => {},
  });
  return JSON.parse(lines.at(-1) ?? '') as Registered;
}

async function discover(server: TestServer): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(`${server.url}/oauth`);
  const response = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure });
  return oauth.processDiscoveryResponse(issuer, response);
}

const whoami = { config: { scope: 'public' } };

/** The OAuth error code a refusal carried, from its body or from its WWW-Authenticate challenge. */
function oauthError(error: unknown): string | undefined {
  if (error instanceof oauth.ResponseBodyError || error instanceof oauth.AuthorizationResponseError) return error.error;
  if (error instanceof oauth.WWWAuthenticateChallengeError) return error.cause[0]?.parameters.error;
  return undefined;
}

/** Asserts that `work` is refused with the OAuth error `code`. */
async function refusedWith(code: string, work: () => Promise<unknown>): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.equal(oauthError(error), code, String(error));
    return true;
  });
}

interface Cookie {
  name: string;
  value: string;
  path: string;
}

/** A browser as far as the flow needs one: a cookie jar honouring paths, redirects followed by hand. */
function browser() {
  let jar: Cookie[] = [];
  function remember(response: Response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      const path = attributes.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const gone = attributes.some((a) => /^expires=.*1970/i.test(a) || /^max-age=0$/i.test(a)) || value === '';
      jar = jar.filter((cookie) => !(cookie.name === name && cookie.path === path));
      if (!gone) jar.push({ name, value, path });
    }
  }
  async function request(url: string, init: { method?: string; form?: Record<string, string> } = {}) {
    const { pathname } = new URL(url);
    const cookie = jar
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
    const headers: Record<string, string> = cookie ? { cookie } : {};
    if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, {
      method: init.method ?? 'GET',
      headers,
      redirect: 'manual',
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    remember(response);
    return {
      status: response.status,
      location: response.headers.get('location'),
      headers: response.headers,
      text: await response.text(),
    };
  }
  return {
    request,
    /** Follows redirects from `url` until one leaves the server (the client's redirect URI) or a page answers. */
    async follow(url: string, init: { method?: string; form?: Record<string, string> } = {}) {
      let current = url;
      let answer = await request(current, init);
      while (answer.location) {
        current = new URL(answer.location, current).href;
        if (!current.startsWith(new URL(url).origin)) return { ...answer, url: current };
        answer = await request(current);
      }
      return { ...answer, url: current };
    },
  };
}

/** The action of the page's form whose button says `label`. */
function formAction(html: string, label: string, base: string): string {
  const forms = html.split('<form').slice(1);
  const form = forms.find((f) => f.includes(`>${label}</button>`));
  const action = form && /action="([^"]+)"/.exec(form)?.[1];
  assert.ok(action, `no form with a '${label}' button in\n${html}`);
  return new URL(action.replaceAll('&amp;', '&'), base).href;
}

const redirectUri = 'https://app.example.com/callback';

for (const kind of storageKinds()) {
  describe(`OAuth 2.0 server on ${kind}`, () => {
    let server: TestServer;
    let as: oauth.AuthorizationServer;
    let api: ReturnType<typeof client>;

    before(async () => {
      server = await startServer({
        storage: kind,
        routes: (app) =>
          app.get(
            '/test/whoami',
            whoami,
            ({ principal }) => principal && { ...principal, scopes: [...principal.scopes] },
          ),
        publicRoutes: ['* /test/*'],
      });
      api = client(server.url);
      as = await discover(server);
    });
    after(() => server.close());

    const password = 'correct horse battery staple';

    async function customer(email: string, role: 'customer' | 'admin' = 'customer'): Promise<string> {
      const user = await usersService(server.storage, systemClock).create({
        email,
        name: email.split('@')[0] ?? 'x',
        role,
      });
      await setPassword(server.storage.db, user.id, password);
      return user.id;
    }

    /** An authorization request with PKCE S256 and a state, as oauth4webapi's caller would build it. */
    async function authorizationUrl(clientId: string, overrides: Record<string, string | null> = {}) {
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const url = new URL(String(as.authorization_endpoint));
      const params: Record<string, string | null> = {
        client_id: clientId,
        redirect_uri: redirectUri,
        response_type: 'code',
        scope: 'orders:read products:write offline_access',
        // oidc-provider drops offline_access unless consent is asked for explicitly (OpenID Connect Core §11).
        prompt: 'consent',
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        ...overrides,
      };
      for (const [key, value] of Object.entries(params)) if (value !== null) url.searchParams.set(key, value);
      return { url: url.href, verifier, state };
    }

    /** Signs in and allows on the HTML pages; answers the URL the browser is sent back to. */
    async function signInAndAllow(agent: ReturnType<typeof browser>, url: string, email: string) {
      const loginPage = await agent.follow(url);
      assert.equal(loginPage.status, 200, loginPage.text);
      const consent = await agent.follow(formAction(loginPage.text, 'Sign in', loginPage.url), {
        method: 'POST',
        form: { email, password },
      });
      assert.equal(consent.status, 200, consent.text);
      assert.match(consent.text, /Allow access\?/);
      const back = await agent.follow(formAction(consent.text, 'Allow', consent.url), { method: 'POST' });
      assert.ok(back.url.startsWith(redirectUri), back.url);
      return new URL(back.url);
    }

    async function exchange(app: oauth.Client, auth: oauth.ClientAuth, callback: URLSearchParams, verifier: string) {
      return oauth.processAuthorizationCodeResponse(
        as,
        app,
        await oauth.authorizationCodeGrantRequest(as, app, auth, callback, redirectUri, verifier, insecure),
      );
    }

    /** How many access and refresh tokens exist: what a refused request must leave unchanged. */
    async function tokenRows() {
      const rows = await server.storage.db
        .withTables<{ oauth_entries: { model: string } }>()
        .selectFrom('oauth_entries')
        .select('model')
        .where('model', 'in', ['AccessToken', 'RefreshToken'])
        .execute();
      return rows.length;
    }

    async function webApp(name = 'Shop app') {
      const registered = await registerClient(server, ['--name', name, '--redirect-uri', redirectUri]);
      assert.ok(registered.clientSecret);
      return {
        app: { client_id: registered.clientId } as oauth.Client,
        auth: oauth.ClientSecretBasic(registered.clientSecret),
      };
    }

    test('publishes RFC 8414 metadata at the path-inserted and the root address', async () => {
      assert.equal(as.issuer, `${server.url}/oauth`);
      assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
      assert.deepEqual(as.response_types_supported, ['code']);
      assert.ok(as.grant_types_supported?.includes('client_credentials'));
      assert.ok(!as.grant_types_supported?.includes('password'));
      assert.ok(!as.grant_types_supported?.includes('implicit'));
      assert.ok(as.scopes_supported?.includes('orders:read'));
      const root = await api('GET', '/.well-known/oauth-authorization-server');
      assert.equal(root.status, 200);
      assert.equal(root.body.issuer, as.issuer);
      // The OpenAPI document sends clients to the same endpoints, with the same scopes.
      const flow = (await api('GET', '/v1/openapi.json')).body.components.securitySchemes.oauth2.flows
        .authorizationCode;
      assert.equal(flow.authorizationUrl, as.authorization_endpoint);
      assert.equal(flow.tokenUrl, as.token_endpoint);
      assert.deepEqual(
        Object.keys(flow.scopes).sort(),
        [...(as.scopes_supported ?? [])].filter((s) => s.includes(':')).sort(),
      );
    });

    test('client credentials: token, introspection, the API, revocation, then 401', async () => {
      const { clientId, clientSecret } = await registerClient(server, [
        '--name',
        'Reporting job',
        '--scopes',
        'orders:read,products:read',
      ]);
      assert.ok(clientSecret);
      const machine: oauth.Client = { client_id: clientId };
      const auth = oauth.ClientSecretBasic(clientSecret);
      const tokens = await oauth.processClientCredentialsResponse(
        as,
        machine,
        await oauth.clientCredentialsGrantRequest(as, machine, auth, { scope: 'orders:read' }, insecure),
      );
      assert.equal(tokens.token_type, 'bearer');
      assert.equal(tokens.scope, 'orders:read');
      assert.ok(!tokens.access_token.includes('.'), 'the access token is opaque');

      const active = await oauth.processIntrospectionResponse(
        as,
        machine,
        await oauth.introspectionRequest(as, machine, auth, tokens.access_token, insecure),
      );
      assert.equal(active.active, true);
      assert.equal(active.client_id, clientId);
      assert.equal(active.scope, 'orders:read');

      const bearer = { authorization: `Bearer ${tokens.access_token}` };
      const me = await api('GET', '/test/whoami', { headers: bearer });
      assert.equal(me.status, 200);
      assert.equal(me.body.method, 'oauth');
      assert.equal(me.body.userId, null);
      assert.equal(me.body.role, null);
      assert.equal(me.body.clientId, clientId);
      assert.ok(me.body.credentialId && !me.body.credentialId.includes(tokens.access_token));

      await oauth.processRevocationResponse(
        await oauth.revocationRequest(as, machine, auth, tokens.access_token, insecure),
      );
      const inactive = await oauth.processIntrospectionResponse(
        as,
        machine,
        await oauth.introspectionRequest(as, machine, auth, tokens.access_token, insecure),
      );
      assert.equal(inactive.active, false);
      const refused = await api('GET', '/test/whoami', { headers: bearer });
      expectEnvelope(refused, 401, 'AUTHENTICATION_REQUIRED');
      assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    });

    test('authorization code with PKCE: sign-in and consent pages, tokens for the user, refresh with rotation', async () => {
      const userId = await customer('ada@example.com');
      const { app, auth } = await webApp();
      const agent = browser();
      const { url, verifier, state } = await authorizationUrl(String(app.client_id));
      const callback = oauth.validateAuthResponse(as, app, await signInAndAllow(agent, url, 'ada@example.com'), state);
      const tokens = await exchange(app, auth, callback, verifier);
      // A customer may not write products: consent granted the rest and refused that one.
      assert.equal(tokens.scope, 'orders:read offline_access');
      assert.ok(tokens.refresh_token);

      const me = await api('GET', '/test/whoami', { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(me.status, 200);
      assert.deepEqual(
        {
          method: me.body.method,
          userId: me.body.userId,
          role: me.body.role,
          scopes: me.body.scopes,
          clientId: me.body.clientId,
        },
        { method: 'oauth', userId, role: 'customer', scopes: ['orders:read'], clientId: app.client_id },
      );

      const rotated = await oauth.processRefreshTokenResponse(
        as,
        app,
        await oauth.refreshTokenGrantRequest(as, app, auth, tokens.refresh_token, insecure),
      );
      assert.ok(rotated.refresh_token && rotated.refresh_token !== tokens.refresh_token);
      assert.equal(rotated.scope, 'orders:read offline_access');
      const again = await api('GET', '/test/whoami', { headers: { authorization: `Bearer ${rotated.access_token}` } });
      assert.equal(again.body.userId, userId);

      // A second authorization for the same client and scopes needs neither sign-in nor consent again.
      const second = await authorizationUrl(String(app.client_id), { scope: 'orders:read', prompt: null });
      const silent = await agent.follow(second.url);
      assert.ok(silent.url.startsWith(redirectUri), silent.url);
      assert.ok(oauth.validateAuthResponse(as, app, new URL(silent.url), second.state).get('code'));
    });

    test('a refresh token replayed after rotation is refused and ends the whole grant', async () => {
      await customer('replay@example.com');
      const { app, auth } = await webApp();
      const { url, verifier, state } = await authorizationUrl(String(app.client_id));
      const callback = oauth.validateAuthResponse(
        as,
        app,
        await signInAndAllow(browser(), url, 'replay@example.com'),
        state,
      );
      const tokens = await exchange(app, auth, callback, verifier);
      const refresh = async (token: string) =>
        oauth.processRefreshTokenResponse(
          as,
          app,
          await oauth.refreshTokenGrantRequest(as, app, auth, token, insecure),
        );
      const rotated = await refresh(String(tokens.refresh_token));
      await refusedWith('invalid_grant', () => refresh(String(tokens.refresh_token)));
      // The replay revoked the grant: the rotated refresh token and its access token are dead too.
      await refusedWith('invalid_grant', () => refresh(String(rotated.refresh_token)));
      const me = await api('GET', '/test/whoami', { headers: { authorization: `Bearer ${rotated.access_token}` } });
      expectEnvelope(me, 401, 'AUTHENTICATION_REQUIRED');
    });

    test('a code used twice is refused and the tokens issued from it are revoked', async () => {
      await customer('twice@example.com');
      const { app, auth } = await webApp();
      const { url, verifier, state } = await authorizationUrl(String(app.client_id));
      const callback = oauth.validateAuthResponse(
        as,
        app,
        await signInAndAllow(browser(), url, 'twice@example.com'),
        state,
      );
      const tokens = await exchange(app, auth, callback, verifier);
      const bearer = { authorization: `Bearer ${tokens.access_token}` };
      assert.equal((await api('GET', '/test/whoami', { headers: bearer })).status, 200);
      await refusedWith('invalid_grant', () => exchange(app, auth, callback, verifier));
      expectEnvelope(await api('GET', '/test/whoami', { headers: bearer }), 401, 'AUTHENTICATION_REQUIRED');
      const introspected = await oauth.processIntrospectionResponse(
        as,
        app,
        await oauth.introspectionRequest(as, app, auth, String(tokens.refresh_token), insecure),
      );
      assert.equal(introspected.active, false);
    });

    test('a wrong PKCE verifier is refused and issues nothing; only the right one redeems the code', async () => {
      await customer('verifier@example.com');
      const { app, auth } = await webApp();
      const { url, verifier, state } = await authorizationUrl(String(app.client_id));
      const callback = oauth.validateAuthResponse(
        as,
        app,
        await signInAndAllow(browser(), url, 'verifier@example.com'),
        state,
      );
      const before = await tokenRows();
      await refusedWith('invalid_grant', () => exchange(app, auth, callback, oauth.generateRandomCodeVerifier()));
      assert.deepEqual(await tokenRows(), before);
      // Someone who intercepted the code cannot use it without the verifier; the client that has it still can.
      const tokens = await exchange(app, auth, callback, verifier);
      assert.ok(tokens.access_token);
    });

    test('the redirect URI must match exactly, at authorization and at the token endpoint', async () => {
      await customer('redirect@example.com');
      const { app, auth } = await webApp();
      const agent = browser();
      for (const near of [`${redirectUri}/`, 'https://app.example.com/callbacK', 'https://app.example.co/callback']) {
        const { url } = await authorizationUrl(String(app.client_id), { redirect_uri: near });
        const answer = await agent.request(url);
        // Never sent to an unregistered address, not even with an error: the error is shown here.
        assert.equal(answer.status, 400);
        assert.equal(answer.location, null);
        assert.match(answer.text, /redirect_uri/);
      }
      const { url, verifier, state } = await authorizationUrl(String(app.client_id));
      const callback = oauth.validateAuthResponse(
        as,
        app,
        await signInAndAllow(agent, url, 'redirect@example.com'),
        state,
      );
      await refusedWith('invalid_grant', async () =>
        oauth.processAuthorizationCodeResponse(
          as,
          app,
          await oauth.authorizationCodeGrantRequest(as, app, auth, callback, `${redirectUri}x`, verifier, insecure),
        ),
      );
    });

    test('PKCE is required and only S256 is accepted; implicit and password grants are refused', async () => {
      const { app, auth } = await webApp();
      const agent = browser();
      const cases: [Record<string, string | null>, string][] = [
        [{ code_challenge: null, code_challenge_method: null }, 'invalid_request'],
        [{ code_challenge_method: 'plain' }, 'invalid_request'],
        [{ response_type: 'token' }, 'unsupported_response_type'],
      ];
      for (const [overrides, code] of cases) {
        const { url, state } = await authorizationUrl(String(app.client_id), overrides);
        const answer = await agent.follow(url);
        assert.ok(answer.url.startsWith(redirectUri), answer.url);
        // An implicit request's answer would travel in the fragment, so its refusal does too.
        const back = new URL(answer.url);
        const parameters = back.hash ? new URLSearchParams(back.hash.slice(1)) : back;
        assert.throws(
          () => oauth.validateAuthResponse(as, app, parameters, state),
          (error: unknown) => oauthError(error) === code,
        );
      }
      await refusedWith('unsupported_grant_type', async () =>
        oauth.processGenericTokenEndpointResponse(
          as,
          app,
          await oauth.genericTokenEndpointRequest(
            as,
            app,
            auth,
            'password',
            { username: 'ada@example.com', password },
            insecure,
          ),
        ),
      );
    });

    test('a missing or altered state is left to the client, and oauth4webapi refuses it', async () => {
      await customer('state@example.com');
      const { app } = await webApp();
      const { url, state } = await authorizationUrl(String(app.client_id));
      const back = await signInAndAllow(browser(), url, 'state@example.com');
      const missing = new URL(back);
      missing.searchParams.delete('state');
      assert.throws(() => oauth.validateAuthResponse(as, app, missing, state), oauth.OperationProcessingError);
      const altered = new URL(back);
      altered.searchParams.set('state', oauth.generateRandomState());
      assert.throws(() => oauth.validateAuthResponse(as, app, altered, state), oauth.OperationProcessingError);
      assert.ok(oauth.validateAuthResponse(as, app, back, state).get('code'));
    });

    test('the sign-in page: no script, escaped output, a wrong password answered on the page', async () => {
      await customer('page@example.com');
      const { app } = await webApp('<script>alert("x")</script> & Co');
      const agent = browser();
      const { url } = await authorizationUrl(String(app.client_id));
      const page = await agent.follow(url);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      const policy = page.headers.get('content-security-policy') ?? '';
      assert.match(policy, /default-src 'none'/);
      assert.doesNotMatch(policy, /script-src|unsafe-inline/);
      assert.doesNotMatch(page.text, /<script/);
      assert.match(page.text, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; Co/);
      const before = await tokenRows();
      const wrong = await agent.request(formAction(page.text, 'Sign in', page.url), {
        method: 'POST',
        form: { email: 'page@example.com', password: 'not the password' },
      });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.location, null);
      assert.match(wrong.text, /The email or password is not correct\./);
      assert.match(wrong.text, /value="page@example.com"/);
      assert.equal(await tokenRows(), before);
      // The page's form still works after a mistake.
      const consent = await agent.follow(formAction(wrong.text, 'Sign in', page.url), {
        method: 'POST',
        form: { email: 'page@example.com', password },
      });
      assert.match(consent.text, /Allow access\?/);
    });

    test('pages refuse a browser without the interaction cookie, and denying consent answers access_denied', async () => {
      await customer('deny@example.com');
      const { app } = await webApp();
      const agent = browser();
      const { url, state } = await authorizationUrl(String(app.client_id));
      const page = await agent.follow(url);
      const stranger = await browser().request(page.url);
      assert.equal(stranger.status, 400);
      assert.doesNotMatch(stranger.text, /<form/);
      const forged = await browser().request(formAction(page.text, 'Sign in', page.url), {
        method: 'POST',
        form: { email: 'deny@example.com', password },
      });
      assert.equal(forged.status, 400);
      assert.equal(forged.location, null);

      const consent = await agent.follow(formAction(page.text, 'Sign in', page.url), {
        method: 'POST',
        form: { email: 'deny@example.com', password },
      });
      const back = await agent.follow(formAction(consent.text, 'Deny', consent.url), { method: 'POST' });
      assert.throws(
        () => oauth.validateAuthResponse(as, app, new URL(back.url), state),
        (error: unknown) => oauthError(error) === 'access_denied',
      );
    });

    test('a public client completes the flow with PKCE alone; an admin is granted what the role allows', async () => {
      const adminId = await customer('admin@example.com', 'admin');
      const registered = await registerClient(server, ['--name', 'SPA', '--redirect-uri', redirectUri, '--public']);
      assert.equal(registered.clientSecret, null);
      const app: oauth.Client = { client_id: registered.clientId, token_endpoint_auth_method: 'none' };
      const { url, verifier, state } = await authorizationUrl(registered.clientId);
      const callback = oauth.validateAuthResponse(
        as,
        app,
        await signInAndAllow(browser(), url, 'admin@example.com'),
        state,
      );
      const tokens = await exchange(app, oauth.None(), callback, verifier);
      assert.equal(tokens.scope, 'orders:read products:write offline_access');
      const me = await api('GET', '/test/whoami', { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(me.body.userId, adminId);
      assert.equal(me.body.role, 'admin');
      assert.deepEqual(me.body.scopes, ['orders:read', 'products:write']);
    });

    test('expired rows are purged, and the database holds no token or client secret in plain text', async () => {
      await customer('scan@example.com');
      const { clientId, clientSecret } = await registerClient(server, [
        '--name',
        'Scan job',
        '--scopes',
        'products:read',
      ]);
      assert.ok(clientSecret);
      const machine: oauth.Client = { client_id: clientId };
      const machineTokens = await oauth.processClientCredentialsResponse(
        as,
        machine,
        await oauth.clientCredentialsGrantRequest(as, machine, oauth.ClientSecretBasic(clientSecret), {}, insecure),
      );
      const { app, auth } = await webApp();
      const { url, verifier, state } = await authorizationUrl(String(app.client_id));
      const callback = oauth.validateAuthResponse(
        as,
        app,
        await signInAndAllow(browser(), url, 'scan@example.com'),
        state,
      );
      const userTokens = await exchange(app, auth, callback, verifier);
      const secrets = [
        clientSecret,
        machineTokens.access_token,
        userTokens.access_token,
        String(userTokens.refresh_token),
        String(callback.get('code')),
      ];
      const everything = JSON.stringify(
        await server.storage.db
          .withTables<{ oauth_entries: Record<string, unknown> }>()
          .selectFrom('oauth_entries')
          .selectAll()
          .execute(),
      );
      for (const secret of secrets) assert.ok(!everything.includes(secret), 'a credential is stored in plain text');

      // Access tokens live 15 minutes: a purge as of 16 minutes from now removes them and keeps the rest.
      const bearer = { authorization: `Bearer ${machineTokens.access_token}` };
      assert.equal((await api('GET', '/test/whoami', { headers: bearer })).status, 200);
      assert.ok((await purgeExpired(server.storage, () => Date.now() + 16 * 60_000)) >= 2);
      expectEnvelope(await api('GET', '/test/whoami', { headers: bearer }), 401, 'AUTHENTICATION_REQUIRED');
      const refreshed = await oauth.processRefreshTokenResponse(
        as,
        app,
        await oauth.refreshTokenGrantRequest(as, app, auth, String(userTokens.refresh_token), insecure),
      );
      assert.ok(refreshed.access_token);
    });

    test('oauth-clients create refuses a client that could not work', async () => {
      const run = (args: string[]) =>
        oauthClientsCommand(['create', ...args], {
          env: { DATABASE_URL: server.config.databaseUrl },
          stdout: () => {},
          stderr: () => {},
        });
      await assert.rejects(run([]), UsageError);
      await assert.rejects(run(['--name', 'x', '--public', '--grant-types', 'client_credentials']), CommandError);
      await assert.rejects(run(['--name', 'x', '--grant-types', 'authorization_code']), CommandError);
      await assert.rejects(run(['--name', 'x', '--grant-types', 'password']), CommandError);
      await assert.rejects(run(['--name', 'x', '--scopes', 'everything']), CommandError);
      await assert.rejects(run(['--name', 'x', '--grant-types', 'client_credentials']), CommandError);
      await assert.rejects(run(['--name', 'x', '--redirect-uri', 'not a url']), CommandError);
    });

    /** An access token for a user, from the authorization code flow, carrying `scope` (as far as the role allows). */
    async function userToken(email: string, scope: string) {
      const { app, auth } = await webApp();
      const { url, verifier, state } = await authorizationUrl(String(app.client_id), { scope });
      const callback = oauth.validateAuthResponse(as, app, await signInAndAllow(browser(), url, email), state);
      return (await exchange(app, auth, callback, verifier)).access_token;
    }

    test('the admin API registers, lists, shows and deletes clients; deleting one ends its tokens', async () => {
      await customer('root@example.com', 'admin');
      await customer('shopper@example.com');
      const admin = {
        authorization: `Bearer ${await userToken('root@example.com', 'oauth-clients:read oauth-clients:write')}`,
      };
      const body = { name: 'Warehouse sync', grantTypes: ['client_credentials'], scopes: ['orders:read'] };

      expectEnvelope(await api('POST', '/v1/oauth-clients', { body }), 401, 'AUTHENTICATION_REQUIRED');
      const shopper = { authorization: `Bearer ${await userToken('shopper@example.com', 'orders:read')}` };
      expectEnvelope(
        await api('POST', '/v1/oauth-clients', { body, headers: shopper }),
        403,
        'INSUFFICIENT_PERMISSIONS',
      );
      expectEnvelope(await api('GET', '/v1/oauth-clients', { headers: shopper }), 403, 'INSUFFICIENT_PERMISSIONS');
      const invalid = await api('POST', '/v1/oauth-clients', {
        body: { ...body, grantTypes: ['password'] },
        headers: admin,
      });
      expectEnvelope(invalid, 400, 'VALIDATION_ERROR');
      const noRedirect = await api('POST', '/v1/oauth-clients', {
        body: { name: 'Web', grantTypes: ['authorization_code'] },
        headers: admin,
      });
      expectEnvelope(noRedirect, 400, 'VALIDATION_ERROR');

      const created = await api('POST', '/v1/oauth-clients', { body, headers: admin });
      assert.equal(created.status, 201, created.text);
      const { id, clientSecret } = created.body;
      assert.match(id, /^cli_/);
      assert.equal(created.headers.get('location'), `${server.url}/v1/oauth-clients/${id}`);
      assert.deepEqual(
        { grantTypes: created.body.grantTypes, scopes: created.body.scopes, public: created.body.public },
        { grantTypes: ['client_credentials'], scopes: ['orders:read'], public: false },
      );
      assert.equal(typeof clientSecret, 'string');

      const shown = await api('GET', `/v1/oauth-clients/${id}`, { headers: admin });
      assert.equal(shown.status, 200);
      assert.equal(shown.body.clientSecret, null);
      const listed = await api('GET', '/v1/oauth-clients?limit=100', { headers: admin });
      assert.equal(listed.status, 200);
      assert.ok(listed.body.data.some((client: { id: string }) => client.id === id));

      const machine: oauth.Client = { client_id: id };
      const token = async () =>
        oauth.processClientCredentialsResponse(
          as,
          machine,
          await oauth.clientCredentialsGrantRequest(as, machine, oauth.ClientSecretBasic(clientSecret), {}, insecure),
        );
      const { access_token } = await token();
      const bearer = { authorization: `Bearer ${access_token}` };
      assert.equal((await api('GET', '/test/whoami', { headers: bearer })).status, 200);

      assert.equal((await api('DELETE', `/v1/oauth-clients/${id}`, { headers: admin })).status, 204);
      expectEnvelope(await api('GET', '/test/whoami', { headers: bearer }), 401, 'AUTHENTICATION_REQUIRED');
      await refusedWith('invalid_client', token);
      expectEnvelope(await api('GET', `/v1/oauth-clients/${id}`, { headers: admin }), 404, 'RESOURCE_NOT_FOUND');
      expectEnvelope(await api('DELETE', `/v1/oauth-clients/${id}`, { headers: admin }), 404, 'RESOURCE_NOT_FOUND');
    });

    test("client credentials: a scope beyond the client's, a wrong secret and an unknown token are refused", async () => {
      const { clientId, clientSecret } = await registerClient(server, [
        '--name',
        'Narrow job',
        '--scopes',
        'products:read',
      ]);
      assert.ok(clientSecret);
      const machine: oauth.Client = { client_id: clientId };
      const grant = async (secret: string, scope: string) =>
        oauth.processClientCredentialsResponse(
          as,
          machine,
          await oauth.clientCredentialsGrantRequest(as, machine, oauth.ClientSecretBasic(secret), { scope }, insecure),
        );
      await refusedWith('invalid_scope', () => grant(clientSecret, 'users:write'));
      await refusedWith('invalid_client', () => grant(`${clientSecret}x`, 'products:read'));
      // A secret that is only its stored hash does not authenticate either.
      const [row] = await server.storage.db
        .withTables<{ oauth_entries: { model: string; id: string; payload: string } }>()
        .selectFrom('oauth_entries')
        .select('payload')
        .where('model', '=', 'Client')
        .where('id', '=', clientId)
        .execute();
      const stored = JSON.parse(row?.payload ?? '{}').client_secret as string;
      assert.ok(stored.startsWith('sha256:') && !stored.includes(clientSecret));
      await refusedWith('invalid_client', () => grant(stored, 'products:read'));
      const unknown = await api('GET', '/test/whoami', { headers: { authorization: 'Bearer a-token-nobody-issued' } });
      expectEnvelope(unknown, 401, 'AUTHENTICATION_REQUIRED');
    });
  });
}
