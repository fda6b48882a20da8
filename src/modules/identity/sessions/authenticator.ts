// The session cookie as a means of authentication. The rules:
// 1. No `portico_session` cookie: not this authenticator's request (null), so it goes on as anonymous.
// 2. A cookie naming no live session (unknown, idle too long, past its absolute expiry, ended): 401.
// 3. The user is looked up on every request, so a deactivated or deleted user's session stops at once (and is ended).
// 4. Unsafe methods pass the CSRF checks (csrf.ts): 403 otherwise.
// The login route reads no session: a cookie sent to it is replaced, never used (fixation).
import type { FastifyRequest } from 'fastify';
import { type Authenticator, badCredentials, bearerChallenge } from '../../../edge/authentication.ts';
import { isApiError } from '../../../kernel/errors.ts';
import type { UserRecord, UsersService } from '../../users/index.ts';
import { scopesOfRole } from '../principal.ts';
import { isUnsafe, refuseCrossSite, requireCsrfToken, type TrustedOrigins } from './csrf.ts';
import type { Session, SessionStore } from './store.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the login route: a session cookie sent there is neither checked nor reused. */
    ignoresSessionCookie?: boolean;
  }
}

export const sessionCookie = 'portico_session';

/** The session that authenticated a request, with its cookie id, for the session routes. */
export interface CurrentSession {
  id: string;
  session: Session;
  user: UserRecord;
}

export interface SessionAuthentication {
  authenticator: Authenticator;
  /** The session that authenticated this request, or null when another means did (or none). */
  current(request: FastifyRequest): CurrentSession | null;
}

export function sessionAuthentication(
  store: SessionStore,
  users: UsersService,
  trusted: TrustedOrigins,
): SessionAuthentication {
  const current = new WeakMap<FastifyRequest, CurrentSession>();
  // No Bearer token was sent, so the challenge carries no `error` (RFC 6750 §3.1).
  const invalid = () => badCredentials('session', bearerChallenge());

  async function activeUser(userId: string): Promise<UserRecord | null> {
    try {
      const user = await users.get(userId);
      return user.status === 'active' ? user : null;
    } catch (error) {
      if (isApiError(error) && error.code === 'RESOURCE_NOT_FOUND') return null;
      throw error;
    }
  }

  return {
    authenticator: {
      name: 'session',
      async authenticate(request) {
        if (request.routeOptions.config.ignoresSessionCookie) return null;
        const id = request.cookies[sessionCookie];
        if (!id) return null;
        const unsafe = isUnsafe(request);
        if (unsafe) refuseCrossSite(request, trusted);
        const session = await store.use(id);
        if (!session) throw invalid();
        const user = await activeUser(session.userId);
        if (!user) {
          await store.end(id);
          throw invalid();
        }
        if (unsafe) requireCsrfToken(request, session.csrfToken);
        current.set(request, { id, session, user });
        return {
          method: 'session',
          userId: user.id,
          role: user.role,
          scopes: new Set(scopesOfRole(user.role)),
          credentialId: session.handle,
        };
      },
    },
    current: (request) => current.get(request) ?? null,
  };
}
