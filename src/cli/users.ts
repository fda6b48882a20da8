// `portico users create`: makes a user through the users service, without a running server, and prints it as
// the API would.
import { loadConfig } from '../config.ts';
import { compileBodyValidator, validationDetails } from '../edge/validation.ts';
import { systemClock } from '../kernel/clock.ts';
import { isApiError } from '../kernel/errors.ts';
import { checkNewPassword, setPassword } from '../modules/identity/accounts/index.ts';
import { representUser, User, UserCreate, usersService } from '../modules/users/index.ts';
import { openStorage } from '../storage/database.ts';
import { migrateToLatest } from '../storage/migrate.ts';
import { type CommandContext, CommandError, parseCommand, UsageError } from './args.ts';

export const usersUsage = `Usage: portico users create --email E [--password P] [--name N] [--role admin|customer]

Creates a user and prints it as JSON, the same representation GET /v1/users/{id} answers.

  --email E      the address (unique, compared case-insensitively)
  --name N       defaults to the part of the email before @
  --role R       admin or customer (default customer)
  --password P   lets the user sign in (8 to 256 characters; stored only as an argon2id hash). Without it the
                 user cannot sign in with a password. The shell may keep it in its history.`;

/** The same schema the API checks a POST /v1/users body against, so the CLI accepts exactly what the API does. */
const checkCreate = compileBodyValidator<UserCreate>(UserCreate);

export async function usersCommand(args: string[], { env, stdout }: CommandContext): Promise<void> {
  const [action, ...rest] = args;
  if (action === '--help' || action === '-h') return stdout(usersUsage);
  if (action !== 'create') {
    const what = action === undefined ? 'an action is needed' : `unknown action '${action}'`;
    throw new UsageError(`users: ${what}; the one action is 'create' (see 'portico users --help')`);
  }
  const values = parseCommand('users create', rest, {
    email: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string' },
    password: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return stdout(usersUsage);
  const { password } = values;
  if (password !== undefined) {
    try {
      checkNewPassword(password);
    } catch (error) {
      if (isApiError(error)) throw new UsageError(`--password: ${error.details[0]?.message ?? error.message}`);
      throw error;
    }
  }
  if (values.email === undefined)
    throw new UsageError("users create: --email is required (see 'portico users --help')");
  const input = {
    email: values.email,
    name: values.name ?? values.email.split('@')[0] ?? '',
    ...(values.role === undefined ? {} : { role: values.role }),
  };
  if (!checkCreate(input)) {
    const [first] = validationDetails(checkCreate.errors ?? [], 'user');
    throw new UsageError(`users create: ${first?.message ?? 'the user is not valid.'}`);
  }

  const config = loadConfig(env);
  const storage = openStorage(config.databaseUrl);
  try {
    await migrateToLatest(storage);
    const user = await usersService(storage, systemClock).create(input);
    if (password !== undefined) await setPassword(storage.db, user.id, password);
    const representation: Record<string, unknown> = representUser(user, config.publicUrl);
    // Keys in the schema's order, as the API's compiled serializer writes them.
    const ordered = Object.fromEntries(Object.keys(User.properties).map((key) => [key, representation[key]]));
    stdout(JSON.stringify(ordered, null, 2));
  } catch (error) {
    if (isApiError(error) && error.code === 'CONFLICT') throw new CommandError(`users create: ${error.message}`);
    throw error;
  } finally {
    await storage.close();
  }
}
