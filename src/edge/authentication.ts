// Authentication at the edge: each means of authentication is an Authenticator; the first that recognises a
// credential in the request decides. A request with no credential goes on as anonymous (principal null), and
// authorization (issue 5, edge/authorization.ts) decides what anonymous may do. A credential that is present but
// bad is a 401 at once, with the RFC 6750 `WWW-Authenticate` challenge; it never falls back to anonymous.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../kernel/errors.ts';
import type { Principal } from '../modules/identity/principal.ts';
import { requestStep } from './hook-steps.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling, or null when the request carried no credential. */
    principal: Principal | null;
  }
}

export interface Authenticator {
  /** For logs: `jwt`, `api-key`, `session`, `oauth`. */
  name: string;
  /**
   * Null when the request carries no credential of this kind. A Principal when it carries a valid one. Throws an
   * ApiError (`badCredentials`) when it carries one that is not valid: expired, revoked, tampered with. An answer
   * known at once (no credential of this kind) may be given without a promise, and the chain goes on without waiting.
   */
  authenticate(request: FastifyRequest): Principal | null | Promise<Principal | null>;
}

export const bearerRealm = 'portico';

/** RFC 6750 §3: the challenge a 401 carries; `error` only when a credential was sent. */
export function bearerChallenge(error?: { code: 'invalid_token' | 'invalid_request'; description: string }): string {
  const parts = [`Bearer realm="${bearerRealm}"`];
  if (error) parts.push(`error="${error.code}"`, `error_description="${error.description.replaceAll('"', "'")}"`);
  return parts.join(', ');
}

/**
 * The one 401 for a credential that was sent but is not valid. The message says which kind of credential failed
 * and nothing about why (expired, revoked and forged look the same), so a caller learns nothing to attack with.
 */
export function badCredentials(
  kind: string,
  challenge = bearerChallenge({ code: 'invalid_token', description: `The ${kind} is not valid.` }),
): ApiError {
  return new ApiError('AUTHENTICATION_REQUIRED', `The ${kind} is not valid. Authenticate again.`, {
    headers: { 'www-authenticate': challenge },
  });
}

/** The Bearer token of the Authorization header, or null when there is none. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  if (!match?.[1]) {
    throw new ApiError('AUTHENTICATION_REQUIRED', 'The Authorization header must be "Bearer <token>".', {
      headers: {
        'www-authenticate': bearerChallenge({
          code: 'invalid_request',
          description: 'Malformed Authorization header.',
        }),
      },
    });
  }
  return match[1];
}

export function installAuthentication(app: FastifyInstance, authenticators: readonly Authenticator[]): void {
  app.decorateRequest('principal', null);
  // After the anonymous per-IP rate limit (onRequest), so floods of bad credentials are refused cheaply first.
  function authenticateFrom(request: FastifyRequest, first: number): Promise<void> | undefined {
    for (let index = first; index < authenticators.length; index++) {
      const found = (authenticators[index] as Authenticator).authenticate(request);
      if (found instanceof Promise) {
        return found.then((principal) => {
          if (principal) request.principal = principal;
          else return authenticateFrom(request, index + 1);
        });
      }
      if (found) {
        request.principal = found;
        return undefined;
      }
    }
    // A token or key that no authenticator recognises is a bad credential too, not a way to be anonymous.
    if (request.headers.authorization !== undefined || request.headers['x-api-key'] !== undefined) {
      throw badCredentials('credential');
    }
    return undefined;
  }
  app.addHook(
    'preValidation',
    requestStep((request) => {
      const { authorization, cookie } = request.headers;
      // Authenticators read credentials from these three fields only; without any, the caller is anonymous.
      if (authorization === undefined && cookie === undefined && request.headers['x-api-key'] === undefined) {
        return undefined;
      }
      return authenticateFrom(request, 0);
    }),
  );
}
