import { type ClickHouseClient, type ClickHouseSettings, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { ident, Sql, sql } from './sql.ts';
import type { ClickHouseTarget } from './url.ts';

export type JsonRow = Record<string, unknown>;
export type Settings = Record<string, string | number>;

export interface ConnectionOptions {
  /** Milliseconds before a request is abandoned (default 300 000: exports and cluster DDL can be slow). */
  requestTimeoutMs?: number;
  /** Sockets kept open to ClickHouse (default 10). */
  maxOpenConnections?: number;
}

/** `major.minor` of the server, from `SELECT version()`: the one place where SQL may differ by version. */
export interface ServerVersion {
  text: string;
  major: number;
  minor: number;
}

export function parseVersion(text: string): ServerVersion {
  const m = /^(\d+)\.(\d+)/.exec(text.trim());
  if (!m) throw new Error(`unexpected ClickHouse version string: ${JSON.stringify(text)}`);
  return { text: text.trim(), major: Number(m[1]), minor: Number(m[2]) };
}

/**
 * What the store needs from ClickHouse: run a statement, read rows as JSON, stream rows, insert JSON rows, and
 * know the table layout (single server or cluster). Implemented over HTTP (`HttpConnection`, the production path,
 * any ClickHouse from 18.16 on) and over an in-process chdb session (`chdb.ts`, ClickHouse 26.x, used by the tests).
 *
 * In single-server mode a logical table `t` is the MergeTree `db.t`. In cluster mode every server has the
 * MergeTree `db.t_local` (created ON CLUSTER) and the Distributed table `db.t` in front of all shards; queries and
 * inserts use `db.t`, while shard-local objects (materialized views) name `db.t_local`.
 */
export interface Connection {
  readonly target: ClickHouseTarget;
  readonly db: Sql;
  readonly cluster: Sql | undefined;
  /** ` ON CLUSTER name`, or nothing. */
  readonly onCluster: Sql;
  readonly clustered: boolean;
  /** `db.t`: the table queries read and inserts write (Distributed in cluster mode). */
  table(name: string): Sql;
  /** The unqualified name of the table holding this server's own rows (`t_local` in cluster mode). */
  localName(name: string): string;
  /** `db.t_local` in cluster mode, `db.t` otherwise. */
  local(name: string): Sql;

  exec(query: Sql, settings?: Settings): Promise<void>;
  rows<T extends JsonRow = JsonRow>(query: Sql, settings?: Settings): Promise<T[]>;
  /** Rows one at a time, with back-pressure: the next rows are read only after `onRow`'s promise resolves. */
  stream<T extends JsonRow = JsonRow>(query: Sql, onRow: (row: T) => Promise<void> | void, settings?: Settings): Promise<void>;
  /** Inserts JSON rows into `db.<name>` (the Distributed table in cluster mode); resolves once they are stored. */
  insert(name: string, rows: readonly JsonRow[], settings?: Settings): Promise<void>;
  /** The server's version (asked once, then remembered). */
  version(): Promise<ServerVersion>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The table layout shared by every implementation. */
export abstract class LayoutBase {
  readonly db: Sql;
  readonly cluster: Sql | undefined;
  readonly onCluster: Sql;
  private versionPromise: Promise<ServerVersion> | undefined;

  protected constructor(readonly target: ClickHouseTarget) {
    this.db = ident(target.database);
    this.cluster = target.cluster === undefined ? undefined : ident(target.cluster);
    this.onCluster = this.cluster ? sql` ON CLUSTER ${this.cluster}` : sql``;
  }

  get clustered(): boolean {
    return this.cluster !== undefined;
  }
  table(name: string): Sql {
    return sql`${this.db}.${ident(name)}`;
  }
  localName(name: string): string {
    return this.clustered ? `${name}_local` : name;
  }
  local(name: string): Sql {
    return sql`${this.db}.${ident(this.localName(name))}`;
  }

  abstract rows<T extends JsonRow = JsonRow>(query: Sql, settings?: Settings): Promise<T[]>;

  version(): Promise<ServerVersion> {
    this.versionPromise ??= this.rows<{ v: string }>(sql`SELECT version() AS v`).then((r) => parseVersion(String(r[0]?.v ?? '')));
    // A failed attempt (server down) is not remembered.
    this.versionPromise.catch(() => (this.versionPromise = undefined));
    return this.versionPromise;
  }
}

/** ClickHouse over HTTP(S) with @clickhouse/client. */
export class HttpConnection extends LayoutBase implements Connection {
  private constructor(
    private readonly client: ClickHouseClient,
    target: ClickHouseTarget,
  ) {
    super(target);
  }

  static open(target: ClickHouseTarget, opts: ConnectionOptions = {}): HttpConnection {
    const client = createClient({
      url: target.http,
      username: target.username,
      password: target.password,
      request_timeout: opts.requestTimeoutMs ?? 300_000,
      max_open_connections: opts.maxOpenConnections ?? 10,
      compression: { request: false, response: false },
      // Errors reach the caller as exceptions; the client's own logging would only repeat them on stderr.
      log: { level: ClickHouseLogLevel.OFF },
    });
    return new HttpConnection(client, target);
  }

  /**
   * Settings for writes: answer only when the insert has finished (`wait_end_of_query`), and in cluster mode
   * only when every shard has its rows (`insert_distributed_sync`), so an acknowledged insert is on the shards.
   */
  private writeSettings(): ClickHouseSettings {
    return this.clustered ? { wait_end_of_query: 1, insert_distributed_sync: 1 } : { wait_end_of_query: 1 };
  }

  async exec(query: Sql, settings: Settings = {}): Promise<void> {
    await this.client.command({ query: query.text, clickhouse_settings: { wait_end_of_query: 1, ...this.writeSettings(), ...(settings as ClickHouseSettings) } });
  }

  async rows<T extends JsonRow = JsonRow>(query: Sql, settings: Settings = {}): Promise<T[]> {
    const rs = await this.client.query({ query: query.text, format: 'JSONEachRow', clickhouse_settings: settings as ClickHouseSettings });
    return rs.json<T>();
  }

  async stream<T extends JsonRow = JsonRow>(query: Sql, onRow: (row: T) => Promise<void> | void, settings: Settings = {}): Promise<void> {
    const rs = await this.client.query({ query: query.text, format: 'JSONEachRow', clickhouse_settings: settings as ClickHouseSettings });
    const stream = rs.stream<T>();
    try {
      for await (const chunk of stream) {
        for (const row of chunk) await onRow(row.json());
      }
    } finally {
      stream.destroy();
    }
  }

  async insert(name: string, rows: readonly JsonRow[], settings: Settings = {}): Promise<void> {
    if (rows.length === 0) return;
    await this.client.insert({
      table: this.table(name).text,
      values: rows as JsonRow[],
      format: 'JSONEachRow',
      clickhouse_settings: { ...this.writeSettings(), ...(settings as ClickHouseSettings) },
    });
  }

  async ping(): Promise<void> {
    const r = await this.client.ping();
    if (!r.success) throw r.error;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
