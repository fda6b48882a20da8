// `portico keys rotate-signing`: a new key signs access tokens from now on; the previous ones keep verifying until
// the tokens they signed have expired. Running servers take the new key within a minute.
import { loadConfig } from '../config.ts';
import { systemClock } from '../kernel/clock.ts';
import { accessTokenTtlSeconds, rotateSigningKey } from '../modules/identity/accounts/index.ts';
import { openStorage } from '../storage/database.ts';
import { migrateToLatest } from '../storage/migrate.ts';
import { type CommandContext, CommandError, parseCommand } from './args.ts';

export const rotateSigningUsage = `Usage: portico keys rotate-signing

Makes a new key (of JWT_ALGORITHM) the one access tokens are signed with. The previous keys stay in
/.well-known/jwks.json and keep verifying for ${accessTokenTtlSeconds / 60} minutes, until every token they signed has expired.`;

export async function rotateSigningCommand(args: string[], { env, stdout }: CommandContext): Promise<void> {
  const values = parseCommand('keys rotate-signing', args, { help: { type: 'boolean', short: 'h' } });
  if (values.help) return stdout(rotateSigningUsage);
  const config = loadConfig(env);
  const { algorithm } = config.accessTokens;
  if (algorithm === 'HS256') {
    throw new CommandError(
      'keys rotate-signing: with JWT_ALGORITHM=HS256 the key is JWT_HS256_SECRET; change it there',
    );
  }
  const storage = openStorage(config.databaseUrl);
  try {
    await migrateToLatest(storage);
    const kid = await rotateSigningKey(storage, algorithm, systemClock);
    stdout(`New ${algorithm} signing key ${kid}; running servers sign with it within a minute.`);
  } finally {
    await storage.close();
  }
}
