import { deviceName, OVERFLOW_DEVICE_NAME } from '../domain/dimensions.ts';
import { KNOWN_FIELDS, type VisitEvent } from '../domain/event.ts';
import { provinceOfCity, provinceName } from '../domain/region/index.ts';
import { UNKNOWN_NAME } from '../domain/dimensions.ts';
import { processRecord } from './pipeline.ts';
import { reject, type Rejection } from './rejection.ts';
import type { StepContext } from './steps.ts';

export type StoredOutcome = { ok: true; event: VisitEvent } | ({ ok: false } & Rejection);

const TEXT_OR_NULL = ['eventId', 'platform', 'brand', 'model', 'device', 'ip', 'page', 'session', 'props'] as const;
const NUMBERS = ['time', 'day', 'gender', 'ageBucket', 'platformId', 'province', 'city'] as const;

/**
 * Checks an event as another datacube stored it (an export file's line) with the same rules as ingest, so that
 * `datacube import` can store nothing ingest would have refused (a `time` of 9e15, an unknown city code…):
 * the fields a client sends are rebuilt from the event and run through the ingest steps, and the stored values
 * derived from them (day, age bucket, platform id, device name, region codes) must be the ones ingest gives.
 * A device name may also be the overflow bucket's (a store past its cap writes that), or one an earlier datacube
 * gave when it stored the event (see `earlierDeviceName`). The event is kept as it is.
 */
export function validateStoredEvent(value: unknown, ctx: StepContext): StoredOutcome {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, ...reject('record', 'not an event object') };
  const e = value as Record<string, unknown>;
  if (typeof e.openid !== 'string') return { ok: false, ...reject('openid', 'openid must be a string') };
  if (typeof e.type !== 'string') return { ok: false, ...reject('type', 'type must be a string') };
  for (const k of TEXT_OR_NULL) if (e[k] !== null && typeof e[k] !== 'string') return { ok: false, ...reject(k, `${k} must be a string or null`) };
  for (const k of NUMBERS) if (typeof e[k] !== 'number') return { ok: false, ...reject(k, `${k} must be a number`) };
  for (const k of ['age', 'scene', 'stay'] as const) if (e[k] !== null && typeof e[k] !== 'number') return { ok: false, ...reject(k, `${k} must be a number or null`) };
  // Files exported before events kept their User-Agent have no `ua`.
  if (e.ua !== undefined && e.ua !== null && typeof e.ua !== 'string') return { ok: false, ...reject('ua', 'ua must be a string or null') };
  const ev = { ...e, ua: e.ua ?? null } as unknown as VisitEvent;

  // The record a client would have sent.
  const record: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  let legacyUa = false;
  if (ev.props !== null) {
    let extra: unknown;
    try {
      extra = JSON.parse(ev.props);
    } catch {
      return { ok: false, ...reject('props', 'props is not JSON') };
    }
    if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) return { ok: false, ...reject('props', 'props must be a JSON object') };
    for (const [k, v] of Object.entries(extra)) {
      // Releases before `ua` was a field kept a client's ua with the other extra fields and read nothing from it;
      // such an event (stored then, `ua` null) is taken as it was stored.
      if (k === 'ua' && ev.ua === null) {
        legacyUa = true;
        continue;
      }
      if (KNOWN_FIELDS.has(k)) return { ok: false, ...reject('props', `props holds the field ${k}`) };
      record[k] = v;
    }
  }
  Object.assign(record, {
    event_id: ev.eventId ?? undefined,
    openid: ev.openid,
    time: ev.time,
    gender: ev.gender,
    age: ev.age ?? undefined,
    platform: ev.platform ?? undefined,
    brand: ev.brand ?? undefined,
    model: ev.model ?? undefined,
    ip: ev.ip ?? undefined,
    type: ev.type,
    page: ev.page ?? undefined,
    scene: ev.scene ?? undefined,
    session: ev.session ?? undefined,
    stay: ev.stay ?? undefined,
    ua: ev.ua ?? undefined,
  });
  const r = processRecord(record, ctx);
  if (!r.ok) return r;
  // The rebuilt event's props lack that ua: compare the stored props with it put back.
  const want = legacyUa ? { ...r.event, props: withLegacyUa(r.event.props, ev.props) } : r.event;
  // Earlier releases stored a type and an address as sent (`Share`, `::FFFF:1.2.3.4`); ingest (and an upgraded store,
  // DuckDB migration 10 for types) keeps them in lower case and normal form: such an event is taken in that form.
  if (ev.type.toLowerCase() === want.type) ev.type = want.type;
  if (ev.ip !== null && want.ip !== null) ev.ip = want.ip;
  const differs = (field: keyof VisitEvent): boolean => want[field] !== ev[field];
  for (const f of ['eventId', 'openid', 'time', 'day', 'gender', 'age', 'ageBucket', 'platform', 'platformId', 'brand', 'model', 'ip', 'type', 'page', 'scene', 'session', 'stay', 'props'] as const) {
    if (differs(f)) return { ok: false, ...reject(f, `${f} is not what ingest makes of this event (${JSON.stringify(ev[f])})`) };
  }
  if (differs('device') && ev.device !== OVERFLOW_DEVICE_NAME && !earlierDeviceName(ev)) return { ok: false, ...reject('device', `device is not the name of brand and model (${JSON.stringify(ev.device)})`) };
  if (!Number.isInteger(ev.province) || (ev.province !== 0 && provinceName(ev.province) === UNKNOWN_NAME)) {
    return { ok: false, ...reject('province', `province ${ev.province} is not a province code`) };
  }
  if (!Number.isInteger(ev.city) || (ev.city !== 0 && provinceOfCity(ev.city) !== ev.province)) {
    return { ok: false, ...reject('city', `city ${ev.city} is not a city code of province ${ev.province}`) };
  }
  return { ok: true, event: ev };
}

/** `stored` when it is `props` (ingest's JSON of the extra fields) plus the `ua` the first release kept among them. */
function withLegacyUa(props: string | null, stored: string | null): string | null {
  if (stored === null) return props;
  const rest = JSON.parse(stored) as Record<string, unknown>;
  delete rest.ua;
  const same = Object.keys(rest).length === 0 ? props === null : JSON.stringify(rest) === props;
  return same ? stored : props;
}

/** The longest device name ingest writes: a brand and a model of 64 characters each and the space between. */
const MAX_DEVICE = 129;

/**
 * Whether `ev.device` is the name an earlier datacube gave the event when it stored it, which an upgraded store
 * keeps (and exports) as it was: brand and model joined as they were sent (releases before model codes became
 * marketing names, `Xiaomi MI 3` now `Xiaomi Mi 3`), or, for an event with neither brand nor model, whatever an earlier
 * release's User-Agent parser read from its `ua` (or nothing).
 */
function earlierDeviceName(ev: VisitEvent): boolean {
  if (ev.device !== null && ev.device === deviceName(ev.brand ?? undefined, ev.model ?? undefined)) return true;
  return ev.brand === null && ev.model === null && ev.ua !== null && (ev.device === null || (ev.device.length > 0 && ev.device.length <= MAX_DEVICE));
}
