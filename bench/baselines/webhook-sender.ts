// Baseline for `webhook-fanout`: a bare script that sends each event it is handed to every endpoint, signed per
// Standard Webhooks with Portico's own signing code, POSTed with node:http, and nothing else: no queue table, no
// attempt log, no polling. It mirrors what Portico's worker does on the wire:
//   1. At most 4 deliveries to one endpoint are in flight at once (the worker's `perEndpoint`), oldest first.
//   2. Each endpoint has a pool of keep-alive connections, as the worker keeps per vetted target; a delivery goes out
//      on one with the headers Portico sends and reads the whole answer, so its connection can be used again.
//   3. POST /run with `[{ id, body }]` queues the events behind those already queued and answers `{ deliveries }` once
//      every delivery of them was attempted. What arrived, and how, is for the receiver to say, as for Portico.
import { Agent, createServer, request as httpRequest, type ServerResponse } from 'node:http';
import { signedHeaders } from '../../src/modules/webhooks/index.ts';

interface Endpoint {
  url: string;
  secret: string;
  /** Rule 2: the endpoint's own connections. */
  agent: Agent;
}

interface Message {
  /** The webhook-id: the event's id. */
  id: string;
  /** The exact bytes to send. */
  body: string;
}

/** One POST /run: answered when `left` reaches 0. */
interface Batch {
  left: number;
  answer: () => void;
}

const endpoints: Endpoint[] = (JSON.parse(process.env.WEBHOOK_ENDPOINTS ?? '[]') as Omit<Endpoint, 'agent'>[]).map(
  (endpoint) => ({ ...endpoint, agent: new Agent({ keepAlive: true }) }),
);
const perEndpoint = 4;
const timeoutMs = 10_000;

const queues = endpoints.map((endpoint) => ({
  endpoint,
  jobs: [] as { message: Message; batch: Batch }[],
  next: 0,
  inFlight: 0,
}));
type Queue = (typeof queues)[number];

/** Settles once the endpoint answered, or failed to. */
function post(endpoint: Endpoint, message: Message): Promise<void> {
  return new Promise((resolve) => {
    const timestampSeconds = Math.floor(Date.now() / 1000);
    const outgoing = httpRequest(endpoint.url, {
      method: 'POST',
      headers: {
        ...signedHeaders([endpoint.secret], message.id, timestampSeconds, message.body),
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(message.body)),
        'user-agent': 'Portico-Webhooks/1',
      },
      agent: endpoint.agent,
      timeout: timeoutMs,
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error('timed out')));
    outgoing.on('error', () => resolve());
    outgoing.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve());
      response.on('error', () => resolve());
    });
    outgoing.end(message.body);
  });
}

function pump(queue: Queue): void {
  while (queue.inFlight < perEndpoint && queue.next < queue.jobs.length) {
    const job = queue.jobs[queue.next++];
    if (!job) return;
    queue.inFlight++;
    void post(queue.endpoint, job.message).then(() => {
      queue.inFlight--;
      if (--job.batch.left === 0) job.batch.answer();
      pump(queue);
    });
  }
  // A drained queue lets go of what it sent.
  if (queue.next === queue.jobs.length) {
    queue.jobs = [];
    queue.next = 0;
  }
}

function run(messages: Message[], response: ServerResponse): void {
  const deliveries = messages.length * queues.length;
  const batch: Batch = {
    left: deliveries,
    answer: () => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ deliveries })),
  };
  if (deliveries === 0) {
    batch.answer();
    return;
  }
  for (const message of messages) for (const queue of queues) queue.jobs.push({ message, batch });
  for (const queue of queues) pump(queue);
}

createServer((request, response) => {
  if (request.method === 'POST' && request.url === '/run') {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => run(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Message[], response));
    return;
  }
  if (request.method === 'GET' && request.url === '/healthz') {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  response.writeHead(404).end();
}).listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
