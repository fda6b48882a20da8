// Defences against cross-site request forgery for requests that a session cookie authenticates. The rules:
// 1. Safe methods (GET, HEAD, OPTIONS) are not checked: they change nothing (RFC 9110 §9.2.1).
// 2. An unsafe request that the browser marks as coming from another site is refused: `Sec-Fetch-Site: cross-site`,
//    or an `Origin` that is neither this API's own origin nor one listed in CORS_ORIGINS (`null` included).
// 3. An unsafe request must send the session's synchronizer token in `X-CSRF-Token`, compared in constant time.
// Requests authenticated by a Bearer token or an API key are not checked: a browser never attaches those by itself.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../../../kernel/errors.ts';

export const csrfHeader = 'x-csrf-token';

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

export const isUnsafe = (request: FastifyRequest) => !safeMethods.has(request.method);

export interface TrustedOrigins {
  publicUrl: string;
  corsOrigins: readonly string[];
}

/** Rule 2; also guards the login itself, so another site cannot sign a browser in to an account of its choosing. */
export function refuseCrossSite(request: FastifyRequest, trusted: TrustedOrigins): void {
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  const ownOrigins = [new URL(trusted.publicUrl).origin, `${request.protocol}://${request.host}`];
  const crossSite =
    site === 'cross-site' ||
    (origin !== undefined && !ownOrigins.includes(origin) && !trusted.corsOrigins.includes(origin));
  if (crossSite) {
    throw new ApiError(
      'INSUFFICIENT_PERMISSIONS',
      'CSRF protection: a request from another site cannot use the session cookie. Call from this site, or ' +
        'authenticate with a Bearer token.',
    );
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Rule 3. Both sides are hashed first so the comparison takes the same time whatever the lengths. */
export function requireCsrfToken(request: FastifyRequest, expected: string): void {
  const sent = request.headers[csrfHeader];
  if (typeof sent !== 'string' || !timingSafeEqual(digest(sent), digest(expected))) {
    throw new ApiError(
      'INSUFFICIENT_PERMISSIONS',
      `CSRF protection: a ${request.method} authenticated by the session cookie must send the session's CSRF ` +
        'token in the X-CSRF-Token header; it is in the answer of POST and GET /v1/auth/session.',
    );
  }
}
