import { randomBytes } from 'node:crypto';
import { createServer } from '../api/index.ts';
import { prettyLogStream } from '../api/prettyLog.ts';
import { storeIdentity } from '../store/storeIdentity.ts';
import { OPEN_APIS } from '../api/openApis.ts';
import { TEST_MODE_PREFIX } from '../api/routes/testMode.ts';
import { formatDay } from '../domain/day.ts';
import { preloadModelNames } from '../ingest/enrich/index.ts';
import { yesterday } from '../domain/clock.ts';
import type { Config } from '../config.ts';
import { secureDataDir } from '../dataDir.ts';
import { openServices, type Services } from '../services.ts';
import { formatInstant, isLoopbackHost, TestMode } from '../testmode/index.ts';
import { readDemoCredentials, writeDemoCredentials } from './demoApp.ts';
import { fillDemo, seededDemoApp } from './fillDemo.ts';
import { LocalBackend } from './localBackend.ts';
import { liveServer, removeServerFile, writeServerFile } from './serverFile.ts';

/** How long a stopping server waits for requests in flight before it closes their connections. */
export const SHUTDOWN_GRACE_MS = 10_000;

export interface RunningServer {
  url: string;
  services: Services;
  /** Stops accepting, finishes what is in flight, flushes and closes the store. */
  stop(): Promise<void>;
}

/**
 * The server's log: pino's JSON lines, or one readable line per request when the log goes to a terminal
 * (DATACUBE_LOG_FORMAT=auto) or `pretty` is asked for. Both go to standard output, after the banner.
 */
function loggerFor(config: Config): Record<string, unknown> {
  const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true);
  return pretty ? { level: config.logLevel, stream: prettyLogStream(process.stdout) } : { level: config.logLevel };
}

export interface StartOptions {
  /** Make the demo app with demo data: on an empty store, or (with `seed`) when the seeded demo app is missing. */
  demo?: boolean;
  /** Seeds the demo app and its data (and test mode's `ratio` faults): same seed and clock, same answers. */
  seed?: number;
  /** Size of the demo data (default 5,000 users over 30 days). */
  demoUsers?: number;
  demoDays?: number;
  /** `--test-mode`: a movable clock and programmable faults (see src/testmode). */
  testMode?: {
    /** `--clock`: where the clock starts (epoch ms); default the time of the start. */
    clockMs?: number;
    /** `--test-mode-anywhere`: allow a listen address other than loopback. */
    anywhere?: boolean;
  };
  print?: (line: string) => void;
}

/** Refuses test mode on an address other machines can reach, unless asked for (`--test-mode-anywhere`). */
export function checkTestModeHost(host: string, anywhere: boolean | undefined): void {
  if (!anywhere && !isLoopbackHost(host)) {
    throw new Error(
      `test mode lets any caller move the clock and inject faults, so it listens on loopback only; --host ${host} needs --test-mode-anywhere`,
    );
  }
}

/**
 * Starts the HTTP server on the configured store; with `demo`, fills an empty store with the demo app (see
 * `StartOptions` for seeded data and test mode). Prints the banner (where it listens; the demo app's credentials and
 * curl lines when there is one) whatever the log level.
 */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const print = opts.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  const store = storeIdentity(config.store, config.dataDir);
  if (opts.testMode) checkTestModeHost(config.host, opts.testMode.anywhere);
  secureDataDir(config.dataDir);
  const other = await liveServer(config.dataDir);
  if (other) throw new Error(`a datacube server (pid ${other.pid}) already serves ${config.dataDir} at ${other.url}`);
  const testMode = opts.testMode ? new TestMode({ clockMs: opts.testMode.clockMs ?? Date.now(), seed: opts.seed, apis: OPEN_APIS }) : undefined;
  const services = await openServices(config, testMode?.clock);
  try {
    if (opts.demo) await makeDemo(services, config.dataDir, opts, print, testMode);
    const adminKey = randomBytes(32).toString('hex');
    const app = await createServer(services, { adminKey, logger: loggerFor(config), testMode });
    const address = await app.listen({ port: config.port, host: config.host });
    const url = address.replace('://[::1]', '://localhost');
    await printBanner(print, url, config.dataDir, services);
    if (testMode) {
      print(`Test mode: the clock stands at ${formatInstant(testMode.clock.now())}; move it with POST ${url}${TEST_MODE_PREFIX}/clock {"advance":"2h"}`);
      print(`  fault rules: POST|GET|DELETE ${url}${TEST_MODE_PREFIX}/faults (or: datacube test clock|faults --data ${config.dataDir})`);
    }
    // Last: once server.json is there, CLI commands go through this server.
    try {
      writeServerFile(config.dataDir, { url, pid: process.pid, adminKey, store, maxBodyBytes: config.maxBodyBytes });
    } catch (e) {
      // Without server.json no CLI command can find this server, and the store is about to close: stop listening
      // (freeing the port) before giving up, so nothing is left running half-alive.
      await app.close().catch(() => undefined);
      throw new Error(`cannot write ${config.dataDir}/server.json: ${e instanceof Error ? e.message : String(e)}`);
    }
    // The phone-model tables (about half a second of this thread, once): now, rather than in the first request
    // that names a model.
    setImmediate(preloadModelNames);
    // Retention: once a Shanghai day, drop what each app no longer keeps (services.close stops it).
    services.lifecycle.startDailyPrune();
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        // Requests in flight get SHUTDOWN_GRACE_MS to finish; then their connections are cut (a client that sends
        // slowly must not hold the shutdown up). A cut request was never acknowledged, so nothing is lost.
        const force = setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        force.unref();
        try {
          await app.close();
        } finally {
          clearTimeout(force);
          removeServerFile(config.dataDir);
          await services.close();
        }
      })());
    return { url, services, stop };
  } catch (e) {
    await services.close();
    throw e;
  }
}

/**
 * `serve --demo`: without a seed, the demo app with 30 days of data on an empty store (the first start of
 * `npm start`). With a seed, the seeded demo app whenever it is missing or empty, whatever else the store holds.
 */
async function makeDemo(services: Services, dataDir: string, opts: StartOptions, print: (l: string) => void, testMode: TestMode | undefined): Promise<void> {
  const size = { users: opts.demoUsers ?? 5000, days: opts.demoDays ?? 30 };
  const backend = new LocalBackend(services);
  if (opts.seed === undefined) {
    if ((await services.store.listApps()).length > 0) return;
    print(`First start: creating the demo app with ${size.days} days of synthetic visits…`);
    await fillDemo(backend, dataDir, services.clock, size);
    return;
  }
  const creds = await seededDemoApp(backend, opts.seed);
  writeDemoCredentials(dataDir, creds);
  if (testMode) testMode.demo = creds;
  if ((await services.store.countEvents(creds.appid)) > 0) return;
  print(`Creating the demo app of seed ${opts.seed} with ${size.days} days of synthetic visits…`);
  await fillDemo(backend, dataDir, services.clock, { ...size, seed: opts.seed });
}

async function printBanner(print: (l: string) => void, url: string, dataDir: string, s: Services): Promise<void> {
  print(`datacube is listening on ${url} (data: ${dataDir}, store: ${s.store.backend})`);
  const demo = readDemoCredentials(dataDir);
  if (!demo || !(await s.store.getApp(demo.appid))) return;
  const end = yesterday(s.clock);
  const begin = end - 6;
  print('');
  print(`Demo app: appid ${demo.appid}  secret ${demo.secret}`);
  if (s.config.dashboard) print(`Dashboard: ${url}/ (sign in with that appid and secret)`);
  print('');
  print('Get an access token (kept in $TOKEN):');
  print(
    `  TOKEN=$(curl -s "${url}/cgi-bin/token?grant_type=client_credential&appid=${demo.appid}&secret=${demo.secret}" | sed -E 's/.*"access_token":"([^"]*)".*/\\1/'); echo $TOKEN`,
  );
  print("The last 7 days' user portrait:");
  print(
    `  curl -s -X POST "${url}/datacube/getweanalysisappiduserportrait?access_token=$TOKEN" -d '{"begin_date":"${formatDay(begin)}","end_date":"${formatDay(end)}"}'`,
  );
  print('');
}

/** `datacube serve`: runs until SIGTERM/SIGINT, then shuts down gracefully. */
export async function serveUntilSignalled(config: Config, opts: StartOptions): Promise<void> {
  const server = await startServer(config, opts);
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string) => {
      process.stderr.write(`${sig}: shutting down…\n`);
      server.stop().then(resolve, (e: unknown) => {
        process.stderr.write(`shutdown failed: ${e instanceof Error ? e.message : String(e)}\n`);
        resolve();
      });
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
}
