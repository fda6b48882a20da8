// The `portico` command line, run for real as a child process on temporary SQLite databases: usage errors, config
// errors, migrate, deterministic seeding, users create, and serve with its first start and graceful shutdown.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { migrationNames } from '../src/storage/migrate.ts';
import { cliEnv, mainTs, runCli } from './cli-runner.ts';
import { client, freePort } from './helpers.ts';

const tempDirs: string[] = [];
after(() => Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** A fresh SQLite file in its own temporary directory. */
async function tempDatabase(): Promise<{ path: string; url: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-cli-'));
  tempDirs.push(dir);
  const path = join(dir, 'portico.sqlite');
  return { path, url: `sqlite:${path}` };
}

const linesOf = (text: string) => text.split('\n').filter((line) => line.length > 0);

/** How to put a table's rows in a stable order, where it has no `id`. */
const orderOf: Record<string, string> = { outbox: 'position', order_items: '1, 2', post_tags: '1, 2' };

function tableRows(path: string, table: string): Record<string, unknown>[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db
      .prepare(`select * from ${table} order by ${orderOf[table] ?? 'id'}`)
      .all()
      .map((row) => ({ ...row }));
  } finally {
    db.close();
  }
}

describe('usage and configuration errors', () => {
  test('a bad PORT stops the command with exit code 1 and exactly one stderr line naming PORT', async () => {
    const { url } = await tempDatabase();
    const result = await runCli(['serve'], { DATABASE_URL: url, PORT: 'eighty' }, { bin: true });
    assert.equal(result.code, 1);
    const lines = linesOf(result.stderr);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] ?? '', /PORT/);
    assert.doesNotMatch(result.stderr, /\bat .+:\d+:\d+/, 'no stack trace');
  });

  test('port 0 on an address this machine does not have is one line naming the address, exit 1', async () => {
    const { url } = await tempDatabase();
    const result = await runCli(['serve', '--host', '192.0.2.1', '--port', '0'], { DATABASE_URL: url }, { bin: true });
    assert.equal(result.code, 1);
    assert.deepEqual(linesOf(result.stderr), [
      'portico: cannot listen on 192.0.2.1:0: the address is not available on this machine; check --host or HOST',
    ]);
  });

  test('an unknown command exits with code 2 and one stderr line', async () => {
    const result = await runCli(['frobnicate'], {});
    assert.equal(result.code, 2);
    assert.equal(linesOf(result.stderr).length, 1, result.stderr);
    assert.match(result.stderr, /unknown command 'frobnicate'/);
  });

  test('an unknown option or a bad value exits with code 2 and one line', async () => {
    const { url } = await tempDatabase();
    const cases: Array<[string[], RegExp]> = [
      [['serve', '--verbose'], /unknown option '--verbose'/],
      [['serve', '--port', '70000'], /--port must be a whole number/],
      [['serve', '--tls', 'letsencrypt'], /--tls must be 'self-signed', got 'letsencrypt'/],
      [['seed', '--orders', '5', '--users', '0'], /need users to write and place them/],
      [['seed', '--orders', '5', '--products', '0'], /--orders needs products/],
      [['seed', '--products', '-3'], /./],
      [['users', 'create', '--email', 'ada@example.com', '--password', 'short'], /--password: .*8 to 256 characters/],
      [['users', 'create', '--email', 'not-an-email'], /email/],
      [['users', 'create', '--email', 'ada@example.com', '--role', 'owner'], /role must be one of: admin, customer/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args, { DATABASE_URL: url })));
    results.forEach((result, i) => {
      const [args, message] = cases[i] ?? [[], /./];
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(linesOf(result.stderr).length, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    });
    assert.equal(existsSync(url.slice('sqlite:'.length)), false, 'a refused command opens no database');
  });

  test('--help and a bare command print the usage', async () => {
    const help = await runCli(['--help'], {});
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: portico <command>/);
    const bare = await runCli([], {});
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /Usage: portico <command>/);
  });
});

describe('migrate', () => {
  test('migrate applies the migrations once, and a second run says the database is up to date', async () => {
    const { url } = await tempDatabase();
    const first = await runCli(['migrate'], { DATABASE_URL: url });
    assert.equal(first.code, 0, first.stderr);
    for (const name of migrationNames) assert.match(first.stdout, new RegExp(`${name}`));
    const second = await runCli(['migrate'], { DATABASE_URL: url });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /up to date/);
    assert.doesNotMatch(second.stdout, /Applied/);
  });
});

describe('seed', () => {
  test('the same --seed writes identical rows into two fresh databases, and another seed writes different ones', async () => {
    const [a, b, c] = await Promise.all([tempDatabase(), tempDatabase(), tempDatabase()]);
    const args = ['seed', '--seed', '7', '--users', '30', '--products', '600', '--orders', '80', '--posts', '20'];
    const [runA, runB, runC] = await Promise.all([
      runCli(args, { DATABASE_URL: a.url }),
      // Through the bin on a Node that cannot strip types: the bin hands over to the pinned Node.
      runCli(args, { DATABASE_URL: b.url }, { bin: true, nodeFlags: ['--no-experimental-strip-types'] }),
      runCli(['seed', '--seed', '8', '--users', '30', '--products', '600'], { DATABASE_URL: c.url }),
    ]);
    for (const run of [runA, runB, runC]) assert.equal(run.code, 0, run.stderr);
    assert.match(runA.stdout, /Seeded 30 users, 600 products, 20 posts and 80 orders with seed 7/);

    const usersA = tableRows(a.path, 'users');
    const productsA = tableRows(a.path, 'products');
    assert.equal(usersA.length, 30);
    assert.equal(productsA.length, 600);
    assert.equal(tableRows(a.path, 'orders').length, 80);
    assert.equal(tableRows(a.path, 'posts').length, 20);
    for (const table of ['users', 'products', 'orders', 'order_items', 'posts', 'post_tags', 'comments']) {
      assert.deepEqual(tableRows(b.path, table), tableRows(a.path, table), `${table} differ`);
    }
    const statuses = new Set(tableRows(a.path, 'orders').map((order) => order.status));
    for (const status of ['pending', 'paid', 'shipped', 'delivered']) assert.ok(statuses.has(status), status);
    assert.deepEqual(tableRows(a.path, 'outbox'), [], 'seeding is bulk loading and emits no events');

    const productsC = tableRows(c.path, 'products');
    const usersC = tableRows(c.path, 'users');
    assert.equal(productsC.length, 600);
    const idsA = new Set([...usersA, ...productsA].map((row) => row.id));
    assert.equal([...usersC, ...productsC].filter((row) => idsA.has(row.id)).length, 0, 'no id in common');
    assert.notDeepEqual(
      productsC.map(({ id, ...rest }) => rest),
      productsA.map(({ id, ...rest }) => rest),
    );
  });

  test('seeding the same seed twice into one database fails with exit code 1 and changes nothing', async () => {
    const { url, path } = await tempDatabase();
    const args = ['seed', '--seed', '3', '--users', '5', '--products', '20'];
    assert.equal((await runCli(args, { DATABASE_URL: url })).code, 0);
    const again = await runCli(args, { DATABASE_URL: url });
    assert.equal(again.code, 1);
    assert.match(linesOf(again.stderr).at(-1) ?? '', /seed 3 has already written rows/);
    assert.equal(tableRows(path, 'products').length, 20);
  });
});

describe('users create', () => {
  test('users create prints the user as the API represents it, and a duplicate email fails with exit code 1', async () => {
    const { url, path } = await tempDatabase();
    const created = await runCli(['users', 'create', '--email', 'Grace@Example.com', '--role', 'admin'], {
      DATABASE_URL: url,
    });
    assert.equal(created.code, 0, created.stderr);
    const user = JSON.parse(created.stdout);
    assert.match(user.id, /^usr_[0-9a-z]{26}$/);
    assert.equal(user.email, 'Grace@Example.com');
    assert.equal(user.role, 'admin');
    assert.equal(user.name, 'Grace', 'the name defaults to the part before @');
    assert.equal(user.status, 'active');
    assert.equal(user.location, null);
    assert.match(user._links.self.href, new RegExp(`/v1/users/${user.id}$`));
    assert.equal(tableRows(path, 'outbox').length, 1, 'a created user is domain activity: one user.created event');

    const duplicate = await runCli(['users', 'create', '--email', 'grace@example.com'], { DATABASE_URL: url });
    assert.equal(duplicate.code, 1);
    assert.equal(linesOf(duplicate.stderr).length, 1, duplicate.stderr);
    assert.match(duplicate.stderr, /already exists/);
    assert.equal(tableRows(path, 'users').length, 1);
  });
});

interface Served {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
  /** Resolves with the first line (seen or to come) that matches; rejects if the process exits first. */
  waitFor(match: (line: string) => boolean, what: string): Promise<string>;
}

const running = new Set<ChildProcess>();
// A failed assertion must not leave a server behind to keep the test run alive.
after(() => {
  for (const child of running) child.kill('SIGKILL');
});

function serve(env: Record<string, string>): Served {
  const child = spawn(process.execPath, [mainTs, 'serve'], { env: cliEnv(env) });
  running.add(child);
  child.on('exit', () => running.delete(child));
  const lines: string[] = [];
  const waiters: Array<{ match: (line: string) => boolean; resolve: (line: string) => void }> = [];
  let buffered = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.match(line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    waitFor(match, what) {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        void exited.then((code) =>
          reject(new Error(`exited (${code}) before ${what}\n${lines.join('\n')}\n${stderr}`)),
        );
      });
    },
  };
}

const logMessage = (line: string): string | null => {
  try {
    return (JSON.parse(line) as { msg?: string }).msg ?? null;
  } catch {
    return null;
  }
};

/** A POST whose body arrives in two halves: the server has it in hand, unfinished, until `finish()`. */
function slowPost(url: string, body: unknown, secretKey?: string) {
  const text = JSON.stringify(body);
  const half = Math.floor(text.length / 2);
  const req = httpRequest(url, {
    method: 'POST',
    agent: false,
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...(secretKey ? { authorization: `Bearer ${secretKey}` } : {}),
    },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      let data = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        data += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
  });
  req.write(text.slice(0, half));
  return { response, finish: () => req.end(text.slice(half)) };
}

describe('serve', () => {
  let database: { path: string; url: string };
  let port: number;
  const inFlight = 12;

  before(async () => {
    database = await tempDatabase();
    port = await freePort();
  });

  test('the first start on a fresh database seeds the demo set, prints the URLs and serves the API and docs', async () => {
    const server = serve({ DATABASE_URL: database.url, PORT: String(port) });
    try {
      await server.waitFor((line) => line.includes('Portico is listening'), 'listening');
      const base = `http://127.0.0.1:${port}`;
      const output = server.lines.join('\n');
      assert.match(output, /First start: seeded a demo set/);
      for (const path of ['/', '/docs', '/v1/openapi.json', '/healthz'])
        assert.ok(output.includes(`${base}${path}`), path);

      const api = client(base);
      const apiRoot = await api('GET', '/');
      assert.equal(apiRoot.status, 200);
      assert.ok(apiRoot.body._links.products);
      const docs = await api('GET', '/docs');
      assert.equal(docs.status, 200);
      assert.match(docs.headers.get('content-type') ?? '', /text\/html/);
      const products = await api('GET', '/v1/products?limit=100');
      assert.ok(products.body.data.length > 0, 'the demo set has products');
      const credentials = /Demo admin: email (\S+) {2}password (\S+)/.exec(output);
      assert.ok(credentials, 'the first start prints the demo credentials');
      const signedIn = await api('POST', '/v1/auth/tokens', {
        body: { email: credentials[1], password: credentials[2] },
      });
      assert.equal(signedIn.status, 200, signedIn.text);
      const users = await api('GET', '/v1/users?limit=100', {
        headers: { authorization: `Bearer ${signedIn.body.accessToken}` },
      });
      assert.ok(
        users.body.data.some((user: { role: string }) => user.role === 'admin'),
        'the demo set has an admin',
      );
    } finally {
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0);
    }
  });

  test('SIGTERM stops new connections, lets every in-flight request finish, closes the database and exits 0', async () => {
    const before = tableRows(database.path, 'products').length;
    const admin = tableRows(database.path, 'users').find((user) => user.role === 'admin');
    const issued = await runCli(['keys', 'create', '--email', String(admin?.email)], { DATABASE_URL: database.url });
    assert.equal(issued.code, 0, issued.stderr);
    const secretKey = issued.stdout.trim().split('\n').at(-1) ?? '';
    const server = serve({ DATABASE_URL: database.url, PORT: String(port), LOG_LEVEL: 'info' });
    await server.waitFor((line) => line.includes('Portico is listening'), 'listening');
    const base = `http://127.0.0.1:${port}`;
    const posts = Array.from({ length: inFlight }, (_, i) =>
      slowPost(
        `${base}/v1/products`,
        { name: `In flight ${i}`, category: 'test', price: { amount: 100, currency: 'EUR' } },
        secretKey,
      ),
    );
    let incoming = 0;
    await server.waitFor((line) => logMessage(line) === 'incoming request' && ++incoming === inFlight, 'requests');

    server.child.kill('SIGTERM');
    await server.waitFor((line) => logMessage(line)?.startsWith('Shutdown: SIGTERM received') ?? false, 'shutdown');
    await assert.rejects(fetch(`${base}/healthz`), 'a new connection is refused while shutting down');

    for (const post of posts) post.finish();
    const responses = await Promise.all(posts.map((post) => post.response));
    assert.deepEqual(
      responses.map((r) => r.status),
      Array(inFlight).fill(201),
    );
    assert.equal(await server.exited, 0);
    const messages = server.lines.map(logMessage);
    assert.ok(messages.some((m) => m?.includes('in-flight requests finished')));
    assert.ok(messages.some((m) => m?.includes('database closed')));

    const wal = `${database.path}-wal`;
    assert.ok(!existsSync(wal) || statSync(wal).size === 0, 'the WAL was checkpointed when the database closed');
    assert.equal(tableRows(database.path, 'products').length, before + inFlight, 'every accepted write committed');
  });

  test('port 0 listens on a free port, and the links the API writes name that port', async () => {
    const server = serve({ DATABASE_URL: database.url, PORT: '0' });
    try {
      const line = await server.waitFor((each) => each.includes('Portico is listening'), 'listening');
      const listening = /listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
      assert.ok(listening, line);
      assert.notEqual(listening[2], '0');
      assert.ok(
        server.lines.some((each) => each.includes(`API root   ${listening[1]}/`)),
        server.lines.join('\n'),
      );
      const root = await client(listening[1] as string)('GET', '/');
      assert.equal(root.body._links.self.href, `${listening[1]}/`);
    } finally {
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0);
    }
  });

  test('a second start on the same database does not seed again, and a second signal forces exit code 1', async () => {
    const before = tableRows(database.path, 'products').length;
    const server = serve({ DATABASE_URL: database.url, PORT: String(port), LOG_LEVEL: 'info' });
    await server.waitFor((line) => line.includes('Portico is listening'), 'listening');
    assert.ok(!server.lines.some((line) => line.includes('First start')), server.lines.join('\n'));

    // Its body never completes, so it never gets as far as authentication.
    const stuck = slowPost(`http://127.0.0.1:${port}/v1/products`, { name: 'Never finished' });
    stuck.response.catch(() => {});
    await server.waitFor((line) => logMessage(line) === 'incoming request', 'the stuck request');
    server.child.kill('SIGTERM');
    await server.waitFor((line) => logMessage(line)?.startsWith('Shutdown: SIGTERM received') ?? false, 'shutdown');
    server.child.kill('SIGINT');
    assert.equal(await server.exited, 1);
    assert.equal(tableRows(database.path, 'products').length, before);
  });
});
