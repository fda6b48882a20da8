// `portico serve`: migrates, seeds a demo set on the first start of an empty database, serves HTTP or HTTPS, and
// shuts down gracefully on SIGTERM or SIGINT.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from '../app.ts';
import { type Config, loadConfig } from '../config.ts';
import { httpsRedirectServer } from '../edge/https-redirect.ts';
import { demoAdmin, demoAdminPassword, demoPlan, isDatabaseEmpty, seedDemo } from '../seed/seed.ts';
import { openStorage, type Storage } from '../storage/database.ts';
import { migrateToLatest } from '../storage/migrate.ts';
import { type CommandContext, CommandError, integerOption, parseCommand, UsageError } from './args.ts';
import { makeDevCertificate } from './dev-certificate.ts';
import { freePort } from './free-port.ts';

export const serveUsage = `Usage: portico serve [--host H] [--port N] [--tls self-signed]

Serves the API. The first start on an empty database applies the migrations and seeds a small demo set.
SIGTERM or SIGINT (Ctrl-C) stops it gracefully: no new connections, in-flight requests finish, the
database is closed. A second signal forces an immediate exit with code 1.

  --host H   address to listen on (overrides HOST; default 127.0.0.1)
  --port N   port to listen on, 0 to 65535 (overrides PORT; default 3000)
  --tls self-signed
             serve HTTPS (HTTP/2 and HTTP/1.1 on one port) with a development certificate for localhost and
             127.0.0.1, made at start and removed at shutdown; for a real certificate set TLS_CERT_FILE and
             TLS_KEY_FILE instead (HTTP_REDIRECT_PORT adds a plain-HTTP port that redirects to HTTPS)`;

/**
 * A Ctrl-C under `npm start` arrives twice within a few milliseconds: the terminal signals the whole process group
 * and npm forwards the same signal again. The same signal inside this window is that echo, not a second request.
 */
const echoWindowMs = 250;

const socketErrors: Record<string, string> = {
  EADDRINUSE: 'the address is already in use; stop the other process or choose another --port',
  EACCES: 'permission denied; choose a port above 1023 or run with the needed privilege',
  EADDRNOTAVAIL: 'the address is not available on this machine; check --host or HOST',
};

/** A socket error as the one line a user can act on; any other error as it is. */
function listenError(where: string, error: unknown): unknown {
  const reason = socketErrors[(error as { code?: string }).code ?? ''];
  return reason ? new CommandError(`cannot listen on ${where}: ${reason}`) : error;
}

function hostForUrl(address: AddressInfo): string {
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}

export async function serveCommand(args: string[], { env, stdout }: CommandContext): Promise<void> {
  const values = parseCommand('serve', args, {
    host: { type: 'string' },
    port: { type: 'string' },
    tls: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return stdout(serveUsage);
  if (values.tls !== undefined && values.tls !== 'self-signed') {
    throw new UsageError(
      `--tls must be 'self-signed', got '${values.tls}'; for a certificate of your own set TLS_CERT_FILE and TLS_KEY_FILE`,
    );
  }
  if (values.host === '') throw new UsageError('--host must not be empty');
  const port = values.port === undefined ? undefined : integerOption('port', values.port, 0, 65535);
  const devCertificate = values.tls === 'self-signed' ? await makeDevCertificate() : null;
  let config: Config;
  try {
    const serveEnv = {
      ...env,
      ...(values.host === undefined ? {} : { HOST: values.host }),
      ...(port === undefined ? {} : { PORT: String(port) }),
      // Like --host and --port, the flag wins over the environment's certificate files.
      ...(devCertificate ? { TLS_CERT_FILE: devCertificate.certFile, TLS_KEY_FILE: devCertificate.keyFile } : {}),
    };
    config = loadConfig(serveEnv);
    // Port 0 asks for any free port, but every link the API writes is built from the public URL before the server
    // listens: without PUBLIC_URL, the port is picked here so the links name it. Another process could take it in
    // the moment between; listening then fails as for any port in use.
    if (config.port === 0 && env.PUBLIC_URL === undefined) {
      const host = config.host;
      const port = await freePort(host).catch((error: unknown) => Promise.reject(listenError(`${host}:0`, error)));
      config = loadConfig({ ...serveEnv, PORT: String(port) });
    }
  } catch (error) {
    await devCertificate?.remove();
    throw error;
  }

  const storage = openStorage(config.databaseUrl);
  let app: FastifyInstance | undefined;
  let redirect: Server | undefined;
  let listening = `${config.host}:${config.port}`;
  try {
    const { applied } = await migrateToLatest(storage);
    if (applied.length > 0) stdout(`Applied migrations: ${applied.join(', ')}`);
    if ((await isDatabaseEmpty(storage)) && (await seedDemo(storage))) {
      stdout(
        `First start: seeded a demo set of ${demoPlan.users} users and ${demoPlan.products} products` +
          `.\n  Demo admin: email ${demoAdmin().email}  password ${demoAdminPassword}`,
      );
    }
    // Logs leave in the background: at info Fastify writes two lines a request, and writing each one synchronously
    // was a third of a GET /'s CPU (bench/README.md). pino writes what is pending when the process exits.
    app = await buildApp({ config, storage, logStream: pino.destination({ dest: 1, sync: false }) });
    await app.listen({ host: config.host, port: config.port });
    if (config.httpRedirectPort !== null) {
      listening = `${config.host}:${config.httpRedirectPort} (HTTP_REDIRECT_PORT)`;
      redirect = httpsRedirectServer(config.publicUrl).listen(config.httpRedirectPort, config.host);
      await once(redirect, 'listening');
    }
  } catch (error) {
    redirect?.close();
    await app?.close();
    await storage.close();
    await devCertificate?.remove();
    throw listenError(listening, error);
  }

  const address = app.server.address() as AddressInfo;
  const base = config.publicUrl;
  const scheme = config.tls ? 'https' : 'http';
  stdout(
    [
      `Portico is listening on ${scheme}://${hostForUrl(address)}:${address.port}`,
      `  API root   ${base}/`,
      `  Docs       ${base}/docs`,
      `  OpenAPI    ${base}/v1/openapi.json`,
      `  Health     ${base}/healthz`,
      ...(redirect
        ? [`  Redirect   http://${hostForUrl(redirect.address() as AddressInfo)}:${config.httpRedirectPort} → ${base}`]
        : []),
      ...(devCertificate
        ? [`  Certificate ${devCertificate.certFile} (self-signed, for development; trust it with curl --cacert)`]
        : []),
    ].join('\n'),
  );
  shutDownOnSignals(app, storage, async () => {
    redirect?.close();
    await devCertificate?.remove();
  });
}

/** SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close the database, exit 0. */
function shutDownOnSignals(app: FastifyInstance, storage: Storage, release: () => Promise<void>): void {
  let first: { signal: NodeJS.Signals; atMs: number } | null = null;

  async function shutDown(): Promise<void> {
    try {
      // Fastify stops listening, answers 503 to requests on kept-alive connections, closes idle ones, and resolves
      // once every request already being handled has its response.
      await app.close();
      app.log.info('Shutdown: in-flight requests finished and the HTTP server is closed');
      await storage.close();
      await release();
      app.log.info('Shutdown: database closed; exiting');
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, 'Shutdown failed');
      process.exit(1);
    }
  }

  const onSignal = (signal: NodeJS.Signals) => {
    const nowMs = performance.now();
    if (first === null) {
      first = { signal, atMs: nowMs };
      app.log.info(`Shutdown: ${signal} received; no new connections, waiting for in-flight requests`);
      void shutDown();
      return;
    }
    if (signal === first.signal && nowMs - first.atMs < echoWindowMs) return;
    app.log.warn(`Shutdown: ${signal} received during shutdown; exiting now without waiting`);
    process.exit(1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
