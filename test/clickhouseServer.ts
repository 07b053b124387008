/** Finding Debian's clickhouse-server for the tests (test/globalSetup.ts, the reliability test that restarts one). */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The clickhouse-server command to run (`/usr/bin/clickhouse server` for the single-binary packages), or undefined
 * when it is not installed. DATACUBE_CLICKHOUSE_SERVER names it (a path that does not exist = not installed).
 */
export function findClickHouseServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const named = env.DATACUBE_CLICKHOUSE_SERVER;
  if (named !== undefined) return existsSync(named) ? named : undefined;
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/bin'];
  for (const d of dirs) if (existsSync(join(d, 'clickhouse-server'))) return join(d, 'clickhouse-server');
  for (const d of dirs) if (existsSync(join(d, 'clickhouse'))) return `${join(d, 'clickhouse')} server`;
  return undefined;
}

