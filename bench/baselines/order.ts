// Baseline for `order-create`: bare Fastify + `node:sqlite` placing a one-line order with the statements Portico
// runs, in one transaction (conditional stock decrement, order, item, outbox row), answering the same JSON.
import { DatabaseSync } from 'node:sqlite';
import Fastify from 'fastify';
import { newId } from '../../src/kernel/ids.ts';

const publicUrl = process.env.PUBLIC_URL ?? '';
const db = new DatabaseSync((process.env.DATABASE_URL ?? '').slice('sqlite:'.length));
// The connection settings Portico's SQLite storage uses (src/storage/sqlite-dialect.ts), so both commit alike. The
// subject's process keeps the same file open (its outbox relay writes to it), so a write may wait its turn.
db.exec('pragma busy_timeout = 5000');
db.exec('pragma journal_mode = wal');
db.exec('pragma synchronous = normal');
db.exec('pragma foreign_keys = on');

const customerStatus = db.prepare('select status from users where id = ?');
const takeStock = db.prepare(
  `update products set stock = stock - ?, version = version + 1, updated_at = ?
   where id = ? and status = 'active' and stock >= ? returning id, name, price_amount, price_currency`,
);
const insertOrder = db.prepare(
  `insert into orders (id, customer_id, status, currency, total_amount, tracking_carrier, tracking_number, version,
   created_at, updated_at) values (?, ?, 'pending', ?, ?, null, null, 1, ?, ?)`,
);
const insertItem = db.prepare(
  `insert into order_items (order_id, position, product_id, product_name, quantity, unit_price_amount)
   values (?, 0, ?, ?, ?, ?)`,
);
const insertEvent = db.prepare(
  `insert into outbox (id, type, aggregate_type, aggregate_id, api_version, payload, created_at, published_at)
   values (?, 'order.created', 'order', ?, 'v1', ?, ?, null)`,
);

interface Taken {
  id: string;
  name: string;
  price_amount: number;
  price_currency: string;
}

const app = Fastify({ logger: false });
app.post('/v1/orders', (request, reply) => {
  const body = request.body as { customerId: string; items: { productId: string; quantity: number }[] };
  const [line] = body.items;
  const customer = customerStatus.get(body.customerId) as { status: string } | undefined;
  if (!line || customer?.status !== 'active') return reply.code(400).send({ error: 'invalid order' });
  const at = new Date();
  const createdAt = at.toISOString();
  const id = newId('ord', at.getTime());
  db.exec('begin immediate');
  try {
    const taken = takeStock.get(line.quantity, createdAt, line.productId, line.quantity) as Taken | undefined;
    if (!taken) {
      db.exec('rollback');
      return reply.code(409).send({ error: 'insufficient stock' });
    }
    const price = { amount: Number(taken.price_amount), currency: taken.price_currency };
    const total = { amount: price.amount * line.quantity, currency: price.currency };
    const order = {
      id,
      customerId: body.customerId,
      status: 'pending',
      items: [
        {
          productId: taken.id,
          productName: taken.name,
          quantity: line.quantity,
          unitPrice: price,
          lineTotal: total,
        },
      ],
      total,
      currency: price.currency,
      tracking: null,
      createdAt,
      updatedAt: createdAt,
      paidAt: null,
      shippedAt: null,
      deliveredAt: null,
      cancelledAt: null,
      returnedAt: null,
      refundedAt: null,
    };
    insertOrder.run(id, body.customerId, price.currency, total.amount, createdAt, createdAt);
    insertItem.run(id, taken.id, taken.name, line.quantity, price.amount);
    insertEvent.run(newId('evt', at.getTime()), id, JSON.stringify(order), createdAt);
    db.exec('commit');
    const self = `${publicUrl}/v1/orders/${id}`;
    reply.code(201).header('location', self);
    return {
      ...order,
      _links: {
        self: { href: self },
        collection: { href: `${publicUrl}/v1/orders` },
        customer: { href: `${publicUrl}/v1/users/${body.customerId}`, title: 'The customer' },
        pay: { href: `${self}/pay`, method: 'POST', title: 'Pay for this order' },
        cancel: { href: `${self}/cancel`, method: 'POST', title: 'Cancel this order (a paid order is refunded)' },
      },
    };
  } catch (error) {
    db.exec('rollback');
    throw error;
  }
});
app.get('/healthz', async () => ({ status: 'ok' }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
