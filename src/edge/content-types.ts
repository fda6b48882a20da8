// Which bodies the API reads: JSON everywhere, JSON Merge Patch (RFC 7396) on PATCH; anything else is a 415. A
// JSON body nested deeper than any of our schemas goes is a 400 before anything walks it recursively (validation,
// the Idempotency-Key fingerprint), because a 1 MiB body can nest a hundred thousand levels.
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../kernel/errors.ts';
import { requestStep } from './hook-steps.ts';

export const mergePatchType = 'application/merge-patch+json';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Media types this route's body may have; JSON only when unset. */
    bodyTypes?: string[];
  }
}

/** Far deeper than any representation (an order's items' prices are four levels). */
export const maxBodyDepth = 32;

/** Whether `value` nests deeper than `limit`; walked with an explicit stack, so depth cannot overflow ours. */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (node === null || typeof node !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
  return false;
}

export function installContentTypes(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(mergePatchType, { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  app.addHook(
    'preValidation',
    requestStep((request) => {
      const type = request.headers['content-type'];
      if (type === undefined || request.body === undefined) return;
      const mediaType = type.split(';')[0]?.trim().toLowerCase() ?? '';
      const accepted = request.routeOptions.config.bodyTypes ?? ['application/json'];
      if (!accepted.includes(mediaType)) {
        throw new ApiError(
          'UNSUPPORTED_MEDIA_TYPE',
          `This endpoint takes ${accepted.join(' or ')} bodies, not ${mediaType}.`,
        );
      }
      if (nestsDeeperThan(request.body, maxBodyDepth)) {
        throw new ApiError(
          'MALFORMED_REQUEST',
          `The body nests objects and arrays deeper than ${maxBodyDepth} levels.`,
        );
      }
      return undefined;
    }),
  );
}
