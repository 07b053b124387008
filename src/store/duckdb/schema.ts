/**
 * The DuckDB schema as numbered migrations; each runs once, in order, in its own transaction, and is recorded in
 * `schema_migrations`. Never edit a migration that has shipped: add the next one.
 *
 * - `events`: every accepted event, append-only; the truth from which everything else can be rebuilt.
 * - `users`: one row per (app, openid): a compact integer `uid` and the first day ever seen.
 * - `devices`: dictionary of device names, so per-user-day rows hold small integers.
 * - `user_days`: one row per (app, user, day): for each dimension the latest known value of that day, packed as
 *   `(time_ms << 20) | value` (see src/store/packing.ts), and whether the day is the user's first day.
 * - `derive_state`: the last event `seq` folded into `users`/`devices`/`user_days`.
 * - `apps`, `tokens`, `usage`: apps (secrets only hashed or sealed), access tokens (hashed), API call counters.
 */
export const MIGRATIONS: readonly string[] = [
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
];
