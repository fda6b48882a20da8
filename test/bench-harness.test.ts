// The benchmark harness's own logic: medians, per-round ratios, failed runs, the result file's shape and the
// refusals of a wrong call. Nothing here times anything.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BenchError, freePort, startProcess } from '../bench/harness.ts';
import { type CpuProfile, sharesByOwner } from '../bench/profile-owners.ts';
import {
  type BenchReport,
  busyNote,
  formatTable,
  type Measurement,
  median,
  roundRatio,
  scenarioResult,
  summarize,
} from '../bench/stats.ts';

const m = (throughput: number, extra: Partial<Measurement> = {}): Measurement => ({
  throughput,
  p50Ms: 1,
  p99Ms: 5,
  errors: 0,
  non2xx: 0,
  ...extra,
});
const facts = {
  name: 'root',
  goal: 'GET /',
  unit: 'req/s',
  baseline: 'bare Fastify',
  ratioGoal: 0.8,
  subjectRssMiB: 120,
  notes: [],
};

test('the median of an odd and an even number of values', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]));
});

test('the ratio is the median of per-round ratios, not the ratio of medians', () => {
  const rounds = [
    { baseline: m(100), subject: m(90) },
    { baseline: m(200), subject: m(100) },
    { baseline: m(50), subject: m(45) },
  ];
  assert.equal(roundRatio(rounds), 0.9);
  // The ratio of the medians would be 90 / 100 = 0.9 here too; this round set tells them apart.
  const skewed = [
    { baseline: m(100), subject: m(50) },
    { baseline: m(300), subject: m(290) },
    { baseline: m(400), subject: m(100) },
  ];
  assert.equal(roundRatio(skewed), 0.5);
  assert.notEqual(
    median(skewed.map((r) => r.subject.throughput)) / median(skewed.map((r) => r.baseline.throughput)),
    0.5,
  );
});

test('summaries take medians of speeds and totals of errors', () => {
  const summary = summarize([m(10, { p99Ms: 9, errors: 1 }), m(30, { p99Ms: 3, non2xx: 2 }), m(20, { p99Ms: 4 })]);
  assert.deepEqual(summary, { throughput: 20, p50Ms: 1, p99Ms: 4, errors: 1, non2xx: 2 });
});

test('a scenario meets its goal when the ratio reaches it and no round had errors', () => {
  const met = scenarioResult(facts, [{ baseline: m(100), subject: m(85) }]);
  assert.equal(met.met, true);
  assert.equal(met.ratio, 0.85);
  assert.equal(scenarioResult(facts, [{ baseline: m(100), subject: m(70) }]).met, false);
});

test('a run with errors or unexpected statuses is failed, not fast', () => {
  const result = scenarioResult(facts, [{ baseline: m(100), subject: m(500, { non2xx: 3 }) }]);
  assert.equal(result.clean, false);
  assert.equal(result.met, false);
  const report: BenchReport = {
    startedAt: '2026-11-25T12:00:00.000Z',
    quick: true,
    machine: { cpus: 2, node: 'v24', os: 'linux' },
    scenarios: [result],
  };
  assert.match(formatTable(report), /FAILED \(errors\)/);
});

test('a baseline whose server was not busy at saturation is named: something else held it back', () => {
  assert.equal(busyNote([], [0.99]), null, 'no reading, no claim');
  assert.equal(
    busyNote([0.97, 0.99, 0.98], [1, 0.99, 1]),
    'server core busy at saturation: baseline 98 %, Portico 100 %',
  );
  const capped = busyNote([0.84, 0.85, 0.83], [0.99, 0.98, 1]) ?? '';
  assert.match(capped, /baseline 84 %, Portico 99 %/);
  assert.match(capped, /below 90 % the baseline waited on something besides its own work/);
});

test('a scenario result has the fields the results file promises', () => {
  const result = scenarioResult(facts, [{ baseline: m(100), subject: m(90) }]);
  for (const key of ['name', 'goal', 'unit', 'baseline', 'subject', 'baselineResult', 'ratio', 'ratioGoal', 'met']) {
    assert.ok(key in result, `${key} is in the result`);
  }
  for (const key of ['throughput', 'p50Ms', 'p99Ms', 'errors', 'non2xx']) {
    assert.ok(key in result.subject && key in result.baselineResult, `${key} is measured on both sides`);
  }
});

const runBench = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [fileURLToPath(new URL('../bench/run.ts', import.meta.url)), ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  });

test("a profile's busy samples go to the first frame with a source file above them; start-up and idle are left out", () => {
  const frame = (functionName: string, url = '') => ({ functionName, url });
  const root = '/work/main';
  // (root) → the parser's callback (node) → a Fastify hook → our rate limiter → a Map lookup (native)
  //                                                      → Node's writeHead (node) → header validation (native)
  //        → the reply's socket write; start-up's schema compilation; idle.
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 7, 9, 10] },
      { id: 2, callFrame: frame('parserOnIncoming', 'node:_http_server'), children: [3] },
      { id: 3, callFrame: frame('hookRunner', `${root}/node_modules/fastify/lib/hooks.js`), children: [4, 5] },
      { id: 4, callFrame: frame('consume', `${root}/src/edge/rate-limit.ts`), children: [6] },
      { id: 5, callFrame: frame('writeHead', 'node:_http_server'), children: [8] },
      { id: 6, callFrame: frame('get') },
      { id: 7, callFrame: frame('writeUtf8String') },
      { id: 8, callFrame: frame('checkInvalidHeaderChar', 'node:_http_common') },
      { id: 9, callFrame: frame('build', `${root}/node_modules/avvio/index.js`) },
      { id: 10, callFrame: frame('(idle)') },
    ],
    samples: [6, 6, 6, 4, 8, 8, 3, 7, 7, 7, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10],
  };
  assert.deepEqual(
    sharesByOwner(profile).map(({ owner, share }) => [owner, Number(share.toFixed(3))]),
    [
      ['ours: edge', 0.4],
      ['node: socket write (system call)', 0.3],
      ['package: fastify', 0.3],
    ],
  );
  assert.deepEqual(
    sharesByOwner(profile, { byFile: true }).map(({ owner }) => owner),
    ['ours: edge/rate-limit.ts', 'node: socket write (system call)', 'package: fastify'],
  );
});

test('bench:owners refuses a missing file and a file that is not a profile in one line each, exit 1', () => {
  const owners = (file: string) =>
    spawnSync(process.execPath, [fileURLToPath(new URL('../bench/profile-owners.ts', import.meta.url)), file], {
      encoding: 'utf8',
    });
  const dir = mkdtempSync(join(tmpdir(), 'portico-owners-'));
  try {
    const missing = owners(join(dir, 'none.cpuprofile'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^bench:owners: cannot read .*none\.cpuprofile: ENOENT[^\n]*\n$/);
    const notProfile = join(dir, 'results.json');
    writeFileSync(notProfile, '{"scenarios": []}');
    const wrong = owners(notProfile);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /^bench:owners: .*results\.json is not a \.cpuprofile \(no nodes and samples\)\n$/);
    assert.equal(wrong.stdout, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unknown scenario name is one clear line and exit 2, before anything starts', () => {
  const result = runBench(['no-such-scenario']);
  assert.equal(result.status, 2);
  assert.equal(result.stderr.trim().split('\n').length, 1);
  assert.match(result.stderr, /unknown scenario 'no-such-scenario'; known: root/);
});

test('an unknown option is one clear line and exit 2', () => {
  const result = runBench(['--fast']);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /unknown option '--fast'/);
});

test('--profile without a directory is one clear line and exit 2', () => {
  for (const args of [['--profile'], ['--profile', '--quick']]) {
    const result = runBench(args);
    assert.equal(result.status, 2);
    assert.equal(result.stderr.trim(), 'bench: --profile needs a directory to write the profiles into');
  }
});

test('a scenario that needs PostgreSQL without TEST_DATABASE_URL is one clear line and a non-zero exit', () => {
  const result = runBench(['product-postgres']);
  assert.equal(result.status, 1);
  assert.equal(result.stderr.trim(), 'bench: product-postgres needs PostgreSQL: set TEST_DATABASE_URL');
});

test('a PostgreSQL that does not answer is one clear line and a non-zero exit', () => {
  const result = runBench(['product-postgres'], { TEST_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
  assert.equal(result.status, 1);
  assert.equal(result.stderr.trim().split('\n').length, 1);
  assert.match(result.stderr, /does not answer/);
});

test('a scenario that needs Redis without TEST_REDIS_URL, or with one that does not answer, is one clear line', async () => {
  const unset = runBench(['product-redis']);
  assert.equal(unset.status, 1);
  assert.equal(unset.stderr.trim(), 'bench: product-redis needs Redis: set TEST_REDIS_URL');
  const dead = runBench(['product-redis'], { TEST_REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
  assert.equal(dead.status, 1);
  assert.equal(dead.stderr.trim().split('\n').length, 1);
  assert.match(dead.stderr, /product-redis needs Redis, and TEST_REDIS_URL does not answer/);
});

test('a server whose port is taken is one clear line naming the port, and leaves no process behind', async () => {
  const port = await freePort();
  const squatter = createServer().listen(port, '127.0.0.1');
  await once(squatter, 'listening');
  try {
    const script = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'portico-bench-test-'));
    const env = { DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, LOG_LEVEL: 'warn' };
    const before = new Set(childrenOf(process.pid));
    await assert.rejects(startProcess({ label: 'portico', script, args: ['serve'], env, port }), (error: Error) => {
      assert.ok(error instanceof BenchError);
      assert.match(error.message, new RegExp(`^portico exited at start: .*127\\.0\\.0\\.1:${port}.*already in use`));
      assert.equal(error.message.split('\n').length, 1);
      return true;
    });
    const left = childrenOf(process.pid).filter((pid) => !before.has(pid) && !/^\d+ \(.*\) Z/.test(readStat(pid)));
    assert.deepEqual(left, [], 'the server that could not start is not left running');
    rmSync(dir, { recursive: true, force: true });
  } finally {
    squatter.close();
  }
});

/** The live child processes of `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
    readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
  );
}

function readStat(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return '';
  }
}

test('Ctrl-C stops every server the harness started', async () => {
  const bench = spawn(
    process.execPath,
    [fileURLToPath(new URL('../bench/run.ts', import.meta.url)), '--quick', 'root'],
    {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  // Every process the harness runs is a child of it (servers, the load generator).
  const children = () => childrenOf(bench.pid ?? 0);
  let seen: number[] = [];
  while (seen.length < 2) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(bench.exitCode, null, 'the bench is still running');
    seen = children();
  }
  const exited = once(bench, 'exit');
  bench.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 130);
  // SIGKILL is sent before the harness exits; the kernel takes a moment to tear a killed process down.
  const alive = () => seen.filter((pid) => existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z/.test(readStat(pid)));
  for (let wait = 0; alive().length > 0 && wait < 50; wait++) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(alive(), [], 'every process the harness started is gone');
});
