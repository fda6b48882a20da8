// Baseline for the product scenarios: bare Fastify reading one row by primary key and returning the representation
// Portico returns, written by hand: `node:sqlite` for sqlite: URLs, a `pg` pool for postgres: URLs.
import { DatabaseSync } from 'node:sqlite';
import Fastify from 'fastify';
import pg from 'pg';

const databaseUrl = process.env.DATABASE_URL ?? '';
const publicUrl = process.env.PUBLIC_URL ?? '';

interface Row {
  id: string;
  name: string;
  description: string | null;
  category: string;
  price_amount: number | string;
  price_currency: string;
  stock: number;
  status: string;
  created_at: string | Date;
  updated_at: string | Date;
}

const iso = (value: string | Date) => (value instanceof Date ? value.toISOString() : value);

function represent(row: Row) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    category: row.category,
    price: { amount: Number(row.price_amount), currency: row.price_currency },
    stock: row.stock,
    status: row.status,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    _links: { self: { href: `${publicUrl}/v1/products/${row.id}` }, collection: { href: `${publicUrl}/v1/products` } },
  };
}

let find: (id: string) => Promise<Row | undefined>;
if (databaseUrl.startsWith('sqlite:')) {
  const db = new DatabaseSync(databaseUrl.slice('sqlite:'.length));
  const statement = db.prepare('select * from products where id = ?');
  find = async (id) => statement.get(id) as Row | undefined;
} else {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  find = async (id) => (await pool.query<Row>('select * from products where id = $1', [id])).rows[0];
}

const app = Fastify({ logger: false });
app.get('/v1/products/:id', async (request, reply) => {
  const row = await find((request.params as { id: string }).id);
  if (!row) return reply.code(404).send({ error: 'not found' });
  return represent(row);
});
app.get('/healthz', async () => ({ status: 'ok' }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
