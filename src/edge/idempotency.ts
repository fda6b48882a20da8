// Idempotency-Key on every POST (Stripe's semantics; draft-ietf-httpapi-idempotency-key-header), enforced here:
//   1. Without the header nothing changes; GET, HEAD and the other methods are never affected.
//   2. A key that is empty, longer than 255 characters or not printable ASCII is a 400 naming the header.
//   3. The key is claimed after the request passed validation (a preHandler), so a request refused earlier
//      (400, 413, 415, 429) stores nothing and leaves the key free.
//   4. The request's fingerprint is the SHA-256 of its method, path with query, and canonical JSON body.
//   5. A key used with another fingerprint answers 422 IDEMPOTENCY_KEY_MISMATCH; nothing runs.
//   6. A key whose first request is still running answers 409 CONFLICT; nothing runs.
//   7. A key whose first request completed replays its status, headers and body with `Idempotent-Replayed: true`.
//   8. 2xx and 4xx answers are stored for 24 hours; a 5xx (or an answer that cannot be stored) frees the key so
//      the client can retry; a 304 and a replay are never stored.
//   9. A route whose config says `idempotency: false` (its answers carry credentials) ignores the header.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../kernel/clock.ts';
import { ApiError } from '../kernel/errors.ts';
import type { Storage } from '../storage/database.ts';
import {
  type Claim,
  defaultIdempotencyTimes,
  type IdempotencyTimes,
  idempotencyStore,
  type StoredResponse,
} from '../storage/idempotency.ts';
import { payloadStep, requestStep } from './hook-steps.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * False for routes whose answers carry credentials (the token endpoint): storing the answer would keep a
     * secret in the database, and replaying it would hand the same credentials to whoever repeats the key.
     */
    idempotency?: boolean;
  }
}

export const idempotencyHeader = 'idempotency-key';
export const replayedHeader = 'idempotent-replayed';
export const idempotencyKeyMaxLength = 255;

/**
 * The headers that describe a stored answer. The first request's X-Request-Id goes with them: a replayed error's
 * body names that request, and that request's log lines are the ones that explain the answer.
 */
const storedHeaders = ['content-type', 'location', 'etag', 'link', 'cache-control', 'x-request-id'];

const printableAscii = /^[\x20-\x7e]+$/;
const purgeEveryMs = 60 * 1000;
const purgeBatch = 500;

/**
 * Keys are the caller's own: two callers choosing the same key never see each other's answers. A user's keys are
 * shared by all their credentials (a retry may come with a refreshed token); a client's by the client.
 */
function ownerOf(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal === null) return 'anonymous';
  return principal.userId ?? `client:${principal.clientId ?? principal.credentialId}`;
}

function keyOf(request: FastifyRequest): string | null {
  const value = request.headers[idempotencyHeader];
  if (value === undefined) return null;
  const key = Array.isArray(value) ? value.join(', ') : value;
  if (key.length === 0 || key.length > idempotencyKeyMaxLength || !printableAscii.test(key)) {
    const message = `Idempotency-Key must be 1 to ${idempotencyKeyMaxLength} printable ASCII characters.`;
    throw new ApiError('VALIDATION_ERROR', `The request is not valid: ${message}`, {
      details: [{ field: 'Idempotency-Key', code: 'INVALID_FORMAT', message }],
    });
  }
  return key;
}

/** JSON with object keys sorted at every depth, so key order and whitespace do not make two bodies differ. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

function fingerprint(request: FastifyRequest): string {
  return createHash('sha256')
    .update(canonicalJson({ method: request.method, url: request.url, body: request.body }))
    .digest('hex');
}

function storable(reply: FastifyReply, payload: unknown): StoredResponse | null {
  let body: string;
  if (payload === undefined || payload === null) body = '';
  else if (typeof payload === 'string') body = payload;
  else if (Buffer.isBuffer(payload)) body = payload.toString('utf8');
  else return null;
  const headers: Record<string, string> = {};
  for (const name of storedHeaders) {
    const value = reply.getHeader(name);
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return { status: reply.statusCode, headers, body };
}

export function installIdempotency(
  app: FastifyInstance,
  storage: Storage,
  clock: Clock,
  times: IdempotencyTimes = defaultIdempotencyTimes,
): void {
  const store = idempotencyStore(storage, times);
  const claims = new WeakMap<FastifyRequest, Claim>();
  let lastPurgeMs = Number.NEGATIVE_INFINITY;
  let purging: Promise<void> | null = null;

  async function claimOrReplay(request: FastifyRequest, reply: FastifyReply, key: string): Promise<unknown> {
    const requestHash = fingerprint(request);
    const outcome = await store.claim(`${ownerOf(request)} ${key}`, requestHash, clock());
    if (outcome.claimed) {
      claims.set(request, outcome.claimed);
      return;
    }
    const { existing } = outcome;
    if (existing.requestHash !== requestHash) {
      throw new ApiError(
        'IDEMPOTENCY_KEY_MISMATCH',
        'This Idempotency-Key was already used for a request with another method, path or body. ' +
          'Send a new key for a new request, or repeat the first request exactly to get its response again.',
        { details: [{ field: 'Idempotency-Key', code: 'MISMATCH', message: 'The key names another request.' }] },
      );
    }
    if (existing.response === null) {
      throw new ApiError(
        'CONFLICT',
        'The first request with this Idempotency-Key is still being processed. Retry in a moment to get its response.',
        { details: [{ field: 'Idempotency-Key', code: 'IN_PROGRESS', message: 'The key is in use.' }] },
      );
    }
    const { status, headers, body } = existing.response;
    for (const [name, value] of Object.entries(headers)) reply.header(name, value);
    reply.header(replayedHeader, 'true').code(status);
    return reply.send(body);
  }
  app.addHook(
    'preHandler',
    requestStep((request, reply) => {
      // Unknown paths and 405s (the not-found handler) run no handler, so there is nothing to make idempotent.
      if (request.method !== 'POST' || request.is404 || request.routeOptions.config.idempotency === false) {
        return undefined;
      }
      const key = keyOf(request);
      return key === null ? undefined : claimOrReplay(request, reply, key);
    }),
  );

  async function record(
    request: FastifyRequest,
    reply: FastifyReply,
    payload: unknown,
    owned: Claim,
  ): Promise<unknown> {
    claims.delete(request);
    const response = reply.statusCode < 500 && reply.statusCode !== 304 ? storable(reply, payload) : null;
    try {
      if (response) await store.complete(owned, response);
      else await store.release(owned);
    } catch (error) {
      // The answer itself is sent all the same: the work is done, and the key frees itself once stale.
      request.log.error({ err: error }, 'could not record the Idempotency-Key outcome');
    }
    schedulePurge(request);
    return payload;
  }
  app.addHook(
    'onSend',
    payloadStep((request, reply, payload: unknown) => {
      const owned = claims.get(request);
      return owned ? record(request, reply, payload, owned) : payload;
    }),
  );

  /** New rows come only with claims, so claims are what prompt a bounded purge, at most once a minute. */
  function schedulePurge(request: FastifyRequest): void {
    const now = clock();
    if (purging || now.getTime() - lastPurgeMs < purgeEveryMs) return;
    lastPurgeMs = now.getTime();
    purging = store
      .purgeExpired(now, purgeBatch)
      .then(
        () => {},
        (error: unknown) => request.log.warn({ err: error }, 'could not purge expired Idempotency-Keys'),
      )
      .finally(() => {
        purging = null;
      });
  }

  app.addHook('onClose', async () => {
    await purging;
  });
}
