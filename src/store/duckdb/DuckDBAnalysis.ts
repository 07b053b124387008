import type { DuckDBConnection } from '@duckdb/node-api';
import type { DistributionCount, PageCounts, RetentionCounts, SummaryCounts, TrendCounts } from '../../domain/analysis.ts';
import type { Window } from '../../domain/window.ts';
import { checkRetentionWindows } from '../analysisQueries.ts';
import { ANALYSIS_DERIVE_STEP, SessionKeys, deriveAnalysis } from './analysisDerive.ts';
import { analysisApp, distributionQuery, pagesQuery, retentionQuery, summaryQuery, trendQuery } from './analysisQuery.ts';

/**
 * The DuckDB store's analysis part: how far the analysis tables are folded (`an_state`), the filter of stored session
 * keys, and the queries. DuckDBStore calls `derive` from its own derive step (on the deriving connection) and the
 * queries on a reader connection once the tables are up to date.
 */
/** While events keep coming, the background folds the analysis tables at most this often… */
const BACKGROUND_INTERVAL_MS = 2_000;
/** …unless this many events are waiting. */
const BACKGROUND_BATCH = 100_000;

export class DuckDBAnalysis {
  private lastSeq = 0;
  private lastDeriveAt = 0;
  private readonly keys = new SessionKeys();
  private readonly apps = new Map<string, number>();

  async load(conn: DuckDBConnection): Promise<void> {
    const v = (await conn.runAndReadAll('SELECT last_seq FROM an_state WHERE id = 1')).getRows()[0]?.[0];
    this.lastSeq = Number(v ?? 0);
  }

  /** True when every event up to `seq` is folded in. */
  upTo(seq: number): boolean {
    return this.lastSeq >= seq;
  }

  /**
   * Milliseconds until a background fold of events up to `upto` is due (0: now). A fold has a fixed cost of a few
   * dozen statements, so during ingest it waits for a couple of seconds' worth of events.
   */
  dueIn(upto: number): number {
    if (this.lastSeq >= upto) return 0;
    if (upto - this.lastSeq >= BACKGROUND_BATCH) return 0;
    return Math.max(0, this.lastDeriveAt + BACKGROUND_INTERVAL_MS - Date.now());
  }

  /** Folds the events after the last folded one up to `upto`, in steps of at most ANALYSIS_DERIVE_STEP events. */
  async derive(conn: DuckDBConnection, upto: number): Promise<void> {
    while (this.lastSeq < upto) {
      const next = Math.min(upto, this.lastSeq + ANALYSIS_DERIVE_STEP);
      await deriveAnalysis(conn, this.lastSeq, next, this.keys);
      this.lastSeq = next;
      this.lastDeriveAt = Date.now();
    }
  }

  async trend(conn: DuckDBConnection, appid: string, w: Window): Promise<TrendCounts> {
    if (w.end - w.begin >= 64) throw new RangeError('a visit-trend window spans at most 64 days');
    const app = await analysisApp(conn, appid, this.apps);
    if (app === undefined) return { sessions: 0, visitPv: 0, visitUv: 0, visitUvNew: 0, stay: 0, depth: 0 };
    return trendQuery(conn, app, w);
  }

  async summary(conn: DuckDBConnection, appid: string, day: number): Promise<SummaryCounts> {
    const app = await analysisApp(conn, appid, this.apps);
    if (app === undefined) return { visitTotal: 0, sharePv: 0, shareUv: 0 };
    return summaryQuery(conn, app, day);
  }

  async distribution(conn: DuckDBConnection, appid: string, day: number): Promise<DistributionCount[]> {
    const app = await analysisApp(conn, appid, this.apps);
    return app === undefined ? [] : distributionQuery(conn, app, day);
  }

  async pages(conn: DuckDBConnection, appid: string, day: number, limit: number): Promise<PageCounts[]> {
    const app = await analysisApp(conn, appid, this.apps);
    return app === undefined ? [] : pagesQuery(conn, app, day, limit);
  }

  async retention(conn: DuckDBConnection, appid: string, cohort: Window, later: readonly Window[]): Promise<RetentionCounts> {
    checkRetentionWindows(cohort, later);
    const app = await analysisApp(conn, appid, this.apps);
    if (app === undefined) return { new: later.map(() => 0).concat(0), active: later.map(() => 0).concat(0) };
    return retentionQuery(conn, app, cohort, later);
  }
}
