// The load generator, run as its own process (pinned to the other core where taskset exists): one autocannon run,
// printed as one JSON measurement on stdout.
import autocannon from 'autocannon';

export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  /** Paths to spread the load over (ids of seeded rows), each connection walking them in one shuffled order. */
  paths: string[];
  headers: Record<string, string>;
  /** The body of every request, for scenarios that create. */
  body?: string;
  connections: number;
  durationSeconds: number;
  /** Requests per second across all connections; absent means as fast as the server answers. */
  overallRate?: number;
}

/**
 * The requests, built once: a `setupRequest` callback would make autocannon build every request anew, which capped
 * it at about 64,000 requests/s on one core, below what a bare baseline serves. Each connection walks the paths in
 * one shuffled order.
 */
function requestsOf(spec: LoadSpec) {
  const paths = [...spec.paths];
  for (let i = paths.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [paths[i], paths[j]] = [paths[j] as string, paths[i] as string];
  }
  return paths.map((path) => ({
    method: spec.method,
    path,
    headers: spec.headers,
    ...(spec.body ? { body: spec.body } : {}),
  }));
}

async function run(spec: LoadSpec) {
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationSeconds,
    ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
    requests: requestsOf(spec),
  });
  return {
    throughput: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
process.stdout.write(`${JSON.stringify(await run(spec))}\n`);
