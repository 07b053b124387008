import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import { storeIdentity } from '../store/storeIdentity.ts';
import type { Backend } from './backend.ts';
import { CliError } from './errors.ts';
import { findServer } from './serverFile.ts';

// This module is loaded by every command, so it imports nothing heavy: the configuration (zod), the store
// (DuckDB, ClickHouse) and the services are loaded when a command actually opens a backend.

export interface StoreOptions {
  data?: string;
  store?: string;
}

export interface OpenOptions {
  /** The command needs data that exists: on a data directory without a DuckDB file, fail instead of creating one. */
  needsData?: boolean;
  /** The command only reads: never create a master key (nothing will be sealed with it). Implies `needsData`. */
  readOnly?: boolean;
  /** Where to say which store is used when that is not the obvious one (default: standard error). */
  note?: (line: string) => void;
}

export async function configFrom(opts: StoreOptions): Promise<Config> {
  const { loadConfig } = await import('../config.ts');
  return loadConfig(process.env, { dataDir: opts.data, store: opts.store });
}

/**
 * The backend for a command: through the running server that owns the data directory when it serves the store
 * the command is given (or when none is named), otherwise straight to the named store. A store named with
 * `--store` or DATACUBE_STORE is always the one used: when the server serves another, the command opens the
 * named one itself (a server only ever holds the DuckDB file of its own data directory, so that is possible) and
 * says so.
 */
export async function openBackend(opts: StoreOptions, o: OpenOptions = {}): Promise<Backend> {
  const config = await configFrom(opts);
  const wanted = storeIdentity(config.store, config.dataDir);
  const namedBy = opts.store !== undefined ? '--store' : process.env.DATACUBE_STORE !== undefined ? 'DATACUBE_STORE' : undefined;
  const found = await findServer(config.dataDir);
  if (found.state === 'live') {
    const live = found.server;
    const served = live.store ?? storeIdentity('duckdb', config.dataDir);
    if (namedBy === undefined || served === wanted) {
      const { RemoteBackend } = await import('./remoteBackend.ts');
      return new RemoteBackend(live);
    }
    (o.note ?? ((l: string) => process.stderr.write(`${l}\n`)))(
      `note: the datacube server (pid ${live.pid}) on ${config.dataDir} serves ${served}; ${namedBy} names ${wanted}, so this command uses that store directly`,
    );
  }
  const duckdb = wanted.startsWith('duckdb ');
  if ((o.needsData || o.readOnly) && duckdb && !existsSync(join(config.dataDir, 'datacube.duckdb'))) {
    throw new CliError(`no datacube data in ${config.dataDir} (give --data DIR or set DATACUBE_DATA; \`datacube app create\` or \`datacube demo\` start a new one)`);
  }
  if ((o.needsData || o.readOnly) && !duckdb) {
    const { hasDatacubeStore, parseClickHouseUrl } = await import('../store/clickhouse/index.ts');
    if (!(await hasDatacubeStore(config.store))) {
      const { database } = parseClickHouseUrl(config.store);
      throw new CliError(`no datacube data in the ClickHouse database ${database} (\`datacube app create\` or \`datacube demo\` with this store start a new one)`);
    }
  }
  let masterKey = config.masterKey;
  if (o.readOnly && !masterKey && !existsSync(join(config.dataDir, 'master.key'))) masterKey = randomBytes(32).toString('hex');
  const [{ openServices }, { LocalBackend }] = await Promise.all([import('../services.ts'), import('./localBackend.ts')]);
  try {
    // Deletions, prunes, backups and restores done here are reported on standard error (counts only).
    // The embedded store is this process's alone while the command runs, so no portrait can be waiting on an app's derive
    // backlog: a bulk ingest stores at full speed and leaves the folding to run beside it (and to finish at the next open)
    // instead of pausing every 100,000 events (DATACUBE_MAX_DERIVE_BACKLOG bounds a server's portraits).
    const services = await openServices({ ...config, masterKey, logLevel: 'silent', maxDeriveBacklog: Number.MAX_SAFE_INTEGER });
    return new LocalBackend(services, (line) => process.stderr.write(`datacube: ${line}\n`));
  } catch (e) {
    // A server that exists but did not answer /healthz in time (overloaded) is named, rather than the store's "in use".
    if (found.state === 'silent') {
      const { pid, url } = found.server;
      throw new Error(`a datacube server (pid ${pid}) owns ${config.dataDir} but did not answer ${url}/healthz in time (it may be overloaded); try again`);
    }
    throw e;
  }
}

/** Runs `fn` with the command's backend and closes it afterwards, whatever happens. */
export async function withBackend<T>(opts: StoreOptions, o: OpenOptions, fn: (b: Backend) => Promise<T>): Promise<T> {
  const backend = await openBackend(opts, o);
  try {
    return await fn(backend);
  } finally {
    await backend.close();
  }
}
