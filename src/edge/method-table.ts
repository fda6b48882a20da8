// Knows every route's path and methods, so a path that exists under other methods answers 405 with Allow
// (RFC 9110 §15.5.6) and OPTIONS answers with Allow (§9.3.7), instead of a bare 404.
import type { FastifyInstance } from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { ApiError } from '../kernel/errors.ts';
import { sendError } from './error-envelope.ts';

const methods: HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

export function installMethodTable(app: FastifyInstance, publicUrl: string): void {
  const router = FindMyWay({ ignoreTrailingSlash: false });
  app.addHook('onRoute', (route) => {
    const routeMethods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of routeMethods) {
      if (methods.includes(method as HTTPMethod) && !router.hasRoute(method as HTTPMethod, route.url)) {
        router.on(method as HTTPMethod, route.url, () => {});
      }
    }
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = methods.filter((method) => router.find(method, path) !== null);
    if (allowed.length === 0) {
      return sendError(
        request,
        reply,
        new ApiError('RESOURCE_NOT_FOUND', `Nothing is at ${path}. Start from GET / to discover the API.`),
        publicUrl,
      );
    }
    const allow = [...allowed, 'OPTIONS'].join(', ');
    if (request.method === 'OPTIONS') return reply.code(204).header('allow', allow).send();
    return sendError(
      request,
      reply,
      new ApiError('METHOD_NOT_ALLOWED', `${request.method} is not supported on ${path}; use ${allow}.`, {
        headers: { allow },
      }),
      publicUrl,
    );
  });
}
