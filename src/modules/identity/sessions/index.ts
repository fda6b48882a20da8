// The sessions module's door: the session store, the cookie authenticator and the /v1/auth/session routes.
// Nothing else is imported from outside.

export { type SessionAuthentication, sessionAuthentication, sessionCookie } from './authenticator.ts';
export { csrfHeader } from './csrf.ts';
export { sessionPath, sessionRoutes } from './http.ts';
export { type SessionStore, sessionStore } from './store.ts';
