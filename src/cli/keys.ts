// `portico keys …`: API keys and signing keys, without a running server. Each subcommand is one entry of the table.
import { memoryKeyValue } from '../adapters/kv/memory.ts';
import { loadConfig } from '../config.ts';
import { compileBodyValidator, validationDetails } from '../edge/validation.ts';
import { systemClock } from '../kernel/clock.ts';
import { isApiError } from '../kernel/errors.ts';
import { ApiKeyCreate, apiKeysService } from '../modules/identity/api-keys/index.ts';
import { usersService } from '../modules/users/index.ts';
import { openStorage } from '../storage/database.ts';
import { migrateToLatest } from '../storage/migrate.ts';
import { type CommandContext, CommandError, parseCommand, UsageError } from './args.ts';
import { rotateSigningCommand } from './rotate-signing.ts';

export const keysUsage = `Usage: portico keys <action> [options]

Actions:
  create --email E [--mode test|live] [--scopes a,b] [--publishable] [--name N] [--tier T] [--api-version v1|v2]
      creates an API key for the user with that email; the secret is printed alone on the last line, this once
  rotate-signing
      makes a new key sign access tokens; the previous ones verify until their tokens have expired

Scopes default to all the owner's role allows (products:read for a publishable key).
Tiers are free, basic, pro, enterprise and internal; the default is the owner's (internal for admins, else free).
--api-version pins the version unversioned paths (/users) serve the key when a request asks for none.`;

type Subcommand = (args: string[], context: CommandContext) => Promise<void>;

/** The same schema the API checks a POST /v1/api-keys body against. */
const checkCreate = compileBodyValidator<ApiKeyCreate>(ApiKeyCreate);

async function createKey(args: string[], { env, stdout }: CommandContext): Promise<void> {
  const values = parseCommand('keys create', args, {
    email: { type: 'string' },
    mode: { type: 'string' },
    scopes: { type: 'string' },
    publishable: { type: 'boolean' },
    name: { type: 'string' },
    tier: { type: 'string' },
    'api-version': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return stdout(keysUsage);
  if (values.email === undefined) throw new UsageError("keys create: --email is required (see 'portico keys --help')");
  const input = {
    ...(values.name === undefined ? {} : { name: values.name }),
    type: values.publishable ? 'publishable' : 'secret',
    ...(values.mode === undefined ? {} : { mode: values.mode }),
    ...(values.scopes === undefined ? {} : { scopes: values.scopes.split(',').map((scope) => scope.trim()) }),
    ...(values.tier === undefined ? {} : { tier: values.tier }),
    ...(values['api-version'] === undefined ? {} : { apiVersion: values['api-version'] }),
  };
  if (!checkCreate(input)) {
    const [first] = validationDetails(checkCreate.errors ?? [], 'key');
    throw new UsageError(`keys create: ${first?.message ?? 'the key is not valid.'}`);
  }

  const config = loadConfig(env);
  const storage = openStorage(config.databaseUrl);
  try {
    await migrateToLatest(storage);
    const users = usersService(storage, systemClock);
    const page = { mode: 'cursor', limit: 1, sort: { field: 'createdAt', order: 'desc' }, position: null } as const;
    const [owner] = (await users.list({ email: values.email }, { ...page, direction: 'next' })).items;
    if (!owner) throw new CommandError(`keys create: no user has the email '${values.email}'`);
    const { key, secret } = await apiKeysService(storage, systemClock, users, memoryKeyValue()).createForOwner(
      owner.id,
      input,
    );
    stdout(
      `Created ${key.id} (${key.type}, ${key.mode}, tier ${key.tier ?? 'default'}) for ${owner.email}, ` +
        `scopes: ${key.scopes.join(' ') || 'none'}.`,
    );
    stdout('The secret is shown this once; keep it now:');
    stdout(secret);
  } catch (error) {
    if (isApiError(error) && error.status < 500) throw new CommandError(`keys create: ${error.message}`);
    throw error;
  } finally {
    await storage.close();
  }
}

/** The subcommands; signing keys join API keys here. */
const subcommands: Record<string, Subcommand> = {
  create: createKey,
  'rotate-signing': rotateSigningCommand,
};

export async function keysCommand(args: string[], context: CommandContext): Promise<void> {
  const [action, ...rest] = args;
  if (action === '--help' || action === '-h') return context.stdout(keysUsage);
  const subcommand = action !== undefined && Object.hasOwn(subcommands, action) ? subcommands[action] : undefined;
  if (!subcommand) {
    const what = action === undefined ? 'an action is needed' : `unknown action '${action}'`;
    const known = Object.keys(subcommands)
      .map((name) => `'${name}'`)
      .join(', ');
    throw new UsageError(`keys: ${what}; the actions are ${known} (see 'portico keys --help')`);
  }
  await subcommand(rest, context);
}
