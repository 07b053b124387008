/**
 * The dashboard end to end: `datacube serve --demo`'s own code starts the server on the demo data, and Debian's
 * Chromium, driven through playwright-core, uses the page as a person would. Every number the page shows is
 * compared with the public API's answer for the same window, fetched by this test with its own token.
 *
 * Needs /usr/bin/chromium (`apt-get install chromium fonts-noto-cjk`; .ci/run installs both). Without it the
 * suite fails in CI and skips itself elsewhere, saying how to install it. Screenshots and timings go to
 * test-output/dashboard/ (or $DATACUBE_SCREENSHOTS).
 */
import { AxeBuilder } from '@axe-core/playwright';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDemoCredentials } from '../src/cli/demoApp.ts';
import { type RunningServer, startServer } from '../src/cli/serve.ts';
import { loadConfig } from '../src/config.ts';

const CHROMIUM = process.env.DATACUBE_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = Boolean(process.env.CI);
const OUT = resolve(process.env.DATACUBE_SCREENSHOTS ?? join(import.meta.dirname, '../test-output/dashboard'));
const PORTRAIT = 'getweanalysisappiduserportrait';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

if (!HAVE_CHROMIUM && !IN_CI) {
  console.warn(`dashboard end-to-end tests skipped: no Chromium at ${CHROMIUM}. Install it with: sudo apt-get install chromium fonts-noto-cjk`);
}

interface Item {
  id?: number;
  name: string;
  value: number;
}
type Group = Record<'province' | 'city' | 'genders' | 'platforms' | 'devices' | 'ages', Item[]>;
interface Portrait {
  ref_date: string;
  visit_uv: Group;
  visit_uv_new: Group;
}
type Audience = 'active' | 'new';
const KEY = { active: 'visit_uv', new: 'visit_uv_new' } as const;
/** How long to wait for the page: generous, as CI machines can be slow and busy. */
const WAIT = { timeout: 60_000, interval: 100 };

/** What each panel shows, from the API's answer: the page's contract, written out independently of its code. */
const PANELS: { id: string; dimension: keyof Group; pick: (items: Item[]) => Item[] }[] = [
  { id: 'province', dimension: 'province', pick: (i) => i },
  { id: 'city', dimension: 'city', pick: (i) => i.slice(0, 10) },
  { id: 'devices', dimension: 'devices', pick: (i) => i.slice(0, 10) },
  { id: 'genders', dimension: 'genders', pick: (i) => i },
  { id: 'platforms', dimension: 'platforms', pick: (i) => i },
  // Age brackets read young to old, unknown last.
  { id: 'ages', dimension: 'ages', pick: (i) => [...i].sort((a, b) => (a.id || 99) - (b.id || 99)) },
];

function ymd(d: Date): string {
  return d.toISOString().slice(0, 10).replace(/-/g, '');
}
function dayBefore(day: string, n: number): string {
  const d = new Date(Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8))));
  d.setUTCDate(d.getUTCDate() - n);
  return ymd(d);
}
const iso = (day: string) => `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}`;
/** The last Monday–Sunday week that ends on or before `day`. */
function weekBy(day: string): [string, string] {
  const weekday = new Date(Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8)))).getUTCDay(); // 0 = Sunday
  const sunday = dayBefore(day, weekday);
  return [dayBefore(sunday, 6), sunday];
}
/** The last calendar month that ends on or before `day`. */
function monthBy(day: string): [string, string] {
  const last = dayBefore(day, -1).endsWith('01') ? day : dayBefore(`${day.slice(0, 6)}01`, 1);
  return [`${last.slice(0, 6)}01`, last];
}

/** What the visit panels show, from the APIs' answers: the page's contract, written out independently of its code. */
const TREND_LABELS: [string, string][] = [
  ['session_cnt', '打开次数'],
  ['visit_pv', '访问次数'],
  ['visit_uv', '访问人数'],
  ['visit_uv_new', '新用户数'],
  ['stay_time_uv', '人均停留时长（秒）'],
  ['stay_time_session', '次均停留时长（秒）'],
  ['visit_depth', '平均访问深度（页）'],
];
const SUMMARY_LABELS: [string, string][] = [
  ['visit_total', '累计用户数'],
  ['share_pv', '分享次数'],
  ['share_uv', '分享人数'],
];
/** Chinese names of the access sources the demo's scenes lead to (WeChat's names). */
const SOURCE_NAMES: Record<number, string> = {
  1: '小程序历史列表', 2: '搜索', 3: '会话', 4: '扫一扫二维码', 10: '其他', 11: '模板消息', 13: '公众号菜单', 14: 'APP分享', 16: '长按识别二维码',
  22: '其他小程序', 23: '其他小程序返回', 29: '任务栏-最近使用', 36: '任务栏-我的小程序',
};
const STAY_NAMES = ['0-2 秒', '3-5 秒', '6-10 秒', '11-20 秒', '21-30 秒', '31-50 秒', '51-100 秒', '100 秒以上'];
const DEPTH_NAMES = ['1 页', '2 页', '3 页', '4 页', '5 页', '6-10 页', '10 页以上'];
type Json = Record<string, unknown>;
interface KeyValue {
  key: number;
  value: number;
}
const total = (g: Group) => g.genders.reduce((s, i) => s + i.value, 0);

/** A CSV line split into cells (quotes as RFC 4180). */
function csvCells(line: string): string[] {
  const cells: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cells.push(cur);
      cur = '';
    } else cur += c;
  }
  cells.push(cur);
  return cells;
}

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('dashboard in Chromium (demo data)', { timeout: 180_000 }, () => {
  let dataDir: string;
  let server: RunningServer;
  let creds: { appid: string; secret: string };
  let yesterday: string;
  let desktop: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  const profiles: string[] = [];
  const timings: Record<string, number> = {};

  /** Opens a browser with a fresh profile; records console errors and any request that leaves datacube. */
  async function browser(opts: { width: number; height: number; phone?: boolean }): Promise<BrowserContext> {
    const profile = mkdtempSync(join(tmpdir(), 'datacube-chromium-'));
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: opts.width, height: opts.height },
      ...(opts.phone ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
      acceptDownloads: true,
      locale: 'zh-CN',
    });
    profiles.push(profile);
    ctx.setDefaultTimeout(WAIT.timeout);
    ctx.on('page', watch);
    for (const p of ctx.pages()) watch(p);
    return ctx;
  }

  function watch(p: Page): void {
    p.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    p.on('pageerror', (e) => problems.push(`page error: ${e.stack ?? e.message}`));
    p.on('request', (r) => {
      const url = r.url();
      if (!url.startsWith(`${server.url}/`) && !url.startsWith('blob:') && !url.startsWith('data:')) problems.push(`request outside datacube: ${url}`);
    });
  }

  /** The public API's answer for a window, with a token of the test's own. */
  async function api(begin: string, end: string): Promise<Portrait> {
    const tok = (await (await fetch(`${server.url}/cgi-bin/token?grant_type=client_credential&appid=${creds.appid}&secret=${creds.secret}`)).json()) as {
      access_token: string;
    };
    const r = await fetch(`${server.url}/datacube/${PORTRAIT}?access_token=${tok.access_token}`, {
      method: 'POST',
      body: JSON.stringify({ begin_date: begin, end_date: end }),
    });
    const json = (await r.json()) as Portrait & { errcode?: number };
    if (json.errcode) throw new Error(`API: ${JSON.stringify(json)}`);
    return json;
  }

  /** Any analysis API's answer, with a token of the test's own. */
  let testToken: string | undefined;
  async function analysis(path: string, begin: string, end: string): Promise<Json> {
    testToken ??= (
      (await (await fetch(`${server.url}/cgi-bin/stable_token`, { method: 'POST', body: JSON.stringify({ grant_type: 'client_credential', appid: creds.appid, secret: creds.secret }) })).json()) as {
        access_token: string;
      }
    ).access_token;
    const r = await fetch(`${server.url}/datacube/${path}?access_token=${testToken}`, { method: 'POST', body: JSON.stringify({ begin_date: begin, end_date: end }) });
    const json = (await r.json()) as Json;
    if (json.errcode) throw new Error(`API ${path}: ${JSON.stringify(json)}`);
    return json;
  }

  /** What each visit panel must show — [key, name, value] rows — for a window ending on `end` and an audience. */
  async function expectedVisits(end: string, days: number, audience: Audience): Promise<Record<string, [string, string, number][]>> {
    const list = (a: Json) => a.list as Json[];
    const trendDays = await Promise.all(
      Array.from({ length: days }, (_, i) => analysis('getweanalysisappiddailyvisittrend', dayBefore(end, days - 1 - i), dayBefore(end, days - 1 - i))),
    );
    const stats = (row: Json | undefined, labels: [string, string][]): [string, string, number][] => labels.map(([f, name]) => [f, name, Number(row?.[f])]);
    const week = weekBy(end);
    const month = monthBy(end);
    const [summary, weekly, monthly, dist, pages] = await Promise.all([
      analysis('getweanalysisappiddailysummarytrend', end, end),
      analysis('getweanalysisappidweeklyvisittrend', ...week),
      analysis('getweanalysisappidmonthlyvisittrend', ...month),
      analysis('getweanalysisappidvisitdistribution', end, end),
      analysis('getweanalysisappidvisitpage', end, end),
    ]);
    const retainWeek = weekBy(dayBefore(week[0], 8));
    const retainMonth = monthBy(dayBefore(month[0], 1));
    const [rd, rw, rm] = await Promise.all([
      analysis('getweanalysisappiddailyretaininfo', dayBefore(end, 7), dayBefore(end, 7)),
      analysis('getweanalysisappidweeklyretaininfo', ...retainWeek),
      analysis('getweanalysisappidmonthlyretaininfo', ...retainMonth),
    ]);
    // An empty cohort shows no rows (the panel says there is no data).
    const retain = (a: Json, zero: string, later: (k: number) => string): [string, string, number][] => {
      const items = a[KEY[audience]] as KeyValue[];
      return items.some((x) => x.key === 0 && x.value > 0) ? items.map((x) => [String(x.key), x.key === 0 ? zero : later(x.key), x.value]) : [];
    };
    const index = (name: string) => ((dist.list as { index: string; item_list: KeyValue[] }[]).find((x) => x.index === name)?.item_list ?? []);
    const top10 = (items: KeyValue[]) => [...items].sort((a, b) => b.value - a.value || a.key - b.key).slice(0, 10);
    const source = (x: KeyValue): [string, string, number] => [String(x.key), SOURCE_NAMES[x.key] ?? '?', x.value];
    return {
      'visit-trend': trendDays.map((a) => list(a)[0]).map((r) => [String(r?.ref_date), iso(String(r?.ref_date)), Number(r?.visit_uv)]),
      'day-trend': stats(list(trendDays.at(-1) ?? {})[0], TREND_LABELS),
      summary: stats(list(summary)[0], SUMMARY_LABELS),
      'week-trend': stats(list(weekly)[0], TREND_LABELS),
      'month-trend': stats(list(monthly)[0], TREND_LABELS),
      'retain-day': retain(rd, '当天', (k) => `${k} 天后`),
      'retain-week': retain(rw, '当周', (k) => `${k} 周后`),
      'retain-month': retain(rm, '当月', (k) => `${k} 个月后`),
      sources: top10(index('access_source_session_cnt')).map(source),
      'source-users': top10(index('access_source_visit_uv')).map(source),
      staytime: index('access_staytime_info').map((x) => [String(x.key), STAY_NAMES[x.key - 1] ?? '?', x.value]),
      depth: index('access_depth_info').map((x) => [String(x.key), DEPTH_NAMES[x.key - 1] ?? '?', x.value]),
      pages: (list(pages) as { page_path: string; page_visit_pv: number }[]).slice(0, 10).map((x) => [x.page_path, x.page_path, x.page_visit_pv]),
    };
  }

  async function showVisitsAs(p: Page, view: 'table' | 'chart'): Promise<void> {
    const ids = await p.evaluate(() => [...document.querySelectorAll<HTMLElement>('#visit-panels section.panel')].map((x) => x.dataset.panel ?? ''));
    for (const id of ids) {
      const button = p.locator(`#panel-${id} button[data-view=${view}]`);
      if ((await button.getAttribute('aria-pressed')) !== 'true') await button.click();
    }
  }

  /** Shows every visit panel as a table and reads it: panel id → [key, name, value][]. */
  async function readVisitTables(p: Page): Promise<Record<string, [string, string, number][]>> {
    await showVisitsAs(p, 'table');
    await settled(p);
    return p.evaluate(() => {
      const out: Record<string, [string, string, number][]> = {};
      for (const section of document.querySelectorAll<HTMLElement>('#visit-panels section.panel')) {
        const wrap = section.querySelector('.table-wrap');
        const visible = wrap instanceof HTMLElement && !wrap.hidden;
        out[section.dataset.panel ?? ''] = visible
          ? [...section.querySelectorAll<HTMLElement>('tbody tr')].map((tr) => [tr.dataset.key ?? '', tr.querySelector('th')?.textContent ?? '', Number(tr.querySelector('td')?.textContent)])
          : [];
      }
      return out;
    });
  }

  /** Shows every visit panel as a chart; the values drawn (series data; a stats panel's tiles), by panel. */
  async function readVisitCharts(p: Page): Promise<Record<string, number[]>> {
    await showVisitsAs(p, 'chart');
    await settled(p);
    return withECharts(
      p,
      `const out = {};
      for (const section of document.querySelectorAll('#visit-panels section.panel')) {
        const el = section.querySelector('.chart');
        if (!el || el.hidden) { out[section.dataset.panel] = []; continue; }
        const chart = echarts.getInstanceByDom(el);
        out[section.dataset.panel] = chart
          ? (chart.getOption().series[0]?.data ?? []).map((d) => (typeof d === 'number' ? d : d.value))
          : [...el.querySelectorAll('.stat-value')].map((v) => Number(v.textContent));
      }
      return out;`,
    );
  }

  /** Checks every visit panel, as a table and as a chart, against the APIs' answers. */
  async function expectVisitsMatchApi(p: Page, end: string, days: number, audience: Audience): Promise<Record<string, [string, string, number][]>> {
    await settled(p);
    const expected = await expectedVisits(end, days, audience);
    const tables = await readVisitTables(p);
    expect(Object.keys(tables).sort()).toEqual(Object.keys(expected).sort());
    for (const [id, rows] of Object.entries(expected)) expect(tables[id], `${id} table, ${days} days to ${end}, ${audience}`).toEqual(rows);
    const drawn = await readVisitCharts(p);
    for (const [id, rows] of Object.entries(expected)) expect(drawn[id], `${id} chart, ${days} days to ${end}, ${audience}`).toEqual(rows.map((r) => r[2]));
    return expected;
  }

  async function settled(p: Page): Promise<void> {
    await p.waitForSelector('#dashboard:not([hidden])[aria-busy="false"]');
  }

  async function axe(p: Page, what: string): Promise<void> {
    const result = await new AxeBuilder({ page: p }).analyze();
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), what).toEqual([]);
  }

  async function signIn(p: Page, secret: string): Promise<void> {
    await p.getByLabel('AppID').fill(creds.appid);
    await p.getByLabel('AppSecret').fill(secret);
    await p.getByRole('button', { name: '登录' }).click();
  }

  /** Shows every panel as a table and reads it: panel id → [name, value][] as the page shows them. */
  async function readTables(p: Page): Promise<Record<string, [string, number][]>> {
    for (const panel of PANELS) {
      const button = p.locator(`#panel-${panel.id} button[data-view=table]`);
      if ((await button.getAttribute('aria-pressed')) !== 'true') await button.click();
    }
    await settled(p);
    return p.evaluate(() => {
      const out: Record<string, [string, number][]> = {};
      for (const section of document.querySelectorAll<HTMLElement>('#panels section.panel')) {
        const wrap = section.querySelector('.table-wrap');
        const visible = wrap instanceof HTMLElement && !wrap.hidden;
        out[section.dataset.panel ?? ''] = visible
          ? [...section.querySelectorAll('tbody tr')].map((tr) => [tr.querySelector('th')?.textContent ?? '', Number(tr.querySelector('td')?.textContent)])
          : [];
      }
      return out;
    });
  }

  async function showCharts(p: Page): Promise<void> {
    for (const panel of PANELS) {
      const button = p.locator(`#panel-${panel.id} button[data-view=chart]`);
      if ((await button.getAttribute('aria-pressed')) !== 'true') await button.click();
    }
    await settled(p);
  }

  /**
   * Runs `body` in the page with `echarts` bound to the page's own ECharts module (the same instance the page
   * uses). Given as text: the test runner rewrites dynamic imports in functions it compiles.
   */
  function withECharts<T>(p: Page, body: string, arg: unknown = null): Promise<T> {
    return p.evaluate(`(async (arg) => { const echarts = await import('/dashboard/assets/echarts.mjs'); ${body} })(${JSON.stringify(arg)})`) as Promise<T>;
  }

  /** The values each chart draws (its series data), by panel. */
  function chartValues(p: Page): Promise<Record<string, number[]>> {
    return withECharts(
      p,
      `const out = {};
      for (const section of document.querySelectorAll('#panels section.panel')) {
        const el = section.querySelector('.chart');
        const chart = el && !el.hidden ? echarts.getInstanceByDom(el) : undefined;
        // (A map series also lists the regions without data, as NaN.)
        out[section.dataset.panel] = chart
          ? (chart.getOption().series[0]?.data ?? []).map((d) => (typeof d === 'number' ? d : d.value)).filter((v) => Number.isFinite(v))
          : [];
      }
      return out;`,
    );
  }

  /** Checks every number on the page against the API's answer for the window and audience shown. */
  async function expectPageMatchesApi(p: Page, begin: string, end: string, audience: Audience): Promise<Portrait> {
    await settled(p);
    const answer = await api(begin, end);
    const range = (await p.locator('#range').textContent()) ?? '';
    expect(range).toContain(iso(end));
    if (begin !== end) expect(range).toContain(iso(begin));
    expect(await p.locator('#total-active-value').textContent()).toBe(String(total(answer.visit_uv)));
    expect(await p.locator('#total-new-value').textContent()).toBe(String(total(answer.visit_uv_new)));
    const group = answer[KEY[audience]];
    const tables = await readTables(p);
    for (const panel of PANELS) {
      const expected = panel.pick(group[panel.dimension]).map((i) => [i.name, i.value]);
      expect(tables[panel.id], `${panel.id} table, ${begin}-${end} ${audience}`).toEqual(expected);
    }
    await showCharts(p);
    const drawn = await chartValues(p);
    for (const panel of PANELS) {
      const items = panel.pick(group[panel.dimension]);
      // The map draws the provinces it has a region for (everything but "unknown").
      const expected = (panel.id === 'province' ? items.filter((i) => i.id !== 0) : items).map((i) => i.value);
      expect(drawn[panel.id], `${panel.id} chart, ${begin}-${end} ${audience}`).toEqual(expected);
    }
    const unknown = group.province.find((i) => i.id === 0);
    const note = p.locator('#panel-province .panel-note');
    if (unknown) expect(await note.textContent()).toContain(String(unknown.value));
    else expect(await note.isHidden()).toBe(true);
    return answer;
  }

  /** Moves the mouse over a chart element and returns the tooltip's text. */
  async function hover(p: Page, panel: string, at: { name?: string; index?: number; value?: number; vertical?: boolean }): Promise<string> {
    await p.locator(`#panel-${panel} .chart`).scrollIntoViewIfNeeded();
    const point = await withECharts<{ x: number; y: number } | null>(
      p,
      `const el = document.querySelector('#panel-' + arg.panel + ' .chart');
      const chart = el ? echarts.getInstanceByDom(el) : undefined;
      if (!el || !chart) return null;
      // Bars: a point halfway along the bar; map: the region's centre.
      const at = arg.at;
      const inside = (at.value ?? 0) * 0.5;
      const px = at.name !== undefined
        ? chart.convertToPixel({ seriesIndex: 0 }, at.name)
        : chart.convertToPixel({ seriesIndex: 0 }, at.vertical ? [at.index ?? 0, inside] : [inside, at.index ?? 0]);
      if (!px) return null;
      const box = el.getBoundingClientRect();
      return { x: box.left + px[0], y: box.top + px[1] };`,
      { panel, at },
    );
    expect(point, `${panel}: ${JSON.stringify(at)} is on the chart`).not.toBeNull();
    await p.mouse.move(0, 0);
    await p.mouse.move(point?.x ?? 0, point?.y ?? 0, { steps: 4 });
    const tip = p.locator(`#panel-${panel} .chart-tooltip`);
    await expect.poll(async () => (await tip.isVisible()) && ((await tip.textContent()) ?? '') !== '', WAIT).toBe(true);
    return (await tip.textContent()) ?? '';
  }

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) {
      throw new Error(`no Chromium at ${CHROMIUM}: the dashboard tests need Debian's chromium and fonts-noto-cjk (apt-get install chromium fonts-noto-cjk; .ci/run installs them)`);
    }
    mkdirSync(OUT, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'datacube-dashboard-'));
    // `datacube serve --demo` on an empty data directory: the demo app with 30 days of visits ending yesterday.
    server = await startServer(loadConfig({}, { dataDir, port: 0, host: '127.0.0.1', logLevel: 'warn' }), { demo: true, print: () => undefined });
    const c = readDemoCredentials(dataDir);
    if (!c) throw new Error('the demo app was not made');
    creds = c;
    const who = (await (await fetch(`${server.url}/dashboard/session`)).json()) as { yesterday: string };
    yesterday = who.yesterday;
    desktop = await browser({ width: 1280, height: 900 });
    page = desktop.pages()[0] ?? (await desktop.newPage());
  }, 240_000);

  afterAll(async () => {
    await desktop?.close();
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    for (const dir of profiles) rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    if (Object.keys(timings).length > 0) writeFileSync(join(OUT, 'timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
  });

  it('signs in with a wrong secret (refused, said so) and then the right one; the session cookie is HttpOnly and SameSite=Strict', async () => {
    await page.goto(`${server.url}/`);
    await expect.poll(() => page.locator('#signin').isVisible(), WAIT).toBe(true);
    timings.firstContentfulPaintMs = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1);
    expect(timings.firstContentfulPaintMs).toBeGreaterThan(0);
    await page.screenshot({ path: join(OUT, 'desktop-signin.png') });
    await axe(page, 'sign-in page');

    await signIn(page, '0'.repeat(32));
    await expect.poll(() => page.locator('#signin-error').textContent(), WAIT).toContain('AppSecret 不正确');
    expect(await page.getByLabel('AppSecret').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#dashboard').isHidden()).toBe(true);
    expect((await desktop.cookies()).find((c) => c.name === 'datacube_session')).toBeUndefined();

    await signIn(page, creds.secret);
    await settled(page);
    const cookie = (await desktop.cookies()).find((c) => c.name === 'datacube_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(await page.evaluate(() => document.cookie)).not.toContain('datacube_session');
    expect(await page.locator('#who').textContent()).toContain(creds.appid);
    // The secret is gone from the form.
    expect(await page.getByLabel('AppSecret').inputValue()).toBe('');
  });

  it('opens on yesterday (China time) for active users, and every number equals the API answer', async () => {
    expect(await page.getByRole('radio', { name: '1 天' }).isChecked()).toBe(true);
    expect(await page.getByRole('radio', { name: '活跃用户' }).isChecked()).toBe(true);
    expect(await page.locator('#end-date').inputValue()).toBe(iso(yesterday));
    expect(await page.locator('#end-date').getAttribute('max')).toBe(iso(yesterday));
    await expectPageMatchesApi(page, yesterday, yesterday, 'active');
  });

  it('switches window and audience, and the numbers follow the API', async () => {
    await page.getByRole('radio', { name: '7 天' }).check();
    const week = await expectPageMatchesApi(page, dayBefore(yesterday, 6), yesterday, 'active');
    expect(week.ref_date).toBe(`${dayBefore(yesterday, 6)}-${yesterday}`);
    await page.getByRole('radio', { name: '新用户' }).check();
    await expectPageMatchesApi(page, dayBefore(yesterday, 6), yesterday, 'new');
    expect(await page.locator('#total-new').getAttribute('data-current')).not.toBeNull();

    // 30 days ending on a chosen day.
    const end = dayBefore(yesterday, 3);
    await page.getByRole('radio', { name: '30 天' }).check();
    await settled(page);
    await page.getByLabel('截止日期').fill(iso(end));
    await expect.poll(() => page.locator('#range').textContent(), WAIT).toContain(iso(end));
    await expectPageMatchesApi(page, dayBefore(end, 29), end, 'new');

    // A day after yesterday is refused with a message, and nothing changes.
    await page.getByLabel('截止日期').fill(iso(dayBefore(yesterday, -1)));
    await expect.poll(() => page.locator('#status').textContent(), WAIT).toContain('截止日期最晚为昨天');
    expect(await page.locator('#range').textContent()).toContain(iso(end));

    // The window lives in the address: a reload shows the same view.
    await page.getByRole('button', { name: '昨天' }).click();
    await page.getByRole('radio', { name: '7 天' }).check();
    await page.getByRole('radio', { name: '活跃用户' }).check();
    await settled(page);
    expect(page.url()).toContain(`end=${yesterday}`);
    await page.reload();
    await expectPageMatchesApi(page, dayBefore(yesterday, 6), yesterday, 'active');
    await axe(page, 'dashboard with tables');
  });

  it('shows numbers on hover: bars, pies and the map, whose outline has 台湾 and 南海诸岛', async () => {
    await showCharts(page);
    const answer = await api(dayBefore(yesterday, 6), yesterday);
    const cities = answer.visit_uv.city;
    const topCity = cities[0];
    if (!topCity) throw new Error('no cities in the demo data');
    const cityTip = await hover(page, 'city', { index: 0, value: topCity.value });
    expect(cityTip).toContain(topCity.name);
    expect(cityTip).toContain(String(topCity.value));

    const topDevice = answer.visit_uv.devices[0];
    if (!topDevice) throw new Error('no devices in the demo data');
    const deviceTip = await hover(page, 'devices', { index: 0, value: topDevice.value });
    expect(deviceTip).toContain(topDevice.name);
    expect(deviceTip).toContain(String(topDevice.value));

    const ages = PANELS.find((x) => x.id === 'ages')?.pick(answer.visit_uv.ages) ?? [];
    const index = ages.findIndex((a) => a.id === 2);
    const age = ages[index];
    if (!age) throw new Error('no users of 18-24 in the demo data');
    const ageTip = await hover(page, 'ages', { index, value: age.value, vertical: true });
    expect(ageTip).toContain(age.name);
    expect(ageTip).toContain(String(age.value));

    const guangdong = answer.visit_uv.province.find((p) => p.id === 44);
    const gdTip = await hover(page, 'province', { name: '广东' });
    expect(gdTip).toContain('广东省');
    expect(gdTip).toContain(String(guangdong?.value ?? 0));
    const taiwan = answer.visit_uv.province.find((p) => p.id === 71);
    const twTip = await hover(page, 'province', { name: '台湾' });
    expect(twTip).toContain('台湾');
    expect(twTip).toContain(String(taiwan?.value ?? 0));
    // The South China Sea islands inset is part of the drawn map.
    const nanhai = await withECharts<number[] | null>(
      page,
      `const el = document.querySelector('#panel-province .chart');
      return el ? echarts.getInstanceByDom(el)?.convertToPixel({ seriesIndex: 0 }, '南海诸岛') ?? null : null;`,
    );
    expect(nanhai).not.toBeNull();

    // Pies carry their numbers as labels (SVG text).
    const genderText = (await page.locator('#panel-genders .chart svg').textContent()) ?? '';
    for (const g of answer.visit_uv.genders) expect(genderText).toContain(String(g.value));

    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(OUT, 'desktop.png'), fullPage: true });
    await axe(page, 'dashboard with charts');
  });

  it('shows the visits (the nine other analysis APIs), every number equal to their answers', async () => {
    // The window is 7 days to yesterday, active users (from the tests before).
    expect(await page.getByRole('radio', { name: '7 天' }).isChecked()).toBe(true);
    await page.getByRole('radio', { name: '活跃用户' }).check();
    const week = await expectVisitsMatchApi(page, yesterday, 7, 'active');
    // The demo data has visits, opens from several sources, pages, retention: the panels are not empty.
    expect(week['visit-trend']).toHaveLength(7);
    expect(week['day-trend']?.find((r) => r[0] === 'visit_uv')?.[2]).toBeGreaterThan(0);
    expect(week.sources?.length).toBeGreaterThan(1);
    expect(week.pages?.length).toBeGreaterThan(1);
    expect(week['retain-day']?.map((r) => r[0])).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    expect((week['retain-day']?.[1]?.[2] ?? 0)).toBeGreaterThan(0);
    // Retention follows the audience; the daily trend follows the window; the rest follows the end day.
    await page.getByRole('radio', { name: '新用户' }).check();
    await expectVisitsMatchApi(page, yesterday, 7, 'new');
    const end = dayBefore(yesterday, 9);
    await page.getByRole('radio', { name: '30 天' }).check();
    await settled(page);
    await page.getByLabel('截止日期').fill(iso(end));
    await expect.poll(() => page.locator('#range').textContent(), WAIT).toContain(iso(end));
    await expectVisitsMatchApi(page, end, 30, 'new');
    // Captions say which days each panel is about.
    expect(await page.locator('#panel-week-trend caption').textContent()).toContain(iso(weekBy(end)[1]));
    expect(await page.locator('#panel-retain-day caption').textContent()).toContain(iso(dayBefore(end, 7)));
    await axe(page, 'visits as tables');
    // Hovering a retention bar shows its users and their share of the cohort.
    await page.getByRole('button', { name: '昨天' }).click();
    await page.getByRole('radio', { name: '7 天' }).check();
    await page.getByRole('radio', { name: '活跃用户' }).check();
    await settled(page);
    await readVisitCharts(page);
    const cohort = week['retain-day']?.[0]?.[2] ?? 0;
    const day1 = week['retain-day']?.[1]?.[2] ?? 0;
    const tip = await hover(page, 'retain-day', { index: 1, value: day1, vertical: true });
    expect(tip).toContain('1 天后');
    expect(tip).toContain(`${day1} · ${((day1 / cohort) * 100).toFixed(1)}%`);
    await page.mouse.move(0, 0);
    await page.locator('#visits').screenshot({ path: join(OUT, 'desktop-visits.png') });
    await axe(page, 'visits as charts');
  }, 300_000);

  it('downloads a CSV of what is shown', async () => {
    await page.getByRole('radio', { name: '新用户' }).check();
    await settled(page);
    const begin = dayBefore(yesterday, 6);
    const answer = await api(begin, yesterday);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: '下载 CSV' }).click()]);
    expect(download.suggestedFilename()).toBe(`datacube-${creds.appid}-${begin}-${yesterday}-visit_uv_new.csv`);
    const file = await download.path();
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('\uFEFF')).toBe(true);
    const lines = text.slice(1).split('\r\n').filter((l) => l !== '');
    expect(lines[0]).toBe('ref_date,audience,dimension,id,name,value');
    const all = lines.slice(1).map(csvCells);
    const portraitDimensions = new Set(['total', ...PANELS.map((x) => x.dimension)]);
    const rows = all.filter((r) => portraitDimensions.has(r[2] ?? ''));
    // The visits follow, each with its own days; the audience only on retention.
    const visits = all.filter((r) => !portraitDimensions.has(r[2] ?? ''));
    expect(all.slice(0, rows.length)).toEqual(rows);
    const expectedVisitRows = await expectedVisits(yesterday, 7, 'new');
    const dayTrend = visits.filter((r) => r[2] === 'daily_visit_trend');
    expect(dayTrend.map((r) => [r[0], r[1], r[3], r[4], Number(r[5])])).toEqual((expectedVisitRows['day-trend'] ?? []).map(([f, name, v]) => [yesterday, '', f, name, v]));
    const trend = visits.filter((r) => r[2] === 'visit_trend');
    expect(trend.map((r) => [r[0], Number(r[5])])).toEqual((expectedVisitRows['visit-trend'] ?? []).map(([day, , v]) => [day, v]));
    const retainDay = visits.filter((r) => r[2] === 'daily_retain');
    expect(retainDay.map((r) => [r[0], r[1], r[3], Number(r[5])])).toEqual((expectedVisitRows['retain-day'] ?? []).map(([k, , v]) => [dayBefore(yesterday, 7), 'visit_uv_new', k, v]));
    // Every visit panel with rows is in the file (the demo's monthly cohort may be empty: no rows).
    const DIMENSION: Record<string, string> = {
      'visit-trend': 'visit_trend', 'day-trend': 'daily_visit_trend', summary: 'daily_summary', 'week-trend': 'weekly_visit_trend',
      'month-trend': 'monthly_visit_trend', 'retain-day': 'daily_retain', 'retain-week': 'weekly_retain', 'retain-month': 'monthly_retain',
      sources: 'access_source_session_cnt', 'source-users': 'access_source_visit_uv', staytime: 'access_staytime_info', depth: 'access_depth_info', pages: 'visit_page',
    };
    const withRows = Object.entries(expectedVisitRows).filter(([, r]) => r.length > 0).map(([id]) => DIMENSION[id]);
    expect(new Set(visits.map((r) => r[2]))).toEqual(new Set(withRows));
    expect(visits.filter((r) => r[2] === 'visit_page').map((r) => [r[3], Number(r[5])])).toEqual((expectedVisitRows.pages ?? []).map(([path, , v]) => [path, v]));
    const refDate = `${begin}-${yesterday}`;
    const expected: string[][] = [
      [refDate, 'visit_uv', 'total', '', '活跃用户', String(total(answer.visit_uv))],
      [refDate, 'visit_uv_new', 'total', '', '新用户', String(total(answer.visit_uv_new))],
    ];
    for (const panel of PANELS) {
      for (const i of panel.pick(answer.visit_uv_new[panel.dimension])) {
        expected.push([refDate, 'visit_uv_new', panel.dimension, i.id === undefined ? '' : String(i.id), i.name, String(i.value)]);
      }
    }
    expect(rows).toEqual(expected);
  });

  it('switches to English and back; the choice is kept', async () => {
    await page.getByRole('button', { name: 'Switch to English' }).click();
    await settled(page);
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    expect(await page.locator('#panel-province h2').textContent()).toBe('Provinces');
    expect(await page.getByRole('radio', { name: 'New users' }).isChecked()).toBe(true);
    const answer = await api(dayBefore(yesterday, 6), yesterday);
    const tables = await readTables(page);
    const genders = Object.fromEntries(answer.visit_uv_new.genders.map((g) => [{ 0: 'Unknown', 1: 'Male', 2: 'Female' }[g.id ?? 0], g.value]));
    expect(Object.fromEntries(tables.genders ?? [])).toEqual(genders);
    const gd = answer.visit_uv_new.province.find((p) => p.id === 44);
    if (gd) expect(tables.province).toContainEqual(['Guangdong', gd.value]);
    await axe(page, 'dashboard in English');
    await page.reload();
    await settled(page);
    expect(await page.locator('#panel-province h2').textContent()).toBe('Provinces');
    await showCharts(page);
    await page.screenshot({ path: join(OUT, 'desktop-en.png'), fullPage: true });
    await page.getByRole('button', { name: '切换到中文' }).click();
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
    expect(await page.locator('#panel-province h2').textContent()).toBe('省份分布');
  });

  it('signs out: back to the sign-in form, the cookie gone, no more data', async () => {
    const before = (await desktop.cookies()).find((c) => c.name === 'datacube_session');
    expect(before).toBeDefined();
    await page.getByRole('button', { name: '退出登录' }).click();
    await expect.poll(() => page.locator('#signin').isVisible(), WAIT).toBe(true);
    expect(await page.locator('#dashboard').isHidden()).toBe(true);
    expect((await desktop.cookies()).find((c) => c.name === 'datacube_session')).toBeUndefined();
    // The old cookie, replayed, reads nothing.
    const replay = await fetch(`${server.url}/dashboard/datacube/${PORTRAIT}`, {
      method: 'POST',
      headers: { cookie: `datacube_session=${before?.value ?? ''}` },
      body: JSON.stringify({ begin_date: yesterday, end_date: yesterday }),
    });
    expect(replay.status).toBe(401);
    await page.reload();
    await expect.poll(() => page.locator('#signin').isVisible(), WAIT).toBe(true);
  });

  it('is usable at phone width: one column, nothing wider than the screen', async () => {
    const phone = await browser({ width: 390, height: 844, phone: true });
    try {
      const p = phone.pages()[0] ?? (await phone.newPage());
      await p.goto(`${server.url}/`);
      await expect.poll(() => p.locator('#signin').isVisible(), WAIT).toBe(true);
      await p.screenshot({ path: join(OUT, 'phone-signin.png') });
      await signIn(p, creds.secret);
      await settled(p);
      await p.getByRole('radio', { name: '7 天' }).tap();
      await expectPageMatchesApi(p, dayBefore(yesterday, 6), yesterday, 'active');
      const layout = await p.evaluate(() => ({
        page: document.documentElement.scrollWidth,
        screen: window.innerWidth,
        panels: [...document.querySelectorAll<HTMLElement>('#panels section.panel, #visit-panels section.panel')].map((s) => Math.round(s.getBoundingClientRect().left)),
      }));
      expect(layout.page).toBeLessThanOrEqual(layout.screen);
      expect(new Set(layout.panels).size, 'every panel starts at the same left edge: one column').toBe(1);
      await axe(p, 'dashboard at phone width');
      await p.evaluate(() => window.scrollTo(0, 0));
      await p.screenshot({ path: join(OUT, 'phone-top.png') });
      await p.screenshot({ path: join(OUT, 'phone.png'), fullPage: true });
    } finally {
      await phone.close();
    }
  });

  it('draws a chart whose box had no size when it was to be drawn, once it has one; the next windows too', async () => {
    const ctx = await browser({ width: 1280, height: 900 });
    try {
      const p = ctx.pages()[0] ?? (await ctx.newPage());
      await p.goto(`${server.url}/`);
      await expect.poll(() => p.locator('#signin').isVisible(), WAIT).toBe(true);
      await signIn(p, creds.secret);
      await settled(p);
      // The map's box has width 0 for one task while the page draws (switching to English): as when a full-page
      // screenshot sets the viewport to 1×1 for a moment and the phone layout's media query redraws the charts.
      await p.evaluate(async () => {
        const box = document.querySelector<HTMLElement>('#panel-province .chart');
        const lang = document.getElementById('lang-switch');
        if (!box || !lang) throw new Error('no map or no language button');
        box.style.width = '0px';
        lang.click();
        await new Promise((resolve) => setTimeout(resolve, 0));
        box.style.width = '';
      });
      await expect.poll(() => p.locator('#panel-province h2').textContent(), WAIT).toBe('Provinces');
      await settled(p);
      for (const days of [1, 7]) {
        const begin = dayBefore(yesterday, days - 1);
        if (days !== 1) {
          await p.getByRole('radio', { name: `${days} days` }).check();
          await expect.poll(() => p.locator('#range').textContent(), WAIT).toContain(iso(begin));
          await settled(p);
        }
        // Every chart as the page drew it (before a chart/table switch draws it again), at the size of its box.
        const answer = await api(begin, yesterday);
        await expect
          .poll(async () => {
            const drawn = await chartValues(p);
            return PANELS.map((panel) => drawn[panel.id]);
          }, WAIT)
          .toEqual(PANELS.map((panel) => {
            const items = panel.pick(answer.visit_uv[panel.dimension]);
            return (panel.id === 'province' ? items.filter((i) => i.id !== 0) : items).map((i) => i.value);
          }));
        const sizes = await withECharts<{ chart: number; box: number }>(
          p,
          `const el = document.querySelector('#panel-province .chart');
          return { chart: echarts.getInstanceByDom(el)?.getWidth() ?? -1, box: el.clientWidth };`,
        );
        expect(sizes.chart, `the map's width, ${days} days`).toBe(sizes.box);
        expect(await p.locator('#status').textContent(), `${days} days`).not.toContain('Could not load');
      }
      await p.getByRole('button', { name: '切换到中文' }).click();
    } finally {
      await ctx.close();
    }
  });

  it('loads only from datacube, with no console error, and paints quickly', async () => {
    // A signed-in reload, timed until every chart is drawn.
    const ctx = await browser({ width: 1280, height: 900 });
    try {
      const p = ctx.pages()[0] ?? (await ctx.newPage());
      await p.goto(`${server.url}/`);
      await signIn(p, creds.secret);
      await settled(p);
      const start = Date.now();
      await p.reload();
      await settled(p);
      timings.signedInReloadToChartsMs = Date.now() - start;
      timings.signedInFirstContentfulPaintMs = await p.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1);
    } finally {
      await ctx.close();
    }
    console.log(`dashboard timings: ${JSON.stringify(timings)}`);
    expect(problems).toEqual([]);
  });
});
