import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../api/testing.ts';
import { ManualClock } from '../domain/clock.ts';
import { DatacubeIngest, type DatacubeEvent, type DatacubeIngestOptions, type FetchLike, IngestEventError, WeChatApiError, WeChatClient } from './index.ts';
import { startStandIn, STAND_IN_APPID, STAND_IN_SECRET, type StandIn } from './testing.ts';

// The ingest client against the real server (what it stores) and against the stand-in (faults on cue:
// lost answers, 45011 with Retry-After, 45002, refused tokens, dead servers).

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('DatacubeIngest against the real server', () => {
  const NOW = Date.now();
  const clock = new ManualClock(NOW);
  let t: TestServer;
  let app: { appid: string; secret: string };
  beforeAll(async () => {
    t = await startTestServer({ clock });
    app = await t.newApp();
  });
  afterAll(async () => {
    await t.stop(true);
  });

  it('stores every event once in batches of the given size, and reports malformed ones to onError', async () => {
    const errors: { error: IngestEventError; event: DatacubeEvent }[] = [];
    const ingest = new DatacubeIngest({ ...app, baseUrl: t.url, clock, maxBatchEvents: 500, onError: (error, event) => errors.push({ error, event }) });
    const ids: string[] = [];
    for (let i = 0; i < 1200; i++) ids.push(ingest.track({ openid: `u${i}`, time: NOW - 3_600_000, platform: i % 2 ? 'ios' : 'android' }));
    ingest.track({ openid: 'bad-age', age: 500 });
    ingest.track({ openid: 'bad-time', time: 'yesterday', event_id: 'mine-1' });
    const stats = await ingest.flush();
    expect(new Set(ids).size).toBe(1200);
    expect(stats).toMatchObject({ tracked: 1202, accepted: 1200, duplicates: 0, rejected: 2, undeliverable: 0, pending: 0 });
    expect(await t.services.store.countEvents(app.appid)).toBe(1200);
    expect(errors.map((e) => [e.error.errcode, e.error.kind, e.error.reason, e.event.openid])).toEqual([
      [47001, 'invalid-argument', 'rejected', 'bad-age'],
      [47001, 'invalid-argument', 'rejected', 'bad-time'],
    ]);
    expect(errors[0]?.error.errmsg).toMatch(/^age: /);
    expect(errors[0]?.error).toBeInstanceOf(IngestEventError);
    expect(errors[1]?.error.eventId).toBe('mine-1');

    // Sending the same events again (same event_id) stores nothing twice.
    const again = new DatacubeIngest({ ...app, baseUrl: t.url, clock });
    for (let i = 0; i < 10; i++) again.track({ openid: `u${i}`, event_id: ids[i] });
    expect(await again.close()).toMatchObject({ accepted: 0, duplicates: 10 });
    expect(await t.services.store.countEvents(app.appid)).toBe(1200);
    expect(() => again.track({ openid: 'late' })).toThrow(/closed/);
  });

  it('sends a partial batch once it has waited flushIntervalMs, without flush()', async () => {
    const ingest = new DatacubeIngest({ ...app, baseUrl: t.url, clock, flushIntervalMs: 30 });
    const before = await t.services.store.countEvents(app.appid);
    ingest.track({ openid: 'timer-1' });
    ingest.track({ openid: 'timer-2' });
    // The client counts the batch once its answer is back (the store has it a moment earlier).
    await until('the timer to send the batch', () => ingest.stats().accepted === 2);
    expect(ingest.stats()).toMatchObject({ accepted: 2, pending: 0 });
    expect(await t.services.store.countEvents(app.appid)).toBe(before + 2);
    await ingest.close();
  });
});

describe('DatacubeIngest against faults', () => {
  let w: StandIn;
  const ingest = (o: Partial<DatacubeIngestOptions> = {}) =>
    new DatacubeIngest({ appid: STAND_IN_APPID, secret: STAND_IN_SECRET, baseUrl: w.url, backoff: { baseMs: 5, maxMs: 50 }, ...o });
  const posts = () => w.requests.filter((r) => r.path === '/v1/events');
  beforeAll(async () => {
    w = await startStandIn();
  });
  afterEach(() => w.reset());
  afterAll(async () => {
    await w.close();
  });

  it('batches by bytes as well as by count', async () => {
    const c = ingest({ maxBatchEvents: 1000, maxBatchBytes: 2000 });
    for (let i = 0; i < 100; i++) c.track({ openid: `user-${i}`, page: `pages/p${i}/index`, time: 1_790_000_000_000 });
    await c.close();
    expect(w.events.size).toBe(100);
    const sizes = posts().map((r) => Buffer.byteLength(r.body));
    expect(sizes.length).toBeGreaterThan(4);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2000);
    expect(posts().reduce((n, r) => n + (JSON.parse(r.body) as unknown[]).length, 0)).toBe(100);
  });

  it('resends a batch whose answer was lost with the same event_ids: stored once', async () => {
    const c = ingest({ maxBatchEvents: 10 });
    w.fault('events', { dropAfterStore: true }, { drop: true }, { errcode: -1 });
    for (let i = 0; i < 30; i++) c.track({ openid: `u${i}` });
    const stats = await c.close();
    expect(w.events.size).toBe(30);
    expect(stats).toMatchObject({ accepted: 20, duplicates: 10, undeliverable: 0, pending: 0 });
    const bodies = posts().map((r) => (JSON.parse(r.body) as { event_id: string }[]).map((e) => e.event_id).join());
    expect(bodies[0]).toBe(bodies[1]); // the resend carries the same ids
  });

  it('slows down on 45011: waits Retry-After, then spaces the next batches out', async () => {
    const c = ingest({ maxBatchEvents: 5 });
    w.fault('events', { errcode: 45011, status: 429, retryAfter: 1 });
    for (let i = 0; i < 20; i++) c.track({ openid: `u${i}` });
    await c.close();
    expect(w.events.size).toBe(20);
    const at = posts().map((r) => r.at);
    expect(at).toHaveLength(5);
    expect((at[1] ?? 0) - (at[0] ?? 0)).toBeGreaterThanOrEqual(950);
    // After the refusal, the next batch waits too (the pause halves with every clean answer).
    expect((at[2] ?? 0) - (at[1] ?? 0)).toBeGreaterThanOrEqual(40);
  });

  it('halves a batch the server finds too large (45002); a single event too large is refused', async () => {
    const errors: IngestEventError[] = [];
    const c = ingest({ maxBatchEvents: 8, onError: (e) => errors.push(e) });
    w.fault('events', { errcode: 45002 }, { errcode: 45002 }, { errcode: 45002 }, { errcode: 45002 });
    for (let i = 0; i < 8; i++) c.track({ openid: `u${i}` });
    const stats = await c.close();
    // 8 → 4 (refused) → 2 (refused) → 1 (refused: rejected) → then the rest go through.
    expect(errors.map((e) => [e.errcode, e.reason])).toEqual([[45002, 'rejected']]);
    expect(stats).toMatchObject({ accepted: 7, rejected: 1 });
    expect(w.events.size).toBe(7);
  });

  it('gets a new token when the server refuses the one it has, and resends', async () => {
    const c = ingest();
    c.track({ openid: 'a' });
    await c.flush();
    w.revokeTokens();
    c.track({ openid: 'b' });
    expect(await c.close()).toMatchObject({ accepted: 2, undeliverable: 0 });
    expect(w.requests.filter((r) => r.path === '/cgi-bin/stable_token')).toHaveLength(2);
  });

  it('reports events it cannot deliver (a wrong secret, retries spent) to onError, and flush still resolves', async () => {
    const errors: IngestEventError[] = [];
    const wrong = new DatacubeIngest({ appid: STAND_IN_APPID, secret: 'wrong', baseUrl: w.url, onError: (e) => errors.push(e) });
    wrong.track({ openid: 'a' });
    wrong.track({ openid: 'b' });
    expect(await wrong.close()).toMatchObject({ undeliverable: 2, accepted: 0 });
    expect(errors.map((e) => [e.errcode, e.kind, e.reason, e.event.openid])).toEqual([
      [40125, 'auth', 'undeliverable', 'a'],
      [40125, 'auth', 'undeliverable', 'b'],
    ]);

    errors.length = 0;
    const c = ingest({ retries: 2, onError: (e) => errors.push(e) });
    w.fault('events', { errcode: -1 }, { errcode: -1 }, { errcode: -1 });
    c.track({ openid: 'x' });
    expect(await c.close()).toMatchObject({ undeliverable: 1 });
    expect(errors[0]).toMatchObject({ errcode: -1, reason: 'undeliverable' });
    expect(posts()).toHaveLength(3);
  });

  it('close({ timeoutMs }) gives up on a server that does not answer', async () => {
    const errors: IngestEventError[] = [];
    const c = ingest({ timeoutMs: 60_000, onError: (e) => errors.push(e) });
    w.fault('events', { hangMs: 5000 });
    c.track({ openid: 'x' });
    const stats = await c.close({ timeoutMs: 200 });
    expect(stats).toMatchObject({ undeliverable: 1, pending: 0 });
    expect(errors[0]?.errmsg).toMatch(/close gave up/);
  });
});

describe('DatacubeIngest.deleteUsers against the real server', () => {
  // "Now" is 2026-11-28 10:00 Shanghai; the events are of yesterday, 20261127.
  const NOW = Date.UTC(2026, 10, 28, 2, 0, 0);
  const YESTERDAY = '20261127';
  const clock = new ManualClock(NOW);
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ clock });
  });
  afterAll(async () => {
    await t.stop(true);
  });

  const openidsOf = async (appid: string) => {
    const seen = new Map<string, number>();
    await t.services.store.exportEvents(appid, async (b) => {
      for (const e of b) seen.set(e.openid, (seen.get(e.openid) ?? 0) + 1);
    });
    return seen;
  };

  it('sends what was tracked first, then deletes: the users are gone from the store and from the portrait', async () => {
    const app = await t.newApp();
    const ingest = new DatacubeIngest({ ...app, baseUrl: t.url, clock, flushIntervalMs: 60_000 });
    const users = ['keep-1', 'keep-2', 'keep-3', 'del-1', 'del-2'];
    users.forEach((openid, u) => {
      for (let i = 0; i <= u; i++) ingest.track({ openid, time: NOW - 86_400_000 + i * 60_000, gender: 1, platform: 'ios' });
    });
    // Nothing sent yet (the batch waits for its interval): deleteUsers sends it before deleting.
    expect(await t.services.store.countEvents(app.appid)).toBe(0);
    const deleted = await ingest.deleteUsers(['del-1', 'del-2', 'del-1', 'never-seen']);
    expect(deleted).toEqual({ users: 2, events: 4 + 5 });
    expect(ingest.stats()).toMatchObject({ accepted: 15, pending: 0 });
    expect(Object.fromEntries(await openidsOf(app.appid))).toEqual({ 'keep-1': 1, 'keep-2': 2, 'keep-3': 3 });

    const client = new WeChatClient({ ...app, baseUrl: t.url, clock });
    const portrait = await client.datacube.getUserPortraitRaw({ begin_date: YESTERDAY, end_date: YESTERDAY });
    expect(portrait.visit_uv_new.genders).toEqual([{ id: 1, name: '男', value: 3 }]);
    expect(portrait.visit_uv.genders).toEqual([{ id: 1, name: '男', value: 3 }]);

    // Deleting again removes nothing more.
    expect(await ingest.deleteUsers(['del-1'])).toEqual({ users: 0, events: 0 });
    await ingest.close();
  });

  it('sends any number of openids 1,000 a request; checks them before sending anything', async () => {
    const app = await t.newApp();
    const requests: { url: string; openids: number }[] = [];
    const counting: FetchLike = async (url, init) => {
      if (url.includes('/v1/users/delete')) requests.push({ url, openids: (JSON.parse(init.body ?? '{}') as { openids: unknown[] }).openids.length });
      return fetch(url, init);
    };
    const ingest = new DatacubeIngest({ ...app, baseUrl: t.url, clock, fetch: counting });
    ingest.track({ openid: 'u-2400', time: NOW - 3_600_000 });
    ingest.track({ openid: 'u-0', time: NOW - 3_600_000 });
    ingest.track({ openid: 'u-kept', time: NOW - 3_600_000 });
    const many = Array.from({ length: 2500 }, (_, i) => `u-${i}`);
    expect(await ingest.deleteUsers(many)).toEqual({ users: 2, events: 2 });
    expect(requests.map((r) => r.openids)).toEqual([1000, 1000, 500]);
    expect([...(await openidsOf(app.appid)).keys()]).toEqual(['u-kept']);

    requests.length = 0;
    await expect(ingest.deleteUsers(['u-kept', 'not an openid'])).rejects.toThrow(/openids\[1\] is not an openid/);
    await expect(ingest.deleteUsers(['u-kept', 'x'.repeat(129)])).rejects.toThrow(TypeError);
    expect(await ingest.deleteUsers([])).toEqual({ users: 0, events: 0 });
    expect(requests).toEqual([]);
    expect([...(await openidsOf(app.appid)).keys()]).toEqual(['u-kept']);
    await ingest.close();
  });

  it('throws the server refusal as a WeChatApiError (wrong secret); a replaced token is renewed and the call resent', async () => {
    const app = await t.newApp();
    const wrong = new DatacubeIngest({ appid: app.appid, secret: 'wrong-secret', baseUrl: t.url, clock });
    const refused = await wrong.deleteUsers(['someone']).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(WeChatApiError);
    expect(refused).toMatchObject({ errcode: 40125, kind: 'auth' });

    const ingest = new DatacubeIngest({ ...app, baseUrl: t.url, clock, tokenEndpoint: 'token' });
    ingest.track({ openid: 'gone', time: NOW - 3_600_000 });
    await ingest.flush();
    // Another client takes a new classic token; once the 5-minute overlap has passed, the one this client holds is refused.
    await t.token(app.appid, app.secret);
    clock.advance(6 * 60_000);
    try {
      expect(await ingest.deleteUsers(['gone'])).toEqual({ users: 1, events: 1 });
    } finally {
      clock.set(NOW);
    }
    expect(await t.services.store.countEvents(app.appid)).toBe(0);
    await ingest.close();
  });
});
