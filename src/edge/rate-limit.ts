// Rate limits, in two stages around authentication.
//   1. Before authentication (onRequest), per client address (edge/client-address.ts): a request without a
//      credential takes from the address's allowance (RATE_LIMIT_ANONYMOUS). A request with one is let through to
//      authentication unless its address is blocked for sending bad credentials; each bad credential (a 401 to a
//      request that carried one) takes from the same allowance, and using it up blocks the address until it may
//      fail once more. So a flood of bad credentials is refused before any key is looked up or token verified,
//      while good credentials behind one shared address (an office, a NAT) are limited only by their own tier. While
//      an address is blocked its good credentials are refused too: telling them apart would take authenticating.
//   2. After authentication, before authorization (preValidation), per caller (principal.ts rateSubjectOf: an API
//      key, a user, an OAuth client): the tier's per-minute burst, then its daily quota (internal has none). A
//      request refused by the burst takes nothing; the daily quota is checked after the burst, so one refused by the
//      daily quota has used one burst request, which refills within seconds. Counting before authorization means a
//      403 counts too, and carries the caller's fields like any answer.
//   3. A request with a credential that is answered before stage 2 (a body refused as unreadable, too large or of the
//      wrong type, before authentication runs) counts against its address, as one with a bad credential does.
// A route's `config.rateCost` (default 1) is what one call takes from every allowance it is counted against.
// Every answer carries the de-facto X-RateLimit-* fields (for the allowance closest to refusing) and the IETF fields
// of draft-ietf-httpapi-ratelimit-headers-11; a refusal is 429 RATE_LIMITED with Retry-After (RFC 9110 §10.2.3).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KeyValue, RateDecision, RateRule } from '../adapters/kv/port.ts';
import type { TierLimits } from '../config.ts';
import { ApiError } from '../kernel/errors.ts';
import { type Principal, rateSubjectOf, type Tier, tierOf } from '../modules/identity/principal.ts';
import { sessionCookie } from '../modules/identity/sessions/index.ts';
import { clientAddress } from './client-address.ts';
import { payloadStep, requestStep } from './hook-steps.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What one call takes from each allowance it counts against; 1 when unset. Expensive routes cost more. */
    rateCost?: number;
  }
}

/**
 * Marks a request a stage has counted (or refused), so none is counted twice. A request decoration rather than a
 * WeakSet: every request passes here, and adding to a WeakSet costs the garbage collector an ephemeron each time.
 */
const countedMark = Symbol('rate-counted');
type Marked = FastifyRequest & { [countedMark]: boolean };

export interface RateLimitPolicy {
  /** Per client address, for requests without a valid credential. */
  anonymous: RateRule;
  tiers: Record<Tier, TierLimits>;
}

type PolicyName = 'anonymous' | 'burst' | 'daily';

interface Policy {
  name: PolicyName;
  rule: RateRule;
}

/** The policies a request is counted against, with their RateLimit-Policy field, which is the same on every answer. */
interface PolicySet {
  policies: Policy[];
  field: string;
}

interface Outcome extends Policy {
  decision: RateDecision;
}

/** Probes from load balancers and orchestrators must never be refused. */
const exempt = new Set(['/healthz', '/readyz']);
// Each stage asks this of every request: a path that cannot be a probe's is told apart without splitting its URL.
const isExempt = (request: FastifyRequest): boolean => {
  const url = request.url;
  return (url.startsWith('/healthz') || url.startsWith('/readyz')) && exempt.has(url.split('?')[0] ?? '');
};

const seconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000));

/**
 * Whether the request names a credential of the API's own authenticators, good or bad; authentication decides which.
 * Other credentials (HTTP Basic client secrets for the OAuth token endpoint, whose answers no later hook sees, and
 * cookies of other names) count as anonymous at once.
 */
const carriesCredential = (request: FastifyRequest): boolean =>
  /^bearer /i.test(request.headers.authorization ?? '') ||
  request.headers['x-api-key'] !== undefined ||
  (request.headers.cookie ?? '').includes(`${sessionCookie}=`);

/** The rateCost of the request's route; `routeOptions` builds a new object at every read, so it is read once. */
const routeCostOf = (request: FastifyRequest): number => request.routeOptions.config?.rateCost ?? 1;

/** A call never costs more than a whole allowance, or it could never be made at all. */
const costUnder = (cost: number, rule: RateRule): number => Math.min(cost, rule.limit);

const policySet = (policies: Policy[]): PolicySet => ({
  policies,
  field: policies.map(({ name, rule }) => `"${name}";q=${rule.limit};w=${seconds(rule.windowMs)}`).join(', '),
});

const remainingField = ({ name, decision }: Outcome): string =>
  `"${name}";r=${decision.remaining};t=${seconds(decision.resetMs)}`;

/**
 * The draft's fields: every policy that applies in RateLimit-Policy (the same on every answer), and what is left of
 * each one this request was counted against in RateLimit. The X-RateLimit-* fields describe the closest to refusing.
 */
function setRateHeaders(reply: FastifyReply, set: PolicySet, outcomes: Outcome[], nowMs: number): void {
  let closest = outcomes[0] as Outcome;
  let remaining = remainingField(closest);
  for (let i = 1; i < outcomes.length; i++) {
    const b = outcomes[i] as Outcome;
    remaining += `, ${remainingField(b)}`;
    if (
      b.decision.remaining < closest.decision.remaining ||
      (b.decision.remaining === closest.decision.remaining && b.decision.resetMs > closest.decision.resetMs)
    ) {
      closest = b;
    }
  }
  reply
    .header('x-ratelimit-limit', String(closest.decision.limit))
    .header('x-ratelimit-remaining', String(closest.decision.remaining))
    .header('x-ratelimit-reset', String(seconds(nowMs + closest.decision.resetMs)))
    .header('ratelimit-policy', set.field)
    .header('ratelimit', remaining);
}

const refusalMessages: Record<PolicyName, (rule: RateRule, tier: Tier | null) => string> = {
  anonymous: (rule) =>
    `Too many requests without valid credentials from this address (${rule.limit} per ${seconds(rule.windowMs)} s).`,
  burst: (rule, tier) => `The per-minute burst limit of the ${tier} tier (${rule.limit} requests) is used up.`,
  daily: (rule, tier) => `The daily quota of the ${tier} tier (${rule.limit} requests) is used up.`,
};

function refusal(outcome: Outcome, tier: Tier | null): ApiError {
  const retryAfter = String(Math.max(1, seconds(outcome.decision.retryAfterMs)));
  const message = refusalMessages[outcome.name](outcome.rule, tier);
  return new ApiError('RATE_LIMITED', `${message} Retry in ${retryAfter} s.`, {
    details: [{ field: 'RateLimit', code: `${outcome.name.toUpperCase()}_LIMIT`, message }],
    headers: { 'retry-after': retryAfter },
  });
}

export function installRateLimits(
  app: FastifyInstance,
  kv: KeyValue,
  policy: RateLimitPolicy,
  nowMs: () => number,
): { afterAuthentication(): void } {
  const anonymous: Policy = { name: 'anonymous', rule: policy.anonymous };
  const anonymousSet = policySet([anonymous]);
  const tierSets = Object.fromEntries(
    Object.entries(policy.tiers).map(([tier, limits]) => {
      const burst: Policy = { name: 'burst', rule: limits.burst };
      return [tier, policySet(limits.daily ? [burst, { name: 'daily', rule: limits.daily }] : [burst])];
    }),
  ) as Record<Tier, PolicySet>;
  app.decorateRequest(countedMark, false);
  const isCounted = (request: FastifyRequest): boolean => (request as Marked)[countedMark];
  const markCounted = (request: FastifyRequest): void => {
    (request as Marked)[countedMark] = true;
  };
  const addressOf = (request: FastifyRequest) => clientAddress(request.ip, request.socket.remoteAddress);
  const allowanceKey = (request: FastifyRequest) => `rate:anonymous:${addressOf(request)}`;
  const blockKey = (request: FastifyRequest) => `rate:blocked:${addressOf(request)}`;

  // The stages chain on the store's promise rather than awaiting in async functions: every request passes through
  // them, and each async layer cost a promise and a turn of the microtask queue.
  function countAnonymous(request: FastifyRequest, reply: FastifyReply): Promise<Outcome> {
    markCounted(request);
    const { rule } = anonymous;
    return kv.consumeRate(allowanceKey(request), rule, costUnder(routeCostOf(request), rule)).then((decision) => {
      const outcome: Outcome = { name: anonymous.name, rule, decision };
      setRateHeaders(reply, anonymousSet, [outcome], nowMs());
      return outcome;
    });
  }
  const refuseAnonymous = (outcome: Outcome): void => {
    if (!outcome.decision.allowed) throw refusal(outcome, null);
  };

  app.addHook(
    'onRequest',
    requestStep((request, reply) => {
      if (isExempt(request)) return undefined;
      if (!carriesCredential(request)) return countAnonymous(request, reply).then(refuseAnonymous);
      const now = nowMs();
      return kv.get(blockKey(request)).then((value) => {
        const blockedUntil = Number(value);
        if (blockedUntil <= now) return;
        const waitMs = blockedUntil - now;
        const outcome: Outcome = {
          ...anonymous,
          decision: {
            allowed: false,
            limit: anonymous.rule.limit,
            remaining: 0,
            resetMs: waitMs,
            retryAfterMs: waitMs,
          },
        };
        markCounted(request);
        setRateHeaders(reply, anonymousSet, [outcome], now);
        throw refusal(outcome, null);
      });
    }),
  );

  // A request with a credential that no stage counted (a bad credential's 401, or rule 3) is counted against its
  // address; using the allowance up blocks the address until one more such request would be allowed.
  async function countUncounted(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { decision, rule } = await countAnonymous(request, reply);
    if (decision.allowed && decision.remaining > 0) return;
    const waitMs = Math.ceil(
      decision.allowed ? decision.resetMs - rule.windowMs + rule.windowMs / rule.limit : decision.retryAfterMs,
    );
    if (waitMs > 0) await kv.set(blockKey(request), String(nowMs() + waitMs), waitMs);
  }
  app.addHook(
    'onSend',
    payloadStep((request, reply, payload: unknown) =>
      isCounted(request) || isExempt(request) ? payload : countUncounted(request, reply).then(() => payload),
    ),
  );

  return {
    /** Registers the second stage: to be called once authentication has named the caller. */
    afterAuthentication() {
      /** Takes from each of the tier's allowances in turn, stopping at the first that refuses. */
      function countCaller(request: FastifyRequest, reply: FastifyReply, principal: Principal): Promise<void> {
        const tier = tierOf(principal);
        const subject = rateSubjectOf(principal);
        markCounted(request);
        const set = tierSets[tier];
        const cost = routeCostOf(request);
        const outcomes: Outcome[] = [];
        const takeFrom = (index: number): Promise<void> => {
          const { name, rule } = set.policies[index] as Policy;
          return kv.consumeRate(`rate:${name}:${subject}`, rule, costUnder(cost, rule)).then((decision) => {
            const outcome: Outcome = { name, rule, decision };
            outcomes.push(outcome);
            if (!decision.allowed) {
              setRateHeaders(reply, set, outcomes, nowMs());
              throw refusal(outcome, tier);
            }
            if (index + 1 < set.policies.length) return takeFrom(index + 1);
            setRateHeaders(reply, set, outcomes, nowMs());
            return undefined;
          });
        };
        return takeFrom(0);
      }
      app.addHook(
        'preValidation',
        requestStep((request, reply) => {
          if (isExempt(request)) return undefined;
          const principal = request.principal;
          if (principal !== null) return countCaller(request, reply, principal);
          // A credential the route ignores (a session cookie sent to the login route) leaves the request anonymous.
          return isCounted(request) ? undefined : countAnonymous(request, reply).then(refuseAnonymous);
        }),
      );
    },
  };
}
