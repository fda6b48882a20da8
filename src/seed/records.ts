// Made-up but plausible users and products, generated from a seed: the same seed gives the same rows, ids and
// timestamps included, built through each module's own builder so defaults and shapes stay the module's.
import { idFromParts } from '../kernel/ids.ts';
import { buildProduct, type ProductRecord } from '../modules/catalog/index.ts';
import { buildComment, buildPost, type CommentRecord, type PostRecord } from '../modules/content/index.ts';
import {
  applyAction,
  buildOrder,
  defaultCarrier,
  type OrderAction,
  type OrderRecord,
  priceLines,
} from '../modules/orders/index.ts';
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

// biome-ignore format: word lists read better packed.
const openers = [
  'Notes on', 'A field guide to', 'What I learned about', 'Getting started with', 'Why I care about',
  'Five mistakes with', 'Revisiting', 'The case for', 'A year of', 'Questions about',
] as const;
/** Each topic brings the tags a writer would give it; a post takes a few of them, in the order drawn. */
const topics: ReadonlyArray<{ topic: string; tags: readonly string[] }> = [
  { topic: 'keyset pagination', tags: ['api-design', 'pagination', 'sql', 'performance'] },
  { topic: 'idempotency keys', tags: ['api-design', 'http', 'reliability', 'payments'] },
  { topic: 'HTTP caching', tags: ['http', 'caching', 'performance', 'cdn'] },
  { topic: 'webhooks', tags: ['api-design', 'events', 'reliability', 'security'] },
  { topic: 'rate limiting', tags: ['api-design', 'security', 'redis', 'performance'] },
  { topic: 'PostgreSQL indexes', tags: ['postgres', 'sql', 'performance', 'databases'] },
  { topic: 'sourdough baking', tags: ['kitchen', 'bread', 'weekend'] },
  { topic: 'woodworking joints', tags: ['woodworking', 'furniture', 'hand-tools'] },
  { topic: 'home coffee', tags: ['kitchen', 'coffee', 'mornings'] },
  { topic: 'balcony gardens', tags: ['outdoor', 'plants', 'city-life'] },
  { topic: 'film photography', tags: ['photography', 'analog', 'travel'] },
  { topic: 'trail running', tags: ['outdoor', 'running', 'weekend'] },
];
const sentences = [
  'It took me longer than I would like to admit to see why this matters.',
  'The short version: measure first, then change one thing at a time.',
  'Most of the trouble came from an assumption nobody had written down.',
  'Here is what worked, what did not, and what I would do differently.',
  'A small checklist helped more than any tool did.',
  'The details matter less than doing it the same way every time.',
  'If you only remember one thing from this post, make it the last section.',
  'I asked around, and almost everyone had a story like this one.',
  'It is cheaper to get this right at the start than to fix it later.',
  'None of this is new, but it is easy to forget under a deadline.',
] as const;
const remarks = [
  'Thanks, this was exactly what I needed.',
  'Great write-up. Do you have numbers for the larger case?',
  'I ran into the same thing last month.',
  'Could you say more about the second point?',
  'Bookmarked for the next time this comes up.',
  'We tried this and went back; happy to share why.',
  'Clear and practical, thank you.',
  'The checklist alone was worth it.',
] as const;

const minuteMs = 60_000;
const dayMs = 24 * 3_600_000;

/** A post and the comments written on it: they load together, the comments after their post. */
export interface SeededPost {
  post: PostRecord;
  comments: CommentRecord[];
}

/** `take` distinct items of `items`, in the order drawn. */
function drawDistinct<T>(random: Random, items: readonly T[], take: number): T[] {
  const left = [...items];
  const drawn: T[] = [];
  while (drawn.length < take && left.length > 0) drawn.push(...left.splice(random.between(0, left.length - 1), 1));
  return drawn;
}

/**
 * `count` posts for `seed` by the given authors, each with its comments. Four in five are published, some hours
 * after they were written; drafts have no comments, and a published post has up to six, by authors from the same
 * list, each written after the post went out.
 */
export function* generatePosts(seed: number, count: number, authorIds: readonly string[]): Generator<SeededPost> {
  if (authorIds.length === 0) throw new Error('posts need at least one seeded user to write them');
  const random = seededRandom(seed, 'posts');
  const nextMoment = moments(random, count);
  for (let n = 1; n <= count; n++) {
    const ms = nextMoment();
    const { topic, tags } = random.pick(topics);
    const paragraphs = Array.from({ length: random.between(1, 4) }, () =>
      drawDistinct(random, sentences, random.between(2, 4)).join(' '),
    );
    const publishedMs = random.chance(0.8) ? ms + random.between(0, 3 * dayMs) : null;
    const stamp = new Date(ms).toISOString();
    const post = buildPost(
      {
        authorId: random.pick(authorIds),
        title: `${random.pick(openers)} ${topic}`,
        body: paragraphs.join('\n\n'),
        tags: drawDistinct(random, tags, random.between(0, 3)),
        publishedAt: publishedMs === null ? null : new Date(publishedMs).toISOString(),
      },
      {
        id: idFromParts('pst', ms, random.bytes(10)),
        version: 1,
        createdAt: stamp,
        updatedAt: new Date(publishedMs ?? ms).toISOString(),
      },
    );
    const comments: CommentRecord[] = [];
    let commentMs = publishedMs ?? ms;
    for (let i = publishedMs === null ? 0 : random.between(0, 6); i > 0; i--) {
      commentMs += random.between(minuteMs, 2 * dayMs);
      const written = new Date(commentMs).toISOString();
      comments.push(
        buildComment(
          { postId: post.id, authorId: random.pick(authorIds), body: random.pick(remarks) },
          { id: idFromParts('cmt', commentMs, random.bytes(10)), version: 1, createdAt: written, updatedAt: written },
        ),
      );
    }
    yield { post, comments };
  }
}

/** Orders come after every seeded user and product exists, over at most this long (so still in the past). */
const ordersStartMs = baseTimeMs + 2 * spreadMs;
const ordersSpreadMs = 300 * dayMs;

/** Where seeded orders got to, drawn with these weights: most arrived, some are on their way, a few went wrong. */
const orderPaths: ReadonlyArray<{ weight: number; actions: readonly OrderAction[] }> = [
  { weight: 8, actions: [] },
  { weight: 10, actions: ['pay'] },
  { weight: 12, actions: ['pay', 'ship'] },
  { weight: 50, actions: ['pay', 'ship', 'deliver'] },
  { weight: 6, actions: ['cancel'] },
  { weight: 4, actions: ['pay', 'cancel'] },
  { weight: 4, actions: ['pay', 'ship', 'deliver', 'return'] },
  { weight: 6, actions: ['pay', 'ship', 'deliver', 'return', 'refund'] },
];
const pathWeights = orderPaths.reduce((sum, path) => sum + path.weight, 0);

/** How long after the step before each action happens, in milliseconds, as [least, most]. */
const actionDelays: Record<OrderAction, [number, number]> = {
  pay: [minuteMs, 2 * 60 * minuteMs],
  cancel: [10 * minuteMs, 2 * dayMs],
  ship: [12 * 60 * minuteMs, 3 * dayMs],
  deliver: [dayMs, 5 * dayMs],
  return: [3 * dayMs, 20 * dayMs],
  refund: [dayMs, 5 * dayMs],
};

function drawPath(random: Random): readonly OrderAction[] {
  let left = random.between(1, pathWeights);
  for (const path of orderPaths) {
    left -= path.weight;
    if (left <= 0) return path.actions;
  }
  return [];
}

/**
 * `count` orders for `seed` by the given customers, of active products from `catalog`. An order keeps to one
 * currency, so its lines are drawn from products priced like its first; each order is then walked through the
 * orders module's own state machine, step timestamps and tracking included. Stock is left as seeded: it stands
 * for what is on the shelf now, after these orders.
 */
export function* generateOrders(
  seed: number,
  count: number,
  customerIds: readonly string[],
  catalog: readonly ProductRecord[],
): Generator<OrderRecord> {
  const active = catalog.filter((product) => product.status === 'active');
  if (customerIds.length === 0 || active.length === 0) {
    throw new Error('orders need at least one seeded user and one active seeded product');
  }
  const byCurrency = Map.groupBy(active, (product) => product.price.currency);
  const random = seededRandom(seed, 'orders');
  const maxStepMs = Math.max(1, Math.floor(ordersSpreadMs / Math.max(count, 1)));
  let ms = ordersStartMs;
  for (let n = 1; n <= count; n++) {
    ms += random.between(1, maxStepMs);
    const first = random.pick(active);
    const sameCurrency = byCurrency.get(first.price.currency) ?? [first];
    const others = drawDistinct(
      random,
      sameCurrency.filter((product) => product.id !== first.id),
      random.chance(0.6) ? 0 : random.between(1, 3),
    );
    const priced = priceLines(
      [first, ...others].map((product) => ({
        productId: product.id,
        productName: product.name,
        quantity: random.chance(0.7) ? 1 : random.between(2, 3),
        unitPrice: product.price,
      })),
    );
    if ('tooLarge' in priced) throw new Error('seeded prices and quantities stay far below the largest amount');
    let order = buildOrder(
      {
        id: idFromParts('ord', ms, random.bytes(10)),
        customerId: random.pick(customerIds),
        createdAt: new Date(ms).toISOString(),
      },
      first.price.currency,
      priced,
    );
    let at = ms;
    for (const action of drawPath(random)) {
      const [least, most] = actionDelays[action];
      at += random.between(least, most);
      const shipment =
        action === 'ship'
          ? {
              carrier: defaultCarrier,
              trackingNumber: `PT${Buffer.from(random.bytes(8)).toString('hex').toUpperCase()}`,
            }
          : undefined;
      order = applyAction(order, action, new Date(at).toISOString(), shipment);
    }
    yield order;
  }
}
