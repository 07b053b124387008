import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { VALUE_BITS, VALUE_MASK } from '../packing.ts';

const B = VALUE_BITS;
const DIMS = ['g', 'a', 'p', 'pr', 'c', 'd'] as const;
const cols = (prefix = '') => DIMS.map((c) => `${prefix}${c}`).join(', ');

/**
 * The device id of an app's overflow bucket: a device name that is not in the app's dictionary (`app_devices`:
 * the store admits at most `maxDeviceNames` names per app, see DuckDBStore) counts under it. It is the largest
 * value the packed integers hold, so no admitted name can ever reach it.
 */
export const OVERFLOW_DEVICE_ID = VALUE_MASK;

async function one(conn: DuckDBConnection, sql: string, values: DuckDBValue[] = []): Promise<Record<string, DuckDBValue>> {
  return (await conn.runAndReadAll(sql, values)).getRowObjects()[0] ?? {};
}

function int(v: DuckDBValue | undefined): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
}

function integer(n: number, what: string): string {
  if (!Number.isSafeInteger(n)) throw new Error(`${what} must be an integer, not ${n}`);
  return String(n);
}

/** What one derive step folds in: the events of ONE app with `seq` in (after, upto]. */
export interface DeriveJob {
  appid: string;
  /** The app's number in the derived tables. */
  app: number;
  after: number;
  upto: number;
  /** The largest `uid` the app has so far (uids are numbered per app). */
  maxUid: number;
  /** Whether the app already has its row in `app_derive`. */
  hasProgressRow: boolean;
}

/**
 * Folds the events of one app with `seq` in (after, upto] into `users`, `user_days` and `user_last` (see schema.ts),
 * in one transaction, and records the app's progress in `app_derive`. Touches only that app's rows, so apps are
 * derived independently: one app's backlog (or a failure in its data) never holds up another app. Returns the
 * app's largest uid afterwards.
 *
 * For every user the batch touches, the user's rows from the first touched day on are taken out (the `user_last`
 * row; and, only when an event lands before the user's latest day, the `user_days` rows from the one before it on),
 * merged with the batch's per-day values, and written back as a chain: running `max` of the packed integers (the
 * latest known value so far), `next_day` from the following row, the last row into `user_last`. Each dimension is
 * merged with `max`, so events may arrive in any order (late events included) and the derived tables always equal
 * what a rebuild from `events` would give. Events in time order touch only `user_last` and append to `user_days`.
 */
export async function derivePending(conn: DuckDBConnection, job: DeriveJob): Promise<number> {
  const lo = BigInt(job.after);
  const hi = BigInt(job.upto);
  const app = integer(job.app, 'app');
  await conn.run('BEGIN TRANSACTION');
  try {
    // The batch per (user, day): the latest known value of each dimension that day. Devices by the app's own
    // dictionary; a name outside it (past the app's cap) counts under the overflow id.
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE pend AS
       SELECT e.openid, e.day,
         max(CASE WHEN e.gender > 0 THEN (e.time << ${B}) | e.gender ELSE 0 END) AS g,
         max(CASE WHEN e.age_bucket > 0 THEN (e.time << ${B}) | e.age_bucket ELSE 0 END) AS a,
         max(CASE WHEN e.platform_id > 0 THEN (e.time << ${B}) | e.platform_id ELSE 0 END) AS p,
         max(CASE WHEN e.province > 0 THEN (e.time << ${B}) | e.province ELSE 0 END) AS pr,
         max(CASE WHEN e.city > 0 THEN (e.time << ${B}) | e.city ELSE 0 END) AS c,
         max(CASE WHEN e.device IS NULL THEN 0 ELSE (e.time << ${B}) | coalesce(dv.id, ${OVERFLOW_DEVICE_ID}) END) AS d
       FROM events e LEFT JOIN (SELECT id, name FROM app_devices WHERE app = ${app}) dv ON dv.name = e.device
       WHERE e.seq > $1 AND e.seq <= $2 AND e.appid = $3
       GROUP BY e.openid, e.day`,
      [lo, hi, job.appid],
    );
    // The users the batch touches: known ones with their uid and first day; new ones get the app's next uids.
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE aff AS
       SELECT n.openid, n.m,
         coalesce(u.uid, ${integer(job.maxUid, 'maxUid')} + row_number() OVER (ORDER BY u.uid IS NOT NULL, n.openid))::INTEGER AS uid,
         u.uid IS NULL AS is_new, u.first_day AS old_first, least(n.m, coalesce(u.first_day, n.m)) AS first_day
       FROM (SELECT openid, min(day) AS m FROM pend GROUP BY openid) n
         LEFT JOIN (SELECT openid, uid, first_day FROM users WHERE app = ${app}) u ON u.openid = n.openid`,
    );
    await conn.run(`INSERT INTO users SELECT ${app}, openid, uid, first_day FROM aff WHERE is_new ORDER BY uid`);
    const maxUid = Math.max(job.maxUid, int((await one(conn, 'SELECT coalesce(max(uid), 0) AS m FROM aff')).m));
    const moved = int((await one(conn, 'SELECT count(*) AS n FROM aff WHERE first_day < old_first')).n);
    if (moved > 0) {
      // A late event before a known user's first day: that day is their first now.
      await conn.run(
        `UPDATE users SET first_day = aff.first_day FROM aff
         WHERE aff.first_day < aff.old_first AND users.app = ${app} AND users.uid = aff.uid`,
      );
    }
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE pend_rows AS
       SELECT a.uid, p.day, ${cols('p.')} FROM pend p JOIN aff a ON a.openid = p.openid`,
    );
    // The latest rows of the known users the batch touches; they are taken out and written back below.
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE lastrows AS
       SELECT l.uid, l.day, ${cols('l.')} FROM user_last l
       JOIN (SELECT uid FROM aff WHERE NOT is_new) a ON l.uid = a.uid
       WHERE l.app = ${app}`,
    );
    // Users with an event before their latest day: their user_days rows from the one before that event on.
    const late = await one(conn, `SELECT count(*) AS n, min(a.m) AS m FROM aff a JOIN lastrows l ON l.uid = a.uid WHERE a.m < l.day`);
    const lateUsers = int(late.n);
    if (lateUsers > 0) {
      const minDay = int(late.m);
      await conn.run(
        `CREATE OR REPLACE TEMP TABLE ex AS
         SELECT ud.uid, ud.day, ${cols('ud.')} FROM user_days ud
         JOIN (SELECT a.uid, a.m FROM aff a JOIN lastrows l ON l.uid = a.uid WHERE a.m < l.day) x
           ON ud.uid = x.uid AND ud.next_day >= x.m
         WHERE ud.app = ${app} AND ud.next_day >= ${minDay}`,
      );
      await conn.run(
        `DELETE FROM user_days USING ex
         WHERE user_days.app = ${app} AND user_days.next_day >= ${minDay} AND user_days.uid = ex.uid AND user_days.day = ex.day`,
      );
    }
    await conn.run(`DELETE FROM user_last USING lastrows WHERE user_last.app = ${app} AND user_last.uid = lastrows.uid`);
    const running = DIMS.map((c) => `max(m.${c}) OVER w AS ${c}`).join(', ');
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE chain AS
       WITH s AS (
         SELECT uid, day, ${cols()} FROM lastrows
         ${lateUsers > 0 ? `UNION ALL SELECT uid, day, ${cols()} FROM ex` : ''}
         UNION ALL SELECT uid, day, ${cols()} FROM pend_rows
       ), m AS (
         SELECT uid, day, ${DIMS.map((c) => `max(${c}) AS ${c}`).join(', ')} FROM s GROUP BY uid, day
       )
       SELECT m.day, m.uid, lead(m.day) OVER w AS next_day, a.first_day, ${running}
       FROM m JOIN aff a ON a.uid = m.uid
       WINDOW w AS (PARTITION BY m.uid ORDER BY m.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`,
    );
    await conn.run(
      `INSERT INTO user_days SELECT ${app}, day, uid, next_day, first_day, ${cols()} FROM chain WHERE next_day IS NOT NULL ORDER BY day, uid`,
    );
    await conn.run(`INSERT INTO user_last SELECT ${app}, day, uid, first_day, ${cols()} FROM chain WHERE next_day IS NULL ORDER BY day, uid`);
    if (job.hasProgressRow) await conn.run(`UPDATE app_derive SET last_seq = $1 WHERE app = ${app}`, [hi]);
    else await conn.run(`INSERT INTO app_derive VALUES (${app}, $1)`, [hi]);
    await conn.run('COMMIT');
    return maxUid;
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await conn
      .run(
        'DROP TABLE IF EXISTS pend; DROP TABLE IF EXISTS aff; DROP TABLE IF EXISTS pend_rows; DROP TABLE IF EXISTS lastrows; ' +
          'DROP TABLE IF EXISTS ex; DROP TABLE IF EXISTS chain',
      )
      .catch(() => undefined);
  }
}
