// `GET /metrics` in the Prometheus text exposition format 0.0.4, for operators (scope `metrics:read`, admins only:
// the deprecated-calls series name every caller). Counters and gauges only, so the formatter is a few lines rather
// than a dependency. Every label set is bounded: requests are counted by route pattern (never the raw URL, which a
// client chooses) with every unrouted request as `unmatched`, and deprecated calls by their top callers.
import type { FastifyInstance } from 'fastify';
import type { KeyValueHealth } from '../adapters/kv/resilient.ts';
import type { DeprecatedCallCounter } from './deprecated-usage.ts';

export interface Sample {
  labels?: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Sample[];
}

export const expositionContentType = 'text/plain; version=0.0.4; charset=utf-8';

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The format's three escapes in label values: backslash, double quote, line feed. */
const escapeLabelValue = (value: string) => value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
/** HELP text escapes only backslash and line feed. */
const escapeHelp = (text: string) => text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

function formatLabels(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return '';
  for (const [name] of entries) if (!labelName.test(name)) throw new Error(`Invalid metric label name: ${name}`);
  return `{${entries.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`;
}

/** The families as one exposition document: HELP and TYPE before each family's samples, a line feed after each. */
export function exposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (!metricName.test(family.name)) throw new Error(`Invalid metric name: ${family.name}`);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      lines.push(`${family.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
    }
  }
  return lines.map((line) => `${line}\n`).join('');
}

/** The answers' counts, read at each scrape. */
export type RequestCounts = () => MetricFamily;

/**
 * Counts every answer by method, route pattern and status. Install it before any encapsulated plugin (the OAuth
 * server's, the docs'): those inherit only the hooks added before them.
 */
export function countRequests(app: FastifyInstance): RequestCounts {
  // Keyed by route, method and status in turn, so that counting an answer builds no key.
  const counts = new Map<string, Map<string, Map<number, { labels: Record<string, string>; value: number }>>>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched');
    let byMethod = counts.get(route);
    if (!byMethod) {
      byMethod = new Map();
      counts.set(route, byMethod);
    }
    let byStatus = byMethod.get(request.method);
    if (!byStatus) {
      byStatus = new Map();
      byMethod.set(request.method, byStatus);
    }
    const entry = byStatus.get(reply.statusCode);
    if (entry) entry.value += 1;
    else {
      const labels = { method: request.method, route, status: String(reply.statusCode) };
      byStatus.set(reply.statusCode, { labels, value: 1 });
    }
    done();
  });
  return () => ({
    name: 'portico_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern (unmatched when no route matched) and status.',
    type: 'counter',
    samples: [...counts.values()].flatMap((byMethod) =>
      [...byMethod.values()].flatMap((byStatus) =>
        [...byStatus.values()].map(({ labels, value }) => ({ labels, value })),
      ),
    ),
  });
}

function counterStoreFamilies(health: KeyValueHealth): MetricFamily[] {
  return [
    {
      name: 'portico_ratelimit_local_decisions_total',
      help: "Rate-limit decisions made in this process's memory because Redis did not answer (not shared).",
      type: 'counter',
      samples: [{ value: health.localDecisions }],
    },
    {
      name: 'portico_counter_store_degraded',
      help: '1 while Redis does not answer and this process limits rates and keeps sessions alone, else 0.',
      type: 'gauge',
      samples: [{ value: health.status === 'degraded' ? 1 : 0 }],
    },
  ];
}

/** The callers read per scrape, most calls first; beyond these the scrape would grow with the number of keys. */
export const deprecatedCallersPerScrape = 1000;

async function deprecatedCallFamily(counter: DeprecatedCallCounter): Promise<MetricFamily> {
  const usage = await counter.list(deprecatedCallersPerScrape);
  return {
    name: 'portico_deprecated_calls_total',
    help: `Calls to deprecated API versions, by version and caller (an API key, an OAuth client, …); the ${deprecatedCallersPerScrape} busiest callers.`,
    type: 'counter',
    samples: usage.map((row) => ({ labels: { version: row.version, key: row.caller }, value: row.calls })),
  };
}

export interface MetricsOptions {
  requests: RequestCounts;
  /** The shared counter store's state when there is one (Redis); without one, no decision is a fallback. */
  keyValueHealth?: () => KeyValueHealth;
  deprecatedCalls: DeprecatedCallCounter;
}

/** `GET /metrics`: everything is read at the scrape, so it costs the request path nothing. */
export function metricsRoutes(app: FastifyInstance, options: MetricsOptions): void {
  app.get('/metrics', { schema: { hide: true }, config: { scope: 'metrics:read' } }, async (_request, reply) => {
    const families = [
      options.requests(),
      ...(options.keyValueHealth ? counterStoreFamilies(options.keyValueHealth()) : []),
      await deprecatedCallFamily(options.deprecatedCalls),
    ];
    return reply.header('cache-control', 'no-store').type(expositionContentType).send(exposition(families));
  });
}
