// Configuration: the CONTRACT's defaults, accepted values, and one clear line naming each bad variable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig, parseDurationMs } from './config.ts';

const minute = 60_000;
const hour = 60 * minute;
const day = 24 * hour;
const tier = (perDay: number | null, perMinute: number) => ({
  burst: { limit: perMinute, windowMs: minute },
  daily: perDay === null ? null : { limit: perDay, windowMs: day },
});

test('with no environment the defaults are those of the CONTRACT', () => {
  assert.deepEqual(loadConfig({}), {
    host: '127.0.0.1',
    port: 3000,
    publicUrl: 'http://127.0.0.1:3000',
    databaseUrl: 'sqlite:./data/portico.sqlite',
    redisUrl: null,
    redisCommandTimeoutMs: 50,
    amqpUrl: null,
    amqpPrefix: 'portico',
    corsOrigins: [],
    tls: null,
    httpRedirectPort: null,
    logLevel: 'info',
    trustProxy: [],
    rateLimitAnonymous: { limit: 60, windowMs: minute },
    rateLimitTiers: {
      free: tier(100, 20),
      basic: tier(1_000, 60),
      pro: tier(10_000, 300),
      enterprise: tier(100_000, 2_000),
      internal: tier(null, 10_000),
    },
    webhookRetryScheduleMs: [minute, 5 * minute, 30 * minute, 2 * hour, 12 * hour, 24 * hour],
    webhookTimeoutMs: 10_000,
    webhookPollMs: 1_000,
    webhookAllowPrivateTargets: false,
    accessTokens: { algorithm: 'EdDSA', hs256Secret: null },
  });
});

test('loadConfig reads process.env when given no environment', (t) => {
  const saved = process.env.LOG_LEVEL;
  t.after(() => {
    if (saved === undefined) delete process.env.LOG_LEVEL;
    else process.env.LOG_LEVEL = saved;
  });
  process.env.LOG_LEVEL = 'trace';
  assert.equal(loadConfig().logLevel, 'trace');
  process.env.LOG_LEVEL = 'loud';
  assert.throws(() => loadConfig(), ConfigError);
});

test('every variable is read when set to a good value', () => {
  const config = loadConfig({
    HOST: '0.0.0.0',
    PORT: '8080',
    PUBLIC_URL: 'https://api.example.com/portico/',
    DATABASE_URL: 'postgres://portico:secret@db.internal:5432/portico',
    REDIS_URL: 'rediss://cache.internal:6380/0',
    REDIS_COMMAND_TIMEOUT: '20ms',
    AMQP_URL: 'amqp://guest:guest@broker.internal:5672',
    AMQP_PREFIX: 'shop-eu',
    CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
    TLS_CERT_FILE: '/etc/portico/cert.pem',
    TLS_KEY_FILE: '/etc/portico/key.pem',
    HTTP_REDIRECT_PORT: '8081',
    LOG_LEVEL: 'debug',
    TRUST_PROXY: '10.0.0.0/8, 127.0.0.1, ::1, fd00::/8',
    RATE_LIMIT_ANONYMOUS: '100/10s',
    RATE_LIMIT_TIERS: 'free=500/50, internal=none/99',
    WEBHOOK_RETRY_SCHEDULE: '30s, 1h,2d',
    WEBHOOK_TIMEOUT: '5s',
    WEBHOOK_POLL: '250ms',
    WEBHOOK_ALLOW_PRIVATE_TARGETS: '1',
    JWT_ALGORITHM: 'ES256',
  });
  assert.deepEqual(config, {
    host: '0.0.0.0',
    port: 8080,
    publicUrl: 'https://api.example.com/portico',
    databaseUrl: 'postgres://portico:secret@db.internal:5432/portico',
    redisUrl: 'rediss://cache.internal:6380/0',
    redisCommandTimeoutMs: 20,
    amqpUrl: 'amqp://guest:guest@broker.internal:5672',
    amqpPrefix: 'shop-eu',
    corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
    tls: { certFile: '/etc/portico/cert.pem', keyFile: '/etc/portico/key.pem' },
    httpRedirectPort: 8081,
    logLevel: 'debug',
    trustProxy: ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8'],
    rateLimitAnonymous: { limit: 100, windowMs: 10_000 },
    rateLimitTiers: {
      free: tier(500, 50),
      basic: tier(1_000, 60),
      pro: tier(10_000, 300),
      enterprise: tier(100_000, 2_000),
      internal: tier(null, 99),
    },
    webhookRetryScheduleMs: [30_000, hour, 48 * hour],
    webhookTimeoutMs: 5_000,
    webhookPollMs: 250,
    webhookAllowPrivateTargets: true,
    accessTokens: { algorithm: 'ES256', hs256Secret: null },
  });
});

test('the public URL defaults to the host and port the server listens on', () => {
  assert.equal(loadConfig({ HOST: 'localhost', PORT: '4000' }).publicUrl, 'http://localhost:4000');
});

test('with TLS files the default public URL is https', () => {
  const tls = { TLS_CERT_FILE: '/etc/portico/cert.pem', TLS_KEY_FILE: '/etc/portico/key.pem' };
  assert.equal(loadConfig({ ...tls, PORT: '8443' }).publicUrl, 'https://127.0.0.1:8443');
});

test('a sqlite: DATABASE_URL takes any path, and postgresql:// is accepted as postgres://', () => {
  assert.equal(loadConfig({ DATABASE_URL: 'sqlite::memory:' }).databaseUrl, 'sqlite::memory:');
  assert.equal(loadConfig({ DATABASE_URL: 'sqlite:/var/lib/portico/db' }).databaseUrl, 'sqlite:/var/lib/portico/db');
  assert.equal(loadConfig({ DATABASE_URL: 'postgresql://db/portico' }).databaseUrl, 'postgresql://db/portico');
});

test('empty service URLs and TLS files mean the embedded defaults', () => {
  const config = loadConfig({ REDIS_URL: '', AMQP_URL: '', TLS_CERT_FILE: '', TLS_KEY_FILE: '', CORS_ORIGINS: '' });
  assert.equal(config.redisUrl, null);
  assert.equal(config.amqpUrl, null);
  assert.equal(config.tls, null);
  assert.deepEqual(config.corsOrigins, []);
});

test('durations read ms, s, m, h and d, and nothing else', () => {
  assert.equal(parseDurationMs('250ms'), 250);
  assert.equal(parseDurationMs('2s'), 2000);
  assert.equal(parseDurationMs(' 5m '), 5 * minute);
  assert.equal(parseDurationMs('3h'), 3 * hour);
  assert.equal(parseDurationMs('1d'), 24 * hour);
  for (const bad of ['', '5', 'm', '1.5m', '-1m', '1w', '1 m', '1M']) assert.equal(parseDurationMs(bad), null, bad);
});

// Each variable with values a deployment could plausibly get wrong; the second element names the variable that
// the message must start with (a TLS file missing its partner names the missing one).
const badValues: [string, Record<string, string>][] = [
  ['PORT', { PORT: 'http' }],
  ['PORT', { PORT: '-1' }],
  ['PORT', { PORT: '65536' }],
  ['PORT', { PORT: '80.5' }],
  ['PORT', { PORT: '1e3' }],
  ['PORT', { PORT: ' 80' }],
  ['PORT', { PORT: '80\n' }],
  ['DATABASE_URL', { DATABASE_URL: 'mysql://db/portico' }],
  ['DATABASE_URL', { DATABASE_URL: './data/portico.sqlite' }],
  ['DATABASE_URL', { DATABASE_URL: 'sqlite:' }],
  ['DATABASE_URL', { DATABASE_URL: 'http://db:5432/portico' }],
  ['DATABASE_URL', { DATABASE_URL: '' }],
  ['REDIS_URL', { REDIS_URL: 'localhost:6379' }],
  ['REDIS_URL', { REDIS_URL: 'http://localhost:6379' }],
  ['REDIS_URL', { REDIS_URL: 'not a url' }],
  ['REDIS_COMMAND_TIMEOUT', { REDIS_COMMAND_TIMEOUT: '50' }],
  ['REDIS_COMMAND_TIMEOUT', { REDIS_COMMAND_TIMEOUT: '0ms' }],
  ['AMQP_URL', { AMQP_URL: 'redis://localhost:5672' }],
  ['AMQP_URL', { AMQP_URL: 'rabbitmq' }],
  ['AMQP_PREFIX', { AMQP_PREFIX: '' }],
  ['AMQP_PREFIX', { AMQP_PREFIX: 'shop eu' }],
  ['CORS_ORIGINS', { CORS_ORIGINS: 'app.example.com' }],
  ['CORS_ORIGINS', { CORS_ORIGINS: 'https://app.example.com/' }],
  ['CORS_ORIGINS', { CORS_ORIGINS: 'https://app.example.com/path' }],
  ['CORS_ORIGINS', { CORS_ORIGINS: '*' }],
  ['CORS_ORIGINS', { CORS_ORIGINS: 'https://ok.example.com, nope' }],
  ['TLS_KEY_FILE', { TLS_CERT_FILE: '/etc/portico/cert.pem' }],
  ['TLS_CERT_FILE', { TLS_KEY_FILE: '/etc/portico/key.pem' }],
  ['HTTP_REDIRECT_PORT', { HTTP_REDIRECT_PORT: '8080' }],
  ['HTTP_REDIRECT_PORT', { TLS_CERT_FILE: 'c.pem', TLS_KEY_FILE: 'k.pem', HTTP_REDIRECT_PORT: '0' }],
  ['HTTP_REDIRECT_PORT', { TLS_CERT_FILE: 'c.pem', TLS_KEY_FILE: 'k.pem', HTTP_REDIRECT_PORT: '65536' }],
  ['HTTP_REDIRECT_PORT', { TLS_CERT_FILE: 'c.pem', TLS_KEY_FILE: 'k.pem', HTTP_REDIRECT_PORT: 'http' }],
  ['HTTP_REDIRECT_PORT', { TLS_CERT_FILE: 'c.pem', TLS_KEY_FILE: 'k.pem', PORT: '8443', HTTP_REDIRECT_PORT: '8443' }],
  ['LOG_LEVEL', { LOG_LEVEL: 'verbose' }],
  ['LOG_LEVEL', { LOG_LEVEL: 'INFO' }],
  ['LOG_LEVEL', { LOG_LEVEL: '' }],
  ['TRUST_PROXY', { TRUST_PROXY: 'localhost' }],
  ['TRUST_PROXY', { TRUST_PROXY: 'true' }],
  ['TRUST_PROXY', { TRUST_PROXY: 'cafe' }],
  ['TRUST_PROXY', { TRUST_PROXY: '999.1.1.1' }],
  ['TRUST_PROXY', { TRUST_PROXY: '10.0.0.0/33' }],
  ['TRUST_PROXY', { TRUST_PROXY: '::1/129' }],
  ['TRUST_PROXY', { TRUST_PROXY: '10.0.0.0/' }],
  ['TRUST_PROXY', { TRUST_PROXY: '10.0.0.0/8/8' }],
  ['TRUST_PROXY', { TRUST_PROXY: '127.0.0.1, 10.0.0.0/8, proxy.internal' }],
  ['RATE_LIMIT_ANONYMOUS', { RATE_LIMIT_ANONYMOUS: '60' }],
  ['RATE_LIMIT_ANONYMOUS', { RATE_LIMIT_ANONYMOUS: '60/' }],
  ['RATE_LIMIT_ANONYMOUS', { RATE_LIMIT_ANONYMOUS: '/1m' }],
  ['RATE_LIMIT_ANONYMOUS', { RATE_LIMIT_ANONYMOUS: '0/1m' }],
  ['RATE_LIMIT_ANONYMOUS', { RATE_LIMIT_ANONYMOUS: '-5/1m' }],
  ['RATE_LIMIT_ANONYMOUS', { RATE_LIMIT_ANONYMOUS: '1.5/1m' }],
  ['RATE_LIMIT_ANONYMOUS', { RATE_LIMIT_ANONYMOUS: 'sixty/1m' }],
  ['RATE_LIMIT_ANONYMOUS', { RATE_LIMIT_ANONYMOUS: '60/1 minute' }],
  ['RATE_LIMIT_ANONYMOUS', { RATE_LIMIT_ANONYMOUS: '60/500ms' }],
  ['RATE_LIMIT_ANONYMOUS', { RATE_LIMIT_ANONYMOUS: '60/1m/10' }],
  ['RATE_LIMIT_TIERS', { RATE_LIMIT_TIERS: 'gold=1/1' }],
  ['RATE_LIMIT_TIERS', { RATE_LIMIT_TIERS: 'free=0/5' }],
  ['RATE_LIMIT_TIERS', { RATE_LIMIT_TIERS: 'free=10/0' }],
  ['RATE_LIMIT_TIERS', { RATE_LIMIT_TIERS: 'free=10' }],
  ['RATE_LIMIT_TIERS', { RATE_LIMIT_TIERS: 'free=ten/5' }],
  ['RATE_LIMIT_TIERS', { RATE_LIMIT_TIERS: 'free=10/5,' }],
  ['RATE_LIMIT_TIERS', { RATE_LIMIT_TIERS: 'internal=none/5\nfree=1/1' }],
  ['WEBHOOK_RETRY_SCHEDULE', { WEBHOOK_RETRY_SCHEDULE: '' }],
  ['WEBHOOK_RETRY_SCHEDULE', { WEBHOOK_RETRY_SCHEDULE: '1m,,5m' }],
  ['WEBHOOK_RETRY_SCHEDULE', { WEBHOOK_RETRY_SCHEDULE: '1m;5m' }],
  ['WEBHOOK_RETRY_SCHEDULE', { WEBHOOK_RETRY_SCHEDULE: '0s' }],
  ['WEBHOOK_RETRY_SCHEDULE', { WEBHOOK_RETRY_SCHEDULE: '60' }],
  ['WEBHOOK_RETRY_SCHEDULE', { WEBHOOK_RETRY_SCHEDULE: '1m,soon' }],
  ['WEBHOOK_TIMEOUT', { WEBHOOK_TIMEOUT: '0s' }],
  ['WEBHOOK_TIMEOUT', { WEBHOOK_TIMEOUT: '10' }],
  ['WEBHOOK_POLL', { WEBHOOK_POLL: '5ms' }],
  ['WEBHOOK_POLL', { WEBHOOK_POLL: '2h' }],
  ['WEBHOOK_POLL', { WEBHOOK_POLL: '1000' }],
  ['WEBHOOK_ALLOW_PRIVATE_TARGETS', { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' }],
  ['WEBHOOK_ALLOW_PRIVATE_TARGETS', { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'yes' }],
  ['WEBHOOK_ALLOW_PRIVATE_TARGETS', { WEBHOOK_ALLOW_PRIVATE_TARGETS: '2' }],
  ['PUBLIC_URL', { PUBLIC_URL: 'api.example.com' }],
  ['PUBLIC_URL', { PUBLIC_URL: 'ftp://api.example.com' }],
  ['PUBLIC_URL', { PUBLIC_URL: 'http://' }],
  ['PUBLIC_URL', { PUBLIC_URL: 'https://api.example.com/?tenant=a' }],
  ['PUBLIC_URL', { PUBLIC_URL: 'https://api.example.com/#docs' }],
  ['PUBLIC_URL', { PUBLIC_URL: 'https://user:pass@api.example.com' }],
  ['JWT_ALGORITHM', { JWT_ALGORITHM: 'none' }],
  ['JWT_ALGORITHM', { JWT_ALGORITHM: 'eddsa' }],
  ['JWT_HS256_SECRET', { JWT_ALGORITHM: 'HS256' }],
  ['JWT_HS256_SECRET', { JWT_ALGORITHM: 'HS256', JWT_HS256_SECRET: 'c2hvcnQtc2VjcmV0' }],
  ['JWT_HS256_SECRET', { JWT_ALGORITHM: 'HS256', JWT_HS256_SECRET: 'not base64url but long enough to pass ...' }],
  ['JWT_HS256_SECRET', { JWT_HS256_SECRET: 'q0Zr8xk2n5Qm3Vb7Yc1Wd9Te6Ra4Sf0Gh2Jj5Kk8Ll1M' }],
];

for (const [variable, env] of badValues) {
  test(`${variable} set to ${JSON.stringify(env)} stops start-up with one line naming ${variable}`, () => {
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
        assert.ok(error.message.startsWith(`${variable}: `), error.message);
        assert.doesNotMatch(error.message, /[\r\n]/);
        return true;
      },
    );
  });
}

test('a bad value carrying newlines is shown escaped, so the message stays one line', () => {
  assert.throws(
    () => loadConfig({ LOG_LEVEL: 'info\nDEBUG=1\r\n' }),
    (error: unknown) => error instanceof ConfigError && error.message.includes(String.raw`info\nDEBUG=1\r\n`),
  );
});

test('a rejected URL is not echoed, so a password in it never reaches the log', () => {
  for (const env of [{ REDIS_URL: 'redis://:s3cret@[bad' }, { PUBLIC_URL: 'https://user:s3cret@api.example.com' }]) {
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => error instanceof ConfigError && !error.message.includes('s3cret'),
    );
  }
});

test('HS256 takes a base64url secret of at least 32 bytes, and no error message shows the secret', () => {
  const secret = 'q0Zr8xk2n5Qm3Vb7Yc1Wd9Te6Ra4Sf0Gh2Jj5Kk8Ll1M';
  const config = loadConfig({ JWT_ALGORITHM: 'HS256', JWT_HS256_SECRET: secret });
  assert.equal(config.accessTokens.algorithm, 'HS256');
  assert.deepEqual(config.accessTokens.hs256Secret, new Uint8Array(Buffer.from(secret, 'base64url')));
  assert.throws(
    () => loadConfig({ JWT_ALGORITHM: 'HS256', JWT_HS256_SECRET: 'c2hvcnQtc2VjcmV0' }),
    (error: unknown) => error instanceof ConfigError && !error.message.includes('c2hvcnQtc2VjcmV0'),
  );
});

test('an IPv6 HOST gives a default PUBLIC_URL with the address in brackets', () => {
  assert.equal(loadConfig({ HOST: '::1', PORT: '8080' }).publicUrl, 'http://[::1]:8080');
});
