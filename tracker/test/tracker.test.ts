import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startTestServer, type TestServer } from '../../src/api/testing.ts';
import type { VisitEvent } from '../../src/domain/event.ts';
import { type ComponentInstance, FakeStorage, FakeWx, until, WECHAT_UA } from './fakeWx.ts';

// The tracker, driven by a fake WeChat runtime, against the real /v1/collect of a real server on port 0.

let t: TestServer;
/** Time moves when a test says so: Date.now() (the tracker's and the server's clock) is real time plus `shift`. */
let shift = 0;
const realNow = Date.now.bind(Date);
const advance = (ms: number) => void (shift += ms);

beforeAll(async () => {
  t = await startTestServer({ clock: { now: () => Date.now() } });
});
afterAll(async () => {
  await t.stop(true);
});
beforeEach(() => {
  shift = 0;
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + shift);
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** The App, Page, Component and Behavior the tracker wrapped, as app.js and the pages' files call them. */
const runtime = () =>
  globalThis as unknown as { App: (o: unknown) => void; Page: (o: unknown) => void; Component: (o: unknown) => void; Behavior: (o: unknown) => string };

async function stored(appid: string): Promise<VisitEvent[]> {
  const out: VisitEvent[] = [];
  await t.services.store.exportEvents(appid, async (b) => void out.push(...b));
  return out.sort((a, b) => a.time - b.time);
}

describe('datacube-tracker', () => {
  it('records an open, page views with their stay times and a share, and sends them to /v1/collect', async () => {
    const { appid } = await t.newApp();
    const wx = new FakeWx(appid);
    const createTracker = wx.install();
    const tracker = createTracker({ endpoint: `${t.url}/`, appid, batchSize: 50, flushIntervalMs: 60_000 });

    const calls: string[] = [];
    runtime().App({
      onLaunch: () => void calls.push('launch'),
      onShow: () => void calls.push('show'),
      onHide: () => void calls.push('hide'),
    });
    const page = runtime().Page;
    page({ onShow: () => void calls.push('index show'), onHide: () => void calls.push('index hide') });
    page({ onShareAppMessage: () => ({ title: 'look at this' }) });

    const app: Record<string, ((...args: unknown[]) => unknown) | undefined> = wx.app ?? {};
    app.onLaunch?.({ scene: 1047, path: 'pages/index/index', query: {} });
    app.onShow?.({ scene: 1047, path: 'pages/index/index' });
    const index = wx.page(0, 'pages/index/index');
    (index.onShow as () => void)();
    advance(12_340);
    (index.onHide as () => void)();
    const detail = wx.page(1, 'pages/detail/detail');
    (detail.onShow as () => void)();
    advance(5_000);
    expect((detail.onShareAppMessage as () => unknown)()).toEqual({ title: 'look at this' });
    advance(2_000);
    (detail.onUnload as () => void)();
    tracker.track('pay', { page: 'pages/detail/detail', amount: 12 });
    tracker.setOpenid('oReal_User-1');
    expect(calls).toEqual(['launch', 'show', 'index show', 'index hide']);
    expect(tracker.stats()).toMatchObject({ queued: 5, sent: 0 });

    tracker.flush();
    await until(() => tracker.stats().queued === 0 && !tracker.stats().sending, 15_000, 'the batch to be acknowledged');
    expect(tracker.stats()).toMatchObject({ sent: 5, dropped: 0 });
    const events = await stored(appid);
    expect(events.map((e) => [e.type, e.page])).toEqual([
      ['open', 'pages/index/index'],
      ['visit', 'pages/index/index'],
      ['share', 'pages/detail/detail'],
      ['visit', 'pages/detail/detail'],
      ['pay', 'pages/detail/detail'],
    ]);
    // Stays are the time moved by the test plus the real time the calls took (a few ms, more on a loaded machine).
    const stays = events.map((e) => e.stay);
    expect([stays[0], stays[2], stays[4]]).toEqual([null, null, null]);
    expect(stays[1]).toBeGreaterThanOrEqual(12.3);
    expect(stays[1]).toBeLessThan(13.3);
    expect(stays[3]).toBeGreaterThanOrEqual(7);
    expect(stays[3]).toBeLessThan(8);
    const first = events[0];
    for (const e of events) {
      expect(e).toMatchObject({ openid: 'oReal_User-1', scene: 1047, session: first?.session, ip: '127.0.0.1', ua: WECHAT_UA });
      expect(e).toMatchObject({ brand: 'OPPO', model: 'PEGM00', platform: 'android', platformId: 2, device: 'OPPO Reno5 5G' });
      expect(e.eventId).toMatch(/^[a-z0-9]{14,40}$/);
    }
    expect(JSON.parse(events[4]?.props ?? '{}')).toEqual({ amount: 12 });
    expect(new Set(events.map((e) => e.eventId)).size).toBe(5);
  });

  it('records the pages of a runtime whose Page instances carry no route (from getCurrentPages), and reads answers given as text', async () => {
    const { appid } = await t.newApp();
    const wx = new FakeWx(appid);
    wx.textAnswers = true;
    const tracker = wx.install()({ endpoint: t.url, appid, batchSize: 50, flushIntervalMs: 60_000 });
    const g = globalThis as Record<string, unknown>;
    const stack: { route: string }[] = [];
    g.getCurrentPages = () => stack;
    try {
      runtime().Page({ onShareAppMessage: () => ({ title: 't' }) });
      const bare = Object.create(wx.pages[0] ?? null) as Record<string, () => unknown>;
      stack.push({ route: 'pages/list/list' });
      bare.onShow?.();
      // Another page is pushed before this one's onHide runs (navigateTo): the visit stays with the page it was.
      stack.push({ route: 'pages/other/other' });
      advance(3_000);
      bare.onHide?.();
      stack.pop();
      bare.onShow?.();
      expect(bare.onShareAppMessage?.()).toEqual({ title: 't' });
      advance(1_000);
      bare.onUnload?.();
      tracker.flush();
      await until(() => tracker.stats().queued === 0 && !tracker.stats().sending, 15_000, 'the batch to be acknowledged');
      expect(tracker.stats()).toMatchObject({ sent: 3, dropped: 0 });
      expect(wx.log.filter((l) => l.status === 200)).toHaveLength(1);
      const events = await stored(appid);
      expect(events.map((e) => [e.type, e.page])).toEqual([
        ['visit', 'pages/list/list'],
        ['share', 'pages/list/list'],
        ['visit', 'pages/list/list'],
      ]);
    } finally {
      delete g.getCurrentPages;
    }
  });

  it('records the views and shares of pages built with Component(), one visit per show and hide', async () => {
    const { appid } = await t.newApp();
    const wx = new FakeWx(appid);
    const tracker = wx.install()({ endpoint: t.url, appid, batchSize: 50, flushIntervalMs: 60_000 });
    const { Component, Behavior } = runtime();
    const calls: string[] = [];
    // A page with its own handlers in `methods` (WeChat: 使用 Component 构造器构造页面), and a method of its own.
    Component({
      methods: {
        onShow: () => void calls.push('list show'),
        onHide: () => void calls.push('list hide'),
        onShareAppMessage: () => ({ title: 'the list' }),
        total: (a: unknown, b: unknown) => Number(a) + Number(b),
      },
    });
    // A page with no methods at all: the handlers are created.
    Component({ data: { empty: true } });
    // A page whose show/hide handlers come from a behavior: they still run (not hidden by created ones), counted once.
    const watch = Behavior({
      methods: {
        onShow: () => void calls.push('behavior show'),
        onHide: () => void calls.push('behavior hide'),
      },
    });
    Component({ behaviors: [watch], methods: { onLoad: () => void calls.push('cart load') } });
    // A component inside the list page: its pageLifetimes follow the page's shows and hides, but are not page views
    // (each component on a page would count one).
    const badge = { show: () => void calls.push('badge show'), hide: () => void calls.push('badge hide') };
    Component({ pageLifetimes: badge });

    const list = wx.component(0, 'pages/list/list', 'pages/list/list');
    const inList = wx.component(3, 'components/badge/badge');
    (list.onShow as () => void)();
    badge.show.call(inList);
    advance(4_200);
    expect((list.onShareAppMessage as () => unknown)()).toEqual({ title: 'the list' });
    expect((list.total as (a: number, b: number) => number)(2, 3)).toBe(5);
    (list.onHide as () => void)();
    badge.hide.call(inList);
    // Hidden twice (a hide then an unload) without a show in between: still one visit.
    (list.onUnload as () => void)();
    (list.onShow as () => void)();
    advance(3_000);
    (list.onUnload as () => void)();

    const empty = wx.component(1, 'pages/empty/empty', 'pages/empty/empty');
    expect(typeof empty.onShow).toBe('function');
    expect(empty.onShareAppMessage).toBeUndefined(); // no share menu where the page had none
    (empty.onShow as () => void)();
    advance(6_000);
    (empty.onHide as () => void)();

    const cart = wx.component(2, 'pages/cart/cart', 'pages/cart/cart');
    (cart.onLoad as () => void)();
    (cart.onShow as () => void)();
    advance(2_000);
    (cart.onHide as () => void)();
    expect(calls).toEqual(['list show', 'badge show', 'list hide', 'badge hide', 'list show', 'cart load', 'behavior show', 'behavior hide']);
    expect(wx.components[3]?.pageLifetimes).toBe(badge);
    expect(tracker.stats().queued).toBe(5); // four visits and a share

    tracker.flush();
    await until(() => tracker.stats().queued === 0 && !tracker.stats().sending, 15_000, 'the batch to be acknowledged');
    const events = await stored(appid);
    expect(events.map((e) => [e.type, e.page])).toEqual([
      ['share', 'pages/list/list'],
      ['visit', 'pages/list/list'],
      ['visit', 'pages/list/list'],
      ['visit', 'pages/empty/empty'],
      ['visit', 'pages/cart/cart'],
    ]);
    const stays = events.filter((e) => e.type === 'visit').map((e) => e.stay ?? -1);
    for (const [stay, moved] of [
      [stays[0], 4.2],
      [stays[1], 3],
      [stays[2], 6],
      [stays[3], 2],
    ] as const) {
      expect(stay).toBeGreaterThanOrEqual(moved);
      expect(stay).toBeLessThan(moved + 1);
    }
    for (const e of events) expect(e).toMatchObject({ session: events[0]?.session, device: 'OPPO Reno5 5G', ip: '127.0.0.1' });
  });

  it('leaves ordinary components working: their methods return their values, and methods named like page handlers record nothing', async () => {
    const { appid } = await t.newApp();
    const wx = new FakeWx(appid);
    const tracker = wx.install()({ endpoint: t.url, appid, flushIntervalMs: 60_000 });
    const { Component } = runtime();
    // A dialog component whose own methods happen to be called onShow/onHide (it has no route: it is not a page).
    Component({
      properties: { title: String },
      methods: {
        onShow(this: ComponentInstance) {
          this.open = true;
          return 'opened';
        },
        onHide: () => 'closed',
        onShareAppMessage: () => ({ title: 'from a button' }),
        label: (n: unknown) => `#${String(n)}`,
      },
    });
    // Frozen options cannot be wrapped: Component() still gets them, and nothing throws.
    const frozenMethods = Object.freeze({ double: (n: unknown) => Number(n) * 2 });
    expect(() => Component(Object.freeze({ methods: frozenMethods }))).not.toThrow();
    Component(undefined);

    const dialog = wx.component(0, 'components/dialog/dialog');
    expect((dialog.label as (n: number) => string)(7)).toBe('#7');
    expect((dialog.onShow as () => string).call(dialog)).toBe('opened');
    expect(dialog.open).toBe(true);
    advance(1_000);
    expect((dialog.onHide as () => string).call(dialog)).toBe('closed');
    expect((dialog.onShareAppMessage as () => unknown).call(dialog)).toEqual({ title: 'from a button' });
    expect(wx.components[1]?.methods).toBe(frozenMethods);
    const frozen = wx.component(1, 'components/frozen/frozen');
    expect((frozen.double as (n: number) => number)(21)).toBe(42);
    expect(wx.components).toHaveLength(3);
    expect(tracker.stats()).toMatchObject({ queued: 0, sent: 0, dropped: 0 });
  });

  it('opens a new session after 30 minutes in the background, and counts every return as an open', async () => {
    const { appid } = await t.newApp();
    const wx = new FakeWx(appid, undefined, undefined, true); // an old base library: wx.getSystemInfoSync only
    const tracker = wx.install()({ endpoint: t.url, appid, flushIntervalMs: 60_000 });
    runtime().App({});
    const app: Record<string, ((...args: unknown[]) => unknown) | undefined> = wx.app ?? {};
    // Time moves only while no request is under way: the server corrects client clocks by the time a batch was sent.
    const settle = () => until(() => !tracker.stats().sending, 10_000, 'the request under way');
    app.onLaunch?.({ scene: 1001 });
    app.onShow?.({ scene: 1001 });
    app.onHide?.();
    await settle();
    advance(5 * 60_000);
    app.onShow?.({ scene: 1089 });
    app.onHide?.();
    await settle();
    advance(31 * 60_000);
    app.onShow?.({ scene: 1007 });
    tracker.flush();
    await until(() => tracker.stats().queued === 0 && !tracker.stats().sending, 15_000, 'the opens to be sent');
    const opens = await stored(appid);
    expect(opens.map((e) => [e.type, e.scene])).toEqual([
      ['open', 1001],
      ['open', 1089],
      ['open', 1007],
    ]);
    expect(opens[1]?.session).toBe(opens[0]?.session);
    expect(opens[2]?.session).not.toBe(opens[1]?.session);
    expect(opens[0]).toMatchObject({ brand: 'OPPO', device: 'OPPO Reno5 5G', platform: 'android' });
    expect(opens[0]?.openid).toMatch(/^anon_[a-z0-9]{23}$/);
  });

  it('sends after a restart the events a killed app had not sent, without counting any twice', async () => {
    const { appid } = await t.newApp();
    const storage = new FakeStorage();
    const before = new FakeWx(appid, storage);
    const t1 = before.install()({ endpoint: t.url, appid, batchSize: 5, flushIntervalMs: 60_000 });
    for (let i = 0; i < 12; i++) t1.track('visit', { page: `pages/p${i}/p${i}`, stay: i });
    // The first full batch went out; the app is killed while its answer is on the way (the server stored it).
    before.loseNextAnswer = true;
    await until(() => before.log.length >= 1, 10_000, 'the first batch');
    before.dead = true;
    await until(async () => (await stored(appid)).length === 5, 10_000, 'the first batch to be stored');

    const after = new FakeWx(appid, storage);
    const t2 = after.install()({ endpoint: t.url, appid, batchSize: 5, flushIntervalMs: 50 });
    expect(t2.stats().queued).toBe(12);
    await until(() => t2.stats().queued === 0 && !t2.stats().sending, 15_000, 'the queue to drain after the restart');
    const events = await stored(appid);
    expect(events).toHaveLength(12);
    expect(new Set(events.map((e) => e.page)).size).toBe(12);
    expect(after.log.some((l) => l.status === 200)).toBe(true);
    expect(t2.stats().dropped).toBe(0);
  });

  it('keeps events while offline and sends each exactly once when the network is back', async () => {
    const { appid } = await t.newApp();
    const wx = new FakeWx(appid);
    const tracker = wx.install()({ endpoint: t.url, appid, batchSize: 4, flushIntervalMs: 30 });
    wx.setOnline(false);
    for (let i = 0; i < 10; i++) tracker.track('visit', { page: 'pages/off/off', stay: i });
    await new Promise((r) => setTimeout(r, 300));
    expect(tracker.stats().queued).toBe(10);
    // Back online, but the first answer is lost on the way back: that batch is sent again, and not counted twice.
    wx.loseNextAnswer = true;
    wx.setOnline(true);
    await until(() => wx.log.some((l) => l.status === 'lost'), 10_000, 'a lost answer');
    await until(() => tracker.stats().queued === 0 && !tracker.stats().sending, 20_000, 'the queue to drain');
    const events = await stored(appid);
    expect(events.map((e) => e.stay).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // The batch whose answer was lost was sent again and answered as duplicates.
    expect(wx.log.filter((l) => l.status === 200).length).toBeGreaterThanOrEqual(3);
    expect(tracker.stats()).toMatchObject({ dropped: 0, queued: 0 });
  });

  it('keeps a bounded queue: the oldest events are dropped first, and counted', async () => {
    const { appid } = await t.newApp();
    const wx = new FakeWx(appid);
    const tracker = wx.install()({ endpoint: t.url, appid, batchSize: 100, flushIntervalMs: 50, maxQueued: 5 });
    wx.setOnline(false);
    for (let i = 0; i < 8; i++) tracker.track('visit', { page: 'pages/q/q', stay: i });
    expect(tracker.stats()).toMatchObject({ queued: 5, dropped: 3 });
    wx.setOnline(true);
    await until(() => tracker.stats().queued === 0 && !tracker.stats().sending, 10_000, 'the queue to drain');
    expect((await stored(appid)).map((e) => e.stay)).toEqual([3, 4, 5, 6, 7]);
  });

  it('drops a batch datacube refuses as malformed instead of sending it forever', async () => {
    const { appid } = await t.newApp();
    const wx = new FakeWx(appid);
    const tracker = wx.install()({ endpoint: t.url, appid, batchSize: 2, flushIntervalMs: 30 });
    wx.garbleNextBody = true;
    tracker.track('visit', { page: 'pages/a/a' });
    tracker.track('visit', { page: 'pages/b/b' });
    await until(() => tracker.stats().dropped === 2, 10_000, 'the malformed batch to be dropped');
    tracker.track('visit', { page: 'pages/c/c' });
    tracker.flush();
    await until(() => tracker.stats().queued === 0 && !tracker.stats().sending, 10_000, 'the next event');
    expect(wx.log.map((l) => l.errcode)).toEqual([47001, 0]);
    expect((await stored(appid)).map((e) => e.page)).toEqual(['pages/c/c']);
  });
});

describe('datacube-tracker and 45011', () => {
  let limited: TestServer;
  beforeAll(async () => {
    // One request a second per client address, bursts of two.
    limited = await startTestServer({ clock: { now: () => Date.now() }, config: { collectIpRate: 1 } });
  });
  afterAll(async () => {
    await limited.stop(true);
  });

  it('waits the Retry-After of a 45011 answer before sending again, and loses nothing', async () => {
    const { appid } = await limited.newApp();
    const wx = new FakeWx(appid);
    const tracker = wx.install()({ endpoint: limited.url, appid, batchSize: 3, flushIntervalMs: 10 });
    for (let i = 0; i < 12; i++) tracker.track('visit', { page: 'pages/r/r', stay: i });
    await until(() => tracker.stats().queued === 0 && !tracker.stats().sending, 30_000, 'the queue to drain');
    const limitedAt = wx.log.findIndex((l) => l.status === 429);
    expect(limitedAt).toBeGreaterThan(0);
    expect(wx.log[limitedAt]?.errcode).toBe(45011);
    // Retry-After is at least 1 s: the next request came no sooner.
    const next = wx.log[limitedAt + 1];
    expect(next).toBeDefined();
    expect((next?.at ?? 0) - (wx.log[limitedAt]?.at ?? 0)).toBeGreaterThanOrEqual(990);
    const out: VisitEvent[] = [];
    await limited.services.store.exportEvents(appid, async (b) => void out.push(...b));
    expect(out.map((e) => e.stay).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  }, 60_000);
});

describe('the tracker package', () => {
  it('is under 8 KB minified (esbuild)', async () => {
    const source = readFileSync(new URL('../src/index.js', import.meta.url), 'utf8');
    const min = await transform(source, { minify: true, target: 'es2015' });
    expect(Buffer.byteLength(min.code)).toBeLessThan(8 * 1024);
  });

  it('is a WeChat npm package: its own name, a miniprogram folder, types, no dependencies and no Node API', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    expect(pkg).toMatchObject({ name: 'datacube-tracker', miniprogram: 'src', main: 'src/index.js', types: 'index.d.ts' });
    expect(pkg.dependencies).toBeUndefined();
    const source = readFileSync(new URL('../src/index.js', import.meta.url), 'utf8');
    expect(source).not.toMatch(/require\(|process\.|Buffer|globalThis|window\.|document\./);
  });

  it('resolves by its package name from the repository (an npm workspace), as an app or a test imports it', () => {
    const root = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { workspaces?: string[] };
    expect(root.workspaces).toContain('tracker');
    // Needs `npm install` (or `npm ci`) after the workspace was added: it links node_modules/datacube-tracker.
    const resolved = createRequire(import.meta.url).resolve('datacube-tracker');
    expect(realpathSync(resolved)).toBe(realpathSync(fileURLToPath(new URL('../src/index.js', import.meta.url))));
  });
});
