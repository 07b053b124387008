/**
 * The ClickHouse store's group commit (ClickHouseStore.append): concurrent batches of one app share one duplicate
 * lookup, one events insert and one chain insert; each is answered as if stored alone, in order; a group that fails
 * before any events were sent is retried batch by batch, one that fails after is refused as a whole (and resent
 * exactly). Faults are injected into the transport around a real connection to a real server.
 */
import { afterAll, expect, it } from 'vitest';
import type { VisitEvent } from '../../domain/event.ts';
import { BASE_DAY, BASE_MS, freshAppid, visit } from '../contract.suite.ts';
import { canonical, referencePortrait } from '../referencePortrait.ts';
import { ClickHouseStore, type ClickHouseStoreOptions, laneOf } from './ClickHouseStore.ts';
import { type Connection, HttpConnection, type JsonRow, type ServerVersion, type Settings } from './connection.ts';
import { isoDay, type Sql, sql } from './sql.ts';
import { describeWithClickHouse, dropDatabase, freshDatabaseUrl } from './testing.ts';
import { parseClickHouseUrl } from './url.ts';

/** A real connection that counts inserts per table and can fail the next query or insert matching a pattern. */
class FaultyConnection implements Connection {
  readonly inserts = new Map<string, number>();
  private faults: { on: 'rows' | 'insert'; match: RegExp }[] = [];
  constructor(private readonly inner: Connection) {}
  get target() {
    return this.inner.target;
  }
  get db() {
    return this.inner.db;
  }
  get cluster() {
    return this.inner.cluster;
  }
  get onCluster() {
    return this.inner.onCluster;
  }
  get clustered() {
    return this.inner.clustered;
  }
  table(name: string): Sql {
    return this.inner.table(name);
  }
  localName(name: string): string {
    return this.inner.localName(name);
  }
  local(name: string): Sql {
    return this.inner.local(name);
  }
  failNext(on: 'rows' | 'insert', match: RegExp): void {
    this.faults.push({ on, match });
  }
  private fault(on: 'rows' | 'insert', text: string): void {
    const i = this.faults.findIndex((f) => f.on === on && f.match.test(text));
    if (i >= 0) {
      this.faults.splice(i, 1);
      throw new Error(`injected fault (${on} ${text.slice(0, 60)})`);
    }
  }
  exec(query: Sql, settings?: Settings): Promise<void> {
    return this.inner.exec(query, settings);
  }
  async rows<T extends JsonRow = JsonRow>(query: Sql, settings?: Settings): Promise<T[]> {
    this.fault('rows', query.text);
    return this.inner.rows<T>(query, settings);
  }
  stream<T extends JsonRow = JsonRow>(query: Sql, onRow: (row: T) => Promise<void> | void, settings?: Settings): Promise<void> {
    return this.inner.stream(query, onRow, settings);
  }
  async insert(name: string, rows: readonly JsonRow[], settings?: Settings): Promise<void> {
    this.fault('insert', name);
    this.inserts.set(name, (this.inserts.get(name) ?? 0) + 1);
    return this.inner.insert(name, rows, settings);
  }
  version(): Promise<ServerVersion> {
    return this.inner.version();
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const HOUR = 3_600_000;

function batch(tag: string, n: number, ids: (i: number) => string | null = (i) => `${tag}-${i}`): VisitEvent[] {
  return Array.from({ length: n }, (_, i) =>
    visit({ openid: `${tag}${i % 5}`, time: BASE_MS + (i % 3) * 24 * HOUR + i, eventId: ids(i), gender: 1 + (i % 2), province: 44, city: 4401 }),
  );
}

describeWithClickHouse('DATACUBE_TEST_CLICKHOUSE', 'ClickHouse group commit', (baseUrl) => {
  const url = freshDatabaseUrl(baseUrl);
  afterAll(() => dropDatabase(url));

  async function open(opts: ClickHouseStoreOptions = {}): Promise<{ store: ClickHouseStore; c: FaultyConnection }> {
    const c = new FaultyConnection(HttpConnection.open(parseClickHouseUrl(url)));
    return { store: await ClickHouseStore.over(c, opts), c };
  }
  const windows = [
    { begin: BASE_DAY, end: BASE_DAY },
    { begin: BASE_DAY, end: BASE_DAY + 6 },
  ];

  it('stores concurrent batches of one app with one insert each, answering every batch as if stored alone', async () => {
    const { store, c } = await open();
    try {
      const appid = freshAppid();
      const early = batch('a', 4);
      expect(await store.append(appid, early)).toEqual({ accepted: 4, duplicates: [] });
      c.inserts.clear();
      const bs = [
        batch('b', 10),
        // a-1 is stored already; b-3 comes in the batch before, in the same group; x repeats inside the batch.
        [...batch('c', 3), visit({ openid: 'c9', time: BASE_MS, eventId: 'a-1' }), visit({ openid: 'c9', time: BASE_MS, eventId: 'b-3' })],
        batch('d', 6, (i) => (i < 2 ? 'x' : null)),
      ];
      const results = await Promise.all(bs.map((b) => store.append(appid, b)));
      expect(results).toEqual([
        { accepted: 10, duplicates: [] },
        { accepted: 3, duplicates: [3, 4] },
        { accepted: 5, duplicates: [1] },
      ]);
      expect(c.inserts.get('events')).toBe(1);
      expect(c.inserts.get('user_chain')).toBe(1);
      const stored = [...early, ...(bs[0] ?? []), ...(bs[1] ?? []).slice(0, 3), ...(bs[2] ?? []).filter((_, i) => i !== 1)];
      expect(await store.countEvents(appid)).toBe(stored.length);
      for (const w of windows) expect(canonical(await store.portrait(appid, w))).toEqual(canonical(referencePortrait(stored, w)));
    } finally {
      await store.close();
    }
  }, 60_000);

  it('waits briefly after a group commit for the batches its clients send next, so they form one group again', async () => {
    for (const [linger, inserts] of [
      [2_000, 1],
      [0, 2],
    ] as const) {
      const { store, c } = await open({ groupLingerMs: linger });
      try {
        const appid = freshAppid();
        // Two clients, answered by one group commit.
        await Promise.all([store.append(appid, batch('u', 3)), store.append(appid, batch('v', 3))]);
        c.inserts.clear();
        // Each sends its next batch once answered, the second a little later: with the linger the first waits for it.
        const next = [batch('w', 4), batch('y', 4)];
        const first = store.append(appid, next[0] ?? []);
        await new Promise((r) => setTimeout(r, 100));
        const second = store.append(appid, next[1] ?? []);
        expect(await Promise.all([first, second])).toEqual([
          { accepted: 4, duplicates: [] },
          { accepted: 4, duplicates: [] },
        ]);
        expect(c.inserts.get('events'), `linger ${linger} ms`).toBe(inserts);
        const stored = [...batch('u', 3), ...batch('v', 3), ...next.flat()];
        expect(await store.countEvents(appid)).toBe(stored.length);
        for (const w of windows) expect(canonical(await store.portrait(appid, w))).toEqual(canonical(referencePortrait(stored, w)));
        // A lone client after that is answered as soon as its batch is stored (it waits at most the linger once).
        expect(await store.append(appid, batch('z', 2))).toEqual({ accepted: 2, duplicates: [] });
      } finally {
        await store.close();
      }
    }
  }, 60_000);

  it('waits for those batches outside the lane: another app of the same lane is stored meanwhile', async () => {
    const { store } = await open({ groupLingerMs: 3_000 });
    try {
      const a = freshAppid();
      let b = freshAppid();
      while (laneOf(`events\u0000${b}`) !== laneOf(`events\u0000${a}`)) b = freshAppid();
      await Promise.all([store.append(a, batch('e', 2)), store.append(a, batch('f', 2))]);
      const answered: string[] = [];
      // a's next commit waits for a second batch that never comes (up to 3 s); b's batch must not wait behind it.
      const first = store.append(a, batch('i', 2)).then(() => answered.push(a));
      await new Promise((r) => setTimeout(r, 50));
      await store.append(b, batch('j', 2));
      answered.push(b);
      await first;
      expect(answered).toEqual([b, a]);
      expect(await store.countEvents(a)).toBe(6);
      expect(await store.countEvents(b)).toBe(2);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('retries a group batch by batch when it failed before any event was sent', async () => {
    const { store, c } = await open();
    try {
      const appid = freshAppid();
      c.failNext('rows', /event_ids/);
      const bs = [batch('p', 5), batch('q', 5), batch('r', 5)];
      const results = await Promise.all(bs.map((b) => store.append(appid, b)));
      expect(results.map((r) => r.accepted)).toEqual([5, 5, 5]);
      const stored = bs.flat();
      expect(await store.countEvents(appid)).toBe(15);
      for (const w of windows) expect(canonical(await store.portrait(appid, w))).toEqual(canonical(referencePortrait(stored, w)));
    } finally {
      await store.close();
    }
  }, 60_000);

  it('refuses every batch of a group whose events insert failed, and a resend stores each event once', async () => {
    const { store, c } = await open();
    try {
      const appid = freshAppid();
      c.failNext('insert', /^events$/);
      const bs = [batch('s', 5), batch('t', 5)];
      const answers = await Promise.allSettled(bs.map((b) => store.append(appid, b)));
      expect(answers.map((a) => a.status)).toEqual(['rejected', 'rejected']);
      const again = await Promise.all(bs.map((b) => store.append(appid, b)));
      expect(again.map((r) => r.accepted + r.duplicates.length)).toEqual([5, 5]);
      expect(await store.countEvents(appid)).toBe(10);
      for (const w of windows) expect(canonical(await store.portrait(appid, w))).toEqual(canonical(referencePortrait(bs.flat(), w)));
    } finally {
      await store.close();
    }
  }, 60_000);

  it('after its own failed write, makes the one-day counts equal to the chain in every detail', async () => {
    const { store, c } = await open();
    try {
      const appid = freshAppid();
      const first = batch('k', 12);
      await store.append(appid, first);
      // As if ClickHouse died between a chain part and its view's part: counts moved from one city to another (the
      // totals still agree, so only the repair after this server's own failure can see it).
      await c.exec(
        sql`INSERT INTO ${c.table('chain_day_counts')} (appid, day, dim, num, str, known, active, fresh)
            VALUES (${appid}, ${isoDay(BASE_DAY)}, 1, 4401, '', 1, -1, 0), (${appid}, ${isoDay(BASE_DAY)}, 1, 1101, '', 1, 1, 0)`,
      );
      c.failNext('insert', /^user_chain$/);
      const cut = batch('l', 3);
      await expect(store.append(appid, cut)).rejects.toThrow(/injected/);
      const more = batch('m', 4);
      await store.append(appid, more);
      // The refused batch's events went in before its chain insert failed: stored, not acknowledged.
      const stored = [...first, ...cut, ...more];
      for (const w of windows) expect(canonical(await store.portrait(appid, w))).toEqual(canonical(referencePortrait(stored, w)));
    } finally {
      await store.close();
    }
  }, 60_000);

  it('refuses a batch ClickHouse cannot hold on its own; the batches beside it are stored', async () => {
    const { store } = await open();
    try {
      const appid = freshAppid();
      const bad = [visit({ openid: 'z', time: BASE_MS, province: 2 ** 21 })];
      const answers = await Promise.allSettled([store.append(appid, batch('g', 3)), store.append(appid, bad), store.append(appid, batch('h', 3))]);
      expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(await store.countEvents(appid)).toBe(6);
    } finally {
      await store.close();
    }
  }, 60_000);
});
