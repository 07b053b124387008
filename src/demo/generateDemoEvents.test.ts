import { describe, expect, it } from 'vitest';
import { dayOf, parseDay, startOfDay } from '../domain/day.ts';
import { resolveRegion } from '../domain/region/index.ts';
import { Enricher, parseUserAgent, processRecord } from '../ingest/index.ts';
import { DEMO_NETWORKS } from './clients.ts';
import { DEMO_PROVINCES } from './regions.ts';
import { type DemoOptions, generateDemoEvents } from './index.ts';

/** The 31 mainland provinces as GB/T 2260 names them, and the short forms clients also send. */
const PROVINCES: Record<string, string> = {
  北京市: '北京', 天津市: '天津', 河北省: '河北', 山西省: '山西', 内蒙古自治区: '内蒙古', 辽宁省: '辽宁', 吉林省: '吉林',
  黑龙江省: '黑龙江', 上海市: '上海', 江苏省: '江苏', 浙江省: '浙江', 安徽省: '安徽', 福建省: '福建', 江西省: '江西',
  山东省: '山东', 河南省: '河南', 湖北省: '湖北', 湖南省: '湖南', 广东省: '广东', 广西壮族自治区: '广西', 海南省: '海南',
  重庆市: '重庆', 四川省: '四川', 贵州省: '贵州', 云南省: '云南', 西藏自治区: '西藏', 陕西省: '陕西', 甘肃省: '甘肃',
  青海省: '青海', 宁夏回族自治区: '宁夏', 新疆维吾尔自治区: '新疆',
};
const PROVINCE_NAMES = new Set([...Object.keys(PROVINCES), ...Object.values(PROVINCES)]);
const PLATFORMS = new Set(['ios', 'android', 'ohos', 'devtools', 'windows', 'mac']);
const END = parseDay('20240630') ?? 0;

function all(opts: DemoOptions): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const batch of generateDemoEvents(opts)) out.push(...batch);
  return out;
}

const dayOfRecord = (r: Record<string, unknown>) => dayOf(Date.parse(String(r.time)));

describe('generateDemoEvents', () => {
  it('is deterministic: same seed, same records; another seed, other records', () => {
    const opts = { users: 300, days: 7, endDay: END, seed: 42 };
    const a = all(opts);
    expect(a.length).toBeGreaterThan(300);
    expect(all(opts)).toEqual(a);
    expect(all({ ...opts, seed: 43 })).not.toEqual(a);
    expect(a[0]?.event_id).toBe('demo-42-0');
  });

  it('yields batches of at most batchSize records', () => {
    const sizes = [...generateDemoEvents({ users: 500, days: 7, endDay: END, batchSize: 1_000 })].map((b) => b.length);
    expect(sizes.length).toBeGreaterThan(2);
    expect(Math.max(...sizes)).toBe(1_000);
    expect(sizes.slice(0, -1).every((n) => n === 1_000)).toBe(true);
  });

  it('gives every record the required fields in valid shapes, inside the window', () => {
    const days = 30;
    const records = all({ users: 2_000, days, endDay: END, seed: 7 });
    const from = startOfDay(END - days + 1);
    const to = startOfDay(END + 1);
    const eventIds = new Set<string>();
    const problems: string[] = [];
    const check = (ok: boolean, what: string, r: Record<string, unknown>) => {
      if (!ok && problems.length < 5) problems.push(`${what}: ${JSON.stringify(r)}`);
    };
    for (const r of records) {
      check(typeof r.event_id === 'string' && /^demo-7-\d+$/.test(r.event_id), 'event_id', r);
      eventIds.add(String(r.event_id));
      check(typeof r.openid === 'string' && /^[A-Za-z0-9_-]{1,128}$/.test(r.openid), 'openid', r);
      const time = String(r.time);
      const ms = Date.parse(time);
      check(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?\+08:00$/.test(time) && ms >= from && ms < to, 'time', r);
      check(r.gender === undefined || r.gender === 0 || r.gender === 1 || r.gender === 2, 'gender', r);
      check(r.age === undefined || (Number.isInteger(r.age) && Number(r.age) >= 0 && Number(r.age) <= 120), 'age', r);
      check(r.platform === undefined || PLATFORMS.has(String(r.platform)), 'platform', r);
      check((r.brand === undefined) === (r.model === undefined), 'brand/model', r);
      check(r.province === undefined || PROVINCE_NAMES.has(String(r.province)), 'province', r);
      check(r.city === undefined || (typeof r.city === 'string' && r.province !== undefined), 'city', r);
      check(typeof r.page === 'string' && /^[a-zA-Z]+(\/[a-zA-Z]+)+$/.test(r.page), 'page', r);
      check(Number.isInteger(r.scene) && Number(r.scene) >= 1000 && Number(r.scene) < 1300, 'scene', r);
      check(typeof r.session === 'string' && r.session.length > 0, 'session', r);
      check(r.type === 'visit' || r.type === 'share', 'type', r);
      if (r.type === 'visit') check(Number.isInteger(r.stay) && Number(r.stay) >= 1, 'stay', r);
    }
    expect(problems).toEqual([]);
    expect(eventIds.size).toBe(records.length);
    // unknown values exist
    expect(records.some((r) => r.province === undefined)).toBe(true);
    expect(records.some((r) => r.age === undefined)).toBe(true);
    expect(records.some((r) => r.gender === 0 || r.gender === undefined)).toBe(true);
    expect(records.some((r) => r.type === 'share')).toBe(true);
  });

  describe('over 5k users and 30 days', () => {
    const days = 30;
    const users = 5_000;
    const records = all({ users, days, endDay: END, seed: 99 });
    const byUser = new Map<string, Record<string, unknown>[]>();
    for (const r of records) {
      const list = byUser.get(String(r.openid)) ?? [];
      list.push(r);
      byUser.set(String(r.openid), list);
    }

    it('has every user, with platforms split about 30% iPhone, 68% Android, 2% other', () => {
      expect(byUser.size).toBe(users);
      const counts = { ios: 0, android: 0, other: 0 };
      for (const list of byUser.values()) {
        const first = list[0];
        // Users known only by their User-Agent: the platform ingest will read from it.
        const p = first?.platform ?? (typeof first?.ua === 'string' ? parseUserAgent(first.ua).platform : undefined);
        if (p === 'ios') counts.ios++;
        else if (p === 'android') counts.android++;
        else counts.other++;
      }
      expect(counts.ios / users).toBeGreaterThan(0.27);
      expect(counts.ios / users).toBeLessThan(0.33);
      expect(counts.android / users).toBeGreaterThan(0.65);
      expect(counts.android / users).toBeLessThan(0.71);
      expect(counts.other / users).toBeGreaterThan(0.005);
      expect(counts.other / users).toBeLessThan(0.04);
    });

    it('has newcomers every day, returning users, and daily actives of about 15–25% of users', () => {
      const firstDays = new Set<number>();
      const activeDays = new Map<number, Set<string>>();
      let returning = 0;
      for (const [openid, list] of byUser) {
        const userDays = new Set(list.map(dayOfRecord));
        firstDays.add(Math.min(...userDays));
        if (userDays.size >= 2) returning++;
        for (const d of userDays) {
          const set = activeDays.get(d) ?? new Set<string>();
          set.add(openid);
          activeDays.set(d, set);
        }
      }
      for (let d = END - days + 1; d <= END; d++) expect(firstDays.has(d), `newcomers on day ${d}`).toBe(true);
      expect(returning / users).toBeGreaterThan(0.4);
      const mean = [...activeDays.values()].reduce((s, set) => s + set.size, 0) / days / users;
      expect(mean).toBeGreaterThan(0.15);
      expect(mean).toBeLessThan(0.25);
    });

    it('keeps a user mostly on one device and region, with some moves and trips', () => {
      let oneDevice = 0;
      let severalCities = 0;
      for (const list of byUser.values()) {
        const devices = new Set(list.filter((r) => r.model !== undefined).map((r) => `${r.brand}|${r.model}`));
        if (devices.size <= 1) oneDevice++;
        const cities = new Set(list.filter((r) => r.city !== undefined).map((r) => r.city));
        if (cities.size > 1) severalCities++;
      }
      expect(oneDevice / users).toBeGreaterThan(0.9);
      expect(severalCities / users).toBeGreaterThan(0.01);
      expect(severalCities / users).toBeLessThan(0.25);
    });

    it('draws provinces by population: 广东 leads, 西藏 is rare, all 31 appear', () => {
      const perProvince = new Map<string, number>();
      for (const list of byUser.values()) {
        const p = list[0]?.province;
        if (typeof p !== 'string') continue;
        const full = PROVINCES[p] !== undefined ? p : Object.keys(PROVINCES).find((k) => PROVINCES[k] === p);
        if (full) perProvince.set(full, (perProvince.get(full) ?? 0) + 1);
      }
      const ranked = [...perProvince].sort((a, b) => b[1] - a[1]);
      expect(['广东省', '山东省', '河南省']).toContain(ranked[0]?.[0]);
      expect(perProvince.get('西藏自治区') ?? 0).toBeLessThan(perProvince.get('广东省') ?? 0);
      const allRecords = new Set(records.map((r) => r.province).filter((p) => p !== undefined));
      expect([...allRecords].every((p) => PROVINCE_NAMES.has(String(p)))).toBe(true);
      expect(new Set([...allRecords].map((p) => PROVINCES[String(p)] ?? p)).size).toBe(31);
    });
  });

  it('has users known by their address and User-Agent, whom ingest gives a region and a device', () => {
    const records = all({ users: 1_000, days: 7, endDay: END, seed: 5 });
    const users = new Map<string, string>();
    let enriched = 0;
    for (const r of records) {
      const style = r.ua === undefined ? 'app' : r.brand === undefined ? 'ua' : 'tracker';
      users.set(String(r.openid), style);
      const out = processRecord(r, { now: startOfDay(END + 1) });
      expect(out.ok, JSON.stringify(r).slice(0, 200)).toBe(true);
      if (!out.ok || r.ua === undefined) continue;
      expect(r.province).toBeUndefined();
      expect(out.event.province, String(r.ip)).toBeGreaterThan(0);
      expect(out.event.city, String(r.ip)).toBeGreaterThan(0);
      expect(out.event.platformId).toBeGreaterThan(0);
      if (out.event.platform !== 'windows' && out.event.platform !== 'ohos') expect(out.event.device).not.toBeNull();
      enriched++;
    }
    const share = (s: string) => [...users.values()].filter((x) => x === s).length / users.size;
    expect(share('tracker')).toBeGreaterThan(0.25);
    expect(share('tracker')).toBeLessThan(0.35);
    expect(share('ua')).toBeGreaterThan(0.02);
    expect(share('ua')).toBeLessThan(0.09);
    expect(enriched).toBeGreaterThan(records.length / 5);
  });

  it('has a demo network in every demo city, where the bundled IP database places it', () => {
    const enricher = new Enricher();
    for (const p of DEMO_PROVINCES) for (const c of p.cities) expect(DEMO_NETWORKS.has(`${p.short}/${c.short}`), c.name).toBe(true);
    for (const [place, net] of DEMO_NETWORKS) {
      const [province = '', city = ''] = place.split('/');
      const want = resolveRegion(province, city);
      expect(want.ok, place).toBe(true);
      if (want.ok) expect(enricher.regionOf(`${net}.77`), place).toEqual({ province: want.province, city: want.city });
    }
  });

  it('refuses nonsense options', () => {
    expect(() => generateDemoEvents({ users: -1, days: 7, endDay: END }).next()).toThrow(RangeError);
    expect(() => generateDemoEvents({ users: 10, days: 0, endDay: END }).next()).toThrow(RangeError);
    expect(all({ users: 0, days: 7, endDay: END })).toEqual([]);
  });
});
