import { OVERFLOW_DEVICE_NAME } from '../../domain/dimensions.ts';
import type { VisitEvent } from '../../domain/event.ts';
import { admitDevices } from '../deviceCap.ts';
import type { Connection } from './connection.ts';
import { list, sql } from './sql.ts';

/**
 * The per-app cap on distinct device names on ClickHouse (the same rule as the embedded store, see deviceCap.ts):
 * names are kept in `app_devices`; an event whose name is past its app's cap is stored with the overflow bucket's
 * name as its `device` (its `brand` and `model` are kept as sent). Runs inside the app's append lane, so within one
 * server the cap is exact; servers sharing a ClickHouse can each admit a name in the same instant, so there the cap
 * may be passed by a few names. Names known to be admitted are remembered for the apps that appended last.
 */
export class DeviceCap {
  private readonly known = new Map<string, Set<string>>();

  constructor(
    private readonly cap: number,
    private readonly maxApps = 32,
  ) {}

  /** The events to insert (names past the cap replaced) and what overflowed. `skipped`: duplicates, not stored. */
  async apply(
    c: Connection,
    appid: string,
    events: readonly VisitEvent[],
    skipped: ReadonlySet<number>,
  ): Promise<{ events: readonly VisitEvent[]; overflow?: { events: number; names: number; cap: number } }> {
    let known = this.known.get(appid);
    if (known) {
      this.known.delete(appid);
      this.known.set(appid, known);
    } else {
      known = new Set();
      if (this.known.size >= this.maxApps) {
        const oldest = this.known.keys().next().value;
        if (oldest !== undefined) this.known.delete(oldest);
      }
      this.known.set(appid, known);
    }
    const unknown = new Set<string>();
    events.forEach((e, i) => {
      if (e.device !== null && !skipped.has(i) && !known.has(e.device)) unknown.add(e.device);
    });
    if (unknown.size === 0) return { events };
    const stored = await c.rows<{ name: string }>(
      sql`SELECT DISTINCT name FROM ${c.table('app_devices')} WHERE appid = ${appid} AND name IN ${list([...unknown])}`,
      { max_query_size: '16777216' },
    );
    for (const r of stored) known.add(String(r.name));
    const counted = await c.rows<{ n: string }>(sql`SELECT uniqExact(name) AS n FROM ${c.table('app_devices')} WHERE appid = ${appid}`);
    const admission = admitDevices((name) => known.has(name), Number(counted[0]?.n ?? 0), events, skipped, this.cap);
    if (admission.admitted.length > 0) {
      await c.insert('app_devices', admission.admitted.map((name) => ({ appid, name })));
      for (const name of admission.admitted) known.add(name);
    }
    if (admission.overflow.size === 0) return { events };
    return {
      events: events.map((e, i) => (admission.overflow.has(i) ? { ...e, device: OVERFLOW_DEVICE_NAME } : e)),
      overflow: { events: admission.overflow.size, names: admission.overflowNames, cap: this.cap },
    };
  }
}
