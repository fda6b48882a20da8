// `npm run bench [-- --quick] [NAME…]`: runs the scenarios, prints a table, writes bench/results/latest.json and a
// dated copy. Any mistake in the call or a missing service is one clear line and a non-zero exit.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { BenchError, fullTiming, profileInto, quickTiming } from './harness.ts';
import { scenarios } from './scenarios.ts';
import { type BenchReport, formatTable } from './stats.ts';

function fail(message: string, code = 1): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(code);
}

const args = process.argv.slice(2);
const profileAt = args.indexOf('--profile');
if (profileAt !== -1) {
  const dir = args[profileAt + 1];
  if (dir === undefined || dir.startsWith('--')) fail('--profile needs a directory to write the profiles into', 2);
  profileInto(resolve(dir));
  args.splice(profileAt, 2);
}
const quick = args.includes('--quick');
const names = args.filter((arg) => !arg.startsWith('--'));
const unknownOption = args.find((arg) => arg.startsWith('--') && arg !== '--quick');
if (unknownOption) fail(`unknown option '${unknownOption}'; the options are --quick and --profile DIR`, 2);
const known = scenarios.map((scenario) => scenario.name);
const unknown = names.filter((name) => !known.includes(name));
if (unknown.length > 0) fail(`unknown scenario '${unknown.join("', '")}'; known: ${known.join(', ')}`, 2);
const chosen = names.length > 0 ? scenarios.filter((scenario) => names.includes(scenario.name)) : scenarios;

const databaseUrl = process.env.TEST_DATABASE_URL || null;
const redisUrl = process.env.TEST_REDIS_URL || null;
for (const scenario of chosen) {
  if (scenario.needs.includes('redis') && !redisUrl) fail(`${scenario.name} needs Redis: set TEST_REDIS_URL`);
  if (scenario.needs.includes('redis') && redisUrl) {
    const redis = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0 });
    redis.on('error', () => {});
    try {
      await redis.connect();
      await redis.ping();
    } catch (error) {
      fail(`${scenario.name} needs Redis, and TEST_REDIS_URL does not answer: ${(error as Error).message}`);
    } finally {
      redis.disconnect();
    }
  }
  if (scenario.needs.includes('postgres') && !databaseUrl)
    fail(`${scenario.name} needs PostgreSQL: set TEST_DATABASE_URL`);
  if (scenario.needs.includes('postgres') && databaseUrl) {
    const pg = (await import('pg')).default;
    const probe = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
    try {
      await probe.connect();
      await probe.end();
    } catch (error) {
      fail(`${scenario.name} needs PostgreSQL, and TEST_DATABASE_URL does not answer: ${(error as Error).message}`);
    }
  }
}

const report: BenchReport = {
  startedAt: new Date().toISOString(),
  quick,
  machine: { cpus: cpus().length, node: process.version, os: `${platform()} ${release()}` },
  scenarios: [],
};
try {
  for (const scenario of chosen) {
    process.stderr.write(`bench: ${scenario.name} …\n`);
    report.scenarios.push(
      await scenario.run({ quick, timing: quick ? quickTiming : fullTiming, databaseUrl, redisUrl }),
    );
  }
} catch (error) {
  if (error instanceof BenchError) fail(error.message);
  throw error;
}

const results = new URL('./results/', import.meta.url).pathname;
mkdirSync(results, { recursive: true });
const json = `${JSON.stringify(report, null, 2)}\n`;
writeFileSync(`${results}latest.json`, json);
writeFileSync(`${results}${report.startedAt.replaceAll(':', '-')}.json`, json);
process.stdout.write(`${formatTable(report)}\n`);
for (const scenario of report.scenarios)
  for (const note of scenario.notes) process.stdout.write(`${scenario.name}: ${note}\n`);
if (report.scenarios.some((scenario) => !scenario.clean)) process.exit(1);
