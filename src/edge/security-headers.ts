// Security headers on every answer. The rules it enforces:
// 1. Every answer: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`,
//    `Cross-Origin-Resource-Policy: same-origin`; no `X-Powered-By`.
// 2. HTML answers (/docs, /docs/errors, the OAuth pages) also get helmet's fields for documents: COOP,
//    Origin-Agent-Cluster, X-DNS-Prefetch-Control, X-Download-Options, X-Permitted-Cross-Domain-Policies,
//    X-XSS-Protection. They govern how a browser treats a page it renders, so a JSON answer goes without them, as
//    OWASP's REST Security Cheat Sheet ("Security Headers") advises; each costs every answer a header to validate
//    and write (about a quarter of a microsecond each in the root profile, bench/README.md).
// 3. Over TLS only, `Strict-Transport-Security: max-age=31536000; includeSubDomains` (RFC 6797 §7.2: a browser
//    ignores it over plain HTTP, and sending it there would announce HTTPS where none is served).
// 4. A Content-Security-Policy on every answer Fastify sends: `default-src 'none'` unless the route set a policy of
//    its own (the HTML pages do: /docs, /docs/errors, the OAuth sign-in pages). It is set at onSend, not by helmet
//    on the raw response, so the answers oidc-provider writes itself under /oauth keep the policies it computes
//    for its own inline scripts (form_post).
// 5. helmet decides the headers, once at start-up: they are the same for every answer, and @fastify/helmet built
//    helmet's whole middleware chain anew on every request (about 5 % of a GET /'s time in the root profile,
//    bench/README.md). They go into the reply's own headers, which Node then writes in one pass; an answer written
//    on the raw response after a hijack (the OAuth server's, which may be a page) is given the reply's headers and
//    the document fields first (oauth/http.ts).
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

/** Of helmet's fields, those that concern any answer a browser may load, not only a page it renders (rule 1). */
const everyAnswer = new Set([
  'x-content-type-options',
  'x-frame-options',
  'referrer-policy',
  'cross-origin-resource-policy',
  'strict-transport-security',
]);

const decided = (options: { tls: boolean }) =>
  helmetHeaders({
    contentSecurityPolicy: false,
    strictTransportSecurity: options.tls ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    xFrameOptions: { action: 'deny' },
  });

/** helmet's fields for documents (rule 2), for answers that may be pages but are written past the hooks below. */
export const documentHeaders: [string, string][] = decided({ tls: false }).filter(
  ([name]) => !everyAnswer.has(name.toLowerCase()),
);

export function installSecurityHeaders(app: FastifyInstance, options: { tls: boolean }): void {
  // Named in lower case, as the reply keeps them: lowering helmet's names on every request made a new string each
  // time, which the reply's header table then had to look up anew.
  const headers = decided(options)
    .map(([name, value]) => [name.toLowerCase(), value] as const)
    .filter(([name]) => everyAnswer.has(name));
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of headers) reply.header(name, value);
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', strictPolicy);
    if (String(reply.getHeader('content-type')).startsWith('text/html')) {
      for (const [name, value] of documentHeaders) reply.header(name, value);
    }
    done(null, payload);
  });
}
