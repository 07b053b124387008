import type { DuckDBConnection } from '@duckdb/node-api';
import { VALUE_BITS } from '../packing.ts';

const B = VALUE_BITS;

/**
 * Folds the events with `seq` in (after, upto] into `devices`, `users` and `user_days`, in one transaction.
 * Each dimension is merged with `greatest`, so events may arrive in any order (late events included) and the
 * derived tables always equal what a rebuild from `events` would give.
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
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE pend_users AS
       SELECT appid, openid, min(day) AS first_day FROM pend GROUP BY appid, openid`,
    );
    // Users seen for the first time.
    await conn.run(
      `INSERT INTO users
       SELECT n.appid, n.openid, (SELECT coalesce(max(uid), 0) FROM users) + row_number() OVER (ORDER BY n.appid, n.openid), n.first_day
       FROM pend_users n
       WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.appid = n.appid AND u.openid = n.openid)`,
    );
    // Known users whose first day moved earlier (late events): the old first day is no longer the first.
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE moved AS
       SELECT u.uid, u.first_day AS old_first, n.first_day AS new_first
       FROM users u JOIN pend_users n ON u.appid = n.appid AND u.openid = n.openid
       WHERE n.first_day < u.first_day`,
    );
    await conn.run(`UPDATE users SET first_day = m.new_first FROM moved m WHERE users.uid = m.uid`);
    await conn.run(
      `UPDATE user_days SET first = false FROM moved m
       WHERE user_days.uid = m.uid AND user_days.day = m.old_first AND user_days.first`,
    );
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE pend_rows AS
       SELECT p.appid, u.uid, p.day, p.day = u.first_day AS first, p.g, p.a, p.p, p.pr, p.c, p.d
       FROM pend p JOIN users u ON u.appid = p.appid AND u.openid = p.openid`,
    );
    const range = await conn.runAndReadAll('SELECT min(day) AS lo, max(day) AS hi FROM pend_rows');
    const r = range.getRowObjects()[0];
    if (r && r.lo !== null && r.hi !== null) {
      const dlo = Number(r.lo);
      const dhi = Number(r.hi);
      await conn.run(
        `UPDATE user_days SET
           first = user_days.first OR n.first,
           g = greatest(user_days.g, n.g), a = greatest(user_days.a, n.a), p = greatest(user_days.p, n.p),
           pr = greatest(user_days.pr, n.pr), c = greatest(user_days.c, n.c), d = greatest(user_days.d, n.d)
         FROM pend_rows n
         WHERE user_days.day BETWEEN $1 AND $2
           AND user_days.appid = n.appid AND user_days.uid = n.uid AND user_days.day = n.day`,
        [dlo, dhi],
      );
      await conn.run(
        `INSERT INTO user_days
         SELECT n.appid, n.uid, n.day, n.first, n.g, n.a, n.p, n.pr, n.c, n.d FROM pend_rows n
         WHERE NOT EXISTS (
           SELECT 1 FROM user_days x
           WHERE x.day BETWEEN $1 AND $2 AND x.appid = n.appid AND x.uid = n.uid AND x.day = n.day)`,
        [dlo, dhi],
      );
    }
    await conn.run('UPDATE derive_state SET last_seq = $1 WHERE id = 1', [hi]);
    await conn.run('COMMIT');
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await conn.run('DROP TABLE IF EXISTS pend; DROP TABLE IF EXISTS pend_users; DROP TABLE IF EXISTS moved; DROP TABLE IF EXISTS pend_rows').catch(() => undefined);
  }
}
