import type { Dimension } from '../domain/dimensions.ts';
import type { VisitEvent } from '../domain/event.ts';
import type { PortraitCount } from '../domain/portrait.ts';
import type { Window } from '../domain/window.ts';

/**
 * The portrait rules written the plain way, in memory, independently of any SQL: the oracle the store
 * contract tests compare every backend with. Not used in production.
 */
export function referencePortrait(events: readonly VisitEvent[], w: Window): PortraitCount[] {
  const firstDay = new Map<string, number>();
  for (const e of events) firstDay.set(e.openid, Math.min(firstDay.get(e.openid) ?? Infinity, e.day));

  type Latest = { time: number; key: number | string };
  const pick: [Dimension, (e: VisitEvent) => number | string | null][] = [
    ['genders', (e) => (e.gender > 0 ? e.gender : null)],
    ['ages', (e) => (e.ageBucket > 0 ? e.ageBucket : null)],
    ['platforms', (e) => (e.platformId > 0 ? e.platformId : null)],
    ['province', (e) => (e.province > 0 ? e.province : null)],
    ['city', (e) => (e.city > 0 ? e.city : null)],
    ['devices', (e) => e.device],
  ];
  const perUser = new Map<string, Map<Dimension, Latest>>();
  for (const e of events) {
    if (e.day < w.begin || e.day > w.end) continue;
    let dims = perUser.get(e.openid);
    if (!dims) perUser.set(e.openid, (dims = new Map()));
    for (const [dim, get] of pick) {
      const key = get(e);
      if (key === null) continue;
      const cur = dims.get(dim);
      // Latest by time; at equal times the larger value wins (the packed-integer rule).
      if (!cur || e.time > cur.time || (e.time === cur.time && compareKeys(key, cur.key) > 0)) dims.set(dim, { time: e.time, key });
    }
  }
  const counts = new Map<string, PortraitCount>();
  for (const [openid, dims] of perUser) {
    const fd = firstDay.get(openid) ?? Infinity;
    const isNew = fd >= w.begin && fd <= w.end;
    for (const [dim] of pick) {
      const key = dims.get(dim)?.key ?? (dim === 'devices' ? null : 0);
      const id = `${dim}\u0000${String(key)}`;
      let c = counts.get(id);
      if (!c) counts.set(id, (c = { dimension: dim, key, active: 0, new: 0 }));
      c.active++;
      if (isNew) c.new++;
    }
  }
  return [...counts.values()];
}

/** Device names compare by the dictionary order the stores use for ties; numbers numerically. */
function compareKeys(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return 0;
}

/** A canonical, order-free form of counts, for comparing backends and the oracle. */
export function canonical(counts: readonly PortraitCount[]): string[] {
  return counts
    .filter((c) => c.active > 0 || c.new > 0)
    .map((c) => `${c.dimension}|${String(c.key)}|${c.active}|${c.new}`)
    .sort();
}
