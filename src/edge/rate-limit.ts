// The anonymous per-client-IP rate limit (RATE_LIMIT_ANONYMOUS), decided before the body is read so floods are
// cheap to refuse. Every limited response carries both the de-facto X-RateLimit-* fields and the IETF fields of
// draft-ietf-httpapi-ratelimit-headers-11; a refusal is 429 with Retry-After (RFC 9110 §10.2.3).
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { KeyValue, RateDecision, RateRule } from '../adapters/kv/port.ts';
import { ApiError } from '../kernel/errors.ts';

/** Probes from load balancers and orchestrators must never be refused. */
const exempt = new Set(['/healthz', '/readyz']);

const seconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000));

function setRateHeaders(
  reply: FastifyReply,
  policy: string,
  rule: RateRule,
  decision: RateDecision,
  nowMs: number,
): void {
  reply
    .header('x-ratelimit-limit', String(decision.limit))
    .header('x-ratelimit-remaining', String(decision.remaining))
    .header('x-ratelimit-reset', String(seconds(nowMs + decision.resetMs)))
    .header('ratelimit-policy', `"${policy}";q=${rule.limit};w=${seconds(rule.windowMs)}`)
    .header('ratelimit', `"${policy}";r=${decision.remaining};t=${seconds(decision.resetMs)}`);
}

export function installAnonymousRateLimit(
  app: FastifyInstance,
  kv: KeyValue,
  rule: RateRule,
  nowMs: () => number,
): void {
  app.addHook('onRequest', async (request, reply) => {
    if (exempt.has(request.url.split('?')[0] ?? '')) return;
    // request.ip honours X-Forwarded-For only from TRUST_PROXY addresses (Fastify's trustProxy).
    const decision = await kv.consumeRate(`rate:anonymous:${request.ip}`, rule);
    setRateHeaders(reply, 'anonymous', rule, decision, nowMs());
    if (!decision.allowed) {
      const retryAfter = String(Math.max(1, seconds(decision.retryAfterMs)));
      throw new ApiError('RATE_LIMITED', `Too many requests from this address; retry in ${retryAfter} s.`, {
        headers: { 'retry-after': retryAfter },
      });
    }
  });
}
