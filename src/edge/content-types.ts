// Which bodies the API reads: JSON everywhere, JSON Merge Patch (RFC 7396) on PATCH; anything else is a 415.
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../kernel/errors.ts';

export const mergePatchType = 'application/merge-patch+json';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Media types this route's body may have; JSON only when unset. */
    bodyTypes?: string[];
  }
}

export function installContentTypes(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(mergePatchType, { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  app.addHook('preValidation', async (request) => {
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
  });
}
