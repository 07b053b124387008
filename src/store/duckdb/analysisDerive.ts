import { type DuckDBConnection, type DuckDBValue, listValue } from '@duckdb/node-api';
import { ACCESS_SOURCE_OTHER, SCENE_SOURCES } from '../../domain/accessSource.ts';
import { EVENT_TYPES, SESSION_GAP_MS } from '../../domain/analysis.ts';
import { EventIdFilter } from './eventIdFilter.ts';

/**
 * Folds stored events into the analysis tables (see analysisSchema.ts), a range of `seq` at a time, in one
 * transaction per range. Events may arrive in any order: whatever a batch touches is taken out and written back
 * merged, so the tables always equal what a rebuild from `events` would give.
 *
 * - user-days: the batch's (user, day) sums are added to the stored rows of those days. A user's `hist` bits come
 *   from `an_users` (latest day and its bits) when the batch's days are not before the user's latest day (events in
 *   time order); otherwise ("late") the user's rows from 64 days before the batch's first day on are read, and those
 *   from that first day on are rewritten.
 * - sessions (only of `visit`, `open` and `share` events: an event of any other type counts for visitors, in the
 *   user-days, and takes no part in any session) with a `session` value merge with the stored session of the same value (looked up first among recent
 *   sessions, then everywhere when a filter of every stored session key cannot rule it out); events without one merge
 *   with the stored sessions of the user that lie within 30 minutes of them (gaps and islands). The user's other
 *   sessions of the days concerned are read too, so that `src_first` can be set again.
 */

const GAP = SESSION_GAP_MS;
const MS_PER_DAY = 86_400_000;
const SHANGHAI_MS = 8 * 3_600_000;
/** Events folded per transaction at most (a store upgraded with millions of events catches up in steps). */
export const ANALYSIS_DERIVE_STEP = 500_000;
/** Recent sessions are looked up in the sessions that ended at most this long before the batch's first event. */
const RECENT_SESSION_MS = MS_PER_DAY;

const VISIT = `'${EVENT_TYPES.VISIT}'`;
const SHARE = `'${EVENT_TYPES.SHARE}'`;
/** The types whose events make sessions (reference: the other types count for visitors only). */
const SESSION_TYPES = `${VISIT}, '${EVENT_TYPES.OPEN}', ${SHARE}`;

/**
 * The first scene of a session as one integer `(time << 20) | scene` (scenes are 0–999,999 < 2^20; times < 2^43 ms, as
 * for the portrait's packed values): its minimum is the earliest scene, the smaller one at equal times.
 */
const SCENE_BITS = 20;
function packScene(time: string, scene: string): string {
  return `((${time} << ${SCENE_BITS}) | (${scene} & ${(1 << SCENE_BITS) - 1}))`;
}

/** `x << s` for a UBIGINT, dropping the bits shifted out (DuckDB refuses an overflowing shift); 0 for s ≥ 64. */
function shl(x: string, s: string): string {
  return `(CASE WHEN (${s}) >= 64 THEN 0::UBIGINT ELSE ((${x}) & (18446744073709551615::UBIGINT >> (${s}))) << (${s}) END)`;
}

const SCENE_MAP = [...SCENE_SOURCES].map(([scene, source]) => `(${scene}, ${source})`).join(', ');

type Row = Record<string, DuckDBValue>;

async function one(conn: DuckDBConnection, sql: string, values: DuckDBValue[] = []): Promise<Row> {
  return (await conn.runAndReadAll(sql, values)).getRowObjects()[0] ?? {};
}

function int(v: DuckDBValue | undefined): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
}

/**
 * The two 32-bit halves of a 64-bit `hash()` column `h` (low, high), for an EventIdFilter: read as numbers, where the
 * 64-bit value would make a BigInt per row.
 */
const HALVES = '(h & 4294967295)::UINTEGER AS lo, (h >> 32)::UINTEGER AS hi';

/**
 * Every stored session key (app, uid, session value), approximately: lets the derive skip looking up a session value
 * it has never stored (a scan), while a value it has stored is always looked up. Filled on first use.
 */
export class SessionKeys {
  private filter: EventIdFilter | undefined;

  async load(conn: DuckDBConnection): Promise<EventIdFilter> {
    if (this.filter) return this.filter;
    const n = int((await one(conn, 'SELECT count(*) AS n FROM an_sessions WHERE sid IS NOT NULL')).n);
    const filter = new EventIdFilter(n);
    if (n > 0) {
      const result = await conn.stream(`SELECT ${HALVES} FROM (SELECT hash(app, uid, sid) AS h FROM an_sessions WHERE sid IS NOT NULL)`);
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const los = chunk.getColumnValues(0);
        const his = chunk.getColumnValues(1);
        for (let i = 0; i < los.length; i++) filter.add(Number(los[i]), Number(his[i]));
      }
    }
    this.filter = filter;
    return filter;
  }
}

const DROP = ['an_aff', 'an_evu', 'an_rs', 'an_pud', 'an_old', 'an_w', 'an_nd', 'an_last', 'an_ppd', 'an_ppo', 'an_bid', 'an_maybe', 'an_sold',
  'an_sn', 'an_sdays', 'an_ssib'];
/** Drops the fold's temporary objects (the view first: it reads `an_evu`). */
const DROP_ALL = ['DROP VIEW IF EXISTS an_evs;', ...DROP.map((t) => `DROP TABLE IF EXISTS ${t};`)].join(' ');

/**
 * Folds the events of one app (`appid`, numbered `app` in app_numbers) with `seq` in (after, upto] into the analysis
 * tables and records `upto` as the app's progress in `an_state`. Apps are folded each on its own, like the
 * portrait's derive (see DeriveQueue): no app's backlog is in another app's fold.
 */
export async function deriveAnalysis(conn: DuckDBConnection, app: number, appid: string, after: number, upto: number, keys: SessionKeys): Promise<void> {
  const filter = await keys.load(conn);
  const lo = BigInt(after);
  const hi = BigInt(upto);
  const added: [number, number][] = [];
  await conn.run('BEGIN TRANSACTION');
  try {
    const size = await users(conn, lo, hi, appid);
    if (size > 0) {
      await batchEvents(conn, lo, hi, appid);
      await userDays(conn);
      await pageDays(conn);
      added.push(...(await sessions(conn, filter)));
    }
    await conn.run('INSERT OR REPLACE INTO an_state VALUES ($1, $2)', [app, hi]);
    await conn.run('COMMIT');
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await conn.run(DROP_ALL).catch(() => undefined);
  }
  for (const [l, h] of added) filter.add(l, h);
}

/** The users the batch touches (`an_aff`), new ones numbered per app. Returns the number of events they have. */
async function users(conn: DuckDBConnection, lo: bigint, hi: bigint, appid: string): Promise<number> {
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE an_aff AS
     WITH b AS (
       SELECT n.app, e.openid, min(e.day) AS m, max(e.day) AS mx, count(*) AS events
       FROM events e JOIN app_numbers n ON n.appid = e.appid WHERE e.appid = $3 AND e.seq > $1 AND e.seq <= $2 GROUP BY n.app, e.openid
     ), top AS (SELECT app, max(uid) AS mu FROM an_users GROUP BY app)
     SELECT b.app, b.openid, b.m, b.mx, b.events, u.uid IS NULL AS is_new,
       (CASE WHEN u.uid IS NULL THEN coalesce(t.mu, 0) + row_number() OVER (PARTITION BY b.app, u.uid IS NULL ORDER BY b.openid)
             ELSE u.uid END)::INTEGER AS uid,
       u.first_day AS old_first, u.last_day AS old_last, u.last_hist AS old_hist,
       least(b.m, coalesce(u.first_day, b.m)) AS first_day,
       u.uid IS NOT NULL AND b.m < u.last_day AS late
     FROM b LEFT JOIN an_users u ON u.app = b.app AND u.openid = b.openid LEFT JOIN top t ON t.app = b.app`,
    [lo, hi, appid],
  );
  return int((await one(conn, 'SELECT coalesce(sum(events), 0) AS n FROM an_aff')).n);
}

/** New page paths into the dictionary; the batch, one row per event, with uids and page ids (`an_evu`). */
async function batchEvents(conn: DuckDBConnection, lo: bigint, hi: bigint, appid: string): Promise<void> {
  await conn.run(
    `INSERT INTO an_pages
     SELECT x.app, coalesce(t.mp, 0) + row_number() OVER (PARTITION BY x.app ORDER BY x.path), x.path
     FROM (SELECT DISTINCT n.app, e.page AS path FROM events e JOIN app_numbers n ON n.appid = e.appid
           WHERE e.appid = $3 AND e.seq > $1 AND e.seq <= $2 AND e.page IS NOT NULL AND e.type IN (${VISIT}, ${SHARE})
           EXCEPT SELECT app, path FROM an_pages) x
     LEFT JOIN (SELECT app, max(page) AS mp FROM an_pages GROUP BY app) t ON t.app = x.app`,
    [lo, hi, appid],
  );
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE an_evu AS
     SELECT a.app, a.uid, e.time, e.day, e.type = ${VISIT} AS is_visit, e.type = ${SHARE} AS is_share, e.page, p.page AS page_id,
       e.scene, e.session AS sid, coalesce(e.stay, 0)::DOUBLE AS stay, e.type IN (${SESSION_TYPES}) AS in_session
     FROM events e JOIN app_numbers n ON n.appid = e.appid
     JOIN an_aff a ON a.app = n.app AND a.openid = e.openid
     LEFT JOIN an_pages p ON p.app = n.app AND p.path = e.page AND e.type IN (${VISIT}, ${SHARE})
     WHERE e.appid = $3 AND e.seq > $1 AND e.seq <= $2`,
    [lo, hi, appid],
  );
}

async function userDays(conn: DuckDBConnection): Promise<void> {
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE an_pud AS
     SELECT app, uid, day, (count(*) FILTER (WHERE is_visit))::INTEGER AS pv, coalesce(sum(stay) FILTER (WHERE is_visit), 0) AS stay,
       (count(*) FILTER (WHERE is_share))::INTEGER AS shares
     FROM an_evu GROUP BY app, uid, day`,
  );
  // Rows to merge with (the latest day, for events in time order) or to read and rewrite (late events).
  const bound = await one(conn, `SELECT min(CASE WHEN late THEN m - 64 ELSE m END) AS b FROM an_aff WHERE NOT is_new`);
  const lowest = bound.b === null || bound.b === undefined ? null : int(bound.b);
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE an_old AS
     SELECT d.app, d.uid, d.day, d.hist, d.pv, d.stay, d.shares, d.day >= a.m AS rewrite
     FROM an_user_days d JOIN an_aff a ON a.app = d.app AND a.uid = d.uid
     WHERE ${lowest === null ? 'false' : `d.day >= ${lowest}`} AND NOT a.is_new
       AND ((a.late AND d.day >= a.m - 64) OR (NOT a.late AND d.day = a.m AND a.m = a.old_last))`,
  );
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE an_w AS
     SELECT app, uid, day, sum(pv)::INTEGER AS pv, sum(stay) AS stay, sum(shares)::INTEGER AS shares
     FROM (SELECT app, uid, day, pv, stay, shares FROM an_pud UNION ALL SELECT app, uid, day, pv, stay, shares FROM an_old WHERE rewrite)
     GROUP BY app, uid, day`,
  );
  const s = 'w.day - a.old_last';
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE an_nd AS
     WITH known AS (SELECT app, uid, day FROM an_w UNION ALL SELECT app, uid, day FROM an_old WHERE NOT rewrite),
     bits AS (
       SELECT w.app, w.uid, w.day, coalesce(bit_or(1::UBIGINT << (w.day - 1 - k.day)), 0::UBIGINT) AS b
       FROM an_w w LEFT JOIN known k ON k.app = w.app AND k.uid = w.uid AND k.day < w.day AND k.day >= w.day - 64
       GROUP BY w.app, w.uid, w.day)
     SELECT w.app, w.day, w.uid, a.first_day,
       bits.b | (CASE WHEN a.is_new OR a.late THEN 0::UBIGINT
                      WHEN w.day = a.old_last THEN a.old_hist
                      WHEN ${s} > 64 THEN 0::UBIGINT
                      ELSE ${shl('a.old_hist', s)} | (1::UBIGINT << (${s} - 1)) END) AS hist,
       w.pv, w.stay, w.shares
     FROM an_w w JOIN bits ON bits.app = w.app AND bits.uid = w.uid AND bits.day = w.day
     JOIN an_aff a ON a.app = w.app AND a.uid = w.uid`,
  );
  if (lowest !== null) {
    await conn.run(
      `DELETE FROM an_user_days USING an_old o
       WHERE an_user_days.day >= ${lowest} AND o.rewrite AND an_user_days.app = o.app AND an_user_days.uid = o.uid AND an_user_days.day = o.day`,
    );
  }
  await conn.run('INSERT INTO an_user_days SELECT app, day, uid, first_day, hist, pv, stay, shares FROM an_nd ORDER BY app, day, uid');
  // Each touched user's latest day is among the rows just written.
  await conn.run('CREATE OR REPLACE TEMP TABLE an_last AS SELECT app, uid, max(day) AS day, arg_max(hist, day) AS hist FROM an_nd GROUP BY app, uid');
  await conn.run(
    `UPDATE an_users SET first_day = x.first_day, last_day = x.day, last_hist = x.hist
     FROM (SELECT a.app, a.uid, a.first_day, l.day, l.hist FROM an_aff a JOIN an_last l ON l.app = a.app AND l.uid = a.uid WHERE NOT a.is_new) x
     WHERE an_users.app = x.app AND an_users.uid = x.uid`,
  );
  await conn.run(
    `INSERT INTO an_users SELECT a.app, a.uid, a.openid, a.first_day, l.day, l.hist
     FROM an_aff a JOIN an_last l ON l.app = a.app AND l.uid = a.uid WHERE a.is_new ORDER BY a.app, a.uid`,
  );
}

async function pageDays(conn: DuckDBConnection): Promise<void> {
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE an_ppd AS
     SELECT app, day, page_id AS page, uid, (count(*) FILTER (WHERE is_visit))::INTEGER AS views,
       coalesce(sum(stay) FILTER (WHERE is_visit), 0) AS stay, (count(*) FILTER (WHERE is_share))::INTEGER AS shares
     FROM an_evu WHERE page_id IS NOT NULL GROUP BY app, day, page_id, uid`,
  );
  const r = await one(conn, 'SELECT min(day) AS lo, max(day) AS hi FROM an_ppd');
  if (r.lo === null || r.lo === undefined) return;
  const range = `BETWEEN ${int(r.lo)} AND ${int(r.hi)}`;
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE an_ppo AS
     SELECT d.app, d.day, d.page, d.uid, d.views, d.stay, d.shares FROM an_page_days d
     JOIN an_ppd p ON p.app = d.app AND p.day = d.day AND p.page = d.page AND p.uid = d.uid
     WHERE d.day ${range}`,
  );
  await conn.run(
    `DELETE FROM an_page_days USING an_ppo o
     WHERE an_page_days.day ${range} AND an_page_days.app = o.app AND an_page_days.day = o.day
       AND an_page_days.page = o.page AND an_page_days.uid = o.uid`,
  );
  await conn.run(
    `INSERT INTO an_page_days
     SELECT app, day, page, uid, sum(views)::INTEGER, sum(stay), sum(shares)::INTEGER
     FROM (SELECT * FROM an_ppd UNION ALL SELECT * FROM an_ppo) GROUP BY app, day, page, uid ORDER BY app, day, page, uid`,
  );
}

/** Session columns as stored, in table order. */
const SESSION_COLUMNS =
  'app, day, uid, sid, first_time, last_time, scene_time, scene, source, stay, pages, depth, entry_time, entry_page, exit_time, exit_page';

/** Users whose sessions are rebuilt in one step of resessionAnalysis. */
const RESESSION_USERS = 20_000;

/**
 * Rebuilds the sessions of every user with a folded event of a type that makes no session (neither visit, open nor
 * share): until datacube 14's audit such events were folded into sessions. Their sessions are deleted and folded again
 * from their stored events up to the app's fold position (`an_state`), users in steps. Runs inside the caller's
 * transaction (a DuckDB migration, schema.ts); cheap when no such event is stored (one scan of `events.type`). The
 * session-key filter (SessionKeys) is loaded after it, on the first derive.
 */
export async function resessionAnalysis(conn: DuckDBConnection): Promise<void> {
  try {
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE an_rs AS
       SELECT u.app, u.uid, u.openid, x.appid, s.last_seq, dense_rank() OVER (ORDER BY u.app, u.uid) AS k
       FROM (SELECT DISTINCT appid, openid FROM events WHERE type NOT IN (${SESSION_TYPES})) x
       JOIN app_numbers n ON n.appid = x.appid JOIN an_state s ON s.app = n.app
       JOIN an_users u ON u.app = n.app AND u.openid = x.openid`,
    );
    const total = int((await one(conn, 'SELECT count(*) AS n FROM an_rs')).n);
    // The deleted sessions' keys stay in no filter: nothing is looked up in the filter here.
    const none = new EventIdFilter(0);
    for (let from = 0; from < total; from += RESESSION_USERS) {
      const step = `r.k > ${from} AND r.k <= ${from + RESESSION_USERS}`;
      await conn.run(
        `DELETE FROM an_sessions USING an_rs r WHERE ${step} AND an_sessions.app = r.app AND an_sessions.uid = r.uid`,
      );
      await conn.run(
        `CREATE OR REPLACE TEMP TABLE an_evu AS
         SELECT r.app, r.uid, e.time, e.day, e.type = ${VISIT} AS is_visit, e.type = ${SHARE} AS is_share, e.page, p.page AS page_id,
           e.scene, e.session AS sid, coalesce(e.stay, 0)::DOUBLE AS stay, true AS in_session
         FROM events e JOIN an_rs r ON r.appid = e.appid AND r.openid = e.openid
         LEFT JOIN an_pages p ON p.app = r.app AND p.path = e.page AND e.type IN (${VISIT}, ${SHARE})
         WHERE ${step} AND e.seq <= r.last_seq AND e.type IN (${SESSION_TYPES})`,
      );
      await sessions(conn, none);
    }
  } finally {
    await conn.run(DROP_ALL).catch(() => undefined);
  }
}

/** Returns the filter keys of the session values the batch stored (to be added once committed). */
async function sessions(conn: DuckDBConnection, filter: EventIdFilter): Promise<[number, number][]> {
  // Kept on the connection from one derive to the next (it never changes while the process runs).
  await conn.run(`CREATE TEMP TABLE IF NOT EXISTS an_scene_map AS SELECT * FROM (VALUES ${SCENE_MAP}) t(scene, source)`);
  // Only visit, open and share events make sessions: an event of any other type is left out of them entirely. A
  // view, not a copy: each statement below reads it once.
  await conn.run('CREATE OR REPLACE TEMP VIEW an_evs AS SELECT * FROM an_evu WHERE in_session');
  // The batch's sessions with a value; structs order (time, value) pairs as the definitions want (the page id rides
  // along after the path, so the winner's id needs no lookup).
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE an_bid AS
     SELECT app, uid, sid, hash(app, uid, sid) AS h, min(time) AS first_time, max(time) AS last_time,
       min(${packScene('time', 'scene')}) FILTER (WHERE scene IS NOT NULL) AS sc,
       coalesce(sum(stay) FILTER (WHERE is_visit), 0) AS stay,
       coalesce(list(DISTINCT page_id) FILTER (WHERE is_visit AND page_id IS NOT NULL), []::INTEGER[]) AS pages,
       min({'t': time, 'p': page, 'i': page_id}) FILTER (WHERE is_visit AND page IS NOT NULL) AS en,
       max({'t': time, 'p': page, 'i': page_id}) FILTER (WHERE is_visit AND page IS NOT NULL) AS ex
     FROM an_evs WHERE sid IS NOT NULL GROUP BY app, uid, sid`,
  );
  const bounds = await one(
    conn,
    `SELECT (SELECT min(first_time) FROM an_bid) AS id_min, (SELECT min(time) FROM an_evs WHERE sid IS NULL) AS gap_min`,
  );
  const keys: [number, number][] = [];
  const maybe: bigint[] = [];
  if (bounds.id_min !== null && bounds.id_min !== undefined) {
    const [los = [], his = []] = (await conn.runAndReadAll(`SELECT ${HALVES} FROM an_bid`)).getColumns();
    for (let i = 0; i < los.length; i++) {
      const k: [number, number] = [Number(los[i]), Number(his[i])];
      keys.push(k);
      if (filter.mightContain(...k)) maybe.push((BigInt(k[1]) << 32n) | BigInt(k[0]));
    }
  }
  // Stored sessions the batch may change: same session value (recent ones first, then the rest for values that
  // may be stored but were not found), and sessions without a value within 30 minutes of the batch's events.
  const recent = int(bounds.id_min) - RECENT_SESSION_MS;
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE an_sold AS
     SELECT s.* FROM an_sessions s JOIN an_bid b ON s.app = b.app AND s.uid = b.uid AND s.sid = b.sid
     WHERE ${maybe.length > 0 ? `s.last_time >= ${recent}` : 'false'}`,
  );
  if (maybe.length > 0) {
    await conn.run('CREATE OR REPLACE TEMP TABLE an_maybe AS SELECT unnest($1::UBIGINT[]) AS h', [listValue(maybe)]);
    const left = int(
      (
        await one(
          conn,
          `SELECT count(*) AS n FROM an_bid b SEMI JOIN an_maybe m ON m.h = b.h
           WHERE NOT EXISTS (SELECT 1 FROM an_sold o WHERE o.app = b.app AND o.uid = b.uid AND o.sid = b.sid)`,
        )
      ).n,
    );
    if (left > 0) {
      await conn.run(
        `INSERT INTO an_sold
         SELECT s.* FROM an_sessions s JOIN (SELECT b.* FROM an_bid b SEMI JOIN an_maybe m ON m.h = b.h) b
           ON s.app = b.app AND s.uid = b.uid AND s.sid = b.sid
         WHERE s.last_time < ${recent}`,
      );
    }
  }
  if (bounds.gap_min !== null && bounds.gap_min !== undefined) {
    await conn.run(
      `INSERT INTO an_sold
       SELECT s.* FROM an_sessions s
       JOIN (SELECT app, uid, min(time) AS tmin, max(time) AS tmax FROM an_evs WHERE sid IS NULL GROUP BY app, uid) b
         ON s.app = b.app AND s.uid = b.uid AND s.sid IS NULL AND s.last_time >= b.tmin - ${GAP} AND s.first_time <= b.tmax + ${GAP}
       WHERE s.last_time >= ${int(bounds.gap_min) - GAP}`,
    );
  }
  // Stored sessions and the batch's partial sessions (with a value) and events (without) as one list of elements,
  // each with a unique number (a total order); merged by value, or by gaps of at most 30 minutes.
  const merged = `min(first_time) AS first_time, max(last_time) AS last_time, min(sc) AS sc, sum(stay) AS stay,
    list_distinct(flatten(list(pages))) AS pages, min(en) AS en, max(ex) AS ex`;
  const page = (time: string, path: string, id: string) => `{'t': ${time}, 'p': ${path}, 'i': ${id}}`;
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE an_sn AS
     WITH el AS (
       SELECT *, row_number() OVER () AS eid FROM (
         SELECT o.app, o.uid, o.sid, o.first_time, o.last_time,
           CASE WHEN o.scene_time IS NOT NULL THEN ${packScene('o.scene_time', 'o.scene')} END AS sc,
           o.stay, o.pages,
           CASE WHEN o.entry_time IS NOT NULL THEN ${page('o.entry_time', 'pe.path', 'o.entry_page')} END AS en,
           CASE WHEN o.exit_time IS NOT NULL THEN ${page('o.exit_time', 'px.path', 'o.exit_page')} END AS ex
         FROM an_sold o
         LEFT JOIN an_pages pe ON pe.app = o.app AND pe.page = o.entry_page
         LEFT JOIN an_pages px ON px.app = o.app AND px.page = o.exit_page
         UNION ALL
         SELECT b.app, b.uid, b.sid, b.first_time, b.last_time, b.sc, b.stay, b.pages, b.en, b.ex FROM an_bid b
         SEMI JOIN an_sold o ON o.app = b.app AND o.uid = b.uid AND o.sid = b.sid
         UNION ALL
         SELECT app, uid, sid, time, time, CASE WHEN scene IS NOT NULL THEN ${packScene('time', 'scene')} END,
           CASE WHEN is_visit THEN stay ELSE 0 END,
           CASE WHEN is_visit AND page_id IS NOT NULL THEN [page_id] ELSE []::INTEGER[] END,
           CASE WHEN is_visit AND page IS NOT NULL THEN ${page('time', 'page', 'page_id')} END,
           CASE WHEN is_visit AND page IS NOT NULL THEN ${page('time', 'page', 'page_id')} END
         FROM an_evs WHERE sid IS NULL
       )
     ),
     ids AS (
       SELECT app, uid, sid, ${merged} FROM el WHERE sid IS NOT NULL GROUP BY app, uid, sid
       UNION ALL
       SELECT b.app, b.uid, b.sid, b.first_time, b.last_time, b.sc, b.stay, b.pages, b.en, b.ex FROM an_bid b
       ANTI JOIN an_sold o ON o.app = b.app AND o.uid = b.uid AND o.sid = b.sid
     ),
     o AS (
       SELECT *, max(last_time) OVER (PARTITION BY app, uid ORDER BY first_time, last_time, eid
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
       FROM el WHERE sid IS NULL
     ), g AS (
       SELECT *, sum(CASE WHEN prev_end IS NULL OR first_time - prev_end > ${GAP} THEN 1 ELSE 0 END)
                   OVER (PARTITION BY app, uid ORDER BY first_time, last_time, eid ROWS UNBOUNDED PRECEDING) AS grp
       FROM o
     ), gaps AS (SELECT app, uid, NULL::VARCHAR AS sid, ${merged} FROM g GROUP BY app, uid, grp),
     x AS (SELECT * FROM ids UNION ALL SELECT * FROM gaps)
     SELECT x.app, ((x.first_time + ${SHANGHAI_MS}) // ${MS_PER_DAY})::INTEGER AS day, x.uid, x.sid, x.first_time, x.last_time,
       x.sc >> ${SCENE_BITS} AS scene_time, (x.sc & ${(1 << SCENE_BITS) - 1})::INTEGER AS scene,
       coalesce(m.source, ${ACCESS_SOURCE_OTHER})::UTINYINT AS source, x.stay,
       coalesce(x.pages, []::INTEGER[]) AS pages, len(coalesce(x.pages, []::INTEGER[]))::INTEGER AS depth,
       x.en.t AS entry_time, x.en.i AS entry_page, x.ex.t AS exit_time, x.ex.i AS exit_page
     FROM x LEFT JOIN an_scene_map m ON m.scene = (x.sc & ${(1 << SCENE_BITS) - 1})`,
  );
  // The other stored sessions of the (user, day)s concerned, so that src_first is right for every session of them.
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE an_sdays AS
     SELECT DISTINCT app, uid, day FROM (SELECT app, uid, day FROM an_sold UNION ALL SELECT app, uid, day FROM an_sn)`,
  );
  const d = await one(conn, 'SELECT min(day) AS lo, max(day) AS hi FROM an_sdays');
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE an_ssib AS
     SELECT s.* FROM an_sessions s JOIN an_sdays d ON s.app = d.app AND s.uid = d.uid AND s.day = d.day
     WHERE s.day BETWEEN ${int(d.lo)} AND ${int(d.hi)}
       AND NOT EXISTS (SELECT 1 FROM an_sold o WHERE o.app = s.app AND o.uid = s.uid AND o.first_time = s.first_time
                       AND o.sid IS NOT DISTINCT FROM s.sid)`,
  );
  const f = await one(conn, 'SELECT least((SELECT min(first_time) FROM an_sold), (SELECT min(first_time) FROM an_ssib)) AS t');
  if (f.t !== null && f.t !== undefined) {
    await conn.run(
      `DELETE FROM an_sessions USING (SELECT app, uid, sid, first_time FROM an_sold UNION ALL SELECT app, uid, sid, first_time FROM an_ssib) x
       WHERE an_sessions.first_time >= ${int(f.t)} AND an_sessions.app = x.app AND an_sessions.uid = x.uid
         AND an_sessions.first_time = x.first_time AND an_sessions.sid IS NOT DISTINCT FROM x.sid`,
    );
  }
  await conn.run(
    `INSERT INTO an_sessions
     SELECT ${SESSION_COLUMNS},
       row_number() OVER (PARTITION BY app, uid, day, source ORDER BY first_time, sid NULLS FIRST) = 1 AS src_first
     FROM (SELECT ${SESSION_COLUMNS} FROM an_sn UNION ALL SELECT ${SESSION_COLUMNS} FROM an_ssib)
     ORDER BY app, day, uid, first_time`,
  );
  return keys;
}
