// The load generator, run as its own process (pinned to the other core where taskset exists): one autocannon run,
// printed as one JSON measurement on stdout.
import autocannon from 'autocannon';

export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  /** Paths to spread the load over, picked at random per request (random ids over the seeded set). */
  paths: string[];
  headers: Record<string, string>;
  /** A body per request, made from a counter, for scenarios that create. */
  body?: string;
  connections: number;
  durationSeconds: number;
  /** Requests per second across all connections; absent means as fast as the server answers. */
  overallRate?: number;
}

async function run(spec: LoadSpec) {
  const { paths } = spec;
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationSeconds,
    ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
    requests: [
      {
        method: spec.method,
        headers: spec.headers,
        ...(spec.body ? { body: spec.body } : {}),
        setupRequest: (request) => ({ ...request, path: paths[Math.floor(Math.random() * paths.length)] ?? '/' }),
      },
    ],
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
