// Passwords: `portico users create --password`, the demo admin's password, and how passwords are kept; on every
// storage.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { usersCommand } from '../src/cli/users.ts';
import { setPassword } from '../src/modules/identity/accounts/index.ts';
import { usersService } from '../src/modules/users/index.ts';
import { demoAdmin, demoAdminPassword, seedDemo } from '../src/seed/seed.ts';
import { client, expectEnvelope, startServer, storageKinds, testDatabase } from './helpers.ts';

const password = 'correct horse battery staple';

async function runUsers(args: string[], databaseUrl: string) {
  const lines: string[] = [];
  await usersCommand(args, {
    env: { DATABASE_URL: databaseUrl },
    stdout: (line) => lines.push(line),
    stderr: () => {},
  });
  return lines.join('\n');
}

for (const kind of storageKinds()) {
  describe(`passwords (${kind})`, () => {
    test('a user created with `users create --password` signs in with it, and only with it', async () => {
      const database = await testDatabase(kind);
      try {
        const printed = JSON.parse(
          await runUsers(['create', '--email', 'Grace@Example.com', '--password', password], database.url),
        );
        assert.equal(printed.password, undefined, 'the password is not printed');
        assert.equal(JSON.stringify(printed).includes(password), false);
        const server = await startServer({ databaseUrl: database.url });
        try {
          const api = client(server.url);
          const signedIn = await api('POST', '/v1/auth/tokens', { body: { email: 'grace@example.com', password } });
          assert.equal(signedIn.status, 200, signedIn.text);
          const wrong = await api('POST', '/v1/auth/tokens', {
            body: { email: 'grace@example.com', password: `${password} ` },
          });
          expectEnvelope(wrong, 401, 'AUTHENTICATION_REQUIRED');

          const stored = await sql<{ password_hash: string }>`select password_hash from users`.execute(
            server.storage.db,
          );
          const hash = stored.rows[0]?.password_hash ?? '';
          assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
          assert.equal(hash.includes(password), false);
        } finally {
          await server.close();
        }
      } finally {
        await database.drop();
      }
    });

    test('a user created without --password cannot sign in with any password', async () => {
      const database = await testDatabase(kind);
      try {
        await runUsers(['create', '--email', 'nopass@example.com'], database.url);
        const server = await startServer({ databaseUrl: database.url });
        try {
          const api = client(server.url);
          for (const tried of ['wrong', ' ', password]) {
            const response = await api('POST', '/v1/auth/tokens', {
              body: { email: 'nopass@example.com', password: tried },
            });
            expectEnvelope(response, 401, 'AUTHENTICATION_REQUIRED');
          }
        } finally {
          await server.close();
        }
      } finally {
        await database.drop();
      }
    });

    test('the demo set gives its admin the printed password, and the admin signs in as admin', async () => {
      const server = await startServer({ storage: kind });
      try {
        assert.equal(await seedDemo(server.storage), true);
        const api = client(server.url);
        const signedIn = await api('POST', '/v1/auth/tokens', {
          body: { email: demoAdmin().email, password: demoAdminPassword },
        });
        assert.equal(signedIn.status, 200, signedIn.text);
        const claims = JSON.parse(Buffer.from(signedIn.body.accessToken.split('.')[1], 'base64url').toString());
        assert.equal(claims.role, 'admin');
        assert.equal(claims.sub, demoAdmin().id);
      } finally {
        await server.close();
      }
    });

    test('setting a password shorter than 8 characters is refused and keeps the old one', async () => {
      const server = await startServer({ storage: kind });
      try {
        const user = await usersService(server.storage, () => new Date()).create({ email: 'a@example.com', name: 'A' });
        await setPassword(server.storage.db, user.id, password);
        await assert.rejects(setPassword(server.storage.db, user.id, 'short'), { code: 'VALIDATION_ERROR' });
        const api = client(server.url);
        assert.equal(
          (await api('POST', '/v1/auth/tokens', { body: { email: 'a@example.com', password } })).status,
          200,
        );
      } finally {
        await server.close();
      }
    });
  });
}
