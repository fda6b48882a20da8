// Security headers on every answer. The rules it enforces:
// 1. `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and helmet's other
//    defaults; no `X-Powered-By`.
// 2. Over TLS only, `Strict-Transport-Security: max-age=31536000; includeSubDomains` (RFC 6797 §7.2: a browser
//    ignores it over plain HTTP, and sending it there would announce HTTPS where none is served).
// 3. A Content-Security-Policy on every answer Fastify sends: `default-src 'none'` unless the route set a policy of
//    its own (the HTML pages do: /docs, /docs/errors, the OAuth sign-in pages). It is set at onSend, not by helmet
//    on the raw response, so the answers oidc-provider writes itself under /oauth keep the policies it computes
//    for its own inline scripts (form_post).
import { createHash } from 'node:crypto';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

export const strictPolicy = "default-src 'none'; frame-ancestors 'none'";

/** A CSP source that allows exactly this inline script or style block (CSP Level 3 §2.3.1, hash-source). */
export const sha256Source = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

export async function installSecurityHeaders(app: FastifyInstance, options: { tls: boolean }): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: false,
    strictTransportSecurity: options.tls ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    xFrameOptions: { action: 'deny' },
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', strictPolicy);
    return payload;
  });
}
