// ETag and 304 for every GET whose handler did not set a validator itself (collections, the root, the OpenAPI
// documents): a strong tag over the exact bytes sent, so any change to a page changes its tag (RFC 9110 §8.8.3).
import type { FastifyInstance } from 'fastify';
import { payloadStep } from '../../edge/hook-steps.ts';
import { contentTag, noneMatch } from '../../kernel/etag.ts';

export function installConditionalGet(app: FastifyInstance): void {
  app.addHook(
    'onSend',
    payloadStep((request, reply, payload) => {
      const isRead = request.method === 'GET' || request.method === 'HEAD';
      if (!isRead || reply.statusCode !== 200 || reply.hasHeader('etag') || typeof payload !== 'string') return payload;
      const etag = contentTag(payload);
      reply.header('etag', etag);
      if (noneMatch(request.headers['if-none-match'], etag)) return payload;
      reply.code(304);
      reply.removeHeader('content-length');
      return '';
    }),
  );
}
