// `portico oauth-clients create`: registers an OAuth client without a running server. The client's id and secret
// are printed as JSON on the last line; the secret is shown this once (only its hash is stored).
import { loadConfig } from '../config.ts';
import { systemClock } from '../kernel/clock.ts';
import { isApiError } from '../kernel/errors.ts';
import { buildProvider, oauthClientsService } from '../modules/oauth/index.ts';
import { usersService } from '../modules/users/index.ts';
import { openStorage } from '../storage/database.ts';
import { migrateToLatest } from '../storage/migrate.ts';
import { type CommandContext, CommandError, parseCommand, UsageError } from './args.ts';

export const oauthClientsUsage = `Usage: portico oauth-clients create --name N [--redirect-uri U]… [--grant-types a,b] [--scopes a,b] [--public]
                                    [--api-version v1|v2]

Registers an OAuth 2.0 client and prints {"clientId", "clientSecret"} as JSON on the last line; the secret is
shown this once (null for a public client).

  --name N            the name the consent page shows
  --redirect-uri U    an exact redirect URI; repeat for several (needed for authorization_code)
  --grant-types a,b   authorization_code, refresh_token, client_credentials (default: authorization_code and
                      refresh_token with redirect URIs, client_credentials without)
  --scopes a,b        what the client may ask for; required with client_credentials (a client acting for
                      itself has exactly these), otherwise every scope by default (consent narrows it to the
                      user's role)
  --public            a browser or native app: no secret, PKCE alone
  --api-version V     the version unversioned paths (/users) serve the client's tokens when a request asks for
                      none (default: the latest)`;

const list = (value: string | undefined) =>
  value === undefined
    ? undefined
    : value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);

async function createClient(args: string[], { env, stdout }: CommandContext): Promise<void> {
  const values = parseCommand('oauth-clients create', args, {
    name: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'grant-types': { type: 'string' },
    scopes: { type: 'string' },
    public: { type: 'boolean' },
    'api-version': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return stdout(oauthClientsUsage);
  if (values.name === undefined || values.name.trim() === '') {
    throw new UsageError("oauth-clients create: --name is required (see 'portico oauth-clients --help')");
  }
  const grantTypes = list(values['grant-types']);
  const scopes = list(values.scopes);
  const config = loadConfig(env);
  const storage = openStorage(config.databaseUrl);
  try {
    await migrateToLatest(storage);
    const users = usersService(storage, systemClock);
    const provider = await buildProvider({ storage, publicUrl: config.publicUrl, users, behindProxy: false });
    const { client, clientSecret } = await oauthClientsService(storage, provider).create({
      name: values.name,
      redirectUris: values['redirect-uri'] ?? [],
      ...(grantTypes ? { grantTypes } : {}),
      ...(scopes ? { scopes } : {}),
      public: values.public === true,
      ...(values['api-version'] === undefined ? {} : { apiVersion: values['api-version'] }),
    });
    const pinned = client.apiVersion === null ? '' : `, pinned to API ${client.apiVersion}`;
    stdout(
      `Created ${client.name}: grant types ${client.grantTypes.join(' ')}, scopes ${client.scopes.join(' ')}${pinned}.`,
    );
    stdout(JSON.stringify({ clientId: client.id, clientSecret }));
  } catch (error) {
    if (isApiError(error) && error.status < 500) throw new CommandError(`oauth-clients create: ${error.message}`);
    throw error;
  } finally {
    await storage.close();
  }
}

export async function oauthClientsCommand(args: string[], context: CommandContext): Promise<void> {
  const [action, ...rest] = args;
  if (action === '--help' || action === '-h') return context.stdout(oauthClientsUsage);
  if (action !== 'create') {
    const what = action === undefined ? 'an action is needed' : `unknown action '${action}'`;
    throw new UsageError(`oauth-clients: ${what}; the one action is 'create' (see 'portico oauth-clients --help')`);
  }
  await createClient(rest, context);
}
