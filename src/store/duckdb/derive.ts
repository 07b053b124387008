import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { VALUE_BITS } from '../packing.ts';

const B = VALUE_BITS;
const DIMS = ['g', 'a', 'p', 'pr', 'c', 'd'] as const;
const cols = (prefix = '') => DIMS.map((c) => `${prefix}${c}`).join(', ');

async function one(conn: DuckDBConnection, sql: string, values: DuckDBValue[] = []): Promise<Record<string, DuckDBValue>> {
  return (await conn.runAndReadAll(sql, values)).getRowObjects()[0] ?? {};
}

function int(v: DuckDBValue | undefined): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
}

/**
 * Folds the events with `seq` in (after, upto] into `app_numbers`, `devices`, `users`, `user_days` and `user_last`
 * (see schema.ts), in one transaction.
 *
 * For every user the batch touches, the user's rows from the first touched day on are taken out (the `user_last`
 * row; and, only when an event lands before the user's latest day, the `user_days` rows from the one before it on),
 * merged with the batch's per-day values, and written back as a chain: running `max` of the packed integers (the
 * latest known value so far), `next_day` from the following row, the last row into `user_last`. Each dimension is
 * merged with `max`, so events may arrive in any order (late events included) and the derived tables always equal
 * what a rebuild from `events` would give. Events in time order touch only `user_last` and append to `user_days`.
 */
export async function derivePending(conn: DuckDBConnection, after: number, upto: number): Promise<void> {
  const lo = BigInt(after);
  const hi = BigInt(upto);
  await conn.run('BEGIN TRANSACTION');
  try {
    await conn.run(
      `INSERT INTO devices
       SELECT (SELECT coalesce(max(id), 0) FROM devices) + row_number() OVER (ORDER BY name), name
       FROM (SELECT DISTINCT device AS name FROM events WHERE seq > $1 AND seq <= $2 AND device IS NOT NULL
             EXCEPT SELECT name FROM devices)`,
      [lo, hi],
    );
    await conn.run(
      `INSERT INTO app_numbers
       SELECT appid, (SELECT coalesce(max(app), 0) FROM app_numbers) + row_number() OVER (ORDER BY appid)
       FROM (SELECT DISTINCT appid FROM events WHERE seq > $1 AND seq <= $2 EXCEPT SELECT appid FROM app_numbers)`,
      [lo, hi],
    );
    // The batch per (app, user, day): the latest known value of each dimension that day.
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE pend AS
       SELECT e.appid, e.openid, e.day,
         max(CASE WHEN e.gender > 0 THEN (e.time << ${B}) | e.gender ELSE 0 END) AS g,
         max(CASE WHEN e.age_bucket > 0 THEN (e.time << ${B}) | e.age_bucket ELSE 0 END) AS a,
         max(CASE WHEN e.platform_id > 0 THEN (e.time << ${B}) | e.platform_id ELSE 0 END) AS p,
         max(CASE WHEN e.province > 0 THEN (e.time << ${B}) | e.province ELSE 0 END) AS pr,
         max(CASE WHEN e.city > 0 THEN (e.time << ${B}) | e.city ELSE 0 END) AS c,
         max(CASE WHEN dv.id IS NOT NULL THEN (e.time << ${B}) | dv.id ELSE 0 END) AS d
       FROM events e LEFT JOIN devices dv ON dv.name = e.device
       WHERE e.seq > $1 AND e.seq <= $2
       GROUP BY e.appid, e.openid, e.day`,
      [lo, hi],
    );
    // The users the batch touches: known ones with their uid and first day; new ones get the next uids.
    const maxUid = int((await one(conn, 'SELECT coalesce(max(uid), 0) AS m FROM users')).m);
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE aff AS
       SELECT an.app, n.appid, n.openid, n.m,
         coalesce(u.uid, ${maxUid} + row_number() OVER (ORDER BY u.uid IS NOT NULL, n.appid, n.openid))::INTEGER AS uid,
         u.uid IS NULL AS is_new, u.first_day AS old_first, least(n.m, coalesce(u.first_day, n.m)) AS first_day
       FROM (SELECT appid, openid, min(day) AS m FROM pend GROUP BY appid, openid) n
         JOIN app_numbers an ON an.appid = n.appid
         LEFT JOIN users u ON u.appid = n.appid AND u.openid = n.openid`,
    );
    await conn.run(`INSERT INTO users SELECT appid, openid, uid, first_day FROM aff WHERE is_new ORDER BY uid`);
    const moved = int((await one(conn, 'SELECT count(*) AS n FROM aff WHERE first_day < old_first')).n);
    if (moved > 0) {
      // A late event before a known user's first day: that day is their first now.
      await conn.run(`UPDATE users SET first_day = aff.first_day FROM aff WHERE aff.first_day < aff.old_first AND users.uid = aff.uid`);
    }
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE pend_rows AS
       SELECT a.app, a.uid, p.day, ${cols('p.')} FROM pend p JOIN aff a ON a.appid = p.appid AND a.openid = p.openid`,
    );
    // The latest rows of the known users the batch touches; they are taken out and written back below.
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE lastrows AS
       SELECT l.app, l.uid, l.day, ${cols('l.')} FROM user_last l
       JOIN (SELECT app, uid FROM aff WHERE NOT is_new) a ON l.app = a.app AND l.uid = a.uid`,
    );
    // Users with an event before their latest day: their user_days rows from the one before that event on.
    const late = await one(
      conn,
      `SELECT count(*) AS n, min(a.m) AS m FROM aff a JOIN lastrows l ON l.app = a.app AND l.uid = a.uid WHERE a.m < l.day`,
    );
    const lateUsers = int(late.n);
    if (lateUsers > 0) {
      const minDay = int(late.m);
      await conn.run(
        `CREATE OR REPLACE TEMP TABLE ex AS
         SELECT ud.app, ud.uid, ud.day, ${cols('ud.')} FROM user_days ud
         JOIN (SELECT a.app, a.uid, a.m FROM aff a JOIN lastrows l ON l.app = a.app AND l.uid = a.uid WHERE a.m < l.day) x
           ON ud.app = x.app AND ud.uid = x.uid AND ud.next_day >= x.m
         WHERE ud.next_day >= ${minDay}`,
      );
      await conn.run(
        `DELETE FROM user_days USING ex
         WHERE user_days.next_day >= ${minDay} AND user_days.app = ex.app AND user_days.uid = ex.uid AND user_days.day = ex.day`,
      );
    }
    await conn.run(`DELETE FROM user_last USING lastrows WHERE user_last.app = lastrows.app AND user_last.uid = lastrows.uid`);
    const running = DIMS.map((c) => `max(m.${c}) OVER w AS ${c}`).join(', ');
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE chain AS
       WITH s AS (
         SELECT app, uid, day, ${cols()} FROM lastrows
         ${lateUsers > 0 ? `UNION ALL SELECT app, uid, day, ${cols()} FROM ex` : ''}
         UNION ALL SELECT app, uid, day, ${cols()} FROM pend_rows
       ), m AS (
         SELECT app, uid, day, ${DIMS.map((c) => `max(${c}) AS ${c}`).join(', ')} FROM s GROUP BY app, uid, day
       )
       SELECT m.app, m.day, m.uid, lead(m.day) OVER w AS next_day, a.first_day, ${running}
       FROM m JOIN aff a ON a.app = m.app AND a.uid = m.uid
       WINDOW w AS (PARTITION BY m.app, m.uid ORDER BY m.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`,
    );
    await conn.run(
      `INSERT INTO user_days SELECT app, day, uid, next_day, first_day, ${cols()} FROM chain WHERE next_day IS NOT NULL ORDER BY app, day, uid`,
    );
    await conn.run(`INSERT INTO user_last SELECT app, day, uid, first_day, ${cols()} FROM chain WHERE next_day IS NULL ORDER BY app, day, uid`);
    await conn.run('UPDATE derive_state SET last_seq = $1 WHERE id = 1', [hi]);
    await conn.run('COMMIT');
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
