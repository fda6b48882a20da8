// The `portico` command line: serve | migrate | seed | users | keys. Exit codes: 0 done, 1 failed, 2 called wrongly.

import { type CommandContext, CommandError, UsageError } from './cli/args.ts';
import { ConfigError } from './config.ts';

const usage = `Usage: portico <command> [options]

Commands:
  serve [--host H] [--port N] [--tls self-signed]   serve the API (the first start seeds a demo set)
  migrate                                           bring the database schema up to date
  seed [--users N] [--products N] [--seed S]        load a deterministic data set
  users create --email E [--password P] [--role R]  create a user and print it as JSON
  keys create --email E [--mode M] [--publishable]  create an API key and print its secret
  oauth-clients create --name N [--redirect-uri U]  register an OAuth client and print its credentials

Run 'portico <command> --help' for a command's options. Configuration comes from the environment
(DATABASE_URL, HOST, PORT, LOG_LEVEL, …); see the README.`;

type Command = (args: string[], context: CommandContext) => Promise<void>;

/** Loaded on demand: `migrate` or `--help` need not load the HTTP server and its docs. */
const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./cli/serve.ts')).serveCommand,
  migrate: async () => (await import('./cli/migrate.ts')).migrateCommand,
  seed: async () => (await import('./cli/seed.ts')).seedCommand,
  users: async () => (await import('./cli/users.ts')).usersCommand,
  keys: async () => (await import('./cli/keys.ts')).keysCommand,
  'oauth-clients': async () => (await import('./cli/oauth-clients.ts')).oauthClientsCommand,
};

/** Runs one command line and answers its exit code; `serve` keeps the process alive after resolving. */
export async function runCli(argv: string[], context: CommandContext): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    context.stderr(usage);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    context.stdout(usage);
    return 0;
  }
  const load = commands[name];
  try {
    if (!load) throw new UsageError(`unknown command '${name}' (run 'portico --help' for the list)`);
    const command = await load();
    await command(args, context);
    return 0;
  } catch (error) {
    // Expected failures are one line, without a stack: what went wrong and what to do next.
    if (error instanceof UsageError) {
      context.stderr(`portico: ${error.message}`);
      return 2;
    }
    if (error instanceof ConfigError || error instanceof CommandError) {
      context.stderr(`portico: ${error.message}`);
      return 1;
    }
    // An AggregateError (every address of a host refused) has an empty message; its first error says why.
    const cause = error instanceof AggregateError && error.message === '' ? error.errors[0] : error;
    const message = cause instanceof Error ? cause.message : String(cause);
    context.stderr(`portico: ${name} failed: ${message.split('\n')[0]}`);
    return 1;
  }
}

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
});
