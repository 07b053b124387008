import { isIdent } from './sql.ts';

/** Where and how to reach ClickHouse, from `clickhouse://USER:PASS@HOST:PORT/DB[?cluster=NAME]`. */
export interface ClickHouseTarget {
  /** The HTTP(S) endpoint, e.g. `http://127.0.0.1:8123`. */
  http: string;
  username: string;
  password: string;
  database: string;
  /** A cluster from the servers' `remote_servers`: tables are created ON CLUSTER and read through Distributed ones. */
  cluster: string | undefined;
  /** `?lease_ttl=SECONDS`: how long a dead writer's lease blocks its apps (lease.ts; default 30 s). */
  leaseTtlMs?: number;
}

export const DEFAULT_DATABASE = 'datacube';

/**
 * Parses a store URL. `clickhouse://` speaks HTTP (port 8123 unless given), `clickhouses://` HTTPS (8443).
 * User and password may be percent-encoded; the database and cluster must be plain identifiers.
 */
export function parseClickHouseUrl(spec: string): ClickHouseTarget {
  let u: URL;
  try {
    u = new URL(spec);
  } catch {
    throw new Error(`not a ClickHouse URL: expected clickhouse://USER:PASS@HOST:8123/DB[?cluster=NAME]`);
  }
  const secure = u.protocol === 'clickhouses:';
  if (!secure && u.protocol !== 'clickhouse:') throw new Error(`not a ClickHouse URL (scheme ${u.protocol}): expected clickhouse://…`);
  if (!u.hostname) throw new Error('ClickHouse URL has no host');
  const database = decodeURIComponent(u.pathname.replace(/^\/+/, '').replace(/\/+$/, '')) || DEFAULT_DATABASE;
  if (!isIdent(database)) throw new Error(`ClickHouse database name must match [A-Za-z_][A-Za-z0-9_]*: ${JSON.stringify(database)}`);
  let cluster: string | undefined;
  let leaseTtlMs: number | undefined;
  for (const [k, v] of u.searchParams) {
    if (k === 'cluster') {
      if (!isIdent(v)) throw new Error(`ClickHouse cluster name must match [A-Za-z_][A-Za-z0-9_]*: ${JSON.stringify(v)}`);
      cluster = v;
    } else if (k === 'lease_ttl') {
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < 2 || n > 3600) throw new Error(`ClickHouse URL option lease_ttl must be whole seconds in [2, 3600], got ${JSON.stringify(v)}`);
      leaseTtlMs = n * 1000;
    } else throw new Error(`unknown ClickHouse URL option "${k}" (known: cluster, lease_ttl)`);
  }
  const port = u.port || (secure ? '8443' : '8123');
  const host = u.hostname.includes(':') && !u.hostname.startsWith('[') ? `[${u.hostname}]` : u.hostname;
  return {
    http: `${secure ? 'https' : 'http'}://${host}:${port}`,
    username: decodeURIComponent(u.username) || 'default',
    password: decodeURIComponent(u.password),
    database,
    cluster,
    ...(leaseTtlMs === undefined ? {} : { leaseTtlMs }),
  };
}

/** The same URL with another database (tests use one database per run). */
export function withDatabase(spec: string, database: string): string {
  if (!isIdent(database)) throw new Error(`not a plain identifier: ${database}`);
  const u = new URL(spec);
  u.pathname = `/${database}`;
  return u.toString();
}
