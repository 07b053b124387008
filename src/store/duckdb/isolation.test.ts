/**
 * Issue 10, point 1 and 4 at the store: no volume of one app's input changes another app's answers or makes its
 * portrait wait, and an app's own backlog is bounded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OVERFLOW_DEVICE_NAME } from '../../domain/dimensions.ts';
import type { VisitEvent } from '../../domain/event.ts';
import type { PortraitCount } from '../../domain/portrait.ts';
import { BASE_DAY, BASE_MS, freshAppid, visit } from '../contract.suite.ts';
import { canonical } from '../referencePortrait.ts';
import { DuckDBStore } from './DuckDBStore.ts';

const dir = mkdtempSync(join(tmpdir(), 'datacube-isolation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const open = (opts = {}) => DuckDBStore.create(join(dir, `s${++files}.duckdb`), opts);
const DAY1 = { begin: BASE_DAY, end: BASE_DAY };
const devices = (c: PortraitCount[]) => Object.fromEntries(c.filter((x) => x.dimension === 'devices').map((x) => [String(x.key), x.active]));

describe('DuckDB store: apps are isolated', () => {
  it('keeps another app’s device names right when one app sends 1,048,573 distinct names (the 20-bit id space)', async () => {
    const s = await open();
    try {
      const victim = freshAppid();
      const attacker = freshAppid();
      await s.append(victim, [visit({ openid: 'v1', time: BASE_MS + 1000, device: 'Victim Phone 1' })]);
      const before = canonical(await s.portrait(victim, DAY1));
      // 1,048,573 events, each with a brand never seen before, in batches as ingest would send them.
      const total = 1_048_573;
      const batch = 50_000;
      let overflowed = 0;
      for (let i = 0; i < total; i += batch) {
        const events: VisitEvent[] = [];
        for (let k = i; k < Math.min(total, i + batch); k++) events.push(visit({ openid: `a${k % 5000}`, time: BASE_MS + 2000 + (k % 1000), device: `Brand${k} X` }));
        overflowed += (await s.append(attacker, events)).deviceOverflow?.events ?? 0;
      }
      expect(overflowed).toBe(total - 20_000); // the default cap: 20,000 names per app
      // The victim's next new device shows under its own name; its portrait lists only its own names.
      await s.append(victim, [visit({ openid: 'v2', time: BASE_MS + 3000, device: 'Victim Phone 2' })]);
      expect(devices(await s.portrait(victim, DAY1))).toEqual({ 'Victim Phone 1': 1, 'Victim Phone 2': 1 });
      expect(before).toEqual(['devices|Victim Phone 1|1|1', 'genders|0|1|1', 'ages|0|1|1', 'platforms|0|1|1', 'province|0|1|1', 'city|0|1|1'].sort());
      // The attacker sees its own first names and the overflow bucket, nothing of the victim's.
      const own = devices(await s.portrait(attacker, DAY1));
      expect(Object.keys(own)).not.toContain('Victim Phone 1');
      expect(Object.keys(own)).not.toContain('Victim Phone 2');
      expect(own[OVERFLOW_DEVICE_NAME]).toBeGreaterThan(0);
      expect(Object.values(own).reduce((a, b) => a + b, 0)).toBe(5000);
    } finally {
      await s.close();
    }
  }, 240_000);

  it('answers other apps when one app’s events cannot be derived (an out-of-range time stored around ingest)', async () => {
    const s = await open();
    try {
      const good = freshAppid();
      const bad = freshAppid();
      await s.append(good, [visit({ openid: 'g', time: BASE_MS + 1000, gender: 1 })]);
      // What `datacube import` of an event with time 9e15 did: (time << 20) overflows a BIGINT.
      await s.append(bad, [visit({ openid: 'b', time: 9e15, gender: 1 })]);
      await expect(s.portrait(bad, DAY1)).rejects.toThrow();
      await s.append(good, [visit({ openid: 'g2', time: BASE_MS + 2000, gender: 2 })]);
      const c = await s.portrait(good, DAY1);
      expect(c.filter((x) => x.dimension === 'genders').map((x) => [x.key, x.active])).toEqual(expect.arrayContaining([[1, 1], [2, 1]]));
    } finally {
      await s.close();
    }
  });

  it('answers an idle app’s portrait without waiting for another app’s backlog', async () => {
    const s = await open({ maxDeriveBacklog: 10_000_000 });
    try {
      const idle = freshAppid();
      const busy = freshAppid();
      await s.append(idle, [visit({ openid: 'i', time: BASE_MS + 1000, province: 44, city: 4401 })]);
      expect(canonical(await s.portrait(idle, DAY1))).toContain('city|4401|1|1');
      const events: VisitEvent[] = [];
      for (let k = 0; k < 300_000; k++) events.push(visit({ openid: `u${k}`, time: BASE_MS + 1000 + (k % 80_000_000), gender: 1 + (k % 2) }));
      for (let i = 0; i < events.length; i += 50_000) await s.append(busy, events.slice(i, i + 50_000));
      expect(s.pendingEvents(busy)).toBeGreaterThan(0);
      // The idle app's answer comes while the busy app's events are still being folded in.
      expect(canonical(await s.portrait(idle, DAY1))).toContain('city|4401|1|1');
      expect(s.pendingEvents(busy)).toBeGreaterThan(0);
      // The busy app's own portrait includes every event it stored.
      const g = (await s.portrait(busy, DAY1)).filter((x) => x.dimension === 'genders');
      expect(g.reduce((a, x) => a + x.active, 0)).toBe(300_000);
      expect(s.pendingEvents(busy)).toBe(0);
    } finally {
      await s.close();
    }
  }, 120_000);

  it('holds an app’s appends back while its own backlog is past the limit', async () => {
    const limit = 5_000;
    const s = await open({ maxDeriveBacklog: limit, deriveChunkEvents: 2_000 });
    try {
      const appid = freshAppid();
      let worst = 0;
      for (let i = 0; i < 30; i++) {
        const events = Array.from({ length: 1_000 }, (_, k) => visit({ openid: `u${i}-${k}`, time: BASE_MS + 1000 + k }));
        await s.append(appid, events);
        worst = Math.max(worst, s.pendingEvents(appid));
      }
      // At most the limit plus the batch that was let through.
      expect(worst).toBeLessThanOrEqual(limit + 1_000);
      const c = await s.portrait(appid, DAY1);
      expect(c.filter((x) => x.dimension === 'genders').reduce((a, x) => a + x.active, 0)).toBe(30_000);
    } finally {
      await s.close();
    }
  }, 120_000);
});
