/**
 * Reported province and city names → ids, once per ingested event: a cache hit, or a few Map lookups.
 */
import { UNKNOWN_NAME } from '../dimensions.ts';
import { cleanInput } from './names.ts';
import { tables, type CityInfo } from './tables.ts';

export type RegionResult =
  | { ok: true; province: number; city: number }
  | { ok: false; field: 'province' | 'city'; reason: string };

/** Distinct (province, city) inputs remembered; past this the cache starts over (junk input cannot grow it). */
const CACHE_LIMIT = 10_000;
const cache = new Map<string, RegionResult>();

/**
 * Province and city ids (0 = unknown) for what a client or ip2region reported, or why not.
 * Either may be missing, blank, `0` or `未知`. A city alone implies its province; a province alone implies
 * its city only where it has just one (北京 → 1101, 香港 → 8100).
 */
export function resolveRegion(province: string | undefined | null, city: string | undefined | null): RegionResult {
  const key = `${province ?? ''}\u0000${city ?? ''}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const result = Object.freeze(compute(cleanInput(province), cleanInput(city)));
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, result);
  return result;
}

function compute(provinceText: string, cityText: string): RegionResult {
  const t = tables();
  let province = 0;
  if (provinceText !== '') {
    const id = t.provinceByName.get(provinceText);
    if (id === undefined) return reject('province', `province "${provinceText}" is not a province-level division of China`);
    province = id;
  }
  if (cityText === '') return { ok: true, province, city: t.onlyCity.get(province) ?? 0 };

  const candidates = t.cityByName.get(cityText);
  if (candidates === undefined) {
    const only = t.onlyCity.get(province);
    if (only !== undefined && t.undivided.has(province)) return { ok: true, province, city: only };
    return reject('city', `city "${cityText}" is not a prefecture-level city of China`);
  }
  if (province === 0) {
    const [only, ...others] = candidates;
    if (only !== undefined && others.length === 0) return { ok: true, province: only.province, city: only.id };
    return reject('city', `city "${cityText}" is ambiguous (${describe(candidates)}); give its province`);
  }
  const inProvince = candidates.filter((c) => c.province === province);
  const [match, ...more] = inProvince;
  if (match !== undefined && more.length === 0) return { ok: true, province, city: match.id };
  if (match !== undefined) return reject('city', `city "${cityText}" is ambiguous in ${nameOf(province)} (${describe(inProvince)})`);
  return reject('city', `city "${cityText}" is not in ${nameOf(province)} (it is in ${describe(candidates)})`);
}

function reject(field: 'province' | 'city', reason: string): RegionResult {
  return { ok: false, field, reason };
}

function nameOf(province: number): string {
  return tables().provinceById.get(province)?.name ?? UNKNOWN_NAME;
}

/** `4401 广州, 广东省; …` */
function describe(cities: readonly Readonly<CityInfo>[]): string {
  return cities.map((c) => `${c.id} ${c.name}, ${nameOf(c.province)}`).join('; ');
}
