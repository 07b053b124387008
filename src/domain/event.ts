import type { Day } from './day.ts';

/**
 * One visit as datacube stores it, after ingest validated and enriched it. Dimension fields hold ids
 * (0 = unknown); the raw inputs they came from are kept beside them so derived tables can be rebuilt.
 * `page`, `scene`, `session`, `stay` and `type` are kept for WeChat's other analysis APIs (visit trends,
 * retention, distributions, page stats).
 */
export interface VisitEvent {
  /** The client's id for the event; `(appid, eventId)` is stored at most once. */
  eventId: string | null;
  openid: string;
  /** Epoch milliseconds. */
  time: number;
  /** Shanghai day of `time`. */
  day: Day;
  /** 0 unknown, 1 男, 2 女. */
  gender: number;
  /** Age in whole years, or null. */
  age: number | null;
  /** Age bucket id, 0 unknown. */
  ageBucket: number;
  /** What the client reported (lower case), or null. */
  platform: string | null;
  /** 0 unknown (reported as 3 其他), 1 iPhone, 2 Android, 3 其他. */
  platformId: number;
  brand: string | null;
  model: string | null;
  /** Normalised marketing name, or null when unknown. */
  device: string | null;
  /** GB/T 2260 province code, 0 unknown. */
  province: number;
  /** GB/T 2260 prefecture code (4 digits; 6 for county-level cities directly under a province; 7100/8100/8200 for 台湾/香港/澳门), 0 unknown. */
  city: number;
  ip: string | null;
  /** The client's User-Agent as sent (the `ua` field, or the request header on /v1/collect), or null. */
  ua: string | null;
  /** Event kind: "visit" (a page view, the default), "share", … */
  type: string;
  page: string | null;
  scene: number | null;
  session: string | null;
  /** Seconds the page stayed in the foreground. */
  stay: number | null;
  /** Every input field datacube does not interpret yet, as JSON text, or null. */
  props: string | null;
}

/** What an openid may be: 1-128 characters of `[A-Za-z0-9_-]` (ingest refuses anything else). */
export const OPENID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** An event with every optional field unknown; ingest steps (and tests) fill it in. */
export function emptyEvent(): VisitEvent {
  return {
    eventId: null,
    openid: '',
    time: 0,
    day: 0,
    gender: 0,
    age: null,
    ageBucket: 0,
    platform: null,
    platformId: 0,
    brand: null,
    model: null,
    device: null,
    province: 0,
    city: 0,
    ip: null,
    ua: null,
    type: 'visit',
    page: null,
    scene: null,
    session: null,
    stay: null,
    props: null,
  };
}

/** The fields of the input record datacube interprets; every other field goes to `props`. */
export const KNOWN_FIELDS = new Set([
  'event_id',
  'openid',
  'time',
  'gender',
  'age',
  'platform',
  'brand',
  'model',
  'province',
  'city',
  'ip',
  'ua',
  'type',
  'page',
  'scene',
  'session',
  'stay',
]);
