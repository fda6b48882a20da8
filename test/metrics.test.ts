// `GET /metrics` (issue 6): the Redis fallback and the calls to deprecated versions, per caller, as Prometheus
// series an operator scrapes. The document is read by a strict parser of the text format 0.0.4, so a scraper would
// accept it; only admins may scrape (it names every caller of a deprecated version).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { exposition } from '../src/edge/metrics.ts';
import { client, expectEnvelope, freePort, serviceUrl, startServer, storageKinds, type TestServer } from './helpers.ts';

interface Family {
  type: 'counter' | 'gauge';
  help: string;
  samples: Array<{ labels: Record<string, string>; value: number }>;
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const number = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/;

function unescapeText(text: string, escapable: string, line: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = text[++i];
    if (next === undefined || !escapable.includes(next)) throw new Error(`bad escape in: ${line}`);
    out += next === 'n' ? '\n' : next;
  }
  return out;
}

/** Labels from `{a="x",b="y"}` at `start`; returns them and the index after the closing brace. */
function parseLabels(line: string, start: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = start + 1;
  while (line[i] !== '}') {
    const eq = line.indexOf('=', i);
    const name = line.slice(i, eq);
    if (eq < 0 || !labelName.test(name)) throw new Error(`bad label name in: ${line}`);
    if (name in labels) throw new Error(`repeated label ${name} in: ${line}`);
    if (line[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`);
    let j = eq + 2;
    while (j < line.length && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
    if (j >= line.length) throw new Error(`unterminated label value in: ${line}`);
    labels[name] = unescapeText(line.slice(eq + 2, j), '\\"n', line);
    i = j + 1;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`expected , or } in: ${line}`);
  }
  return [labels, i + 1];
}

/**
 * The text exposition format 0.0.4, strictly: every line ends with a line feed; HELP and TYPE at most once per
 * family, TYPE before its samples; only counters and gauges, whose samples carry the family's own name; label
 * values escape only backslash, double quote and line feed; no series twice.
 */
function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'the document ends with a line feed');
  const families = new Map<string, Family & { typed: boolean; helped: boolean }>();
  const family = (name: string) => {
    if (!metricName.test(name)) throw new Error(`bad metric name: ${name}`);
    let found = families.get(name);
    if (!found) {
      found = { type: 'gauge', help: '', samples: [], typed: false, helped: false };
      families.set(name, found);
    }
    return found;
  };
  const seen = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      const [, keyword, name = '', rest = ''] = comment;
      const target = family(name);
      if (target.samples.length > 0) throw new Error(`${keyword} after the samples of ${name}`);
      if (keyword === 'HELP') {
        if (target.helped) throw new Error(`second HELP for ${name}`);
        target.helped = true;
        target.help = unescapeText(rest, '\\n', line);
      } else {
        if (target.typed) throw new Error(`second TYPE for ${name}`);
        if (rest !== 'counter' && rest !== 'gauge') throw new Error(`unexpected type in: ${line}`);
        target.typed = true;
        target.type = rest;
      }
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') throw new Error(`unexpected line: ${JSON.stringify(line)}`);
    const nameEnd = line.search(/[{ ]/);
    const name = line.slice(0, nameEnd);
    const [labels, after] = line[nameEnd] === '{' ? parseLabels(line, nameEnd) : [{}, nameEnd];
    if (line[after] !== ' ') throw new Error(`expected a space before the value in: ${line}`);
    const [value = '', timestamp, ...extra] = line.slice(after + 1).split(' ');
    if (!number.test(value) || extra.length > 0 || (timestamp !== undefined && !/^-?\d+$/.test(timestamp))) {
      throw new Error(`bad value in: ${line}`);
    }
    const target = families.get(name);
    if (!target?.typed) throw new Error(`sample of an undeclared family: ${line}`);
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(series)) throw new Error(`series twice: ${line}`);
    seen.add(series);
    target.samples.push({ labels, value: value.endsWith('Inf') ? Number(`${value[0]}Infinity`) : Number(value) });
  }
  return new Map([...families].map(([name, { type, help, samples }]) => [name, { type, help, samples }]));
}

/** The value of the one sample of `name` whose labels include `labels`, or undefined when there is none. */
function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}) {
  const matches = (families.get(name)?.samples ?? []).filter((sample) =>
    Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  assert.ok(matches.length <= 1, `more than one ${name} sample matches ${JSON.stringify(labels)}`);
  return matches[0]?.value;
}

async function scrape(api: ReturnType<typeof client>): Promise<Map<string, Family>> {
  const response = await api('GET', '/metrics');
  assert.equal(response.status, 200, response.text);
  assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(response.text);
}

let sequence = 0;
const email = () => `m${Date.now().toString(36)}${(sequence++).toString(36)}@example.test`;

test('label values with quotes, backslashes and line feeds, and HELP text, are escaped and read back intact', () => {
  const hostile = 'a "quoted" C:\\path\\ and\na second line \\n';
  const text = exposition([
    {
      name: 'odd_total',
      help: 'Back\\slash and\nline feed.',
      type: 'counter',
      samples: [{ labels: { v: hostile }, value: 3 }],
    },
    {
      name: 'odd_gauge',
      help: 'Plain.',
      type: 'gauge',
      samples: [{ value: Number.POSITIVE_INFINITY }, { labels: { v: '' }, value: -0.5 }],
    },
  ]);
  assert.ok(text.includes('odd_total{v="a \\"quoted\\" C:\\\\path\\\\ and\\na second line \\\\n"} 3\n'), text);
  assert.ok(text.includes('# HELP odd_total Back\\\\slash and\\nline feed.\n'), text);
  assert.equal(text.split('\n').length, 8, 'no raw line feed inside a line');
  const families = parseExposition(text);
  assert.deepEqual(families.get('odd_total'), {
    type: 'counter',
    help: 'Back\\slash and\nline feed.',
    samples: [{ labels: { v: hostile }, value: 3 }],
  });
  assert.deepEqual(families.get('odd_gauge')?.samples, [
    { labels: {}, value: Number.POSITIVE_INFINITY },
    { labels: { v: '' }, value: -0.5 },
  ]);
  assert.throws(() => exposition([{ name: 'bad name', help: '', type: 'gauge', samples: [] }]));
  assert.throws(() =>
    exposition([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }]),
  );
});

for (const kind of storageKinds()) {
  describe(`GET /metrics on ${kind}`, () => {
    let server: TestServer;
    let api: ReturnType<typeof client>;
    before(async () => {
      server = await startServer({ storage: kind });
      api = client(server);
    });
    after(() => server.close());

    /** A customer and a secret API key of theirs, made by the admin through the API. */
    async function customerKey(apiVersion?: 'v1') {
      const user = await api('POST', '/v1/users', { body: { email: email(), name: 'Old Client', location: null } });
      assert.equal(user.status, 201, user.text);
      const key = await api('POST', '/v1/api-keys', {
        body: { ownerId: user.body.id, name: 'legacy', ...(apiVersion ? { apiVersion } : {}) },
      });
      assert.equal(key.status, 201, key.text);
      return { userId: user.body.id, keyId: key.body.id, headers: { authorization: `Bearer ${key.body.secret}` } };
    }

    test('request counters move by route pattern and status, never by raw URL; an unrouted path is "unmatched"', async () => {
      const user = await api('POST', '/v1/users', { body: { email: email(), name: 'Counted', location: null } });
      const id = user.body.id;
      const route = { method: 'GET', route: '/v1/users/:id', status: '200' };
      const unmatched = { method: 'GET', route: 'unmatched', status: '404' };
      const first = await scrape(api);
      assert.equal(first.get('portico_http_requests_total')?.type, 'counter');
      for (let i = 0; i < 3; i++) assert.equal((await api('GET', `/v1/users/${id}`)).status, 200);
      expectEnvelope(await api('GET', `/no/such/${id}/place`), 404, 'RESOURCE_NOT_FOUND');

      const second = await scrape(api);
      const before = (labels: Record<string, string>) => sampleValue(first, 'portico_http_requests_total', labels) ?? 0;
      assert.equal(sampleValue(second, 'portico_http_requests_total', route), before(route) + 3);
      assert.equal(sampleValue(second, 'portico_http_requests_total', unmatched), before(unmatched) + 1);
      // The first scrape itself was counted once it was answered.
      assert.ok((sampleValue(second, 'portico_http_requests_total', { route: '/metrics', status: '200' }) ?? 0) >= 1);
      for (const sample of second.get('portico_http_requests_total')?.samples ?? []) {
        assert.ok(!sample.labels.route?.includes(id), `a raw URL became a label: ${sample.labels.route}`);
      }
      // Without Redis there is no shared store to fall back from.
      assert.equal(second.has('portico_ratelimit_local_decisions_total'), false);
    });

    test('calls to a deprecated version by a key pinned to v1 are counted under that key', async () => {
      const legacy = await customerKey('v1');
      const current = await customerKey();
      for (let i = 0; i < 2; i++) {
        const answer = await api('GET', `/users/${legacy.userId}`, { headers: legacy.headers });
        assert.equal(answer.status, 200, answer.text);
        assert.equal(answer.body.name, 'Old Client');
      }
      assert.equal((await api('GET', `/users/${current.userId}`, { headers: current.headers })).status, 200);

      const families = await scrape(api);
      assert.equal(families.get('portico_deprecated_calls_total')?.type, 'counter');
      assert.equal(
        sampleValue(families, 'portico_deprecated_calls_total', { version: 'v1', key: `api-key:${legacy.keyId}` }),
        2,
      );
      assert.equal(
        sampleValue(families, 'portico_deprecated_calls_total', { key: `api-key:${current.keyId}` }),
        undefined,
      );
    });

    test('anonymous scrapes are 401 and customers 403, even with every scope a customer may hold', async () => {
      const anonymous = await client(server.url)('GET', '/metrics');
      expectEnvelope(anonymous, 401, 'AUTHENTICATION_REQUIRED');
      assert.ok(!anonymous.text.includes('portico_'));
      const customer = await customerKey();
      const refused = await api('GET', '/metrics', { headers: customer.headers });
      expectEnvelope(refused, 403, 'INSUFFICIENT_PERMISSIONS');
      assert.match(refused.headers.get('www-authenticate') ?? '', /scope="metrics:read"/);
      assert.ok(!refused.text.includes('portico_'));
    });
  });
}

test('with Redis dead, the local-decisions counter rises and the degraded gauge is 1', async () => {
  const server = await startServer({ env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}` } });
  const api = client(server);
  try {
    const first = await scrape(api);
    assert.equal(sampleValue(first, 'portico_counter_store_degraded'), 1);
    assert.equal(first.get('portico_counter_store_degraded')?.type, 'gauge');
    const before = sampleValue(first, 'portico_ratelimit_local_decisions_total') ?? 0;
    assert.ok(before >= 1, 'the scrape itself was limited locally');
    for (let i = 0; i < 5; i++) assert.equal((await api('GET', '/v1/users')).status, 200);
    const second = await scrape(api);
    assert.ok((sampleValue(second, 'portico_ratelimit_local_decisions_total') ?? 0) >= before + 5);
    assert.equal(sampleValue(second, 'portico_counter_store_degraded'), 1);
  } finally {
    await server.close();
  }
});

test('with Redis answering, the degraded gauge is 0 and no decision is local', {
  skip: !serviceUrl('TEST_REDIS_URL') && 'TEST_REDIS_URL is not set',
}, async () => {
  const server = await startServer({ env: { REDIS_URL: String(serviceUrl('TEST_REDIS_URL')) } });
  try {
    const api = client(server);
    assert.equal((await api('GET', '/v1/users')).status, 200);
    const families = await scrape(api);
    assert.equal(sampleValue(families, 'portico_counter_store_degraded'), 0);
    assert.equal(sampleValue(families, 'portico_ratelimit_local_decisions_total'), 0);
  } finally {
    await server.close();
  }
});
