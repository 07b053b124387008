/**
 * The DuckDB tables behind the analysis family (visit trends, retention, distributions, pages, daily summary): one
 * migration, appended to MIGRATIONS in schema.ts. Kept up to date from `events` by analysisDerive.ts (with the
 * portrait's derive, on the deriving connection) and read by analysisQuery.ts; no answer reads `events`.
 *
 * `app` is the app's number from `app_numbers`; `uid` and `page` are numbered per app (never shared between apps).
 *
 * - `an_state`: per app, the last event `seq` of the app folded into the tables below (they fold apart from the
 *   portrait's tables: an app without a row has nothing folded yet).
 * - `an_users`: one row per (app, user): `uid`, first day ever, latest day with an event and that day's `hist`.
 * - `an_user_days`: one row per (app, user, day with any event): `pv` (visit events), `stay` (their seconds),
 *   `shares` (share events), the user's `first_day`, and `hist`: bit i set when the user had an event on day
 *   `day - 1 - i` (i = 0…63). So, without grouping by user: a row is the user's first inside [b, e] when
 *   `hist & ((1 << (day - b)) - 1) = 0` (distinct users of a week or month are a count of such rows); and a user of
 *   that row was active in an earlier period [b0, e0] (within 64 days) when `hist` has a bit for one of its days
 *   (retention of active users is a filtered count).
 * - `an_pages`: the dictionary of page paths per app.
 * - `an_page_days`: one row per (app, day, page, user) with that day's views, their stay, and shares of the page.
 * - `an_sessions`: one row per session (of `visit`, `open` and `share` events only; since migration 9, schema.ts, an
 *   event of any other type counts for visitors only, in `an_user_days`): the `session` value (`sid`, NULL for a session of events without one, cut at
 *   gaps over 30 minutes), first and last event time, `day` of the first event, the first scene seen (time and code)
 *   and its access source, total stay of its visits, its distinct pages (`pages`, `depth` = their number), entry and
 *   exit page (first and last view, with their times), and `src_first`: whether it is the user's first session of
 *   that day with that access source (distinct visitors per source are then a filtered count).
 */
export const ANALYSIS_MIGRATION = `
  CREATE TABLE an_state (app INTEGER PRIMARY KEY, last_seq BIGINT NOT NULL);
  CREATE TABLE an_users (
    app INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    openid VARCHAR NOT NULL,
    first_day INTEGER NOT NULL,
    last_day INTEGER NOT NULL,
    last_hist UBIGINT NOT NULL
  );
  CREATE TABLE an_user_days (
    app INTEGER NOT NULL,
    day INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    first_day INTEGER NOT NULL,
    hist UBIGINT NOT NULL,
    pv INTEGER NOT NULL,
    stay DOUBLE NOT NULL,
    shares INTEGER NOT NULL
  );
  CREATE TABLE an_pages (app INTEGER NOT NULL, page INTEGER NOT NULL, path VARCHAR NOT NULL);
  CREATE TABLE an_page_days (
    app INTEGER NOT NULL,
    day INTEGER NOT NULL,
    page INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    views INTEGER NOT NULL,
    stay DOUBLE NOT NULL,
    shares INTEGER NOT NULL
  );
  CREATE TABLE an_sessions (
    app INTEGER NOT NULL,
    day INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    sid VARCHAR,
    first_time BIGINT NOT NULL,
    last_time BIGINT NOT NULL,
    scene_time BIGINT,
    scene INTEGER,
    source UTINYINT NOT NULL,
    stay DOUBLE NOT NULL,
    pages INTEGER[] NOT NULL,
    depth INTEGER NOT NULL,
    entry_time BIGINT,
    entry_page INTEGER,
    exit_time BIGINT,
    exit_page INTEGER,
    src_first BOOLEAN NOT NULL
  );
`;
