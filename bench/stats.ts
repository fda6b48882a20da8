// The harness's arithmetic and its result file's shape: medians over rounds, ratios per round, goals met or not.
// Pure functions, so a test checks them without timing anything.

export interface Measurement {
  /** Requests per second at saturation. */
  throughput: number;
  /** Latency at the fixed offered rate. */
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

export interface Round {
  baseline: Measurement;
  subject: Measurement;
}

export interface ScenarioResult {
  name: string;
  goal: string;
  unit: string;
  baseline: string;
  subject: Measurement;
  baselineResult: Measurement;
  ratio: number;
  ratioGoal: number;
  met: boolean;
  /** False when any round had errors or unexpected statuses: such a run is failed, not fast. */
  clean: boolean;
  rounds: number;
  /** The server's resident memory after the scenario, in MiB. */
  subjectRssMiB: number | null;
  notes: string[];
}

export interface BenchReport {
  startedAt: string;
  quick: boolean;
  machine: { cpus: number; node: string; os: string };
  scenarios: ScenarioResult[];
}

export function median(values: number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const medianOf = (measurements: Measurement[], key: keyof Measurement) => median(measurements.map((m) => m[key]));
const sumOf = (measurements: Measurement[], key: 'errors' | 'non2xx') =>
  measurements.reduce((sum, m) => sum + m[key], 0);

/** Throughput and latencies are medians over rounds; errors and non-2xx are totals, since one is too many. */
export function summarize(measurements: Measurement[]): Measurement {
  return {
    throughput: medianOf(measurements, 'throughput'),
    p50Ms: medianOf(measurements, 'p50Ms'),
    p99Ms: medianOf(measurements, 'p99Ms'),
    errors: sumOf(measurements, 'errors'),
    non2xx: sumOf(measurements, 'non2xx'),
  };
}

/** The figure that counts: the median of the per-round throughput ratios, so a noisy round moves both sides. */
export function roundRatio(rounds: Round[]): number {
  return median(
    rounds.map((round) => (round.baseline.throughput > 0 ? round.subject.throughput / round.baseline.throughput : 0)),
  );
}

/** Below this share of its core, a server at "saturation" was waiting (for the load generator, a database, the disk). */
const saturatedBusy = 0.9;

/** How busy each side's server was at saturation; a baseline below `saturatedBusy` was not held back by its own work. */
export function busyNote(baseline: number[], subject: number[]): string | null {
  if (baseline.length === 0 || subject.length === 0) return null;
  const [b, s] = [median(baseline), median(subject)];
  const percent = (share: number) => `${Math.round(share * 100)} %`;
  const note = `server core busy at saturation: baseline ${percent(b)}, Portico ${percent(s)}`;
  return b < saturatedBusy
    ? `${note}: below ${Math.round(saturatedBusy * 100)} % the baseline waited on something besides its own work ` +
        '(the load generator, a database, the disk), so the ratio compares more than the two servers'
    : note;
}

export interface ScenarioFacts {
  name: string;
  goal: string;
  unit: string;
  baseline: string;
  ratioGoal: number;
  subjectRssMiB: number | null;
  notes: string[];
}

export function scenarioResult(facts: ScenarioFacts, rounds: Round[]): ScenarioResult {
  const subject = summarize(rounds.map((round) => round.subject));
  const baselineResult = summarize(rounds.map((round) => round.baseline));
  const ratio = roundRatio(rounds);
  const clean = subject.errors + subject.non2xx + baselineResult.errors + baselineResult.non2xx === 0;
  return {
    ...facts,
    subject,
    baselineResult,
    ratio: Math.round(ratio * 1000) / 1000,
    rounds: rounds.length,
    clean,
    met: clean && ratio >= facts.ratioGoal,
  };
}

const pad = (text: string, width: number) => text.padEnd(width);

export function formatTable(report: BenchReport): string {
  const header = [
    'scenario',
    'subject req/s',
    'baseline req/s',
    'ratio',
    'goal',
    'p50 ms',
    'p99 ms',
    'RSS MiB',
    'result',
  ];
  const rows = report.scenarios.map((s) => [
    s.name,
    s.subject.throughput.toFixed(0),
    s.baselineResult.throughput.toFixed(0),
    s.ratio.toFixed(2),
    `≥ ${s.ratioGoal}`,
    s.subject.p50Ms.toFixed(2),
    s.subject.p99Ms.toFixed(2),
    s.subjectRssMiB === null ? '–' : s.subjectRssMiB.toFixed(0),
    s.clean ? (s.met ? 'met' : 'not met') : 'FAILED (errors)',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => pad(cell, widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
