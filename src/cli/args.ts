// Command-line plumbing shared by every command: strict option parsing, the two failure kinds and their exit codes.
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

/** A mistake in how the command was called: one line on stderr, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The command was understood but could not be done (a duplicate email, say): one line on stderr, exit code 1. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

export type Env = Record<string, string | undefined>;

export interface CommandContext {
  env: Env;
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

const lowerFirst = (text: string) => text.charAt(0).toLowerCase() + text.slice(1);

/**
 * Parses `args` strictly: an unknown option, a missing value or a stray argument is a UsageError naming the
 * command. node:util's messages go on to explain `--`; their first sentence is the part that helps here.
 */
export function parseCommand<T extends ParseArgsOptionsConfig>(command: string, args: string[], options: T) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (!code.startsWith('ERR_PARSE_ARGS_')) throw error;
    const reason = lowerFirst(String((error as Error).message).split(/\.(?:\s|$)/)[0] ?? '');
    throw new UsageError(`${command}: ${reason} (see 'portico ${command} --help')`);
  }
}

/** A whole number from an option's text, within bounds; anything else (1.5, 1e3, -1, '') is a UsageError. */
export function integerOption(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got '${raw}'`);
  }
  return value;
}
