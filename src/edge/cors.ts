// CORS from CORS_ORIGINS: only listed origins get a grant, echoed exactly (never `*`), so credentials are safe to
// allow; every other origin gets no CORS headers at all and OPTIONS falls through to the API's own Allow answer.
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

export const exposedHeaders = [
  'X-Request-Id',
  'Link',
  'ETag',
  'Location',
  'Retry-After',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'RateLimit-Policy',
  'RateLimit',
  'Idempotent-Replayed',
  'Deprecation',
  'Sunset',
];

const allowedHeaders = [
  'Content-Type',
  'Authorization',
  'X-API-Key',
  'If-Match',
  'If-None-Match',
  'Idempotency-Key',
  'X-Request-Id',
  'X-CSRF-Token',
];

export async function installCors(app: FastifyInstance, origins: string[]): Promise<void> {
  const listed = new Set(origins);
  await app.register(cors, {
    origin: (origin, callback) => callback(null, origin !== undefined && listed.has(origin) ? origin : false),
    credentials: true,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders,
    exposedHeaders,
    maxAge: 600,
    // A listed origin's OPTIONS is a preflight even without Access-Control-Request-Method; the strict mode would
    // answer such a request with a bare text/plain 400 outside the error envelope.
    strictPreflight: false,
  });
}
