/**
 * The six portrait dimensions, their ids and names (reference §3), and the rules that turn what a client
 * reports into an id. Province and city codes live in ./region/.
 */
export const DIMENSIONS = ['province', 'city', 'genders', 'platforms', 'devices', 'ages'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** Every dimension's "unknown" id is 0 in storage; platform reports it as 3 其他. */
export const UNKNOWN = 0;

export const GENDER_NAMES: Readonly<Record<number, string>> = { 0: '未知', 1: '男', 2: '女' };
export const PLATFORM_NAMES: Readonly<Record<number, string>> = { 1: 'iPhone', 2: 'Android', 3: '其他' };
export const AGE_NAMES: Readonly<Record<number, string>> = {
  0: '未知',
  1: '17岁以下',
  2: '18-24岁',
  3: '25-29岁',
  4: '30-39岁',
  5: '40-49岁',
  6: '50岁以上',
};
export const UNKNOWN_NAME = '未知';
/**
 * The device bucket of an app's names past its cap (DATACUBE_MAX_DEVICE_NAMES distinct names per app): events
 * with a name the app has not used before count under it once the app has that many names.
 */
export const OVERFLOW_DEVICE_NAME = '其他';
export const PLATFORM_OTHER = 3;

/** `1` male, `2` female; `0`, "unknown" or nothing carry no information (0). `undefined` for a value that is none of these. */
export function genderId(value: unknown): 0 | 1 | 2 | undefined {
  if (value === undefined || value === null || value === '') return 0;
  if (value === 0 || value === '0' || value === 'unknown') return 0;
  if (value === 1 || value === '1' || value === 'male') return 1;
  if (value === 2 || value === '2' || value === 'female') return 2;
  return undefined;
}

/** Age bucket id for whole years (0–120). */
export function ageBucket(years: number): number {
  if (years <= 17) return 1;
  if (years <= 24) return 2;
  if (years <= 29) return 3;
  if (years <= 39) return 4;
  if (years <= 49) return 5;
  return 6;
}

/** `ios` → 1 iPhone, `android` → 2 Android, anything else → 3 其他 (any case). */
export function platformId(platform: string): 1 | 2 | 3 {
  const p = platform.trim().toLowerCase();
  if (p === 'ios' || p === 'iphone' || p === 'ipad') return 1;
  if (p === 'android') return 2;
  return 3;
}

const APPLE_BRANDS = new Set(['iphone', 'apple', 'ipad']);

/**
 * One marketing name from `wx.getSystemInfo()`'s brand and model: drop a trailing `<…>` from the model,
 * write `Apple` for the brands iPhone/apple, and do not repeat a brand the model already starts with.
 * `undefined` when neither is given.
 */
export function deviceName(brand: string | undefined, model: string | undefined): string | undefined {
  let b = (brand ?? '').trim();
  let m = (model ?? '').trim().replace(/\s*<[^<>]*>\s*$/, '').trim();
  if (APPLE_BRANDS.has(b.toLowerCase())) b = 'Apple';
  if (!b && !m) return undefined;
  if (!b) return /^(iphone|ipad)\b/i.test(m) ? `Apple ${m}` : m;
  if (!m) return b;
  if (m.toLowerCase().startsWith(b.toLowerCase())) return m;
  return `${b} ${m}`.replace(/\s+/g, ' ');
}
