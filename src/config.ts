// Environment → a typed, validated configuration. The only reader of process.env; a bad value stops start-up
// with one line naming the variable.
import { isIP } from 'node:net';
import { type Tier, tiers } from './modules/identity/principal.ts';

export interface RateLimitRule {
  limit: number;
  windowMs: number;
}

/** A tier's allowance: a per-minute burst and, except for `internal`, a daily quota. */
export interface TierLimits {
  burst: RateLimitRule;
  daily: RateLimitRule | null;
}

export interface Config {
  host: string;
  port: number;
  /** Where clients reach this process; links and `Location` headers are built from it. */
  publicUrl: string;
  databaseUrl: string;
  redisUrl: string | null;
  /** How long a rate decision may wait on Redis before this process answers it alone (REDIS_COMMAND_TIMEOUT). */
  redisCommandTimeoutMs: number;
  amqpUrl: string | null;
  /** Starts every RabbitMQ exchange and queue name, so deployments sharing a broker never meet (AMQP_PREFIX). */
  amqpPrefix: string;
  corsOrigins: string[];
  tls: { certFile: string; keyFile: string } | null;
  /** A plain-HTTP port that answers every request with a 308 to the HTTPS URL; only with TLS. */
  httpRedirectPort: number | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Addresses or CIDRs whose X-Forwarded-For is believed; empty means none. */
  trustProxy: string[];
  rateLimitAnonymous: RateLimitRule;
  rateLimitTiers: Record<Tier, TierLimits>;
  webhookRetryScheduleMs: number[];
  /** How long one delivery attempt may take (WEBHOOK_TIMEOUT); a worker's claim on a delivery lasts a few times this. */
  webhookTimeoutMs: number;
  /** How often a worker looks for due deliveries nobody told it about (WEBHOOK_POLL): another process's, or retries. */
  webhookPollMs: number;
  webhookAllowPrivateTargets: boolean;
  /** How access tokens are signed: an asymmetric key kept in the database, or HS256 with a configured secret. */
  accessTokens: AccessTokenConfig;
}

export type AccessTokenAlgorithm = 'EdDSA' | 'ES256' | 'RS256' | 'HS256';

export interface AccessTokenConfig {
  algorithm: AccessTokenAlgorithm;
  /** The HS256 secret's bytes, base64url-decoded from JWT_HS256_SECRET; null unless the algorithm is HS256. */
  hs256Secret: Uint8Array | null;
}

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    // One line whatever the bad value holds: control characters (a stray newline) are shown escaped.
    super(`${variable}: ${problem}`.replace(/\p{Cc}/gu, (char) => JSON.stringify(char).slice(1, -1)));
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const durationUnitsMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const durationPattern = /^(\d+)(ms|s|m|h|d)$/;

export function parseDurationMs(text: string): number | null {
  const match = durationPattern.exec(text.trim());
  if (!match) return null;
  const [, amount, unit] = match;
  return Number(amount) * (durationUnitsMs[unit ?? ''] ?? 0);
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function readPort(env: Env): number {
  const raw = env.PORT ?? '3000';
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535)
    throw new ConfigError('PORT', `must be an integer from 0 to 65535, got '${raw}'`);
  return port;
}

function readUrl(env: Env, name: string, protocols: string[]): string | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The value is not echoed: a service URL that fails to parse may still carry a password.
    throw new ConfigError(name, `must be a URL (${protocols.join(' or ')}) and is not one`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got '${url.protocol}'`);
  }
  return raw;
}

function readPublicUrl(env: Env, fallback: string): string {
  const raw = readUrl(env, 'PUBLIC_URL', ['http:', 'https:']);
  if (raw === null) return fallback;
  const url = new URL(raw);
  // Links are this URL followed by a path: a path prefix is fine, a query, fragment or credentials are not.
  if (/[?#]/.test(raw) || url.username !== '' || url.password !== '') {
    throw new ConfigError('PUBLIC_URL', 'must be a base URL without query, fragment or credentials');
  }
  return raw.replace(/\/+$/, '');
}

function readDatabaseUrl(env: Env): string {
  const raw = env.DATABASE_URL ?? 'sqlite:./data/portico.sqlite';
  // Empty is refused rather than read as unset: a URL that expanded to nothing must not start on a fresh SQLite file.
  if (raw === '') throw new ConfigError('DATABASE_URL', "is empty; set 'sqlite:PATH' or 'postgres://…', or unset it");
  if (raw.startsWith('sqlite:')) {
    if (raw.length === 'sqlite:'.length)
      throw new ConfigError('DATABASE_URL', "sqlite: needs a path, as in 'sqlite:./data/portico.sqlite'");
    return raw;
  }
  return readUrl({ DATABASE_URL: raw }, 'DATABASE_URL', ['postgres:', 'postgresql:']) ?? raw;
}

function readRateLimit(env: Env): RateLimitRule {
  const raw = env.RATE_LIMIT_ANONYMOUS ?? '60/1m';
  const [count, window, extra] = raw.split('/');
  const limit = Number(count);
  const windowMs = window === undefined ? null : parseDurationMs(window);
  if (!/^\d+$/.test(count ?? '') || limit < 1 || windowMs === null || windowMs < 1000 || extra !== undefined) {
    throw new ConfigError(
      'RATE_LIMIT_ANONYMOUS',
      `must be 'N/window' such as '60/1m' (window at least 1s), got '${raw}'`,
    );
  }
  return { limit, windowMs };
}

const minuteMs = 60_000;
const dayMs = 86_400_000;
const tierLimits = (daily: number | null, burstPerMinute: number): TierLimits => ({
  burst: { limit: burstPerMinute, windowMs: minuteMs },
  daily: daily === null ? null : { limit: daily, windowMs: dayMs },
});

const defaultTiers: Record<Tier, TierLimits> = {
  free: tierLimits(100, 20),
  basic: tierLimits(1_000, 60),
  pro: tierLimits(10_000, 300),
  enterprise: tierLimits(100_000, 2_000),
  internal: tierLimits(null, 10_000),
};

/** `free=100/20,internal=none/10000`: requests a day (or `none`) / requests a minute; unnamed tiers keep defaults. */
function readRateLimitTiers(env: Env): Record<Tier, TierLimits> {
  const raw = env.RATE_LIMIT_TIERS ?? '';
  const result = { ...defaultTiers };
  if (raw.trim() === '') return result;
  for (const entry of raw.split(',')) {
    const match = /^\s*([a-z]+)=(\d+|none)\/(\d+)\s*$/.exec(entry);
    const tier = match?.[1] as Tier | undefined;
    const daily = match?.[2] === 'none' ? null : Number(match?.[2]);
    const burst = Number(match?.[3]);
    if (!match || tier === undefined || !tiers.includes(tier) || daily === 0 || burst < 1) {
      throw new ConfigError(
        'RATE_LIMIT_TIERS',
        `must be a comma list of 'tier=PER_DAY/PER_MINUTE' (PER_DAY may be 'none') with tiers among ` +
          `${tiers.join(', ')}, such as 'free=100/20', got '${raw}'`,
      );
    }
    result[tier] = tierLimits(daily, burst);
  }
  return result;
}

function readRedisCommandTimeout(env: Env): number {
  const raw = env.REDIS_COMMAND_TIMEOUT ?? '50ms';
  const ms = parseDurationMs(raw);
  if (ms === null || ms < 1)
    throw new ConfigError('REDIS_COMMAND_TIMEOUT', `must be a duration such as '50ms', got '${raw}'`);
  return ms;
}

function readSchedule(env: Env): number[] {
  const raw = env.WEBHOOK_RETRY_SCHEDULE ?? '1m,5m,30m,2h,12h,24h';
  const delays = raw.split(',').map((part) => parseDurationMs(part));
  if (delays.length === 0 || delays.some((d) => d === null || d === 0)) {
    throw new ConfigError('WEBHOOK_RETRY_SCHEDULE', `must be a comma list of delays such as '1m,5m,30m', got '${raw}'`);
  }
  return delays as number[];
}

function readWebhookTimeout(env: Env): number {
  const raw = env.WEBHOOK_TIMEOUT ?? '10s';
  const ms = parseDurationMs(raw);
  if (ms === null || ms < 1) throw new ConfigError('WEBHOOK_TIMEOUT', `must be a duration such as '10s', got '${raw}'`);
  return ms;
}

function readWebhookPoll(env: Env): number {
  const raw = env.WEBHOOK_POLL ?? '1s';
  const ms = parseDurationMs(raw);
  // Longer than an hour would leave another process's deliveries waiting as long (and past 24.8 days Node's timers
  // fire at once).
  if (ms === null || ms < 10 || ms > 3_600_000) {
    throw new ConfigError('WEBHOOK_POLL', `must be a duration from 10ms to 1h such as '1s', got '${raw}'`);
  }
  return ms;
}

function readAmqpPrefix(env: Env): string {
  const raw = env.AMQP_PREFIX ?? 'portico';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(raw)) {
    throw new ConfigError('AMQP_PREFIX', `must be letters, digits, '.', '_' or '-', got '${raw}'`);
  }
  return raw;
}

function readTls(env: Env): Config['tls'] {
  const certFile = env.TLS_CERT_FILE || undefined;
  const keyFile = env.TLS_KEY_FILE || undefined;
  if (certFile === undefined && keyFile === undefined) return null;
  if (certFile === undefined) throw new ConfigError('TLS_CERT_FILE', 'must be set when TLS_KEY_FILE is');
  if (keyFile === undefined) throw new ConfigError('TLS_KEY_FILE', 'must be set when TLS_CERT_FILE is');
  return { certFile, keyFile };
}

function readRedirectPort(env: Env, tls: Config['tls'], port: number): number | null {
  const raw = env.HTTP_REDIRECT_PORT ?? '';
  if (raw === '') return null;
  const redirectPort = Number(raw);
  if (!/^\d+$/.test(raw) || redirectPort < 1 || redirectPort > 65535)
    throw new ConfigError('HTTP_REDIRECT_PORT', `must be an integer from 1 to 65535, got '${raw}'`);
  if (tls === null)
    throw new ConfigError('HTTP_REDIRECT_PORT', 'redirects to HTTPS, so TLS_CERT_FILE and TLS_KEY_FILE must be set');
  if (redirectPort === port) throw new ConfigError('HTTP_REDIRECT_PORT', `must differ from PORT (${port})`);
  return redirectPort;
}

function readOrigins(env: Env): string[] {
  const origins = (env.CORS_ORIGINS ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin.length > 0);
  for (const origin of origins) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {}
    if (parsed === null || parsed.origin !== origin) {
      throw new ConfigError('CORS_ORIGINS', `'${origin}' is not an origin such as 'https://app.example.com'`);
    }
  }
  return origins;
}

/** An IPv4 or IPv6 address, optionally with a prefix length no longer than the address. */
function isAddressOrCidr(entry: string): boolean {
  const [address = '', prefix, extra] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}

function readTrustProxy(env: Env): string[] {
  const entries = (env.TRUST_PROXY ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  const bad = entries.find((entry) => !isAddressOrCidr(entry));
  if (bad !== undefined) throw new ConfigError('TRUST_PROXY', `'${bad}' is not an IP address or CIDR`);
  return entries;
}

function readFlag(env: Env, name: string): boolean {
  const raw = env[name] ?? '0';
  if (raw !== '0' && raw !== '1') throw new ConfigError(name, `must be 0 or 1, got '${raw}'`);
  return raw === '1';
}

const accessTokenAlgorithms: readonly AccessTokenAlgorithm[] = ['EdDSA', 'ES256', 'RS256', 'HS256'];
/** RFC 7518 §3.2: an HS256 key must be at least as long as the hash output. */
const minHs256SecretBytes = 32;

function readAccessTokens(env: Env): AccessTokenConfig {
  const algorithm = env.JWT_ALGORITHM ?? 'EdDSA';
  if (!(accessTokenAlgorithms as readonly string[]).includes(algorithm)) {
    throw new ConfigError('JWT_ALGORITHM', `must be one of ${accessTokenAlgorithms.join(', ')}, got '${algorithm}'`);
  }
  const raw = env.JWT_HS256_SECRET;
  if (algorithm !== 'HS256') {
    // A secret that is set but unused most likely means the algorithm was meant to be HS256.
    if (raw !== undefined) throw new ConfigError('JWT_HS256_SECRET', 'is set, but JWT_ALGORITHM is not HS256');
    return { algorithm: algorithm as AccessTokenAlgorithm, hs256Secret: null };
  }
  // The secret is never echoed in the message.
  const secret = raw !== undefined && /^[A-Za-z0-9_-]+$/.test(raw) ? Buffer.from(raw, 'base64url') : null;
  if (secret === null || secret.length < minHs256SecretBytes) {
    throw new ConfigError(
      'JWT_HS256_SECRET',
      `HS256 needs at least ${minHs256SecretBytes} random bytes in base64url (openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')`,
    );
  }
  return { algorithm: 'HS256', hs256Secret: new Uint8Array(secret) };
}

export function loadConfig(env: Env = process.env): Config {
  const host = env.HOST ?? '127.0.0.1';
  const port = readPort(env);
  const tls = readTls(env);
  // An IPv6 literal goes in brackets in a URL (RFC 3986 §3.2.2).
  const publicUrl = readPublicUrl(env, `${tls ? 'https' : 'http'}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`);
  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!(logLevels as readonly string[]).includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${logLevels.join(', ')}, got '${logLevel}'`);
  }
  return {
    host,
    port,
    publicUrl,
    databaseUrl: readDatabaseUrl(env),
    redisUrl: readUrl(env, 'REDIS_URL', ['redis:', 'rediss:']),
    redisCommandTimeoutMs: readRedisCommandTimeout(env),
    amqpUrl: readUrl(env, 'AMQP_URL', ['amqp:', 'amqps:']),
    amqpPrefix: readAmqpPrefix(env),
    corsOrigins: readOrigins(env),
    tls,
    httpRedirectPort: readRedirectPort(env, tls, port),
    logLevel: logLevel as Config['logLevel'],
    trustProxy: readTrustProxy(env),
    rateLimitAnonymous: readRateLimit(env),
    rateLimitTiers: readRateLimitTiers(env),
    webhookRetryScheduleMs: readSchedule(env),
    webhookTimeoutMs: readWebhookTimeout(env),
    webhookPollMs: readWebhookPoll(env),
    webhookAllowPrivateTargets: readFlag(env, 'WEBHOOK_ALLOW_PRIVATE_TARGETS'),
    accessTokens: readAccessTokens(env),
  };
}
