import type { DuckDBConnection } from '@duckdb/node-api';
import type { DistributionCount, PageCounts, RetentionCounts, SummaryCounts, TrendCounts } from '../../domain/analysis.ts';
import type { Window } from '../../domain/window.ts';
import { checkRetentionWindows } from '../analysisQueries.ts';
import { ANALYSIS_DERIVE_STEP, SessionKeys, deriveAnalysis } from './analysisDerive.ts';
import { analysisApp, distributionQuery, pagesQuery, retentionQuery, summaryQuery, trendQuery } from './analysisQuery.ts';

/**
 * The DuckDB store's analysis part: how far each app's events are folded into the analysis tables (`an_state`), the
 * filter of stored session keys, and the queries. DuckDBStore folds an app's events on the deriving connection (in
 * its derive loop, and before an analysis query of that app) and runs the queries on a reader connection.
 */
/** While an app's events keep coming, its analysis tables are folded in the background at most this often… */
const BACKGROUND_INTERVAL_MS = 2_000;
/** …unless this many events are waiting (counted in seq). */
const BACKGROUND_BATCH = 100_000;

export class DuckDBAnalysis {
  /** app → the last seq of its events folded in (0: none). */
  private readonly lastSeq = new Map<number, number>();
  private readonly lastFoldAt = new Map<number, number>();
  private readonly keys = new SessionKeys();
  private readonly apps = new Map<string, number>();

  async load(conn: DuckDBConnection): Promise<void> {
    for (const [app, seq] of (await conn.runAndReadAll('SELECT app, last_seq FROM an_state')).getRows()) this.lastSeq.set(Number(app), Number(seq));
  }

  /**
   * The store's file was replaced by a copy whose analysis tables are older (a compaction, see compact.ts): every
   * app folds again from the copy's position.
   */
  async reload(conn: DuckDBConnection): Promise<void> {
    this.lastSeq.clear();
    this.lastFoldAt.clear();
    await this.load(conn);
  }

  /** The app's rows were deleted (with its events): its next fold starts from nothing. */
  forget(app: number): void {
    this.lastSeq.delete(app);
    this.lastFoldAt.delete(app);
  }

  /** The last seq of the app's events folded in. */
  folded(app: number): number {
    return this.lastSeq.get(app) ?? 0;
  }

  /** True when every event of the app up to `seq` is folded in. */
  upTo(app: number, seq: number): boolean {
    return this.folded(app) >= seq;
  }

  /**
   * Milliseconds until a background fold of the app's events up to `upto` is due (0: now; undefined: nothing to
   * fold). A fold has a fixed cost of a few dozen statements, so during ingest it waits for a couple of seconds' worth
   * of events; a query of the app folds at once whatever is pending.
   */
  dueIn(app: number, upto: number): number | undefined {
    if (this.upTo(app, upto)) return undefined;
    // (Events of other apps between the two seqs count too: an upper bound of the app's own.)
    if (upto - this.folded(app) >= BACKGROUND_BATCH) return 0;
    return Math.max(0, (this.lastFoldAt.get(app) ?? 0) + BACKGROUND_INTERVAL_MS - Date.now());
  }

  /** Folds the app's events after the last folded one up to `upto`, in seq ranges of at most ANALYSIS_DERIVE_STEP. */
  async derive(conn: DuckDBConnection, app: number, appid: string, upto: number): Promise<void> {
    let last = this.folded(app);
    while (last < upto) {
      const next = Math.min(upto, last + ANALYSIS_DERIVE_STEP);
      await deriveAnalysis(conn, app, appid, last, next, this.keys);
      last = next;
      this.lastSeq.set(app, next);
      this.lastFoldAt.set(app, Date.now());
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
