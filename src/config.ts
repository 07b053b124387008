import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Every setting datacube reads from the environment, validated once. Command-line flags override these
 * (`--data`, `--store`, `--port`, `--host`).
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | DATACUBE_DATA | ./data | data directory: the DuckDB file, the server's key, the running server's address |
 * | DATACUBE_STORE | duckdb | `duckdb` (embedded file in the data directory) or `clickhouse://USER:PASS@HOST:8123/DB[?cluster=NAME]` |
 * | DATACUBE_PORT | 8080 | HTTP port (0 = any free port) |
 * | DATACUBE_HOST | 127.0.0.1 | address to listen on |
 * | DATACUBE_LOG_LEVEL | info | pino level: fatal, error, warn, info, debug, trace, silent (successful health checks are logged at debug) |
 * | DATACUBE_LOG_FORMAT | auto | `pretty` (one readable line per request), `json` (pino's JSON lines), or `auto`: pretty when the log goes to a terminal, JSON otherwise |
 * | DATACUBE_MASTER_KEY | (a key file in the data directory) | 64 hex characters; seals app secrets and stable tokens. Set the same key on every server in front of one ClickHouse |
 * | DATACUBE_DAILY_QUOTA | 100000 | default calls a day per app and API |
 * | DATACUBE_TOKEN_TTL | 7200 | access token lifetime, seconds; more than 300 (a replaced token keeps working 5 minutes) |
 * | DATACUBE_MAX_BODY_BYTES | 10485760 | largest request body (10 MB) |
 * | DATACUBE_MAX_BATCH_EVENTS | 10000 | most events in one ingest request |
 * | DATACUBE_MAX_INFLIGHT_EVENTS | 200000 | events accepted for processing at once before ingest answers 45011 (retry later) |
 * | DATACUBE_CACHE_ENTRIES | 1000 | portrait answers kept in memory |
 * | DATACUBE_COLLECT | on | `off` closes the public `POST /v1/collect` route for every app (`datacube app update APPID --collect off` closes it for one) |
 * | DATACUBE_TRUSTED_PROXIES | (none) | comma-separated addresses or CIDRs (`10.0.0.0/8, ::1`) of reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed (the client address on /v1/collect, HTTPS for the dashboard cookie); from any other peer they are ignored |
 * | DATACUBE_COLLECT_IP_RATE | 20 | /v1/collect requests a second per client address (bursts of twice as many); past it 45011 with Retry-After |
 * | DATACUBE_COLLECT_APP_RATE | 5000 | /v1/collect events a second per app (bursts of twice as many); past it 45011 with Retry-After |
 * | DATACUBE_DASHBOARD | on | `on` serves the dashboard at `GET /`; `off` serves the API alone |
 * | DATACUBE_SESSION_TTL | 43200 | a dashboard sign-in lasts at most this long, seconds (12 h) |
 * | DATACUBE_SESSION_IDLE | 7200 | a dashboard session unused this long ends, seconds (2 h) |
 * | DATACUBE_SIGNIN_FAILURES | 10 | failed dashboard sign-ins allowed per client address in 15 minutes; then 429 until the oldest is 15 minutes old |
 * | DATACUBE_MAX_DEVICE_NAMES | 20000 | distinct device names an app may have (1–1,000,000); events with a name new to an app past it count under the device bucket `其他`, and the ingest answer says so (`device_overflow`) |
 * | DATACUBE_MAX_DERIVE_BACKLOG | 100000 | events of one app stored but not yet folded into its portrait tables before that app's next batch waits for them; bounds how long the app's own portrait can wait (embedded store; a server's limit — CLI commands that open the store themselves never wait) |
 * | DATACUBE_SCRYPT_CONCURRENCY | 1 | app-secret checks (scrypt, on libuv's thread pool) run at once; the rest queue, so they never take all the threads the store and /healthz need |
 * | DATACUBE_SECRET_FAILURES_PER_IP | 10 | wrong app secrets a client IP may send in 60 s; past it the token routes answer 45011 (HTTP 429, Retry-After) |
 * | DATACUBE_SECRET_FAILURES_PER_APP | 30 | wrong secrets an appid may receive in 60 s from all clients; past it, secrets not already verified get 45011 |
 * | DATACUBE_MAX_CLIENT_BODY_BYTES | (the body limit) | request-body bytes one client IP may have in flight at once; past it 45011 |
 * | DATACUBE_MIN_UPLOAD_BYTES_PER_S | 16384 | a request body must arrive at least this fast (after a 5 s grace); a slower or idle sender is cut off |
 */
const schema = z.object({
  DATACUBE_DATA: z.string().min(1).default('./data'),
  DATACUBE_STORE: z.string().min(1).default('duckdb'),
  DATACUBE_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATACUBE_HOST: z.string().min(1).default('127.0.0.1'),
  DATACUBE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATACUBE_LOG_FORMAT: z.enum(['auto', 'pretty', 'json']).default('auto'),
  DATACUBE_MASTER_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters')
    .optional(),
  DATACUBE_DAILY_QUOTA: z.coerce.number().int().min(1).default(100_000),
  DATACUBE_TOKEN_TTL: z.coerce.number().int().min(301, 'must be more than 300 seconds (a replaced token keeps working 5 minutes)').default(7200),
  DATACUBE_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(10 * 1024 * 1024),
  DATACUBE_MAX_BATCH_EVENTS: z.coerce.number().int().min(1).default(10_000),
  DATACUBE_MAX_INFLIGHT_EVENTS: z.coerce.number().int().min(1).default(200_000),
  DATACUBE_CACHE_ENTRIES: z.coerce.number().int().min(0).default(1000),
  DATACUBE_COLLECT: z.enum(['on', 'off']).default('on'),
  DATACUBE_TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .refine((list) => list.every(isAddressOrCidr), 'must be comma-separated IP addresses or CIDRs (10.0.0.0/8, fd00::/8, 127.0.0.1)'),
  DATACUBE_COLLECT_IP_RATE: z.coerce.number().positive().default(20),
  DATACUBE_COLLECT_APP_RATE: z.coerce.number().positive().default(5000),
  DATACUBE_DASHBOARD: z.enum(['on', 'off']).default('on'),
  DATACUBE_SESSION_TTL: z.coerce.number().int().min(60).default(43_200),
  DATACUBE_SESSION_IDLE: z.coerce.number().int().min(60).default(7200),
  DATACUBE_SIGNIN_FAILURES: z.coerce.number().int().min(1).default(10),
  DATACUBE_MAX_DEVICE_NAMES: z.coerce.number().int().min(1).max(1_000_000).default(20_000),
  DATACUBE_MAX_DERIVE_BACKLOG: z.coerce.number().int().min(1).default(100_000),
  DATACUBE_SCRYPT_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  DATACUBE_SECRET_FAILURES_PER_IP: z.coerce.number().int().min(1).default(10),
  DATACUBE_SECRET_FAILURES_PER_APP: z.coerce.number().int().min(1).default(30),
  DATACUBE_MAX_CLIENT_BODY_BYTES: z.coerce.number().int().min(1024).optional(),
  DATACUBE_MIN_UPLOAD_BYTES_PER_S: z.coerce.number().int().min(1).default(16_384),
});

/** `1.2.3.4`, `10.0.0.0/8`, `::1`, `fd00::/8`. */
export function isAddressOrCidr(s: string): boolean {
  const [addr = '', bits, extra] = s.split('/');
  const v = isIP(addr);
  if (v === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (v === 4 ? 32 : 128);
}

export interface Config {
  dataDir: string;
  store: string;
  port: number;
  host: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  logFormat: 'auto' | 'pretty' | 'json';
  masterKey: string | undefined;
  dailyQuota: number;
  tokenTtlSeconds: number;
  maxBodyBytes: number;
  maxBatchEvents: number;
  maxInflightEvents: number;
  cacheEntries: number;
  /** Whether /v1/collect is open at all (each app can also turn it off). */
  collect: boolean;
  /** Addresses or CIDRs of proxies whose X-Forwarded-For (client address) and X-Forwarded-Proto (HTTPS) are believed. */
  trustedProxies: string[];
  /** /v1/collect requests a second per client address. */
  collectIpRate: number;
  /** /v1/collect events a second per app. */
  collectAppRate: number;
  /** Serve the dashboard at GET /. */
  dashboard: boolean;
  sessionTtlSeconds: number;
  sessionIdleSeconds: number;
  /** Failed dashboard sign-ins allowed per client address in 15 minutes. */
  signInFailures: number;
  maxDeviceNames: number;
  maxDeriveBacklog: number;
  scryptConcurrency: number;
  secretFailuresPerIp: number;
  secretFailuresPerApp: number;
  /** Request-body bytes one client may have in flight; undefined: the body limit. */
  maxClientBodyBytes: number | undefined;
  minUploadBytesPerSecond: number;
}

export class ConfigError extends Error {}

/**
 * One bad variable in words a user acts on, with the value given: `DATACUBE_PORT: must be a whole number (got "abc")`
 * rather than zod's "Invalid input: expected number, received NaN". Messages written in the schema are kept.
 */
function configProblem(i: z.core.$ZodIssue, env: NodeJS.ProcessEnv): string {
  const name = i.path.map(String).join('.');
  const given = env[name];
  // A key or a URL with a password is never echoed, even a malformed one.
  const secret = /KEY|SECRET|PASS|STORE/.test(name);
  const got = given === undefined || secret ? '' : ` (got ${JSON.stringify(given)})`;
  let what = i.message;
  if (i.code === 'invalid_type' && (i.expected === 'int' || i.expected === 'number')) {
    what = i.expected === 'int' ? 'must be a whole number' : 'must be a number';
  } else if (i.code === 'too_small' && i.message.startsWith('Too small')) {
    what = i.inclusive === false ? `must be more than ${String(i.minimum)}` : `must be at least ${String(i.minimum)}`;
  } else if (i.code === 'too_big' && i.message.startsWith('Too big')) {
    what = i.inclusive === false ? `must be less than ${String(i.maximum)}` : `must be at most ${String(i.maximum)}`;
  } else if (i.code === 'invalid_value') {
    what = `must be one of ${i.values.map(String).join(', ')}`;
  }
  return `${name}: ${what}${got}`;
}

/** Reads and validates the environment; throws `ConfigError` naming each bad variable. */
export function loadConfig(given: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  // A variable set to nothing (`DATACUBE_PORT=` from a compose file whose own variable is unset) counts as not set.
  const env = Object.fromEntries(Object.entries(given).filter(([k, v]) => !(k.startsWith('DATACUBE_') && v === ''))) as NodeJS.ProcessEnv;
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => configProblem(i, env));
    throw new ConfigError(`bad configuration: ${lines.join('; ')}`);
  }
  const e = parsed.data;
  const base: Config = {
    dataDir: e.DATACUBE_DATA,
    store: e.DATACUBE_STORE,
    port: e.DATACUBE_PORT,
    host: e.DATACUBE_HOST,
    logLevel: e.DATACUBE_LOG_LEVEL,
    logFormat: e.DATACUBE_LOG_FORMAT,
    masterKey: e.DATACUBE_MASTER_KEY,
    dailyQuota: e.DATACUBE_DAILY_QUOTA,
    tokenTtlSeconds: e.DATACUBE_TOKEN_TTL,
    maxBodyBytes: e.DATACUBE_MAX_BODY_BYTES,
    maxBatchEvents: e.DATACUBE_MAX_BATCH_EVENTS,
    maxInflightEvents: e.DATACUBE_MAX_INFLIGHT_EVENTS,
    cacheEntries: e.DATACUBE_CACHE_ENTRIES,
    collect: e.DATACUBE_COLLECT === 'on',
    trustedProxies: e.DATACUBE_TRUSTED_PROXIES,
    collectIpRate: e.DATACUBE_COLLECT_IP_RATE,
    collectAppRate: e.DATACUBE_COLLECT_APP_RATE,
    dashboard: e.DATACUBE_DASHBOARD === 'on',
    sessionTtlSeconds: e.DATACUBE_SESSION_TTL,
    sessionIdleSeconds: e.DATACUBE_SESSION_IDLE,
    signInFailures: e.DATACUBE_SIGNIN_FAILURES,
    maxDeviceNames: e.DATACUBE_MAX_DEVICE_NAMES,
    maxDeriveBacklog: e.DATACUBE_MAX_DERIVE_BACKLOG,
    scryptConcurrency: e.DATACUBE_SCRYPT_CONCURRENCY,
    secretFailuresPerIp: e.DATACUBE_SECRET_FAILURES_PER_IP,
    secretFailuresPerApp: e.DATACUBE_SECRET_FAILURES_PER_APP,
    maxClientBodyBytes: e.DATACUBE_MAX_CLIENT_BODY_BYTES,
    minUploadBytesPerSecond: e.DATACUBE_MIN_UPLOAD_BYTES_PER_S,
  };
  const merged = { ...base };
  for (const [k, v] of Object.entries(overrides) as [keyof Config, Config[keyof Config]][]) {
    if (v !== undefined) (merged as Record<keyof Config, unknown>)[k] = v;
  }
  return merged;
}
