// Made-up but plausible users and products, generated from a seed: the same seed gives the same rows, ids and
// timestamps included, built through each module's own builder so defaults and shapes stay the module's.
import { idFromParts } from '../kernel/ids.ts';
import { buildProduct, type ProductRecord } from '../modules/catalog/index.ts';
import { buildUser, type UserRecord } from '../modules/users/index.ts';
import { type Random, seededRandom } from './random.ts';

/** Seeded rows start here, so their timestamps never depend on when the seed ran. */
const baseTimeMs = Date.UTC(2024, 0, 1);
/** Rows of one kind spread over about this long after the base time, and never more than twice it (so before 2026). */
const spreadMs = 365 * 24 * 3_600_000;

// biome-ignore format: word lists read better packed.
const firstNames = [
  'Ada', 'Alan', 'Barbara', 'Grace', 'Edsger', 'Frances', 'Donald', 'Margaret', 'Ken', 'Radia', 'Dennis', 'Karen',
  'Niklaus', 'Hedy', 'Tim', 'Shafi', 'John', 'Sophie', 'Leslie', 'Anita', 'Linus', 'Jean', 'Guido', 'Mary',
] as const;
// biome-ignore format: word lists read better packed.
const lastNames = [
  'Lovelace', 'Turing', 'Liskov', 'Hopper', 'Dijkstra', 'Allen', 'Knuth', 'Hamilton', 'Thompson', 'Perlman',
  'Ritchie', 'Jones', 'Wirth', 'Lamarr', 'Berners-Lee', 'Goldwasser', 'Backus', 'Wilson', 'Lamport', 'Borg',
  'Torvalds', 'Bartik', 'van Rossum', 'Keller',
] as const;
// biome-ignore format: word lists read better packed.
const cities = [
  'London', 'Paris', 'Berlin', 'Lisbon', 'Oslo', 'Warsaw', 'Nairobi', 'Lagos', 'Tokyo', 'Seoul', 'Mumbai',
  'Sydney', 'Toronto', 'Mexico City', 'São Paulo', 'Buenos Aires', 'New York', 'Chicago', 'Cape Town', 'Zürich',
] as const;

const goods: ReadonlyArray<{ category: string; nouns: readonly string[] }> = [
  { category: 'furniture', nouns: ['Desk', 'Chair', 'Bookshelf', 'Stool', 'Bench', 'Side Table', 'Sideboard'] },
  { category: 'lighting', nouns: ['Desk Lamp', 'Pendant Light', 'Floor Lamp', 'Wall Sconce', 'Lantern'] },
  { category: 'kitchen', nouns: ['Kettle', 'Teapot', 'Cutting Board', 'Mug', 'Saucepan', 'Salad Bowl'] },
  { category: 'textiles', nouns: ['Throw', 'Cushion', 'Rug', 'Apron', 'Tea Towel', 'Duvet Cover'] },
  { category: 'stationery', nouns: ['Notebook', 'Fountain Pen', 'Desk Organizer', 'Pencil Case', 'Planner'] },
  { category: 'outdoor', nouns: ['Planter', 'Hammock', 'Deck Chair', 'Watering Can', 'Bird Feeder'] },
];
// biome-ignore format: word lists read better packed.
const adjectives = [
  'Classic', 'Compact', 'Handmade', 'Minimal', 'Oiled', 'Rustic', 'Nordic', 'Vintage', 'Everyday', 'Folding',
  'Stackable', 'Heavy-Duty', 'Slim', 'Large', 'Small',
] as const;
// biome-ignore format: word lists read better packed.
const materials = [
  'Walnut', 'Oak', 'Ash', 'Linen', 'Wool', 'Copper', 'Brass', 'Ceramic', 'Stoneware', 'Steel', 'Cotton', 'Leather',
  'Bamboo', 'Glass', 'Cork',
] as const;
const features = [
  'Made to last for decades.',
  'Finished by hand in a small workshop.',
  'Ships flat and assembles in minutes.',
  'Easy to clean with a damp cloth.',
  'Designed to age gracefully.',
  'Each piece varies slightly in grain and tone.',
] as const;
/** Repeated entries weight the draw: most prices are in euros and dollars. */
const currencies = ['EUR', 'EUR', 'EUR', 'USD', 'USD', 'USD', 'GBP', 'GBP', 'SEK', 'JPY'] as const;

/** Strictly increasing moments after the base time: every row gets its own millisecond, so ids sort as rows do. */
function moments(random: Random, count: number): () => number {
  const maxStepMs = Math.max(1, Math.floor((2 * spreadMs) / Math.max(count, 1)));
  let at = baseTimeMs;
  return () => {
    at += random.between(1, maxStepMs);
    return at;
  };
}

const slug = (text: string) => text.toLowerCase().replace(/[^a-z]+/g, '');

/**
 * `count` users for `seed`. Emails carry the seed and the row's number, so they are unique within a run and never
 * collide with another seed's; the first user is always an admin.
 */
export function* generateUsers(seed: number, count: number): Generator<UserRecord> {
  const random = seededRandom(seed, 'users');
  const nextMoment = moments(random, count);
  for (let n = 1; n <= count; n++) {
    const ms = nextMoment();
    const first = random.pick(firstNames);
    const last = random.pick(lastNames);
    const stamp = new Date(ms).toISOString();
    yield buildUser(
      {
        email: `${slug(first)}.${slug(last)}.${n}@seed-${seed}.example.com`,
        name: `${first} ${last}`,
        role: n === 1 || random.chance(0.03) ? 'admin' : 'customer',
        status: random.chance(0.95) ? 'active' : 'inactive',
        location: random.chance(0.7) ? random.pick(cities) : null,
      },
      { id: idFromParts('usr', ms, random.bytes(10)), version: 1, createdAt: stamp, updatedAt: stamp },
    );
  }
}

/** `count` products for `seed`: names, categories, prices in several currencies, stock and a few archived. */
export function* generateProducts(seed: number, count: number): Generator<ProductRecord> {
  const random = seededRandom(seed, 'products');
  const nextMoment = moments(random, count);
  for (let n = 1; n <= count; n++) {
    const ms = nextMoment();
    const { category, nouns } = random.pick(goods);
    const noun = random.pick(nouns);
    const adjective = random.pick(adjectives);
    const material = random.pick(materials);
    const currency = random.pick(currencies);
    const stamp = new Date(ms).toISOString();
    yield buildProduct(
      {
        name: `${adjective} ${material} ${noun}`,
        description: random.chance(0.75)
          ? `${adjective} ${noun.toLowerCase()} in ${material.toLowerCase()}. ${random.pick(features)}`
          : null,
        category,
        // Prices end in 99 minor units; yen have no minor unit, so a yen price is whole hundreds of yen.
        price: {
          amount: currency === 'JPY' ? random.between(5, 500) * 100 : random.between(1, 2500) * 100 - 1,
          currency,
        },
        stock: random.chance(0.05) ? 0 : random.between(1, 500),
        status: random.chance(0.92) ? 'active' : 'archived',
      },
      { id: idFromParts('prd', ms, random.bytes(10)), version: 1, createdAt: stamp, updatedAt: stamp },
    );
  }
}
