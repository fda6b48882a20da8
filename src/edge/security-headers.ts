// Security headers on every answer. The rules it enforces:
// 1. `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and helmet's other
//    defaults; no `X-Powered-By`.
// 2. Over TLS only, `Strict-Transport-Security: max-age=31536000; includeSubDomains` (RFC 6797 §7.2: a browser
//    ignores it over plain HTTP, and sending it there would announce HTTPS where none is served).
// 3. A Content-Security-Policy on every answer Fastify sends: `default-src 'none'` unless the route set a policy of
//    its own (the HTML pages do: /docs, /docs/errors, the OAuth sign-in pages). It is set at onSend, not by helmet
//    on the raw response, so the answers oidc-provider writes itself under /oauth keep the policies it computes
//    for its own inline scripts (form_post).
// 4. helmet decides the headers, once at start-up: they are the same for every answer, and @fastify/helmet built
//    helmet's whole middleware chain anew on every request (about 5 % of a GET /'s time in the root profile,
//    bench/README.md). They are set on the raw response, as helmet does, so answers written there get them too.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

export const strictPolicy = "default-src 'none'; frame-ancestors 'none'";

/** A CSP source that allows exactly this inline script or style block (CSP Level 3 §2.3.1, hash-source). */
export const sha256Source = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The headers helmet's middleware sets for these options, read off a response that only records them. */
function helmetHeaders(options: HelmetOptions): [string, string][] {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: unknown) => headers.set(name, String(value)),
    removeHeader: (name: string) => headers.delete(name),
  };
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return [...headers];
}

export function installSecurityHeaders(app: FastifyInstance, options: { tls: boolean }): void {
  const headers = helmetHeaders({
    contentSecurityPolicy: false,
    strictTransportSecurity: options.tls ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    xFrameOptions: { action: 'deny' },
  });
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of headers) reply.raw.setHeader(name, value);
    done();
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', strictPolicy);
    return payload;
  });
}
