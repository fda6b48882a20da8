// REST routes for the browser's session under /v1/auth/session: sign in (201, sets the cookie), read, sign out.
// They declare scope `public` because they authenticate by themselves: sign-in by password, the others by cookie.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { bearerChallenge } from '../../../edge/authentication.ts';
import { ApiError } from '../../../kernel/errors.ts';
import { errorResponses } from '../../../transports/rest/error-responses.ts';
import { representUser, type UsersService } from '../../users/index.ts';
import type { LoginService } from '../accounts/index.ts';
import { type CurrentSession, type SessionAuthentication, sessionCookie } from './authenticator.ts';
import { refuseCrossSite, type TrustedOrigins } from './csrf.ts';
import { Session, SessionCreate } from './schema.ts';
import { absoluteMs, type SessionStore } from './store.ts';

export const sessionPath = '/v1/auth/session';

const sessionSecurity = [{ sessionCookie: [] }];

const CsrfHeader = Type.Object({
  'X-CSRF-Token': Type.Optional(
    Type.String({
      maxLength: 256,
      pattern: '^[\\x20-\\x7e]*$',
      description: "The session's csrfToken; without it the request is refused (403).",
    }),
  ),
});

export interface SessionRoutesDependencies {
  store: SessionStore;
  authentication: SessionAuthentication;
  login: LoginService;
  users: UsersService;
  trusted: TrustedOrigins;
}

const iso = (ms: number) => new Date(ms).toISOString();

function cookieOptions(request: FastifyRequest) {
  // Secure only over TLS, so the cookie also works on plain-HTTP development servers; HttpOnly keeps it from
  // scripts, SameSite=Lax from cross-site subrequests and form posts.
  return { httpOnly: true, sameSite: 'lax', path: '/', secure: request.protocol === 'https' } as const;
}

export function sessionRoutes(app: FastifyInstance, dependencies: SessionRoutesDependencies): void {
  const { store, authentication, login, users, trusted } = dependencies;
  const { publicUrl } = trusted;
  const tags = ['Sessions'];

  function represent({ session, user }: Pick<CurrentSession, 'session' | 'user'>) {
    const represented = representUser(user, publicUrl);
    return {
      id: session.handle,
      user: represented,
      csrfToken: session.csrfToken,
      createdAt: iso(session.createdAtMs),
      idleExpiresAt: iso(session.idleExpiresAtMs),
      expiresAt: iso(session.expiresAtMs),
      _links: {
        self: { href: `${publicUrl}${sessionPath}` },
        user: { href: represented._links.self.href },
      },
    };
  }

  function currentOrRefuse(request: FastifyRequest): CurrentSession {
    const current = authentication.current(request);
    if (current) return current;
    throw new ApiError('AUTHENTICATION_REQUIRED', `No session: sign in with POST ${sessionPath}.`, {
      headers: { 'www-authenticate': bearerChallenge() },
    });
  }

  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

  app.post(
    sessionPath,
    {
      // The answer sets the session cookie: an Idempotency-Key replay would hand the same session to whoever repeats it.
      config: { scope: 'public', ignoresSessionCookie: true, idempotency: false },
      schema: {
        operationId: 'createSession',
        summary: 'Sign in (browser session)',
        description:
          `Checks the email and password and starts a session: the ${sessionCookie} cookie (HttpOnly, ` +
          'SameSite=Lax, Secure over HTTPS) names it. A session ends after 30 minutes unused or 12 hours in all. ' +
          'Every sign-in starts a new session; a cookie sent with it is ended, never reused. Unsafe requests made ' +
          'with the cookie must send csrfToken in X-CSRF-Token. Too many attempts answer 429.',
        tags,
        // Signing in needs no credential but the password in the body.
        security: [{}],
        body: SessionCreate,
        response: { 201: Session, ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      refuseCrossSite(request, trusted);
      const { email, password } = request.body as SessionCreate;
      const { userId } = await login.login({ email, password, ip: request.ip });
      const previous = request.cookies[sessionCookie];
      if (previous) await store.end(previous);
      const { id, session } = await store.create(userId);
      const user = await users.get(userId);
      reply.setCookie(sessionCookie, id, { ...cookieOptions(request), maxAge: absoluteMs / 1000 });
      reply.code(201).header('location', `${publicUrl}${sessionPath}`);
      noStore(reply);
      return represent({ session, user });
    },
  );

  app.get(
    sessionPath,
    {
      config: { scope: 'public' },
      schema: {
        operationId: 'getSession',
        summary: 'The current session',
        description: `The session the ${sessionCookie} cookie names, with its user, expiries and CSRF token.`,
        tags,
        security: sessionSecurity,
        response: { 200: Session, ...errorResponses(401) },
      },
    },
    async (request, reply) => {
      noStore(reply);
      return represent(currentOrRefuse(request));
    },
  );

  app.delete(
    sessionPath,
    {
      config: { scope: 'public' },
      schema: {
        operationId: 'deleteSession',
        summary: 'Sign out',
        description: 'Ends the session at once and clears the cookie. Needs the X-CSRF-Token like any unsafe request.',
        tags,
        security: sessionSecurity,
        headers: CsrfHeader,
        response: { 204: Type.Null({ description: 'Signed out.' }), ...errorResponses(401, 403) },
      },
    },
    async (request, reply) => {
      const { id } = currentOrRefuse(request);
      await store.end(id);
      reply.clearCookie(sessionCookie, cookieOptions(request));
      return reply.code(204).send();
    },
  );
}
