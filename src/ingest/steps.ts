import { isIP } from 'node:net';
import { dayOf, daysInMonth } from '../domain/day.ts';
import { ageBucket, genderId, platformId } from '../domain/dimensions.ts';
import { KNOWN_FIELDS, type VisitEvent } from '../domain/event.ts';
import { resolveRegion } from '../domain/region/index.ts';
import { marketDeviceName } from './enrich/device.ts';
import { defaultEnricher, type Enricher } from './enrich/Enricher.ts';
import { normalizeAddress } from './enrich/addresses.ts';
import { reject, type Rejection } from './rejection.ts';

/** The event being built from one input record, step by step. */
export interface Draft {
  readonly input: Readonly<Record<string, unknown>>;
  readonly event: VisitEvent;
}

export interface StepContext {
  /** Epoch ms "now", for the future-time check. */
  now: number;
  /** The client's address on /v1/collect: it replaces any `ip` the event carries. */
  clientIp?: string;
  /** The request's User-Agent on /v1/collect: the `ua` of events that carry none. */
  userAgent?: string;
  /** Region-from-IP and device-from-User-Agent sources (default: the bundled ones, see `defaultEnricher`). */
  enricher?: Enricher;
  /** Milliseconds the client's clock is behind the server's (/v1/collect): added to every event's time. */
  clockSkewMs?: number;
}

/** One named ingest step: enriches the draft, or rejects the record with a reason naming the field. */
export interface Step {
  readonly name: string;
  apply(draft: Draft, ctx: StepContext): Rejection | undefined;
}

const OPENID = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_FUTURE_MS = 10 * 60_000;
/** Times before 2000 are almost always epoch seconds sent as milliseconds. */
const MIN_TIME_MS = Date.UTC(2000, 0, 1);
/** `2026-11-27T10:15[:00[.123]]` then `Z` or an offset `±hh[:]mm`; each field is range-checked in `parseIsoTime`. */
const ISO_WITH_OFFSET = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))$/i;
/** Real UTC offsets run from −12:00 to +14:00. */
const MAX_OFFSET_MINUTES = 14 * 60;
/** A date and time without an offset (`2026-11-29 10:00:00`): which zone it is in is not known. */
const NO_OFFSET = /^\d{4}[-/]\d{1,2}[-/]\d{1,2}[T ]\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?$/;
const MAX_TEXT = 64;
const MAX_PROPS_BYTES = 16_384;

function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

function optionalText(input: Readonly<Record<string, unknown>>, field: string, max: number): string | null | Rejection {
  const v = input[field];
  if (!present(v)) return null;
  if (typeof v !== 'string') return reject(field, `${field} must be a string`);
  const t = v.trim();
  if (t.length > max) return reject(field, `${field} is longer than ${max} characters`);
  // Lone surrogates become U+FFFD, as storage would turn them anyway: what is kept is what later compares equal.
  const text = isWellFormed(t) ? t : t.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  return text === '' ? null : text;
}

/** No lone UTF-16 surrogates (String.prototype.isWellFormed, written out for Node 20.0–20.x without it). */
export function isWellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

function isRejection(v: unknown): v is Rejection {
  return typeof v === 'object' && v !== null && 'reason' in v && 'field' in v;
}

export const openidStep: Step = {
  name: 'openid',
  apply({ input, event }) {
    const v = input.openid;
    if (!present(v)) return reject('openid', 'openid is required');
    if (typeof v !== 'string' || !OPENID.test(v)) return reject('openid', 'openid must be 1-128 characters of [A-Za-z0-9_-]');
    event.openid = v;
    return undefined;
  },
};

/**
 * Epoch ms of an ISO 8601 time with an offset, checked field by field (Date.parse would take 2026-02-30 as
 * March 2 and 24:00 as the next day): a real calendar day, hours 0–23, minutes and seconds 0–59, an offset of at
 * most ±14:00 with minutes 0–59. A string when it is not one.
 */
export function parseIsoTime(text: string): number | string {
  const m = ISO_WITH_OFFSET.exec(text);
  if (!m) {
    if (NO_OFFSET.test(text)) {
      return `time ${JSON.stringify(text)} has no UTC offset: write it with one (2026-11-27T10:15:00+08:00) or Z, or give its zone (datacube ingest --tz Asia/Shanghai)`;
    }
    return 'time must be ISO 8601 with an offset or Z (2026-11-27T10:15:00+08:00), or epoch milliseconds';
  }
  // Every event of an import passes here: no arrays or Date objects beyond the match.
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const fraction = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return `time ${JSON.stringify(text)}: ${m[1]}-${m[2]}-${m[3]} is not a calendar day`;
  if (hour > 23 || minute > 59 || second > 59) return `time ${JSON.stringify(text)}: the time of day is out of range`;
  let offset = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (om > 59 || oh * 60 + om > MAX_OFFSET_MINUTES) return `time ${JSON.stringify(text)}: the offset must be between -14:00 and +14:00`;
    offset = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  // Date.UTC reads years 0–99 as 1900–1999; those go the long way.
  let ms: number;
  if (year >= 100) ms = Date.UTC(year, month - 1, day, hour, minute, second, fraction);
  else {
    const utc = new Date(0);
    utc.setUTCFullYear(year, month - 1, day);
    utc.setUTCHours(hour, minute, second, fraction);
    ms = utc.getTime();
  }
  return ms - offset * 60_000;
}

export const timeStep: Step = {
  name: 'time',
  apply({ input, event }, { now, clockSkewMs }) {
    const v = input.time;
    let ms: number;
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) return reject('time', 'time must be whole epoch milliseconds or an ISO 8601 string with an offset');
      ms = v;
    } else if (typeof v === 'string' && /^\d{1,16}$/.test(v)) {
      ms = Number(v);
    } else if (typeof v === 'string') {
      const parsed = parseIsoTime(v.trim());
      if (typeof parsed === 'string') return reject('time', parsed);
      ms = parsed;
    } else if (!present(v)) {
      return reject('time', 'time is required');
    } else {
      return reject('time', 'time must be a string or a number');
    }
    if (clockSkewMs) ms += clockSkewMs;
    if (ms < MIN_TIME_MS) return reject('time', 'time is before 2000-01-01 (epoch seconds instead of milliseconds?)');
    if (ms > now + MAX_FUTURE_MS) return reject('time', 'time is more than 10 minutes in the future');
    event.time = ms;
    event.day = dayOf(ms);
    return undefined;
  },
};

export const eventIdStep: Step = {
  name: 'event_id',
  apply({ input, event }) {
    const v = input.event_id;
    if (!present(v)) return undefined;
    let id: string;
    if (typeof v === 'string') id = v;
    else if (typeof v === 'number' && Number.isSafeInteger(v)) id = String(v);
    else return reject('event_id', 'event_id must be a string');
    if (id.length > 64) return reject('event_id', 'event_id is longer than 64 characters');
    // A lone UTF-16 surrogate cannot be stored as it is (UTF-8 turns it into U+FFFD): the stored id would never
    // equal the one sent, and a resend would be stored again.
    if (!isWellFormed(id)) return reject('event_id', 'event_id is not valid Unicode (it has a lone surrogate)');
    event.eventId = id;
    return undefined;
  },
};

export const genderStep: Step = {
  name: 'gender',
  apply({ input, event }) {
    const v = input.gender;
    const id = genderId(typeof v === 'string' ? v.trim().toLowerCase() : v);
    if (id === undefined) return reject('gender', 'gender must be 0, 1, 2, "unknown", "male" or "female"');
    event.gender = id;
    return undefined;
  },
};

export const ageStep: Step = {
  name: 'age',
  apply({ input, event }) {
    const v = input.age;
    if (!present(v)) return undefined;
    const n = typeof v === 'string' && /^\d{1,3}$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 120) {
      return reject('age', 'age must be whole years from 0 to 120');
    }
    event.age = n;
    event.ageBucket = ageBucket(n);
    return undefined;
  },
};

export const platformStep: Step = {
  name: 'platform',
  apply({ input, event }) {
    const t = optionalText(input, 'platform', 32);
    if (isRejection(t)) return t;
    if (t === null) return undefined;
    event.platform = t.toLowerCase();
    event.platformId = platformId(t);
    return undefined;
  },
};

export const deviceStep: Step = {
  name: 'device',
  apply({ input, event }) {
    const brand = optionalText(input, 'brand', MAX_TEXT);
    if (isRejection(brand)) return brand;
    const model = optionalText(input, 'model', MAX_TEXT);
    if (isRejection(model)) return model;
    event.brand = brand;
    event.model = model;
    event.device = marketDeviceName(brand, model, event.platform);
    return undefined;
  },
};

export const regionStep: Step = {
  name: 'region',
  apply({ input, event }) {
    const province = optionalText(input, 'province', MAX_TEXT);
    if (isRejection(province)) return province;
    const city = optionalText(input, 'city', MAX_TEXT);
    if (isRejection(city)) return city;
    if (province === null && city === null) return undefined;
    const r = resolveRegion(province, city);
    if (!r.ok) return reject(r.field, r.reason);
    event.province = r.province;
    event.city = r.city;
    return undefined;
  },
};

export const ipStep: Step = {
  name: 'ip',
  apply({ input, event }, { clientIp }) {
    if (clientIp !== undefined) {
      event.ip = clientIp;
      return undefined;
    }
    const t = optionalText(input, 'ip', 45);
    if (isRejection(t)) return t;
    if (t !== null && isIP(t) === 0) return reject('ip', `ip ${JSON.stringify(t)} is not an IPv4 or IPv6 address`);
    event.ip = t === null ? null : normalizeAddress(t);
    return undefined;
  },
};

const MAX_UA = 1024;

/**
 * Device and platform from the User-Agent (`ua`, or the request's on /v1/collect), for what the client did not send:
 * its `platform` and its `brand`/`model` always win.
 */
export const uaStep: Step = {
  name: 'ua',
  apply({ input, event }, { userAgent, enricher }) {
    const t = optionalText(input, 'ua', MAX_UA);
    if (isRejection(t)) return t;
    const ua = t ?? (userAgent ? userAgent.trim().slice(0, MAX_UA) || null : null);
    event.ua = ua;
    const needPlatform = event.platform === null;
    const needDevice = event.brand === null && event.model === null;
    if (ua === null || (!needPlatform && !needDevice)) return undefined;
    const d = (enricher ?? defaultEnricher()).deviceOf(ua);
    if (needPlatform && d.platform !== null) {
      event.platform = d.platform;
      event.platformId = d.platformId;
    }
    if (needDevice && d.device !== null) event.device = d.device;
    return undefined;
  },
};

/** Region from IP, only for events that carry neither province nor city (a region the client sent always wins). */
export const geoStep: Step = {
  name: 'geo',
  apply({ event }, { enricher }) {
    if (event.ip === null || event.province !== 0 || event.city !== 0) return undefined;
    const r = (enricher ?? defaultEnricher()).regionOf(event.ip);
    event.province = r.province;
    event.city = r.city;
    return undefined;
  },
};

/**
 * Fields for WeChat's other analysis APIs (src/domain/analysis.ts): `type` (`visit` by default, `open`, `share`, any
 * other kind; kept in lower case), `page`, `session`, `scene`, `stay`.
 */
export const visitStep: Step = {
  name: 'visit',
  apply({ input, event }) {
    const type = optionalText(input, 'type', 32);
    if (isRejection(type)) return type;
    event.type = type === null ? 'visit' : type.toLowerCase();
    const page = optionalText(input, 'page', 1024);
    if (isRejection(page)) return page;
    event.page = page;
    const session = optionalText(input, 'session', 128);
    if (isRejection(session)) return session;
    event.session = session;
    const scene = input.scene;
    if (present(scene)) {
      const n = typeof scene === 'string' && /^\d{1,6}$/.test(scene) ? Number(scene) : scene;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 999_999) return reject('scene', 'scene must be a WeChat scene code (an integer)');
      event.scene = n;
    }
    const stay = input.stay;
    if (present(stay)) {
      const n = typeof stay === 'string' && /^\d+(\.\d+)?$/.test(stay) ? Number(stay) : stay;
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 86_400) return reject('stay', 'stay must be seconds from 0 to 86400');
      event.stay = n;
    }
    return undefined;
  },
};

/** Keeps every field datacube does not interpret yet, as JSON, with the event. */
export const propsStep: Step = {
  name: 'props',
  apply({ input, event }) {
    // No prototype: a field named "__proto__" is kept as a field, not taken as the object's prototype.
    // Own keys only, and no array of entries per event (this runs for every event of a bulk import).
    let rest: Record<string, unknown> | undefined;
    for (const k in input) {
      if (!Object.hasOwn(input, k) || KNOWN_FIELDS.has(k)) continue;
      rest ??= Object.create(null) as Record<string, unknown>;
      rest[k] = input[k];
    }
    if (!rest) return undefined;
    let text: string;
    try {
      text = JSON.stringify(rest);
    } catch {
      // JSON.stringify recurses: nesting deep enough to exhaust the stack is refused, not a server error.
      return reject('props', 'the fields datacube keeps as they are are nested too deeply');
    }
    if (Buffer.byteLength(text) > MAX_PROPS_BYTES) return reject('props', `the fields datacube keeps as they are exceed ${MAX_PROPS_BYTES} bytes`);
    event.props = text;
    return undefined;
  },
};

/** The pipeline, in order: validation of each field, then enrichment (`ua`, `geo`) of what the client left out. */
export const STEPS: readonly Step[] = [
  openidStep,
  timeStep,
  eventIdStep,
  genderStep,
  ageStep,
  platformStep,
  deviceStep,
  regionStep,
  ipStep,
  uaStep,
  geoStep,
  visitStep,
  propsStep,
];
