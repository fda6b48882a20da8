// Secrets at rest: after a password, refresh tokens, API keys (created and rolled), an OAuth client secret and
// its tokens have all been issued and used, neither the SQLite file (with its write-ahead log) nor any row of the
// PostgreSQL schema holds one of them in plain text.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { sql } from 'kysely';
import { setPassword } from '../src/modules/identity/accounts/index.ts';
import { client, type StorageKind, startServer, storageKinds, type TestServer } from './helpers.ts';

/** Issues one of every kind of secret through the API and answers them all. */
async function issueSecrets(server: TestServer): Promise<string[]> {
  const api = client(server);
  const password = 'correct horse battery staple';
  const email = `secret-${Date.now()}@example.com`;
  const user = await api('POST', '/v1/users', { body: { email, name: 'Keeper' } });
  assert.equal(user.status, 201, user.text);
  await setPassword(server.storage.db, user.body.id, password);

  const signedIn = await api('POST', '/v1/auth/tokens', { body: { email, password }, headers: { authorization: '' } });
  assert.equal(signedIn.status, 200, signedIn.text);
  const refreshed = await api('POST', '/v1/auth/tokens/refresh', {
    body: { refreshToken: signedIn.body.refreshToken },
    headers: { authorization: '' },
  });
  assert.equal(refreshed.status, 200, refreshed.text);

  const key = await api('POST', '/v1/api-keys', { body: { ownerId: user.body.id } });
  assert.equal(key.status, 201, key.text);
  const rolled = await api('POST', `/v1/api-keys/${key.body.id}/roll`, { body: {} });
  assert.ok(rolled.status === 200 || rolled.status === 201, rolled.text);
  const used = await api('GET', `/v1/users/${user.body.id}`, { headers: { 'x-api-key': rolled.body.secret } });
  assert.equal(used.status, 200, used.text);

  const oauthClient = await api('POST', '/v1/oauth-clients', {
    body: { name: 'Backend', grantTypes: ['client_credentials'], scopes: ['products:read'] },
  });
  assert.equal(oauthClient.status, 201, oauthClient.text);
  const { id: clientId, clientSecret } = oauthClient.body;
  const token = await fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: {
      // RFC 6749 §2.3.1: each part form-encoded before the pair is base64-encoded.
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials&scope=products:read',
  });
  const tokenBody = (await token.json()) as { access_token?: string };
  assert.equal(token.status, 200, JSON.stringify(tokenBody));

  return [
    password,
    signedIn.body.refreshToken,
    refreshed.body.refreshToken,
    key.body.secret,
    rolled.body.secret,
    clientSecret,
    String(tokenBody.access_token),
  ];
}

/** Every table's rows as text, for PostgreSQL, which keeps no single file to read. */
async function allRowsAsText(server: TestServer): Promise<string> {
  const tables = await sql<{ table_name: string }>`
    select table_name from information_schema.tables where table_schema = current_schema()`.execute(server.storage.db);
  const dumps = await Promise.all(
    tables.rows.map(async ({ table_name }) =>
      JSON.stringify((await sql`select * from ${sql.table(table_name)}`.execute(server.storage.db)).rows),
    ),
  );
  return dumps.join('\n');
}

async function sqliteFiles(server: TestServer): Promise<string> {
  await sql`pragma wal_checkpoint(TRUNCATE)`.execute(server.storage.db);
  const path = server.config.databaseUrl.replace(/^sqlite:/, '');
  const parts = await Promise.all([path, `${path}-wal`].map((file) => readFile(file).catch(() => Buffer.alloc(0))));
  return Buffer.concat(parts).toString('latin1');
}

for (const kind of storageKinds()) {
  test(`no password, refresh token, API key, client secret or OAuth token is stored in plain text (${kind})`, async () => {
    const server = await startServer({ storage: kind as StorageKind });
    try {
      const secrets = await issueSecrets(server);
      const stored = kind === 'sqlite' ? await sqliteFiles(server) : await allRowsAsText(server);
      assert.ok(stored.includes('Keeper'), 'the scan reads the data the API wrote');
      for (const secret of secrets) {
        assert.ok(secret.length >= 20, 'each secret is long enough to be told apart');
        assert.ok(!stored.includes(secret), `a secret beginning ${secret.slice(0, 8)} is stored in plain text`);
      }
    } finally {
      await server.close();
    }
  });
}
