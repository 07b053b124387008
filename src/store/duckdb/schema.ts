/**
 * The DuckDB schema as numbered migrations; each runs once, in order, in its own transaction, and is recorded in
 * `schema_migrations`. Never edit a migration that has shipped: add the next one.
 *
 * - `events`: every accepted event, append-only; the truth from which everything else can be rebuilt.
 * - `users`: one row per (app, openid): a compact integer `uid` and the first day ever seen (per app since
 *   migration 5).
 * - `devices`: dictionary of device names, so per-user-day rows hold small integers (per app since migration 5:
 *   `app_devices`).
 * - `user_days`: one row per (app, user, day): for each dimension the latest known value of that day, packed as
 *   `(time_ms << 20) | value` (see src/store/packing.ts), and whether the day is the user's first day.
 * - `derive_state`: the last event `seq` folded into `users`/`devices`/`user_days` (per app since migration 5:
 *   `app_derive`).
 * - `apps`, `tokens`, `usage`: apps (secrets only hashed or sealed), access tokens (hashed), API call counters.
 *
 * Migration 2 reshapes the per-user-day data so that a portrait needs no `GROUP BY uid` (see portraitQuery.ts):
 * - `app_numbers`: a small integer `app` per appid, used by the derived tables instead of the appid string.
 * - `user_days`: one row per (app, user, day with a visit) EXCEPT each user's latest such day. `next_day` is the
 *   user's next day with a visit; each dimension holds the latest known value up to and including `day` (the
 *   running `max` of the packed integers over the user's days so far); `first_day` is a copy of `users.first_day`.
 *   Rows are written in day order, so zonemaps on `day` prune. A row changes only when a late event lands before it.
 * - `user_last`: each user's latest day with a visit, in the same shape without `next_day`; deleted and re-inserted
 *   whenever the user is seen again, so it stays roughly in day order too.
 * Within a window [b, e] a user's values are those of their last row inside it: the `user_days` row with
 * `day BETWEEN b AND e AND next_day > e`, or the `user_last` row with `day BETWEEN b AND e` (exactly one of the two).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { resessionAnalysis } from './analysisDerive.ts';
import { ANALYSIS_MIGRATION } from './analysisSchema.ts';

/** A migration: SQL statements, or work done in code (on the writer, inside the migration's transaction). */
export type Migration = string | ((conn: DuckDBConnection) => Promise<void>);

export const MIGRATIONS: readonly Migration[] = [
  `
  CREATE TABLE events (
    seq BIGINT NOT NULL,
    appid VARCHAR NOT NULL,
    event_id VARCHAR,
    openid VARCHAR NOT NULL,
    time BIGINT NOT NULL,
    day INTEGER NOT NULL,
    gender UTINYINT NOT NULL,
    age UTINYINT,
    age_bucket UTINYINT NOT NULL,
    platform VARCHAR,
    platform_id UTINYINT NOT NULL,
    brand VARCHAR,
    model VARCHAR,
    device VARCHAR,
    province UINTEGER NOT NULL,
    city UINTEGER NOT NULL,
    ip VARCHAR,
    type VARCHAR NOT NULL,
    page VARCHAR,
    scene INTEGER,
    session VARCHAR,
    stay DOUBLE,
    props VARCHAR,
    received_at BIGINT NOT NULL
  );
  CREATE TABLE users (appid VARCHAR NOT NULL, openid VARCHAR NOT NULL, uid INTEGER NOT NULL, first_day INTEGER NOT NULL);
  CREATE TABLE devices (id INTEGER NOT NULL, name VARCHAR NOT NULL);
  CREATE TABLE user_days (
    appid VARCHAR NOT NULL,
    uid INTEGER NOT NULL,
    day INTEGER NOT NULL,
    first BOOLEAN NOT NULL,
    g BIGINT NOT NULL,
    a BIGINT NOT NULL,
    p BIGINT NOT NULL,
    pr BIGINT NOT NULL,
    c BIGINT NOT NULL,
    d BIGINT NOT NULL
  );
  CREATE TABLE derive_state (id INTEGER PRIMARY KEY, last_seq BIGINT NOT NULL);
  INSERT INTO derive_state VALUES (1, 0);
  CREATE TABLE apps (
    appid VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    secret_hash VARCHAR NOT NULL,
    secret_sealed VARCHAR NOT NULL,
    env VARCHAR NOT NULL,
    daily_quota BIGINT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE tokens (
    hash VARCHAR PRIMARY KEY,
    appid VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    sealed VARCHAR
  );
  CREATE TABLE usage (appid VARCHAR NOT NULL, api VARCHAR NOT NULL, day INTEGER NOT NULL, calls BIGINT NOT NULL, PRIMARY KEY (appid, api, day));
  `,
  `
  CREATE TABLE app_numbers (appid VARCHAR PRIMARY KEY, app INTEGER NOT NULL);
  INSERT INTO app_numbers SELECT appid, row_number() OVER (ORDER BY appid) FROM (SELECT appid FROM events UNION SELECT appid FROM users);
  CREATE TEMP TABLE m2_chain AS
    SELECT n.app, ud.uid, ud.day, lead(ud.day) OVER w AS next_day, u.first_day,
      max(ud.g) OVER w AS g, max(ud.a) OVER w AS a, max(ud.p) OVER w AS p,
      max(ud.pr) OVER w AS pr, max(ud.c) OVER w AS c, max(ud.d) OVER w AS d
    FROM user_days ud
      JOIN app_numbers n ON n.appid = ud.appid
      JOIN users u ON u.appid = ud.appid AND u.uid = ud.uid
    WINDOW w AS (PARTITION BY n.app, ud.uid ORDER BY ud.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);
  DROP TABLE user_days;
  CREATE TABLE user_days (
    app INTEGER NOT NULL,
    day INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    next_day INTEGER NOT NULL,
    first_day INTEGER NOT NULL,
    g BIGINT NOT NULL,
    a BIGINT NOT NULL,
    p BIGINT NOT NULL,
    pr BIGINT NOT NULL,
    c BIGINT NOT NULL,
    d BIGINT NOT NULL
  );
  CREATE TABLE user_last (
    app INTEGER NOT NULL,
    day INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    first_day INTEGER NOT NULL,
    g BIGINT NOT NULL,
    a BIGINT NOT NULL,
    p BIGINT NOT NULL,
    pr BIGINT NOT NULL,
    c BIGINT NOT NULL,
    d BIGINT NOT NULL
  );
  INSERT INTO user_days SELECT app, day, uid, next_day, first_day, g, a, p, pr, c, d FROM m2_chain WHERE next_day IS NOT NULL ORDER BY app, day, uid;
  INSERT INTO user_last SELECT app, day, uid, first_day, g, a, p, pr, c, d FROM m2_chain WHERE next_day IS NULL ORDER BY app, day, uid;
  DROP TABLE m2_chain;
  `,
  // Migration 3: each event's id hash (see eventIdFilter.ts), so the duplicate check can be filled without reading
  // every event id; NULL for events stored before, which the store fills in when it first needs them.
  `
  ALTER TABLE events ADD COLUMN id_lo UINTEGER;
  ALTER TABLE events ADD COLUMN id_hi UINTEGER;
  `,
  // Migration 4 (issue 11): the User-Agent an event came with (its device and platform may have been read from it),
  // and whether an app takes events on the public /v1/collect route (NULL, for apps made before, means on).
  `
  ALTER TABLE events ADD COLUMN ua VARCHAR;
  ALTER TABLE apps ADD COLUMN collect BOOLEAN DEFAULT true;
  `,
  // Migration 5: isolation between apps (issue 10). Everything open-ended is numbered per app, and derived per app:
  // - `app_devices`: each app's own device dictionary, ids 1.. in order of first appearance (the store admits at
  //   most DATACUBE_MAX_DEVICE_NAMES names per app; a name not in the app's dictionary counts under the overflow id,
  //   OVERFLOW_DEVICE_ID in derive.ts). Replaces the shared `devices` table, whose ids one app could exhaust.
  // - `users`: `uid` numbered per app (1.. in the old order) and keyed by the app's number; `user_days` and
  //   `user_last` are rewritten with the new uids and the apps' own device ids.
  // - `app_derive`: how far each app's events are folded in (replaces the single `derive_state` row), so one app's
  //   backlog never holds up another app's portrait.
  `
  INSERT INTO app_numbers
    SELECT appid, (SELECT coalesce(max(app), 0) FROM app_numbers) + row_number() OVER (ORDER BY appid)
    FROM (SELECT DISTINCT appid FROM events EXCEPT SELECT appid FROM app_numbers);
  CREATE TABLE app_derive (app INTEGER NOT NULL, last_seq BIGINT NOT NULL);
  INSERT INTO app_derive SELECT app, (SELECT last_seq FROM derive_state WHERE id = 1) FROM app_numbers ORDER BY app;
  CREATE TABLE app_devices (app INTEGER NOT NULL, id INTEGER NOT NULL, name VARCHAR NOT NULL);
  INSERT INTO app_devices
    SELECT app, id, device FROM (
      SELECT n.app, f.device, row_number() OVER (PARTITION BY n.app ORDER BY f.first_seq, f.device) AS id
      FROM (SELECT appid, device, min(seq) AS first_seq FROM events WHERE device IS NOT NULL GROUP BY appid, device) f
      JOIN app_numbers n ON n.appid = f.appid
    ) WHERE id < 1048575 ORDER BY app, id;
  CREATE TEMP TABLE m5_dev AS
    SELECT ad.app, dv.id AS old_id, ad.id AS new_id FROM app_devices ad JOIN devices dv ON dv.name = ad.name;
  CREATE TEMP TABLE m5_users AS
    SELECT n.app, u.openid, row_number() OVER (PARTITION BY n.app ORDER BY u.uid) AS uid, u.first_day, u.uid AS old_uid
    FROM users u JOIN app_numbers n ON n.appid = u.appid;
  DROP TABLE users;
  CREATE TABLE users (app INTEGER NOT NULL, openid VARCHAR NOT NULL, uid INTEGER NOT NULL, first_day INTEGER NOT NULL);
  INSERT INTO users SELECT app, openid, uid, first_day FROM m5_users ORDER BY app, uid;
  CREATE TABLE m5_user_days (
    app INTEGER NOT NULL, day INTEGER NOT NULL, uid INTEGER NOT NULL, next_day INTEGER NOT NULL, first_day INTEGER NOT NULL,
    g BIGINT NOT NULL, a BIGINT NOT NULL, p BIGINT NOT NULL, pr BIGINT NOT NULL, c BIGINT NOT NULL, d BIGINT NOT NULL
  );
  INSERT INTO m5_user_days
    SELECT x.app, x.day, m.uid, x.next_day, x.first_day, x.g, x.a, x.p, x.pr, x.c,
      CASE WHEN x.d = 0 THEN 0 ELSE ((x.d >> 20) << 20) | coalesce(md.new_id, 1048575) END
    FROM user_days x JOIN m5_users m ON m.app = x.app AND m.old_uid = x.uid
      LEFT JOIN m5_dev md ON md.app = x.app AND md.old_id = (x.d & 1048575)
    ORDER BY x.app, x.day, m.uid;
  DROP TABLE user_days;
  ALTER TABLE m5_user_days RENAME TO user_days;
  CREATE TABLE m5_user_last (
    app INTEGER NOT NULL, day INTEGER NOT NULL, uid INTEGER NOT NULL, first_day INTEGER NOT NULL,
    g BIGINT NOT NULL, a BIGINT NOT NULL, p BIGINT NOT NULL, pr BIGINT NOT NULL, c BIGINT NOT NULL, d BIGINT NOT NULL
  );
  INSERT INTO m5_user_last
    SELECT x.app, x.day, m.uid, x.first_day, x.g, x.a, x.p, x.pr, x.c,
      CASE WHEN x.d = 0 THEN 0 ELSE ((x.d >> 20) << 20) | coalesce(md.new_id, 1048575) END
    FROM user_last x JOIN m5_users m ON m.app = x.app AND m.old_uid = x.uid
      LEFT JOIN m5_dev md ON md.app = x.app AND md.old_id = (x.d & 1048575)
    ORDER BY x.app, x.day, m.uid;
  DROP TABLE user_last;
  ALTER TABLE m5_user_last RENAME TO user_last;
  DROP TABLE m5_users;
  DROP TABLE m5_dev;
  DROP TABLE devices;
  DROP TABLE derive_state;
  `,
  // Migration 6: the times of stable_token forced refreshes, so their limits (20 a day, 30 s apart) hold across
  // restarts.
  `
  CREATE TABLE force_refreshes (appid VARCHAR NOT NULL, refreshed_at BIGINT NOT NULL);
  `,
  // Migration 7 (issue 14): the analysis family's tables (see analysisSchema.ts).
  ANALYSIS_MIGRATION,
  // Migration 8: retention per app (issue 17): events older than `retain_days` Shanghai days are dropped by the
  // daily prune; NULL keeps everything.
  `
  ALTER TABLE apps ADD COLUMN retain_days INTEGER;
  `,
  // Migration 9: events of a type other than visit, open and share take no part in sessions (reference: they count
  // for visitors only); the sessions folded from such events before are rebuilt, for the users who have them.
  resessionAnalysis,
  // Migration 10: event types are kept in lower case since the analysis family came (before it, `Visit` or `SHARE`
  // were stored as sent, and the analysis tables counted them as other types): such events get their type in lower
  // case, and the apps that have them fold their analysis tables again from their events (no `an_state` row: the
  // next fold starts from nothing, as after migration 7).
  `
  CREATE TEMP TABLE m10_apps AS
    SELECT DISTINCT n.app FROM (SELECT DISTINCT appid FROM events WHERE type <> lower(type)) e JOIN app_numbers n ON n.appid = e.appid;
  UPDATE events SET type = lower(type) WHERE type <> lower(type);
  DELETE FROM an_users WHERE app IN (SELECT app FROM m10_apps);
  DELETE FROM an_user_days WHERE app IN (SELECT app FROM m10_apps);
  DELETE FROM an_pages WHERE app IN (SELECT app FROM m10_apps);
  DELETE FROM an_page_days WHERE app IN (SELECT app FROM m10_apps);
  DELETE FROM an_sessions WHERE app IN (SELECT app FROM m10_apps);
  DELETE FROM an_state WHERE app IN (SELECT app FROM m10_apps);
  DROP TABLE m10_apps;
  `,
];
