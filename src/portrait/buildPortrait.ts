import {
  AGE_NAMES,
  DIMENSIONS,
  GENDER_NAMES,
  PLATFORM_NAMES,
  PLATFORM_OTHER,
  UNKNOWN_NAME,
  type Dimension,
} from '../domain/dimensions.ts';
import type { PortraitCount, PortraitGroup, PortraitItem, UserPortrait } from '../domain/portrait.ts';
import { cityName, provinceName } from '../domain/region/index.ts';
import { refDate, type Window } from '../domain/window.ts';

function emptyGroup(): PortraitGroup {
  return { province: [], city: [], genders: [], platforms: [], devices: [], ages: [] };
}

/** id and name of a stored key; platform's unknown is reported as 3 其他. */
function item(dimension: Dimension, key: number | string | null, value: number): PortraitItem {
  switch (dimension) {
    case 'devices':
      return { name: typeof key === 'string' ? key : UNKNOWN_NAME, value };
    case 'genders':
      return { id: Number(key), name: GENDER_NAMES[Number(key)] ?? UNKNOWN_NAME, value };
    case 'ages':
      return { id: Number(key), name: AGE_NAMES[Number(key)] ?? UNKNOWN_NAME, value };
    case 'platforms': {
      const id = Number(key) === 0 ? PLATFORM_OTHER : Number(key);
      return { id, name: PLATFORM_NAMES[id] ?? PLATFORM_NAMES[PLATFORM_OTHER] ?? '其他', value };
    }
    case 'province':
      return { id: Number(key), name: provinceName(Number(key)), value };
    case 'city':
      return { id: Number(key), name: cityName(Number(key)), value };
  }
}

function byValueThenKey(a: PortraitItem, b: PortraitItem): number {
  if (b.value !== a.value) return b.value - a.value;
  if (a.id !== undefined && b.id !== undefined) return a.id - b.id;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Adds an item, merging with one of the same identity (platform 0 and 3 both mean 其他). */
function add(list: PortraitItem[], it: PortraitItem): void {
  const same = list.find((x) => (it.id !== undefined ? x.id === it.id : x.name === it.name));
  if (same) same.value += it.value;
  else list.push(it);
}

/** Turns a store's counts into WeChat's answer: ids and names, zero items dropped, items ordered. */
export function buildPortrait(window: Window, counts: readonly PortraitCount[]): UserPortrait {
  const fresh = emptyGroup();
  const active = emptyGroup();
  for (const c of counts) {
    if (c.active > 0) add(active[c.dimension], item(c.dimension, c.key, c.active));
    if (c.new > 0) add(fresh[c.dimension], item(c.dimension, c.key, c.new));
  }
  for (const d of DIMENSIONS) {
    fresh[d].sort(byValueThenKey);
    active[d].sort(byValueThenKey);
  }
  return { ref_date: refDate(window), visit_uv_new: fresh, visit_uv: active };
}
