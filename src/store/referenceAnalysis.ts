import { accessSource } from '../domain/accessSource.ts';
import {
  type DistributionCount,
  type DistributionIndex,
  EVENT_TYPES,
  type PageCounts,
  type RetentionCounts,
  SESSION_GAP_MS,
  type SummaryCounts,
  type TrendCounts,
  depthBucket,
  stayBucket,
} from '../domain/analysis.ts';
import { dayOf } from '../domain/day.ts';
import type { VisitEvent } from '../domain/event.ts';
import type { Window } from '../domain/window.ts';

/**
 * The analysis family's definitions (reference: wechat-analysis-family.md, "Definitions") written the plain way,
 * in memory, over every stored event of one app, independently of any SQL: the oracle the store contract tests
 * compare every backend with. Not used in production.
 */

/** Strings compare as the stores compare them: by their UTF-8 bytes (written here the plain way). */
function compareText(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** (time, text) pairs, ordered by time then text. */
function before(t1: number, s1: string, t2: number, s2: string): boolean {
  return t1 < t2 || (t1 === t2 && compareText(s1, s2) < 0);
}

export interface ReferenceSession {
  openid: string;
  /** The `session` value, or null for a session made of events without one (30-minute gaps). */
  id: string | null;
  firstTime: number;
  lastTime: number;
  /** Shanghai day of the first event. */
  day: number;
  source: number;
  /** Seconds of stay of its `visit` events. */
  stay: number;
  /** Distinct pages of its `visit` events. */
  pages: Set<string>;
  entry: string | null;
  exit: string | null;
}

const isVisit = (e: VisitEvent) => e.type === EVENT_TYPES.VISIT;
/** Only these types make sessions: an event of any other type counts for visitors (uv) only. */
const SESSION_TYPES: ReadonlySet<string> = new Set([EVENT_TYPES.VISIT, EVENT_TYPES.OPEN, EVENT_TYPES.SHARE]);
const inWindow = (day: number, w: Window) => day >= w.begin && day <= w.end;

function sessionOf(openid: string, id: string | null, events: readonly VisitEvent[]): ReferenceSession {
  let firstTime = Infinity;
  let lastTime = -Infinity;
  let scene: { time: number; scene: number } | undefined;
  let entry: { time: number; page: string } | undefined;
  let exit: { time: number; page: string } | undefined;
  let stay = 0;
  const pages = new Set<string>();
  for (const e of events) {
    firstTime = Math.min(firstTime, e.time);
    lastTime = Math.max(lastTime, e.time);
    // The first event that has a scene; at equal times, the smaller scene.
    if (e.scene !== null && (!scene || e.time < scene.time || (e.time === scene.time && e.scene < scene.scene))) {
      scene = { time: e.time, scene: e.scene };
    }
    if (!isVisit(e)) continue;
    stay += e.stay ?? 0;
    if (e.page === null) continue;
    pages.add(e.page);
    if (!entry || before(e.time, e.page, entry.time, entry.page)) entry = { time: e.time, page: e.page };
    if (!exit || before(exit.time, exit.page, e.time, e.page)) exit = { time: e.time, page: e.page };
  }
  return {
    openid,
    id,
    firstTime,
    lastTime,
    day: dayOf(firstTime),
    source: accessSource(scene?.scene),
    stay,
    pages,
    entry: entry?.page ?? null,
    exit: exit?.page ?? null,
  };
}

/**
 * Every session of an app: events with the same `session` per user are one; the others split at gaps over 30
 * minutes. Only visit, open and share events are in sessions (others neither start, join nor split one).
 */
export function referenceSessions(events: readonly VisitEvent[]): ReferenceSession[] {
  const byUser = new Map<string, VisitEvent[]>();
  for (const e of events) {
    if (!SESSION_TYPES.has(e.type)) continue;
    let list = byUser.get(e.openid);
    if (!list) byUser.set(e.openid, (list = []));
    list.push(e);
  }
  const out: ReferenceSession[] = [];
  for (const [openid, list] of byUser) {
    const byId = new Map<string, VisitEvent[]>();
    const loose: VisitEvent[] = [];
    for (const e of list) {
      if (e.session === null) {
        loose.push(e);
        continue;
      }
      let s = byId.get(e.session);
      if (!s) byId.set(e.session, (s = []));
      s.push(e);
    }
    for (const [id, s] of byId) out.push(sessionOf(openid, id, s));
    loose.sort((a, b) => a.time - b.time);
    let current: VisitEvent[] = [];
    for (const e of loose) {
      const last = current[current.length - 1];
      if (last && e.time - last.time > SESSION_GAP_MS) {
        out.push(sessionOf(openid, null, current));
        current = [];
      }
      current.push(e);
    }
    if (current.length > 0) out.push(sessionOf(openid, null, current));
  }
  return out;
}

function firstDays(events: readonly VisitEvent[]): Map<string, number> {
  const first = new Map<string, number>();
  for (const e of events) first.set(e.openid, Math.min(first.get(e.openid) ?? Infinity, e.day));
  return first;
}

function activeUsers(events: readonly VisitEvent[], w: Window): Set<string> {
  const users = new Set<string>();
  for (const e of events) if (inWindow(e.day, w)) users.add(e.openid);
  return users;
}

export function referenceTrend(events: readonly VisitEvent[], w: Window): TrendCounts {
  const first = firstDays(events);
  const users = activeUsers(events, w);
  let visitPv = 0;
  let stay = 0;
  for (const e of events) {
    if (!inWindow(e.day, w) || !isVisit(e)) continue;
    visitPv++;
    stay += e.stay ?? 0;
  }
  let sessions = 0;
  let depth = 0;
  for (const s of referenceSessions(events)) {
    if (!inWindow(s.day, w)) continue;
    sessions++;
    depth += s.pages.size;
  }
  const visitUvNew = [...users].filter((u) => inWindow(first.get(u) ?? -1, w)).length;
  return { sessions, visitPv, visitUv: users.size, visitUvNew, stay, depth };
}

export function referenceSummary(events: readonly VisitEvent[], day: number): SummaryCounts {
  const ever = new Set<string>();
  const sharers = new Set<string>();
  let sharePv = 0;
  for (const e of events) {
    if (e.day <= day) ever.add(e.openid);
    if (e.day === day && e.type === EVENT_TYPES.SHARE) {
      sharePv++;
      sharers.add(e.openid);
    }
  }
  return { visitTotal: ever.size, sharePv, shareUv: sharers.size };
}

export function referenceDistribution(events: readonly VisitEvent[], day: number): DistributionCount[] {
  const counts = new Map<string, DistributionCount>();
  const add = (index: DistributionIndex, key: number) => {
    const id = `${index}/${key}`;
    const c = counts.get(id);
    if (c) c.value++;
    else counts.set(id, { index, key, value: 1 });
  };
  const sourceUsers = new Set<string>();
  for (const s of referenceSessions(events)) {
    if (s.day !== day) continue;
    add('access_source_session_cnt', s.source);
    add('access_staytime_info', stayBucket(s.stay));
    add('access_depth_info', depthBucket(s.pages.size));
    const id = `${s.source}\u0000${s.openid}`;
    if (!sourceUsers.has(id)) {
      sourceUsers.add(id);
      add('access_source_visit_uv', s.source);
    }
  }
  return [...counts.values()];
}

export function referencePages(events: readonly VisitEvent[], day: number, limit: number): PageCounts[] {
  const pages = new Map<string, PageCounts & { viewers: Set<string>; sharers: Set<string> }>();
  const page = (path: string) => {
    let p = pages.get(path);
    if (!p) {
      p = { path, visitPv: 0, visitUv: 0, stay: 0, entry: 0, exit: 0, sharePv: 0, shareUv: 0, viewers: new Set(), sharers: new Set() };
      pages.set(path, p);
    }
    return p;
  };
  for (const e of events) {
    if (e.day !== day || e.page === null) continue;
    if (isVisit(e)) {
      const p = page(e.page);
      p.visitPv++;
      p.stay += e.stay ?? 0;
      p.viewers.add(e.openid);
    } else if (e.type === EVENT_TYPES.SHARE) {
      const p = page(e.page);
      p.sharePv++;
      p.sharers.add(e.openid);
    }
  }
  for (const s of referenceSessions(events)) {
    if (s.day !== day) continue;
    if (s.entry !== null) page(s.entry).entry++;
    if (s.exit !== null) page(s.exit).exit++;
  }
  return [...pages.values()]
    .map(({ viewers, sharers, ...p }) => ({ ...p, visitUv: viewers.size, shareUv: sharers.size }))
    .sort((a, b) => b.visitPv - a.visitPv || compareText(a.path, b.path))
    .slice(0, limit);
}

/** Cohorts of `cohort` (new users, active users) and how many of each had an event in each of `later`. */
export function referenceRetention(events: readonly VisitEvent[], cohort: Window, later: readonly Window[]): RetentionCounts {
  const first = firstDays(events);
  const active = activeUsers(events, cohort);
  const fresh = new Set([...active].filter((u) => inWindow(first.get(u) ?? -1, cohort)));
  const out: RetentionCounts = { new: [fresh.size], active: [active.size] };
  for (const w of later) {
    const back = activeUsers(events, w);
    out.new.push([...fresh].filter((u) => back.has(u)).length);
    out.active.push([...active].filter((u) => back.has(u)).length);
  }
  return out;
}
