// The webhook receiver of `webhook-fanout`, its own process: POST /hooks/{n} for endpoint n, each delivery's Standard
// Webhooks signature verified with the `standardwebhooks` library (an implementation other than Portico's), and
// the receipt of each recorded. It serves both sides alike, so it does no more per delivery than that. Rules:
//   1. A delivery whose signature does not verify under its endpoint's secret is answered 401; one to an unknown
//      path 404. Both are counted as refused and not recorded.
//   2. A delivery is recorded once per endpoint and webhook-id, with its receipt time (epoch milliseconds, sub-ms);
//      another of the same pair is counted as a duplicate and answered 204, as a receiver would.
//   3. GET /stats?until=N&waitMs=M answers the counts once N deliveries are recorded, or after M ms;
//      GET /receipts the recorded deliveries and the first body received; POST /reset forgets everything.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Webhook } from 'standardwebhooks';

/** The secrets of the endpoints, in endpoint order: `/hooks/0` is the first. */
const verifiers = (JSON.parse(process.env.WEBHOOK_SECRETS ?? '[]') as string[]).map((secret) => new Webhook(secret));
const hookPrefix = '/hooks/';

// performance.timeOrigin + performance.now() is wall-clock time with sub-millisecond resolution, comparable with the
// harness's in another process.
const now = () => performance.timeOrigin + performance.now();

let ids: string[] = [];
let endpoints: number[] = [];
let receivedAt: number[] = [];
let seen = new Set<string>();
let duplicates = 0;
let refused = 0;
let sample: string | null = null;
const waiters = new Set<{ until: number; wake: () => void }>();

const header = (request: IncomingMessage, name: string): string => {
  const value = request.headers[name];
  return typeof value === 'string' ? value : '';
};

function receive(request: IncomingMessage, response: ServerResponse, endpoint: number): void {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const at = now();
    const verifier = verifiers[endpoint];
    const body = Buffer.concat(chunks).toString('utf8');
    const id = header(request, 'webhook-id');
    try {
      if (!verifier) {
        refused++;
        response.writeHead(404).end();
        return;
      }
      verifier.verify(
        body,
        {
          'webhook-id': id,
          'webhook-timestamp': header(request, 'webhook-timestamp'),
          'webhook-signature': header(request, 'webhook-signature'),
        },
        { jsonParse: false },
      );
    } catch {
      refused++;
      response.writeHead(401).end();
      return;
    }
    const key = `${endpoint} ${id}`;
    if (seen.has(key)) {
      duplicates++;
    } else {
      seen.add(key);
      ids.push(id);
      endpoints.push(endpoint);
      receivedAt.push(at);
      sample ??= body;
      for (const waiter of waiters) if (ids.length >= waiter.until) waiter.wake();
    }
    response.writeHead(204).end();
  });
}

const counts = () => ({ received: ids.length, duplicates, refused });

function json(response: ServerResponse, value: unknown): void {
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

function stats(response: ServerResponse, query: URLSearchParams): void {
  const until = Number(query.get('until') ?? 0);
  if (ids.length >= until) {
    json(response, counts());
    return;
  }
  const waiter = {
    until,
    wake: () => {
      clearTimeout(timer);
      waiters.delete(waiter);
      json(response, counts());
    },
  };
  const timer = setTimeout(waiter.wake, Number(query.get('waitMs') ?? 0));
  waiters.add(waiter);
}

createServer((request, response) => {
  const path = request.url ?? '/';
  // Deliveries skip URL parsing: they are nearly all of the traffic.
  if (request.method === 'POST' && path.startsWith(hookPrefix)) {
    return receive(request, response, Number(path.slice(hookPrefix.length)));
  }
  const url = new URL(path, 'http://receiver');
  if (request.method === 'GET' && url.pathname === '/stats') return stats(response, url.searchParams);
  if (request.method === 'GET' && url.pathname === '/receipts') {
    return json(response, { ...counts(), ids, endpoints, receivedAt, sample });
  }
  if (request.method === 'POST' && url.pathname === '/reset') {
    ids = [];
    endpoints = [];
    receivedAt = [];
    seen = new Set();
    duplicates = 0;
    refused = 0;
    sample = null;
    return response.writeHead(204).end();
  }
  if (request.method === 'GET' && url.pathname === '/healthz') return json(response, { status: 'ok' });
  response.writeHead(404).end();
}).listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
