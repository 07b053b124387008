import { ACCESS_SOURCE_NAMES } from '../../domain/accessSource.ts';
import { STAY_BUCKET_BOUNDS } from '../../domain/analysis.ts';
import type { Granularity } from '../../domain/period.ts';

/** The analysis family's answers (WeChat's JSON, snake_case) as readable tables for the CLI. */

type Json = Record<string, unknown>;

/** Display width: CJK characters take two columns. */
function width(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1;
  return w;
}

/** A table: the first column left-aligned, the others right-aligned; each column as wide as its widest cell. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => {
        const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - width(c)));
        return i === 0 ? c + pad : pad + c;
      })
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}

const int = (v: unknown) => Number(v ?? 0).toLocaleString('en-US');
const dec = (v: unknown) => Number(v ?? 0).toFixed(2);
const pct = (part: number, whole: number) => (whole === 0 ? '–' : `${((100 * part) / whole).toFixed(1)}%`);
const list = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);

export function formatSummary(a: Json): string {
  const r = list(a.list)[0] ?? {};
  return [
    `Daily summary ${String(r.ref_date ?? '')}`,
    table(
      ['', 'value'],
      [
        ['users ever (visit_total)', int(r.visit_total)],
        ['shares (share_pv)', int(r.share_pv)],
        ['users who shared (share_uv)', int(r.share_uv)],
      ],
    ),
  ].join('\n');
}

export function formatTrend(a: Json, granularity: Granularity): string {
  const r = list(a.list)[0] ?? {};
  return [
    `Visit trend ${String(r.ref_date ?? '')} (${granularity})`,
    table(
      ['', 'value'],
      [
        ['sessions (session_cnt)', int(r.session_cnt)],
        ['page views (visit_pv)', int(r.visit_pv)],
        ['visitors (visit_uv)', int(r.visit_uv)],
        ['new visitors (visit_uv_new)', int(r.visit_uv_new)],
        ['stay per visitor, s (stay_time_uv)', dec(r.stay_time_uv)],
        ['stay per session, s (stay_time_session)', dec(r.stay_time_session)],
        ['pages per session (visit_depth)', dec(r.visit_depth)],
      ],
    ),
  ].join('\n');
}

/** `later[k]`: the label of the period k periods after the cohort's (for the key column). */
export function formatRetain(a: Json, granularity: Granularity, periodOf: (key: number) => string): string {
  const fresh = list(a.visit_uv_new);
  const active = list(a.visit_uv);
  const base = (xs: Json[]) => Number(xs.find((x) => Number(x.key) === 0)?.value ?? 0);
  const n0 = base(fresh);
  const a0 = base(active);
  const rows = active.map((x) => {
    const key = Number(x.key);
    const f = Number(fresh.find((y) => Number(y.key) === key)?.value ?? 0);
    const v = Number(x.value ?? 0);
    return [String(key), periodOf(key), int(f), pct(f, n0), int(v), pct(v, a0)];
  });
  const unit = granularity === 'day' ? 'days' : `${granularity}s`;
  return [
    `Retention of ${String(a.ref_date ?? '')} (${granularity}): ${int(n0)} new users, ${int(a0)} active users; key k = ${unit} later`,
    table(['key', 'period', 'new users', '%', 'active users', '%'], rows),
  ].join('\n');
}

const STAY_LABELS = STAY_BUCKET_BOUNDS.map((b, i) => `${i === 0 ? 0 : (STAY_BUCKET_BOUNDS[i - 1] ?? 0) + 1}–${b} s`).concat(
  `over ${STAY_BUCKET_BOUNDS[STAY_BUCKET_BOUNDS.length - 1] ?? 100} s`,
);
const DEPTH_LABELS = ['1 page', '2 pages', '3 pages', '4 pages', '5 pages', '6–10 pages', 'more than 10 pages'];

export function formatDistribution(a: Json): string {
  const items = (index: string) => list(list(a.list).find((x) => x.index === index)?.item_list);
  const sessions = items('access_source_session_cnt');
  const visitors = items('access_source_visit_uv');
  const total = sessions.reduce((s, x) => s + Number(x.value ?? 0), 0);
  const keys = [...new Set([...sessions, ...visitors].map((x) => Number(x.key)))].sort((x, y) => x - y);
  const value = (xs: Json[], key: number) => Number(xs.find((x) => Number(x.key) === key)?.value ?? 0);
  const byBucket = (xs: Json[], labels: readonly string[]) =>
    xs.map((x) => {
      const k = Number(x.key);
      const v = Number(x.value ?? 0);
      return [`${labels[k - 1] ?? `key ${k}`} (${k})`, int(v), pct(v, total)];
    });
  const lines = [`Visit distribution ${String(a.ref_date ?? '')}: ${int(total)} sessions`, '', 'Access source (access_source_session_cnt, access_source_visit_uv)'];
  lines.push(
    keys.length === 0
      ? '  (no sessions)'
      : table(
          ['source', 'sessions', '%', 'visitors'],
          keys
            .map((k) => [k, value(sessions, k), value(visitors, k)] as const)
            .sort((x, y) => y[1] - x[1] || x[0] - y[0])
            .map(([k, s, v]) => [`${ACCESS_SOURCE_NAMES[k] ?? 'unknown'} (${k})`, int(s), pct(s, total), int(v)]),
        ),
  );
  lines.push('', 'Stay time per session (access_staytime_info)');
  lines.push(total === 0 ? '  (no sessions)' : table(['stay', 'sessions', '%'], byBucket(items('access_staytime_info'), STAY_LABELS)));
  lines.push('', 'Pages per session (access_depth_info)');
  lines.push(total === 0 ? '  (no sessions)' : table(['depth', 'sessions', '%'], byBucket(items('access_depth_info'), DEPTH_LABELS)));
  return lines.join('\n');
}

export function formatPages(a: Json, top: number): string {
  const pages = list(a.list);
  const shown = pages.slice(0, top);
  const lines = [`Pages ${String(a.ref_date ?? '')}: ${pages.length} page${pages.length === 1 ? '' : 's'} (most viewed first)`];
  lines.push(
    shown.length === 0
      ? '  (no pages)'
      : table(
          ['page', 'views', 'visitors', 'stay/view s', 'entries', 'exits', 'shares', 'sharers'],
          shown.map((p) => [
            String(p.page_path ?? ''),
            int(p.page_visit_pv),
            int(p.page_visit_uv),
            dec(p.page_staytime_pv),
            int(p.entrypage_pv),
            int(p.exitpage_pv),
            int(p.page_share_pv),
            int(p.page_share_uv),
          ]),
        ),
  );
  if (pages.length > shown.length) lines.push(`  … ${pages.length - shown.length} more (use --top or --json)`);
  return lines.join('\n');
}
