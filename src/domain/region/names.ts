/**
 * Pure string rules for Chinese administrative names: the short form of a province, the display name of a
 * city, and the short forms a city is also known by. No data here; ./tables.ts applies these to the package data.
 */

/**
 * The 56 nationalities of China, as they appear inside the names of autonomous areas
 * (`延边朝鲜族自治州`, `海西蒙古族藏族自治州`, `白沙黎族自治县`). Used only to cut the nationality part off
 * such names to get their short place name (`延边`, `海西`, `白沙`).
 */
const NATIONALITIES: readonly string[] = [
  '汉', '蒙古', '回', '藏', '维吾尔', '苗', '彝', '壮', '布依', '朝鲜', '满', '侗', '瑶', '白',
  '土家', '哈尼', '哈萨克', '傣', '黎', '傈僳', '佤', '畲', '高山', '拉祜', '水', '东乡', '纳西', '景颇',
  '柯尔克孜', '土', '达斡尔', '仫佬', '羌', '布朗', '撒拉', '毛南', '仡佬', '锡伯', '阿昌', '普米', '塔吉克', '怒',
  '乌孜别克', '俄罗斯', '鄂温克', '德昂', '保安', '裕固', '京', '塔塔尔', '独龙', '鄂伦春', '赫哲', '门巴', '珞巴', '基诺',
];

/**
 * Nationalities the standard writes without `族` inside area names (`新疆维吾尔自治区`, `伊犁哈萨克自治州`,
 * `巴音郭楞蒙古自治州`, `克孜勒苏柯尔克孜自治州`).
 */
const BARE_NATIONALITIES: ReadonlySet<string> = new Set(['蒙古', '维吾尔', '哈萨克', '柯尔克孜']);

/** Longest first, so `土家族` is cut whole rather than as `家族`-less `土`. */
const BY_LENGTH = [...NATIONALITIES].sort((a, b) => b.length - a.length);

/** A short place name has at least two characters (`内蒙古` must not lose `蒙古`). */
const MIN_PLACE = 2;

/** Cuts trailing nationality names off an autonomous area's name: `海西蒙古族藏族` → `海西`, `内蒙古` stays. */
export function stripNationalities(name: string): string {
  let s = name;
  for (;;) {
    const cut = trailingNationality(s);
    if (cut === 0 || s.length - cut < MIN_PLACE) return s;
    s = s.slice(0, s.length - cut);
  }
}

/** Length of the nationality name (with its `族`) that ends `s`, or 0. */
function trailingNationality(s: string): number {
  for (const n of BY_LENGTH) {
    if (s.endsWith(n + '族')) return n.length + 1;
    if (BARE_NATIONALITIES.has(n) && s.endsWith(n)) return n.length;
  }
  return 0;
}

/** The suffixes of province-level names, longest first. */
const PROVINCE_SUFFIXES = ['特别行政区', '自治区', '省', '市'] as const;

/** `广东省` → `广东`, `内蒙古自治区` → `内蒙古`, `广西壮族自治区` → `广西`, `香港特别行政区` → `香港`. */
export function provinceShortName(fullName: string): string {
  for (const suffix of PROVINCE_SUFFIXES) {
    if (fullName.endsWith(suffix) && fullName.length - suffix.length >= MIN_PLACE) {
      const rest = fullName.slice(0, fullName.length - suffix.length);
      return suffix === '自治区' ? stripNationalities(rest) : rest;
    }
  }
  return fullName;
}

/** The name a city is reported under: a trailing `市` dropped (`广州市` → `广州`); 地区, 盟, 自治州, 县 kept whole. */
export function cityDisplayName(fullName: string): string {
  if (fullName.endsWith('市') && fullName.length - 1 >= MIN_PLACE) return fullName.slice(0, -1);
  return fullName;
}

/**
 * Every form a prefecture-level (or directly administered county-level) name is accepted in, the full name
 * first: `广州市` → `广州市`, `广州`; `延边朝鲜族自治州` → …, `延边`, `延边州`; `阿里地区` → …, `阿里`;
 * `锡林郭勒盟` → …, `锡林郭勒`; `白沙黎族自治县` → …, `白沙`, `白沙县`; `神农架林区` → …, `神农架`.
 */
export function cityAliases(fullName: string): string[] {
  const out = new Set<string>([fullName]);
  const add = (short: string, ...suffixes: string[]): void => {
    if (short.length < MIN_PLACE) return;
    out.add(short);
    for (const suffix of suffixes) out.add(short + suffix);
  };
  const without = (suffix: string): string => fullName.slice(0, fullName.length - suffix.length);
  if (fullName.endsWith('自治州')) add(stripNationalities(without('自治州')), '州');
  else if (fullName.endsWith('自治县')) add(stripNationalities(without('自治县')), '县');
  else if (fullName.endsWith('地区')) add(without('地区'));
  else if (fullName.endsWith('林区')) add(without('林区'));
  else if (fullName.endsWith('盟')) add(without('盟'));
  else if (fullName.endsWith('市')) add(without('市'));
  else if (fullName.endsWith('县')) add(without('县'));
  return [...out];
}

/** Inputs that say "unknown": nothing, `0` (ip2region's placeholder) and `未知`. */
const UNKNOWN_INPUTS: ReadonlySet<string> = new Set(['', '0', '未知']);

/** Trimmed input, or `''` when it says nothing (`null`, `undefined`, blank, `0`, `未知`). */
export function cleanInput(value: string | null | undefined): string {
  if (value === null || value === undefined) return '';
  const s = value.trim();
  return UNKNOWN_INPUTS.has(s) ? '' : s;
}
