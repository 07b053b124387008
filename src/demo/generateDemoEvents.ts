import { type Day, startOfDay } from '../domain/day.ts';
import { DEMO_NETWORKS, UA_ANDROID, UA_IOS, UA_OTHER, type UaDevice } from './clients.ts';
import { ANDROID_DEVICES, type DemoDevice, IOS_DEVICES, OTHER_DEVICES, PLATFORM_SHARES } from './devices.ts';
import { type Rng, type Weighted, draw, idChars, idOfNumber, intBetween, mix, mulberry32, normal, weighted } from './prng.ts';
import { DEMO_PROVINCES, type DemoCity, type DemoProvince } from './regions.ts';

export interface DemoOptions {
  /** How many users visit at least once. */
  users: number;
  /** How many days the visits span, ending on `endDay`. */
  days: number;
  /** The last day with visits (a Shanghai day, see src/domain/day.ts), usually yesterday. */
  endDay: Day;
  /** Same seed, same records (default {@link DEFAULT_DEMO_SEED}). */
  seed?: number;
  /** Records per yielded batch (default 5,000). */
  batchSize?: number;
}

export const DEFAULT_DEMO_SEED = 20_240_601;
const DEFAULT_BATCH_SIZE = 5_000;
const MS_PER_HOUR = 3_600_000;
const SECONDS_PER_DAY = 86_400;

// ---- tables -------------------------------------------------------------------------------------------------------

const PROVINCE_TABLE: Weighted<DemoProvince> = weighted(DEMO_PROVINCES.map((p) => [p, p.weight] as const));
const CITY_TABLES = new Map<DemoProvince, Weighted<DemoCity>>(
  DEMO_PROVINCES.map((p) => [p, weighted(p.cities.map((c) => [c, c.weight] as const))]),
);
const IOS_TABLE = weighted(IOS_DEVICES);
const ANDROID_TABLES = weighted(ANDROID_DEVICES.map(([models, share]) => [weighted(models), share] as const));
const OTHER_TABLE = weighted(OTHER_DEVICES);
const UA_TABLES = { ios: weighted(UA_IOS), android: weighted(UA_ANDROID), other: weighted(UA_OTHER) };

/** Age groups (years, inclusive) and their shares: most users are 18–39. */
const AGE_TABLE = weighted<readonly [number, number]>([
  [[12, 17], 5],
  [[18, 24], 24],
  [[25, 29], 22],
  [[30, 39], 28],
  [[40, 49], 13],
  [[50, 72], 8],
]);

/** Relative traffic by Shanghai hour of day: quiet at night, peaks at lunch and in the evening. */
const HOUR_TABLE = weighted(
  [1.5, 0.8, 0.4, 0.3, 0.3, 0.5, 1.2, 2.8, 4, 4.5, 5, 5.5, 6.5, 5.5, 5, 5, 5, 5.5, 6, 6.5, 7.5, 8, 6.5, 3.5].map(
    (w, hour) => [hour, w] as const,
  ),
);

/**
 * WeChat scene codes: 1001 发现-小程序主入口, 1089 聊天主界面下拉, 1104 下拉「我的小程序」, 1007/1008 单聊/群聊的小程序卡片,
 * 1036 App 分享卡片, 1011 扫二维码, 1047 扫小程序码, 1012 长按识别二维码, 1053 搜一搜, 1035 公众号菜单, 1043 公众号模板消息,
 * 1037 小程序打开小程序, 1038 从另一个小程序返回. Newcomers arrive mostly through shares, codes and search.
 */
const RETURNING_SCENES = weighted([
  [1089, 25], [1001, 20], [1104, 10], [1007, 9], [1008, 8], [1011, 4], [1047, 5], [1053, 5], [1035, 4], [1043, 3],
  [1037, 3], [1038, 2], [1012, 1], [1036, 1],
] as const);
const NEWCOMER_SCENES = weighted([
  [1007, 22], [1008, 18], [1011, 12], [1047, 10], [1053, 12], [1001, 8], [1089, 4], [1035, 5], [1012, 4], [1036, 3],
  [1037, 2],
] as const);
const SHARE_CARD_SCENES = new Set([1007, 1008, 1036]);

const LANDING_PAGES = weighted([
  ['pages/index/index', 80], ['pages/mine/mine', 6], ['pages/list/list', 8], ['packageA/pages/activity/activity', 6],
] as const);
const NEXT_PAGES = weighted([
  ['pages/list/list', 22], ['pages/detail/detail', 30], ['pages/search/search', 10], ['pages/cart/cart', 9],
  ['pages/mine/mine', 8], ['pages/order/order', 6], ['pages/index/index', 10], ['packageA/pages/activity/activity', 5],
] as const);

const SESSIONS_PER_DAY = weighted([[1, 72], [2, 22], [3, 6]] as const);
const PAGES_PER_SESSION = weighted([[1, 35], [2, 25], [3, 18], [4, 12], [5, 10]] as const);

// ---- users --------------------------------------------------------------------------------------------------------

interface Place {
  province: DemoProvince;
  city: DemoCity;
}

/** Everything about a user that stays put (a few things change once, on a given day). */
interface Profile {
  openid: string;
  /** 0 unknown (sent as 0 or left out), 1, 2. */
  gender: number;
  genderOmitted: boolean;
  age: number | undefined;
  /** Reports `广东`/`广州` instead of `广东省`/`广州市`. */
  shortNames: boolean;
  /** `none`: never reports a region; `province`: the province only. */
  region: 'full' | 'province' | 'none';
  home: Place;
  /** Moves for good on `moveDay` (may be after the window). */
  moveDay: Day;
  newHome: Place;
  device: DemoDevice;
  /** A new phone from `deviceDay` on. */
  deviceDay: Day;
  newDevice: DemoDevice;
  /**
   * How the user's client reports: `app` sends region and device itself; `tracker` (a page tracker on /v1/collect)
   * sends its device as `wx.getSystemInfo()` gives it (Android models as codes) and no region, so region comes from
   * its address (`ip`); `ua` (a server log) sends only `ip` and `ua`.
   */
  style: 'app' | 'tracker' | 'ua';
  /** The phone of `tracker` and `ua` users (kept for the whole window), with its User-Agent. */
  uaDevice: UaDevice;
  /** This user's host number in their city's demo network. */
  host: number;
}

function drawPlace(rng: Rng): Place {
  const province = draw(PROVINCE_TABLE, rng);
  const table = CITY_TABLES.get(province);
  if (!table) throw new Error(`no cities for ${province.name}`);
  return { province, city: draw(table, rng) };
}

type PlatformClass = 'ios' | 'android' | 'other';

function drawPlatformClass(rng: Rng): PlatformClass {
  const r = rng();
  if (r < PLATFORM_SHARES.ios) return 'ios';
  if (r < PLATFORM_SHARES.ios + PLATFORM_SHARES.android) return 'android';
  return 'other';
}

function drawDevice(rng: Rng, cls: PlatformClass): DemoDevice {
  if (cls === 'ios') return draw(IOS_TABLE, rng);
  if (cls === 'android') return draw(draw(ANDROID_TABLES, rng), rng);
  return draw(OTHER_TABLE, rng);
}

/** A day in (`after`, `last`] with probability `p`, else a day after the window. */
function laterDay(rng: Rng, p: number, after: Day, last: Day): Day {
  if (after >= last || rng() >= p) return last + 1;
  return intBetween(rng, after + 1, last);
}

/** The light part of a user, kept for every user: when they first come and how keen they are. */
interface Habit {
  firstDay: Day;
  /** Chance of coming back on a later day, before decay and weekday effects. */
  keenness: number;
  /** Whether keenness fades in the days after the first visit (casual users) or holds (regulars). */
  fades: boolean;
}

function drawHabit(rng: Rng, u: number, first: Day, days: number): Habit {
  // The first `days` users start one per day, so every day has newcomers; the rest start uniformly or early on.
  let offset: number;
  if (u < days) {
    offset = u;
    rng();
  } else if (rng() < 0.45) {
    offset = Math.floor(rng() * days);
  } else {
    const tau = Math.max(1, days / 6);
    offset = Math.min(days - 1, Math.floor(-tau * Math.log(1 - rng() * (1 - Math.exp(-days / tau)))));
  }
  const kind = rng();
  const x = rng();
  if (kind < 0.4) return { firstDay: first + offset, keenness: 0.02, fades: false }; // came once, rarely again
  if (kind < 0.75) return { firstDay: first + offset, keenness: 0.1 + 0.3 * x, fades: true };
  return { firstDay: first + offset, keenness: 0.5 + 0.45 * x, fades: false };
}

function drawProfile(rng: Rng, u: number, appPrefix: string, habit: Habit, last: Day): Profile {
  // 28 characters like a real openid: `o`, a per-app prefix, random text, and the user number scrambled by a
  // bijection of 32-bit integers (so distinct users get distinct openids without the tail looking like a counter).
  const openid = `o${appPrefix}${idChars(rng, 16)}${idOfNumber(Math.imul(u ^ 0x2545f491, 0x9e3779b1) >>> 0, 6)}`;
  const g = rng();
  const gender = g < 0.478 ? 1 : g < 0.92 ? 2 : 0;
  const genderOmitted = gender === 0 && rng() < 0.4;
  const [lo, hi] = draw(AGE_TABLE, rng);
  const age = rng() < 0.1 ? undefined : intBetween(rng, lo, hi);
  const shortNames = rng() < 0.25;
  const r = rng();
  const region = r < 0.05 ? 'none' : r < 0.09 ? 'province' : 'full';
  const home = drawPlace(rng);
  const moveDay = laterDay(rng, 0.03, habit.firstDay, last);
  const newHome = drawPlace(rng);
  const cls = drawPlatformClass(rng);
  const device = drawDevice(rng, cls);
  const deviceDay = laterDay(rng, 0.06, habit.firstDay, last);
  const newDevice = drawDevice(rng, rng() < 0.85 ? cls : drawPlatformClass(rng));
  const s = rng();
  const style = s < 0.3 ? 'tracker' : s < 0.35 ? 'ua' : 'app';
  const uaDevice = draw(UA_TABLES[cls], rng);
  const host = 2 + (u % 250);
  return { openid, gender, genderOmitted, age, shortNames, region, home, moveDay, newHome, device, deviceDay, newDevice, style, uaDevice, host };
}

/** Sunday 0 … Saturday 6 (1970-01-01 was a Thursday). */
function weekday(day: Day): number {
  return (((day + 4) % 7) + 7) % 7;
}

function isoShanghai(ms: number): string {
  return new Date(ms + 8 * MS_PER_HOUR).toISOString().replace('Z', '+08:00');
}

// ---- the generator ------------------------------------------------------------------------------------------------

/**
 * Synthetic visits of a mini-program as its clients would send them to ingest, `opts.days` days ending on
 * `opts.endDay`, in batches. Deterministic for a seed: the same options give the same records, event ids included
 * (`demo-<seed>-<n>`). Memory holds a few numbers per user and one batch.
 *
 * The shape of the data: every user's first visit falls in the window (the first `days` users one per day, so each
 * day has newcomers; the others spread over the window, front-weighted); 40% hardly come back, the rest return on a
 * share of later days (casual users less as days go by, regulars steadily; a bit more at weekends), for daily actives
 * of roughly 15–25% of users. A visit day has 1–3 sessions of 1–5 page views inside that Shanghai day, now and then a
 * share. Users keep their phone and region, except a few who buy a new phone or move, and trips of a few days to
 * another city; some never report a region, a city, an age or a gender, and a few events lack platform or model.
 */
export function* generateDemoEvents(opts: DemoOptions): Generator<Record<string, unknown>[]> {
  const { users, days, endDay } = opts;
  if (!Number.isInteger(users) || users < 0) throw new RangeError(`users must be a whole number ≥ 0, not ${users}`);
  if (!Number.isInteger(days) || days < 1) throw new RangeError(`days must be a whole number ≥ 1, not ${days}`);
  if (!Number.isInteger(endDay)) throw new RangeError(`endDay must be a whole number of days, not ${endDay}`);
  const seed = (opts.seed ?? DEFAULT_DEMO_SEED) >>> 0;
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? DEFAULT_BATCH_SIZE));
  const first = endDay - days + 1;
  const appPrefix = idChars(mulberry32(mix(seed, 0xa991d)), 5);
  const userSeed = (u: number) => mix(seed, u);

  const firstDays = new Int32Array(users);
  const keenness = new Float32Array(users);
  const fades = new Uint8Array(users);
  for (let u = 0; u < users; u++) {
    const h = drawHabit(mulberry32(userSeed(u)), u, first, days);
    firstDays[u] = h.firstDay;
    keenness[u] = h.keenness;
    fades[u] = h.fades ? 1 : 0;
  }

  let batch: Record<string, unknown>[] = [];
  let eventNo = 0;
  let sessionNo = 0;

  for (let day = first; day <= endDay; day++) {
    const weekend = weekday(day) === 0 || weekday(day) === 6;
    const dayStart = startOfDay(day);
    for (let u = 0; u < users; u++) {
      const firstDay = firstDays[u] ?? first;
      if (day < firstDay) continue;
      const rng = mulberry32(mix(userSeed(u), day));
      if (day > firstDay) {
        const since = day - firstDay;
        let p = keenness[u] ?? 0;
        if (fades[u] === 1) p *= 0.25 + 0.75 * Math.exp(-since / 6);
        if (weekend) p *= 1.15;
        if (rng() >= p) continue;
      }
      // The profile is drawn again from the user's own seed whenever needed: same user, same profile.
      const userRng = mulberry32(userSeed(u));
      const habit = drawHabit(userRng, u, first, days);
      const profile = drawProfile(userRng, u, appPrefix, habit, endDay);
      const place = placeOn(profile, u, day, seed);
      const device = day >= profile.deviceDay ? profile.newDevice : profile.device;

      const sessionCount = draw(SESSIONS_PER_DAY, rng);
      const starts: number[] = [];
      for (let s = 0; s < sessionCount; s++) starts.push(draw(HOUR_TABLE, rng) * 3600 + Math.floor(rng() * 3600));
      starts.sort((a, b) => a - b);
      let busyUntil = -1; // second of the day the previous session ended
      for (let s = 0; s < sessionCount; s++) {
        const newcomer = day === firstDay && s === 0;
        const pages = draw(PAGES_PER_SESSION, rng);
        const stays: number[] = [];
        let duration = 0;
        for (let k = 0; k < pages; k++) {
          const stay = Math.min(900, Math.max(1, Math.round(Math.exp(Math.log(20) + normal(rng)))));
          stays.push(stay);
          duration += stay + 2;
        }
        let start = Math.max(starts[s] ?? 0, busyUntil + 60);
        if (start + duration >= SECONDS_PER_DAY) start = SECONDS_PER_DAY - duration - 1;
        if (start <= busyUntil) break; // no room left in the day
        busyUntil = start + duration;

        const scene = draw(newcomer ? NEWCOMER_SCENES : RETURNING_SCENES, rng);
        const session = `${idChars(rng, 10)}${(sessionNo++).toString(36)}`;
        let page = SHARE_CARD_SCENES.has(scene) && rng() < 0.6 ? 'pages/detail/detail' : draw(LANDING_PAGES, rng);
        let ms = dayStart + start * 1000 + Math.floor(rng() * 1000);
        for (let k = 0; k < pages; k++) {
          const stay = stays[k] ?? 1;
          const visit: Visit = { page, scene, session, stay, type: 'visit' };
          batch.push(makeRecord(`demo-${seed}-${eventNo++}`, isoShanghai(ms), profile, place, device, visit, rng));
          if (batch.length >= batchSize) {
            yield batch;
            batch = [];
          }
          if (rng() < 0.03) {
            const share: Visit = { page, scene, session, stay: undefined, type: 'share' };
            const at = isoShanghai(ms + Math.floor(rng() * stay * 1000));
            batch.push(makeRecord(`demo-${seed}-${eventNo++}`, at, profile, place, device, share, rng));
            if (batch.length >= batchSize) {
              yield batch;
              batch = [];
            }
          }
          ms += (stay + 2) * 1000;
          page = draw(NEXT_PAGES, rng);
        }
      }
    }
  }
  if (batch.length > 0) yield batch;
}

/** Home (or the new home after a move), unless on a trip: 3-day blocks, 4% of them away. */
function placeOn(profile: Profile, u: number, day: Day, seed: number): Place {
  const home = day >= profile.moveDay ? profile.newHome : profile.home;
  const block = Math.floor((day + (u % 3)) / 3);
  const trip = mulberry32(mix(mix(seed ^ 0x5bd1e995, u), block));
  return trip() < 0.04 ? drawPlace(trip) : home;
}

interface Visit {
  page: string;
  scene: number;
  session: string;
  stay: number | undefined;
  type: 'visit' | 'share';
}

/** One record, its fields in the order a client library would write them; unknown values are left out. */
function makeRecord(
  eventId: string,
  time: string,
  profile: Profile,
  place: Place,
  device: DemoDevice,
  visit: Visit,
  rng: Rng,
): Record<string, unknown> {
  const r: Record<string, unknown> = { event_id: eventId, openid: profile.openid, time };
  if (!profile.genderOmitted) r.gender = profile.gender;
  if (profile.age !== undefined) r.age = profile.age;
  if (profile.style !== 'app') {
    // Address and User-Agent instead of a reported region (and, from a log, instead of a device).
    const net = DEMO_NETWORKS.get(`${place.province.short}/${place.city.short}`);
    if (net) r.ip = `${net}.${profile.host}`;
    if (profile.style === 'tracker') {
      r.platform = profile.uaDevice.platform;
      r.brand = profile.uaDevice.brand;
      r.model = profile.uaDevice.model;
    }
    r.ua = profile.uaDevice.ua;
  }
  const missing = rng();
  if (profile.style === 'app' && missing >= 0.005) r.platform = device.platform;
  if (profile.style === 'app' && (missing < 0.005 || missing >= 0.015)) {
    r.brand = device.brand;
    r.model = device.model;
  }
  if (profile.style === 'app' && profile.region !== 'none') {
    r.province = profile.shortNames ? place.province.short : place.province.name;
    if (profile.region === 'full' && rng() >= 0.01) r.city = profile.shortNames ? place.city.short : place.city.name;
  }
  r.page = visit.page;
  r.scene = visit.scene;
  r.session = visit.session;
  if (visit.stay !== undefined) r.stay = visit.stay;
  r.type = visit.type;
  return r;
}
