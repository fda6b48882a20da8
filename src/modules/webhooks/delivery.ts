// One HTTP attempt at a webhook delivery, and what its outcome means. Rules:
//   1. The whole exchange (connect, TLS, request, response head and body) is bounded by one timeout.
//   2. Redirects are not followed: a 3xx is the receiver's answer, and a failure like any other non-2xx.
//   3. At most `maxResponseBytes` of the response body are read; the rest is dropped with the connection, and a body
//      still arriving when the timeout strikes keeps what came, so a huge or slow body never holds a worker.
//   4. Network errors, resets, TLS failures and timeouts are outcomes, never exceptions.
//   5. 2xx is delivered; 410 Gone disables the endpoint; 429 and 5xx, and every failure without a response, are
//      retried (429 not before its Retry-After, RFC 9110 §10.2.3); any other status is not retried.
//   6. The host's addresses are checked when the connection is made (`lookup`), not only when the URL was
//      registered, so DNS that changes to a private address between the two is caught.
//   7. Without an `agent` every request has a connection of its own. With one, a connection whose response was read
//      to its end returns to the agent's pool for the next request; any other (a timeout, a body cut short, an
//      error) is closed. A request on a reused connection that fails with a reset before any answer (the receiver
//      closed the idle connection as it was reused) is sent once more on a new connection, within the same timeout.
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface SendRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  maxResponseBytes: number;
  /** Resolves the host and refuses addresses the delivery must not reach (rule 6). */
  lookup?: LookupFunction;
  /** Keeps connections for the next request (rule 7); its own lookup must be as strict as `lookup`. */
  agent?: http.Agent;
}

export type SendOutcome =
  | { kind: 'response'; statusCode: number; retryAfter: string | null; body: string; latencyMs: number }
  | { kind: 'error'; error: string; latencyMs: number };

/** A `lookup` that answers with addresses already checked, so the connection cannot go anywhere else (rule 6). */
export function pinnedLookup(addresses: readonly string[]): LookupFunction {
  const entries = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  return (_host, options, callback) => {
    const first = entries[0];
    if (!first) {
      callback(Object.assign(new Error('no address to connect to'), { code: 'ENOTFOUND' }), '', 4);
    } else if (options.all) {
      (callback as unknown as (error: null, all: typeof entries) => void)(null, entries);
    } else {
      callback(null, first.address, first.family);
    }
  };
}

/** A kept connection the receiver closed just as it was reused fails with one of these, before any answer. */
const staleConnectionCodes = new Set(['ECONNRESET', 'EPIPE']);

/** Sends one request and reports what came back; it never throws (rule 4). */
export function sendWebhook(request: SendRequest): Promise<SendOutcome> {
  const started = performance.now();
  const latencyMs = () => Math.round(performance.now() - started);
  const url = new URL(request.url);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const chunks: Buffer[] = [];
    let received = 0;
    let head: { statusCode: number; retryAfter: string | null } | null = null;
    let outgoing: http.ClientRequest;
    /** `isComplete`: the response was read to its end, so its connection may serve another request (rule 7). */
    const finish = (error?: string, isComplete = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!isComplete) outgoing.destroy();
      if (head) {
        resolve({ kind: 'response', ...head, body: Buffer.concat(chunks).toString('utf8'), latencyMs: latencyMs() });
      } else {
        resolve({ kind: 'error', error: error ?? 'no response', latencyMs: latencyMs() });
      }
    };
    const send = (agent: http.Agent | false) => {
      const sent = transport.request(url, {
        method: 'POST',
        headers: {
          ...request.headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(request.body)),
          'user-agent': 'Portico-Webhooks/1',
        },
        agent,
        ...(request.lookup ? { lookup: request.lookup } : {}),
      });
      outgoing = sent;
      sent.on('error', (error: NodeJS.ErrnoException) => {
        if (sent !== outgoing) return;
        // Rule 7: sent once more, on a connection of its own; as a retry would, with the same webhook-id.
        if (agent && sent.reusedSocket && !head && staleConnectionCodes.has(error.code ?? '')) {
          send(false);
          return;
        }
        finish(describe(error));
      });
      sent.on('response', (response) => {
        const retryAfter = response.headers['retry-after'];
        head = { statusCode: response.statusCode ?? 0, retryAfter: typeof retryAfter === 'string' ? retryAfter : null };
        response.on('data', (chunk: Buffer) => {
          const room = request.maxResponseBytes - received;
          chunks.push(chunk.subarray(0, Math.max(room, 0)));
          received += chunk.length;
          if (received >= request.maxResponseBytes) finish();
        });
        response.on('end', () => finish(undefined, true));
        // A connection closed in the middle of the body still leaves the status that came.
        response.on('error', () => finish());
        response.on('close', () => finish());
      });
      sent.end(request.body);
    };
    const timer = setTimeout(() => finish(`timed out after ${request.timeoutMs} ms`), request.timeoutMs);
    send(request.agent ?? false);
  });
}

function describe(error: NodeJS.ErrnoException): string {
  return error.code ? `${error.code}: ${error.message}` : error.message;
}

export type Verdict =
  | { kind: 'delivered' }
  | { kind: 'retry'; notBeforeMs: number | null }
  | { kind: 'gone' }
  | { kind: 'rejected' };

/** What an outcome means for the delivery (rule 5); `nowMs` reads an HTTP-date Retry-After. */
export function judge(outcome: SendOutcome, nowMs: number): Verdict {
  if (outcome.kind === 'error') return { kind: 'retry', notBeforeMs: null };
  const { statusCode } = outcome;
  if (statusCode >= 200 && statusCode < 300) return { kind: 'delivered' };
  if (statusCode === 410) return { kind: 'gone' };
  if (statusCode === 429) return { kind: 'retry', notBeforeMs: retryAfterMs(outcome.retryAfter, nowMs) };
  if (statusCode >= 500) return { kind: 'retry', notBeforeMs: null };
  return { kind: 'rejected' };
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), as milliseconds from now; null if unreadable. */
export function retryAfterMs(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(date - nowMs, 0);
}
