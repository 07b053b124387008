/**
 * The store's connection over chdb, ClickHouse as an in-process library (the `chdb` npm package, ClickHouse 26.x).
 * It is how the tests run the store's SQL on a current ClickHouse: chdb is not a dependency of datacube (it is about
 * 570 MB); CI installs it beside the project and names it in DATACUBE_CHDB (see .ci/run). Not used in production.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Connection, type JsonRow, LayoutBase, type Settings } from './connection.ts';
import { type Sql, sql } from './sql.ts';
import type { ClickHouseTarget } from './url.ts';
import { Serial } from '../serial.ts';

/** The part of chdb's API this adapter uses. */
export interface ChdbSession {
  queryAsync(query: string, opts?: { format?: string }): Promise<{ text(): string }>;
  close(): void;
}
export interface ChdbModule {
  Session: new (path?: string) => ChdbSession;
}

export const CHDB_HINT =
  'install it outside the project (`mkdir -p /tmp/chdb && npm install --prefix /tmp/chdb chdb`) and set DATACUBE_CHDB=/tmp/chdb/node_modules/chdb';

/**
 * Loads chdb from DATACUBE_CHDB (the package's folder, or a folder whose node_modules holds it), else from the
 * project's own node_modules. Undefined when it is not installed.
 */
export function loadChdb(): ChdbModule | undefined {
  const req = createRequire(import.meta.url);
  const where = process.env.DATACUBE_CHDB;
  const candidates = where ? [where, join(where, 'node_modules', 'chdb')] : ['chdb'];
  for (const c of candidates) {
    try {
      const m = req(c) as Partial<ChdbModule>;
      if (typeof m.Session === 'function') return m as ChdbModule;
    } catch {
      // try the next
    }
  }
  return undefined;
}

/** Settings that must be in force before a statement is parsed; everything else is left at chdb's defaults. */
const SESSION_SETTINGS = ['max_query_size = 16777216', 'output_format_json_quote_64bit_integers = 1'];

export class ChdbConnection extends LayoutBase implements Connection {
  private readonly serial = new Serial();
  private ready: Promise<void> | undefined;

  constructor(
    private readonly session: ChdbSession,
    database: string,
  ) {
    const target: ClickHouseTarget = { http: 'chdb:', username: 'default', password: '', database, cluster: undefined };
    super(target);
  }

  /** One statement at a time: a chdb session runs queries one by one. */
  private run(query: string, format?: string): Promise<string> {
    this.ready ??= (async () => {
      for (const s of SESSION_SETTINGS) await this.session.queryAsync(`SET ${s}`);
    })();
    const ready = this.ready;
    return this.serial.run(async () => {
      await ready;
      const r = await this.session.queryAsync(query, format ? { format } : {});
      return r.text();
    });
  }

  async exec(query: Sql, _settings?: Settings): Promise<void> {
    await this.run(query.text);
  }

  async rows<T extends JsonRow = JsonRow>(query: Sql, _settings?: Settings): Promise<T[]> {
    const text = await this.run(query.text, 'JSONEachRow');
    return text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as T);
  }

  async stream<T extends JsonRow = JsonRow>(query: Sql, onRow: (row: T) => Promise<void> | void, settings?: Settings): Promise<void> {
    for (const r of await this.rows<T>(query, settings)) await onRow(r);
  }

  async insert(name: string, rows: readonly JsonRow[], _settings?: Settings): Promise<void> {
    if (rows.length === 0) return;
    const body = rows.map((r) => JSON.stringify(r)).join('\n');
    await this.run(`INSERT INTO ${this.table(name).text} FORMAT JSONEachRow\n${body}`);
  }

  async ping(): Promise<void> {
    await this.rows(sql`SELECT 1 AS ok`);
  }

  /** The session belongs to whoever made it (several stores may share it): closing a connection keeps it. */
  async close(): Promise<void> {
    await this.serial.run(async () => undefined);
  }
}
