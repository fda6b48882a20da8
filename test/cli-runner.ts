// Runs the `portico` command line for real, as a child process, with only the environment it is meant to read.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const mainTs = join(root, 'src', 'main.ts');
export const binJs = join(root, 'bin', 'portico.js');

/** Only what the CLI is meant to read, so the test runner's own environment cannot change its behaviour. */
export function cliEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', RATE_LIMIT_ANONYMOUS: '100000/1m', ...extra };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Run through bin/portico.js instead of src/main.ts. */
  bin?: boolean;
  /** Flags for the Node that starts the command. */
  nodeFlags?: string[];
}

export function runCli(args: string[], env: Record<string, string>, options: RunOptions = {}): Promise<Run> {
  const script = options.bin ? binJs : mainTs;
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), script, ...args], { env: cliEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
