// `portico seed`: loads a deterministic data set of users, products, posts and orders, up to millions of rows.
import { randomInt } from 'node:crypto';
import { loadConfig } from '../config.ts';
import { SeedConflictError, seedDatabase } from '../seed/seed.ts';
import { openStorage } from '../storage/database.ts';
import { migrateToLatest } from '../storage/migrate.ts';
import { type CommandContext, CommandError, integerOption, parseCommand, UsageError } from './args.ts';

export const seedUsage = `Usage: portico seed [--users N] [--products N] [--orders N] [--posts N] [--seed S]

Writes made-up users, products, posts with comments, and orders (no events: this is bulk loading). The same --seed S always writes the
same rows, ids and timestamps included; without --seed a random one is chosen and printed.

  --users N      users to write (default 100)
  --products N   products to write (default 1000); a million takes well under two minutes on SQLite
  --orders N     orders to write, placed by the first users for the first products, in every state (default 200)
  --posts N      posts to write, each with a few comments by the first users (default 100)
  --seed S       a whole number from 0 to 4294967295`;

const maxRows = 10_000_000;
const maxSeed = 0xffff_ffff;

export async function seedCommand(args: string[], { env, stdout, stderr }: CommandContext): Promise<void> {
  const values = parseCommand('seed', args, {
    users: { type: 'string' },
    products: { type: 'string' },
    orders: { type: 'string' },
    posts: { type: 'string' },
    seed: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return stdout(seedUsage);
  const users = integerOption('users', values.users ?? '100', 0, maxRows);
  const products = integerOption('products', values.products ?? '1000', 0, maxRows);
  const posts = integerOption('posts', values.posts ?? '100', 0, maxRows);
  const orders = integerOption('orders', values.orders ?? '200', 0, maxRows);
  if ((posts > 0 || orders > 0) && users === 0) {
    throw new UsageError('--posts and --orders need users to write and place them: give --users 1 or more');
  }
  if (orders > 0 && products === 0) throw new UsageError('--orders needs products to order: give --products 1 or more');
  const seed = values.seed === undefined ? randomInt(maxSeed) : integerOption('seed', values.seed, 0, maxSeed);

  const config = loadConfig(env);
  const storage = openStorage(config.databaseUrl);
  const startedMs = performance.now();
  try {
    await migrateToLatest(storage);
    stderr(`Seeding ${users} users, ${products} products, ${posts} posts and ${orders} orders with seed ${seed}…`);
    await seedDatabase(storage, { seed, users, products, posts, orders }, ({ kind, written, total }) => {
      stderr(`  ${kind}: ${written.toLocaleString('en')} of ${total.toLocaleString('en')}`);
    });
  } catch (error) {
    if (error instanceof SeedConflictError) throw new CommandError(error.message);
    throw error;
  } finally {
    await storage.close();
  }
  const seconds = ((performance.now() - startedMs) / 1000).toFixed(1);
  stdout(
    `Seeded ${users} users, ${products} products, ${posts} posts and ${orders} orders with seed ${seed} in ${seconds} s (repeat with --seed ${seed}).`,
  );
}
