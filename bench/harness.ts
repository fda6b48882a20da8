// Runs a scenario: its servers as their own processes, the load from another, baseline and subject interleaved
// round by round, each after a warm-up. Every child process is stopped on exit, including on Ctrl-C.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../src/cli/free-port.ts';
import type { LoadSpec } from './load.ts';
import {
  busyNote,
  type Measurement,
  type Round,
  type ScenarioFacts,
  type ScenarioResult,
  scenarioResult,
} from './stats.ts';

export { freePort };

export class BenchError extends Error {}

const children = new Set<ChildProcess>();
const stopAll = () => {
  for (const child of children) child.kill('SIGKILL');
};
process.on('exit', stopAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopAll();
    process.exit(130);
  });
}

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Server on core 0, load on core 1, where taskset exists: the two never compete for one core. */
function pinned(core: number, command: string, args: string[]): [string, string[]] {
  return hasTaskset ? ['taskset', ['-c', String(core), command, ...args]] : [command, args];
}

export interface ServerSpec {
  label: string;
  script: string;
  args: string[];
  /** The whole environment of the server: nothing is inherited but PATH and HOME. */
  env: Record<string, string>;
  port: number;
}

export interface RunningServer {
  url: string;
  rssMiB(): number | null;
  /** CPU time the server's process has used, in seconds; null where /proc cannot tell. */
  cpuSeconds(): number | null;
  stop(): Promise<void>;
}

let profileDir: string | null = null;

/** `--profile DIR`: every server started from now on runs under `node --cpu-prof`, its profiles written into
 * DIR/<label>/ when it stops (bench/README.md, Profiling). */
export function profileInto(dir: string): void {
  profileDir = dir;
}

const profileFlags = (label: string): string[] =>
  profileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, label.replace(/[^\w.-]/g, '_'))}`];

export async function startProcess(spec: ServerSpec): Promise<RunningServer> {
  const [command, args] = pinned(0, process.execPath, [...profileFlags(spec.label), spec.script, ...spec.args]);
  const child = spawn(command, args, {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...spec.env,
      PORT: String(spec.port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${spec.port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) {
      children.delete(child);
      throw new BenchError(`${spec.label} exited at start: ${stderr.trim().split('\n').at(-1) ?? ''}`);
    }
    try {
      // Bounded, so that another process holding the port and answering nothing is not waited on forever.
      if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok && child.exitCode === null) break;
    } catch {}
    if (Date.now() > deadline) {
      // A server that never became ready is not left running until the harness exits.
      child.kill('SIGKILL');
      children.delete(child);
      throw new BenchError(`${spec.label} did not answer /healthz within 120 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    rssMiB() {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
        return Number.isFinite(kib) ? kib / 1024 : null;
      } catch {
        return null;
      }
    },
    cpuSeconds() {
      try {
        // utime and stime, the 14th and 15th fields, in clock ticks (100 a second on Linux).
        const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
        const ticks = Number(fields[11]) + Number(fields[12]);
        return Number.isFinite(ticks) ? ticks / 100 : null;
      } catch {
        return null;
      }
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      child.kill('SIGKILL');
      children.delete(child);
    },
  };
}

/** Runs a command to completion (a seed, a migration) with an explicit environment and answers its stdout; fails
 * with its last line. */
export function runToCompletion(label: string, script: string, args: string[], env: Record<string, string>): string {
  try {
    return execFileSync(process.execPath, [script, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: 'pipe',
      encoding: 'utf8',
    });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    throw new BenchError(`${label} failed: ${stderr.split('\n').at(-1) ?? 'no output'}`);
  }
}

const loadScript = new URL('./load.ts', import.meta.url).pathname;

async function load(spec: LoadSpec): Promise<Measurement> {
  const [command, args] = pinned(1, process.execPath, [loadScript, JSON.stringify(spec)]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  children.delete(child);
  if (code !== 0) throw new BenchError(`load generator failed: ${stderr.trim().split('\n').at(-1) ?? code}`);
  return JSON.parse(stdout) as Measurement;
}

export interface Timing {
  rounds: number;
  warmupSeconds: number;
  measureSeconds: number;
  connections: number;
}

export const fullTiming: Timing = { rounds: 5, warmupSeconds: 3, measureSeconds: 5, connections: 20 };
export const quickTiming: Timing = { rounds: 1, warmupSeconds: 1, measureSeconds: 2, connections: 10 };

export interface Side {
  server: RunningServer;
  request: Omit<LoadSpec, 'url' | 'connections' | 'durationSeconds' | 'overallRate'>;
}

/** One side of one round: warm up, measure throughput at saturation, then latency at the offered rate. `busy` is
 * the share of one core the server used while saturated (null where /proc cannot tell). */
async function measure(
  side: Side,
  timing: Timing,
  offeredRate: number | null,
): Promise<{ measurement: Measurement; busy: number | null }> {
  const base = { ...side.request, url: side.server.url, connections: timing.connections };
  await load({ ...base, durationSeconds: timing.warmupSeconds });
  const cpuBefore = side.server.cpuSeconds();
  const saturated = await load({ ...base, durationSeconds: timing.measureSeconds });
  const cpuAfter = side.server.cpuSeconds();
  const rate = Math.max(1, Math.round(offeredRate ?? saturated.throughput / 2));
  const paced = await load({ ...base, durationSeconds: timing.measureSeconds, overallRate: rate });
  return {
    measurement: {
      throughput: saturated.throughput,
      p50Ms: paced.p50Ms,
      p99Ms: paced.p99Ms,
      errors: saturated.errors + paced.errors,
      non2xx: saturated.non2xx + paced.non2xx,
    },
    busy: cpuBefore === null || cpuAfter === null ? null : (cpuAfter - cpuBefore) / timing.measureSeconds,
  };
}

/** Baseline, subject, baseline, subject …: a noisy machine affects both alike. Latency is taken for both at half
 * the baseline's saturated throughput of the same round. */
export async function interleave(
  facts: ScenarioFacts,
  baseline: Side,
  subject: Side,
  timing: Timing,
): Promise<ScenarioResult> {
  const rounds: Round[] = [];
  const busy = { baseline: [] as number[], subject: [] as number[] };
  for (let round = 0; round < timing.rounds; round++) {
    const baselineSide = await measure(baseline, timing, null);
    const subjectSide = await measure(subject, timing, baselineSide.measurement.throughput / 2);
    rounds.push({ baseline: baselineSide.measurement, subject: subjectSide.measurement });
    if (baselineSide.busy !== null) busy.baseline.push(baselineSide.busy);
    if (subjectSide.busy !== null) busy.subject.push(subjectSide.busy);
  }
  const note = busyNote(busy.baseline, busy.subject);
  return scenarioResult(
    { ...facts, subjectRssMiB: subject.server.rssMiB(), notes: note ? [...facts.notes, note] : facts.notes },
    rounds,
  );
}
