// Batch create: up to 100 items in one transaction, all or nothing, with errors that name the item.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { client, expectEnvelope, startServer, storageKinds, type TestServer } from './helpers.ts';

const product = (name: string, currency = 'EUR') => ({
  name,
  category: 'desks',
  price: { amount: 1000, currency },
  stock: 5,
});
const user = (email: string) => ({ email, name: email.split('@')[0] });

for (const kind of storageKinds()) {
  describe(`batch create on ${kind}`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer({ storage: kind });
    });
    after(() => server.close());
    const api = () => client(server);
    const count = async (path: string) =>
      (await api()('GET', `${path}?page=1&perPage=1`)).body.pagination.total as number;
    const events = async (type: string) =>
      (
        await server.storage.db
          .withTables<{ outbox: { type: string } }>()
          .selectFrom('outbox')
          .select('type')
          .where('type', '=', type)
          .execute()
      ).length;

    test('a batch of users is created whole, answered in the order of the items, each with its event', async () => {
      const before = await events('user.created');
      const emails = ['batch.a@example.com', 'batch.b@example.com', 'batch.c@example.com'];
      const response = await api()('POST', '/v1/users/batch', { body: { items: emails.map(user) } });
      assert.equal(response.status, 201);
      assert.deepEqual(
        response.body.data.map((created: { email: string }) => created.email),
        emails,
      );
      for (const created of response.body.data) {
        assert.equal((await api()('GET', `/v1/users/${created.id}`)).body.email, created.email);
      }
      assert.equal((await events('user.created')) - before, 3);
    });

    test('one invalid item refuses the whole batch with 400 naming the item, and creates nothing', async () => {
      const before = await count('/v1/users');
      const response = await api()('POST', '/v1/users/batch', {
        body: { items: [user('ok.1@example.com'), user('ok.2@example.com'), { email: 'not-an-email', name: 'Bad' }] },
      });
      const error = expectEnvelope(response, 400, 'VALIDATION_ERROR');
      assert.equal(error.details[0].field, 'items.2.email');
      assert.equal(await count('/v1/users'), before);
    });

    test('two items with one email in other case refuse the batch with 409 on the second, and create nothing', async () => {
      const before = await count('/v1/users');
      const response = await api()('POST', '/v1/users/batch', {
        body: { items: [user('twin@example.com'), user('TWIN@example.com')] },
      });
      const error = expectEnvelope(response, 409, 'CONFLICT');
      assert.equal(error.details[0].field, 'items.1.email');
      assert.equal(await count('/v1/users'), before);
    });

    test('an item that conflicts with an existing user refuses the batch and creates nothing', async () => {
      await api()('POST', '/v1/users', { body: user('taken@example.com') });
      const before = await count('/v1/users');
      const response = await api()('POST', '/v1/users/batch', {
        body: { items: [user('fresh@example.com'), user('taken@example.com')] },
      });
      assert.equal(expectEnvelope(response, 409, 'CONFLICT').details[0].field, 'items.1.email');
      assert.equal(await count('/v1/users'), before);
    });

    test('a product batch with an unknown currency in one item creates none of them, and writes no event', async () => {
      const before = [await count('/v1/products'), await events('product.created')];
      const response = await api()('POST', '/v1/products/batch', {
        body: { items: [product('Desk A'), product('Desk B', 'XYZ')] },
      });
      assert.equal(expectEnvelope(response, 400, 'VALIDATION_ERROR').details[0].field, 'items.1.price.currency');
      assert.deepEqual([await count('/v1/products'), await events('product.created')], before);
    });

    test('a batch of 100 products is created, and one of 101 is refused', async () => {
      const hundred = Array.from({ length: 100 }, (_, i) => product(`Chair ${i}`));
      const created = await api()('POST', '/v1/products/batch', { body: { items: hundred } });
      assert.equal(created.status, 201);
      assert.equal(created.body.data.length, 100);
      const before = await count('/v1/products');
      const tooMany = await api()('POST', '/v1/products/batch', { body: { items: [...hundred, product('One more')] } });
      assert.equal(expectEnvelope(tooMany, 400, 'VALIDATION_ERROR').details[0].code, 'TOO_MANY_ITEMS');
      assert.equal(await count('/v1/products'), before);
    });

    test('an empty batch, a batch that is not a list, and unknown fields in an item are refused with 400', async () => {
      expectEnvelope(await api()('POST', '/v1/products/batch', { body: { items: [] } }), 400, 'VALIDATION_ERROR');
      expectEnvelope(
        await api()('POST', '/v1/products/batch', { body: { items: product('X') } }),
        400,
        'VALIDATION_ERROR',
      );
      const unknown = await api()('POST', '/v1/users/batch', {
        body: { items: [{ ...user('x@example.com'), admin: true }] },
      });
      assert.deepEqual(expectEnvelope(unknown, 400, 'VALIDATION_ERROR').details[0], {
        field: 'items.0.admin',
        code: 'UNKNOWN_FIELD',
        message: 'items.0.admin is not a field that can be set here.',
      });
    });
  });
}
