import { type ClickHouseClient, type ClickHouseSettings, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { ident, Sql, sql } from './sql.ts';
import type { ClickHouseTarget } from './url.ts';

export type JsonRow = Record<string, unknown>;

export interface ConnectionOptions {
  /** Milliseconds before a request is abandoned (default 300 000: exports and cluster DDL can be slow). */
  requestTimeoutMs?: number;
  /** Sockets kept open to ClickHouse (default 10). */
  maxOpenConnections?: number;
}

/**
 * One ClickHouse endpoint and the store's table layout on it. In single-server mode a logical table `t` is the
 * MergeTree `db.t`. In cluster mode every server has the MergeTree `db.t_local` (created ON CLUSTER) and the
 * Distributed table `db.t` in front of all shards; queries and inserts use `db.t`, while shard-local work (the
 * portrait's per-user step, materialized views) names `db.t_local`.
 */
export class Connection {
  readonly db: Sql;
  readonly cluster: Sql | undefined;
  /** ` ON CLUSTER name`, or nothing. */
  readonly onCluster: Sql;

  private constructor(
    private readonly client: ClickHouseClient,
    readonly target: ClickHouseTarget,
  ) {
    this.db = ident(target.database);
    this.cluster = target.cluster === undefined ? undefined : ident(target.cluster);
    this.onCluster = this.cluster ? sql` ON CLUSTER ${this.cluster}` : sql``;
  }

  static open(target: ClickHouseTarget, opts: ConnectionOptions = {}): Connection {
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
    return new Connection(client, target);
  }

  get clustered(): boolean {
    return this.cluster !== undefined;
  }

  /** `db.t`: the table queries read and inserts write (Distributed in cluster mode). */
  table(name: string): Sql {
    return sql`${this.db}.${ident(name)}`;
  }

  /** The unqualified name of the table holding this server's own rows (`t_local` in cluster mode). */
  localName(name: string): string {
    return this.clustered ? `${name}_local` : name;
  }

  /** `db.t_local` in cluster mode, `db.t` otherwise. */
  local(name: string): Sql {
    return sql`${this.db}.${ident(this.localName(name))}`;
  }

  /**
   * Settings for writes: answer only when the insert has finished (`wait_end_of_query`), and in cluster mode
   * only when every shard has its rows (`insert_distributed_sync`), so an acknowledged insert is on the shards.
   */
  private writeSettings(): ClickHouseSettings {
    return this.clustered ? { wait_end_of_query: 1, insert_distributed_sync: 1 } : { wait_end_of_query: 1 };
  }

  async exec(query: Sql, settings: ClickHouseSettings = {}): Promise<void> {
    await this.client.command({ query: query.text, clickhouse_settings: { wait_end_of_query: 1, ...settings } });
  }

  async rows<T extends JsonRow = JsonRow>(query: Sql, settings: ClickHouseSettings = {}): Promise<T[]> {
    const rs = await this.client.query({ query: query.text, format: 'JSONEachRow', clickhouse_settings: settings });
    return rs.json<T>();
  }

  /** Rows one at a time, with back-pressure: the next rows are read only after `onRow`'s promise resolves. */
  async stream<T extends JsonRow = JsonRow>(query: Sql, onRow: (row: T) => Promise<void> | void, settings: ClickHouseSettings = {}): Promise<void> {
    const rs = await this.client.query({ query: query.text, format: 'JSONEachRow', clickhouse_settings: settings });
    const stream = rs.stream<T>();
    try {
      for await (const chunk of stream) {
        for (const row of chunk) await onRow(row.json());
      }
    } finally {
      stream.destroy();
    }
  }

  /** Inserts JSON rows into `db.<name>` (the Distributed table in cluster mode); resolves once they are stored. */
  async insert(name: string, rows: readonly JsonRow[], settings: ClickHouseSettings = {}): Promise<void> {
    if (rows.length === 0) return;
    await this.client.insert({
      table: this.table(name).text,
      values: rows as JsonRow[],
      format: 'JSONEachRow',
      clickhouse_settings: { ...this.writeSettings(), ...settings },
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
