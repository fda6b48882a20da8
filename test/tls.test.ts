// TLS and HTTP/2 on the real server (src/edge/tls.ts, src/edge/security-headers.ts): h2 by ALPN and HTTP/1.1 on the
// same port, TLS 1.2+ and AEAD suites only, HSTS and the security headers, the API's behaviours over h2, a plain-HTTP
// request to the TLS port, and `portico serve --tls self-signed` with its redirect listener.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { access, readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect as http2Connect, type IncomingHttpHeaders } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { type DevCertificate, makeDevCertificate } from '../src/cli/dev-certificate.ts';
import { oauthClientsCommand } from '../src/cli/oauth-clients.ts';
import { setPassword } from '../src/modules/identity/accounts/index.ts';
import { usersService } from '../src/modules/users/index.ts';
import { cliEnv, mainTs, runCli } from './cli-runner.ts';
import { freePort, startServer, storageKinds, type TestServer, testDatabase } from './helpers.ts';

const execFileAsync = promisify(execFile);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One HTTP/1.1 request over TLS, trusting only the given certificate. */
function https1(url: string, ca: Buffer, options: { method?: string; headers?: Record<string, string> } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const request = httpsRequest(url, { ca, agent: false, method: options.method ?? 'GET', headers: options.headers });
    request.on('error', reject);
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text }));
    });
    request.end();
  });
}

/** One HTTP/2 request on a session of its own, trusting only the given certificate. */
async function h2(
  base: string,
  ca: Buffer,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer & { headers: IncomingHttpHeaders }> {
  const session = http2Connect(base, { ca });
  try {
    const stream = session.request({ ':method': options.method ?? 'GET', ':path': path, ...options.headers });
    stream.end(options.body);
    const [headers] = (await once(stream, 'response')) as [IncomingHttpHeaders];
    let text = '';
    stream.setEncoding('utf8');
    for await (const chunk of stream) text += chunk;
    return { status: Number(headers[':status']), headers, text };
  } finally {
    session.close();
  }
}

async function curl(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('curl', ['--silent', '--show-error', '--max-time', '20', ...args]);
  return stdout;
}

/** Completes a TLS handshake with the given client limits, or rejects with the error code the client saw. */
function handshake(port: number, options: ConnectionOptions): Promise<{ protocol: string | null; cipher: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ...options });
    socket.once('secureConnect', () => {
      resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().name });
      socket.end();
    });
    socket.once('error', reject);
  });
}

const inlineScripts = (html: string) =>
  [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((match) => match[1] ?? '');
const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

function expectSecurityHeaders(answer: Answer, what: string): void {
  assert.equal(answer.headers['x-content-type-options'], 'nosniff', what);
  assert.equal(answer.headers['x-frame-options'], 'DENY', what);
  assert.equal(answer.headers['referrer-policy'], 'no-referrer', what);
  assert.equal(answer.headers['x-powered-by'], undefined, what);
  assert.ok(answer.headers['content-security-policy'], `${what}: a Content-Security-Policy`);
}

const hsts = 'max-age=31536000; includeSubDomains';

/** helmet's fields for pages a browser renders; a JSON answer goes without them (security-headers.ts rule 2). */
const documentFields = {
  'cross-origin-opener-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

function expectDocumentFields(answer: Answer, what: string, present: boolean): void {
  for (const [name, value] of Object.entries(documentFields)) {
    assert.equal(answer.headers[name], present ? value : undefined, `${what}: ${name}`);
  }
}

for (const kind of storageKinds()) {
  describe(`TLS and HTTP/2 (${kind})`, () => {
    let certificate: DevCertificate;
    let ca: Buffer;
    let server: TestServer;
    let port: number;

    before(async () => {
      certificate = await makeDevCertificate();
      ca = await readFile(certificate.certFile);
      server = await startServer({
        storage: kind,
        env: {
          TLS_CERT_FILE: certificate.certFile,
          TLS_KEY_FILE: certificate.keyFile,
          CORS_ORIGINS: 'https://app.example.com',
        },
      });
      port = Number(new URL(server.url).port);
    });
    after(async () => {
      await server.close();
      await certificate.remove();
    });

    test('curl --http2 negotiates h2 and curl --http1.1 works on the same port', async () => {
      assert.match(server.url, /^https:\/\//);
      const format = ['--write-out', '%{http_version} %{http_code}', '--output', '/dev/null'];
      const auth = ['--header', `authorization: ${server.admin.headers.authorization}`];
      assert.equal(
        await curl(['--http2', '--cacert', certificate.certFile, ...format, `${server.url}/healthz`]),
        '2 200',
      );
      assert.equal(
        await curl(['--http1.1', '--cacert', certificate.certFile, ...format, `${server.url}/healthz`]),
        '1.1 200',
      );
      assert.equal(await curl(['--http2', '-k', ...format, ...auth, `${server.url}/v1/users`]), '2 200');
      assert.equal(await curl(['--http1.1', '-k', ...format, ...auth, `${server.url}/v1/users`]), '1.1 200');
    });

    test('TLS 1.2 with an AEAD suite and TLS 1.3 are accepted; ALPN picks h2 when offered and HTTP/1.1 otherwise', async () => {
      const tls12 = await handshake(port, {
        ca,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256',
      });
      assert.deepEqual(tls12, { protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
      assert.equal((await handshake(port, { ca })).protocol, 'TLSv1.3');
      const alpn = (protocols: string[]) =>
        new Promise<string | false>((resolve, reject) => {
          const socket = tlsConnect({ host: '127.0.0.1', port, ca, ALPNProtocols: protocols });
          socket.once('secureConnect', () => {
            resolve(socket.alpnProtocol ?? false);
            socket.end();
          });
          socket.once('error', reject);
        });
      assert.equal(await alpn(['h2', 'http/1.1']), 'h2');
      assert.equal(await alpn(['http/1.1']), 'http/1.1');
    });

    test('TLS 1.1 is refused by the server, and so is a TLS 1.2 CBC suite', async () => {
      // SECLEVEL=0 lets this client offer what a modern client would not, so the refusal is the server's.
      await assert.rejects(
        handshake(port, { ca, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
        { code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' },
      );
      for (const cbc of ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES128-SHA']) {
        await assert.rejects(handshake(port, { ca, maxVersion: 'TLSv1.2', ciphers: cbc }), {
          message: /alert handshake failure/,
        });
      }
      assert.equal((await https1(`${server.url}/healthz`, ca)).status, 200, 'the server still serves');
    });

    test('a plain-HTTP request to the TLS port is not served, closes, and the server keeps serving', async () => {
      const socket = netConnect({ host: '127.0.0.1', port });
      let received = '';
      socket.setEncoding('latin1').on('data', (chunk: string) => {
        received += chunk;
      });
      socket.on('error', () => {});
      await once(socket, 'connect');
      socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      await once(socket, 'close');
      assert.ok(!received.includes('"status"'), `nothing is served in clear text: ${JSON.stringify(received)}`);
      const served = await h2(server.url, ca, '/healthz');
      assert.equal(served.status, 200);
    });

    test('JSON answers carry HSTS, nosniff, DENY framing, no referrer and a default-src none policy, over h2 and HTTP/1.1', async () => {
      for (const answer of [
        await h2(server.url, ca, '/v1/users', { headers: server.admin.headers }),
        await https1(`${server.url}/v1/users`, ca, { headers: server.admin.headers }),
        await h2(server.url, ca, '/v1/users/usr_nope', { headers: server.admin.headers }),
      ]) {
        assert.match(String(answer.headers['content-type']), /^application\/json/);
        expectSecurityHeaders(answer, `JSON ${answer.status}`);
        assert.equal(answer.headers['strict-transport-security'], hsts);
        assert.equal(answer.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
        assert.equal(answer.headers['cross-origin-resource-policy'], 'same-origin');
        expectDocumentFields(answer, `JSON ${answer.status}`, false);
      }
    });

    test('/docs renders with a policy that allows its own inline script by hash, its bundled script and nothing else', async () => {
      const page = await https1(`${server.url}/docs/`, ca);
      assert.equal(page.status, 200);
      expectSecurityHeaders(page, '/docs/');
      expectDocumentFields(page, '/docs/', true);
      const policy = String(page.headers['content-security-policy']);
      const scripts = inlineScripts(page.text).filter((script) => script.includes('Scalar.createApiReference'));
      assert.equal(scripts.length, 1, page.text);
      const scriptSrc = policy.split('; ').find((directive) => directive.startsWith('script-src ')) ?? '';
      assert.deepEqual(scriptSrc.split(' ').slice(1), ["'self'", ...inlineScripts(page.text).map(sha256)]);
      assert.ok(!scriptSrc.includes('unsafe'), policy);
      assert.match(policy, /default-src 'none'/);
      assert.match(policy, /connect-src 'self'/);
      const bundle = /<script src="([^"]+)"/.exec(page.text)?.[1];
      assert.ok(bundle, 'the page loads a script of its own');
      const script = await https1(new URL(bundle, `${server.url}/docs/`).toString(), ca);
      assert.equal(script.status, 200);
      assert.match(String(script.headers['content-type']), /javascript/);
    });

    test('/docs/errors renders with a policy that allows exactly its style block', async () => {
      const page = await h2(server.url, ca, '/docs/errors');
      assert.equal(page.status, 200);
      expectSecurityHeaders(page, '/docs/errors');
      expectDocumentFields(page, '/docs/errors', true);
      const style = /<style>([\s\S]*?)<\/style>/.exec(page.text)?.[1] ?? '';
      assert.ok(style.length > 0);
      const policy = String(page.headers['content-security-policy']);
      assert.match(policy, /default-src 'none'/);
      assert.ok(policy.includes(`style-src ${sha256(style)}`), policy);
      assert.ok(!policy.includes('script-src'), policy);
    });

    test('the OAuth error page oidc-provider renders keeps its own policy, and gets HSTS and nosniff', async () => {
      const page = await h2(server.url, ca, '/oauth/auth?client_id=nobody&response_type=code&scope=openid');
      assert.equal(page.status, 400);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      const style = /<style>([\s\S]*?)<\/style>/.exec(page.text)?.[1] ?? '';
      assert.ok(String(page.headers['content-security-policy']).includes(`style-src ${sha256(style)}`));
      assert.equal(page.headers['x-content-type-options'], 'nosniff');
      assert.equal(page.headers['strict-transport-security'], hsts);
      expectDocumentFields(page, 'the OAuth error page', true);
      assert.match(String(page.headers['x-request-id']), /^req_/, "the edge's fields reach what oidc-provider writes");
    });

    test('over h2: request ids echo, CORS preflights are granted, the session cookie is Secure', async () => {
      const traced = await h2(server.url, ca, '/healthz', { headers: { 'x-request-id': 'trace-h2-1' } });
      assert.equal(traced.headers['x-request-id'], 'trace-h2-1');

      const preflight = await h2(server.url, ca, '/v1/users', {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com');
      assert.equal(preflight.headers['access-control-allow-credentials'], 'true');
      const unlisted = await h2(server.url, ca, '/v1/users', {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.com.evil.com', 'access-control-request-method': 'POST' },
      });
      assert.equal(unlisted.headers['access-control-allow-origin'], undefined);

      const users = usersService(server.storage, () => new Date());
      const user = await users.create({ email: `h2-${kind}@example.com`, name: 'Over h2' });
      await setPassword(server.storage.db, user.id, 'correct horse battery staple');
      const login = await h2(server.url, ca, '/v1/auth/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: user.email, password: 'correct horse battery staple' }),
      });
      assert.equal(login.status, 201, login.text);
      const cookies = ([] as string[]).concat(login.headers['set-cookie'] ?? []);
      const session = cookies.find((line) => line.startsWith('portico_session='));
      assert.ok(session, cookies.join('\n'));
      assert.match(session, /;\s*Secure/i);
    });

    test('over h2: the OAuth metadata names https endpoints and a client credentials token works on the API', async () => {
      const metadata = await h2(server.url, ca, '/.well-known/oauth-authorization-server/oauth');
      assert.equal(metadata.status, 200, metadata.text);
      const as = JSON.parse(metadata.text) as { issuer: string; token_endpoint: string };
      assert.equal(as.issuer, `${server.url}/oauth`);
      assert.equal(as.token_endpoint, `${server.url}/oauth/token`);

      const lines: string[] = [];
      await oauthClientsCommand(['create', '--name', 'h2 job', '--scopes', 'users:read'], {
        env: { DATABASE_URL: server.config.databaseUrl, PUBLIC_URL: server.config.publicUrl },
        stdout: (line) => lines.push(line),
        stderr: () => {},
      });
      const { clientId, clientSecret } = JSON.parse(lines.at(-1) ?? '') as { clientId: string; clientSecret: string };
      const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString(
        'base64',
      );
      const form = 'grant_type=client_credentials&scope=users%3Aread';
      const token = await h2(server.url, ca, '/oauth/token', {
        method: 'POST',
        // Over h2 a body's presence is known from Content-Length, which oidc-provider (Koa) requires; curl, browsers
        // and fetch send it for bodies like this one.
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(form.length),
        },
        body: form,
      });
      assert.equal(token.status, 200, token.text);
      const { access_token: accessToken, scope } = JSON.parse(token.text) as { access_token: string; scope: string };
      assert.equal(scope, 'users:read');
      const listed = await h2(server.url, ca, '/v1/users', { headers: { authorization: `Bearer ${accessToken}` } });
      assert.equal(listed.status, 200, listed.text);
    });
  });
}

describe('without TLS', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test('answers carry the security headers but no Strict-Transport-Security', async () => {
    const response = await fetch(`${server.url}/healthz`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
    assert.equal(response.headers.get('strict-transport-security'), null);
    assert.equal(response.headers.get('x-powered-by'), null);
  });
});

describe('portico serve --tls self-signed', () => {
  let child: ChildProcess | undefined;
  after(() => child?.kill('SIGKILL'));

  test('serves HTTPS with a fresh certificate, redirects plain HTTP with 308, and removes the certificate at shutdown', async () => {
    const database = await testDatabase('sqlite');
    const [port, redirectPort] = [await freePort(), await freePort()];
    const started = spawn(process.execPath, [mainTs, 'serve', '--tls', 'self-signed'], {
      env: cliEnv({ DATABASE_URL: database.url, PORT: String(port), HTTP_REDIRECT_PORT: String(redirectPort) }),
    });
    child = started;
    let output = '';
    started.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const exited = once(started, 'exit');
    const listening = new Promise<void>((resolve, reject) => {
      started.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        if (/Certificate .*\n/.test(output)) resolve();
      });
      void exited.then(() => reject(new Error(`exited before listening:\n${output}`)));
    });
    await listening;
    assert.ok(output.includes(`Portico is listening on https://127.0.0.1:${port}`), output);
    const certFile = /Certificate (\S+)/.exec(output)?.[1] ?? '';
    const ca = await readFile(certFile);

    const health = await https1(`https://localhost:${port}/healthz`, ca);
    assert.equal(health.status, 200, 'the certificate is valid for localhost');
    assert.equal((await https1(`https://127.0.0.1:${port}/healthz`, ca)).headers['strict-transport-security'], hsts);
    assert.equal(
      await curl([
        '--http2',
        '--cacert',
        certFile,
        '-o',
        '/dev/null',
        '-w',
        '%{http_version}',
        `https://127.0.0.1:${port}/`,
      ]),
      '2',
    );

    for (const method of ['GET', 'POST']) {
      const redirected = await new Promise<Answer>((resolve, reject) => {
        const request = httpRequest(`http://127.0.0.1:${redirectPort}/v1/users?limit=5`, { method, agent: false });
        request.on('error', reject);
        request.on('response', (response) => {
          response.resume();
          response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text: '' }));
        });
        request.end(method === 'POST' ? '{}' : undefined);
      });
      assert.equal(redirected.status, 308, method);
      assert.equal(redirected.headers.location, `https://127.0.0.1:${port}/v1/users?limit=5`);
      assert.equal(redirected.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
    }

    started.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0, output);
    await assert.rejects(access(certFile), { code: 'ENOENT' });
    await database.drop();
  });

  test('a certificate file that cannot be read stops start-up with one line naming TLS_CERT_FILE', async () => {
    const database = await testDatabase('sqlite');
    const certificate = await makeDevCertificate();
    const result = await runCli(['serve'], {
      DATABASE_URL: database.url,
      PORT: String(await freePort()),
      TLS_CERT_FILE: `${certificate.certFile}.missing`,
      TLS_KEY_FILE: certificate.keyFile,
    });
    await certificate.remove();
    await database.drop();
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^portico: TLS_CERT_FILE: cannot read '.*cert\.pem\.missing' \(ENOENT\)\n$/);
  });
});
