import { DIMENSIONS, type Dimension } from '../domain/dimensions.ts';
import type { PortraitItem, UserPortrait } from '../domain/portrait.ts';

const TITLES: Record<Dimension, string> = {
  province: 'Province 省份',
  city: 'City 城市',
  genders: 'Gender 性别',
  platforms: 'Platform 终端',
  devices: 'Device 机型',
  ages: 'Age 年龄',
};

/** Display width: CJK characters take two columns. */
function width(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1;
  return w;
}
function padEnd(s: string, n: number): string {
  return s + ' '.repeat(Math.max(0, n - width(s)));
}
function padStart(s: string, n: number): string {
  return ' '.repeat(Math.max(0, n - width(s))) + s;
}

function label(it: PortraitItem): string {
  return it.id === undefined ? it.name : `${it.name} (${it.id})`;
}

/** The portrait as readable tables: one per dimension, new and active users side by side, with shares. */
export function formatPortrait(p: UserPortrait, opts: { top?: number } = {}): string {
  const top = opts.top ?? 10;
  const totalActive = p.visit_uv.genders.reduce((s, x) => s + x.value, 0);
  const totalNew = p.visit_uv_new.genders.reduce((s, x) => s + x.value, 0);
  const lines = [`User portrait ${p.ref_date}: ${totalActive} active users, ${totalNew} new users`, ''];
  for (const d of DIMENSIONS) {
    const keys = new Map<string, { label: string; active: number; fresh: number }>();
    for (const it of p.visit_uv[d]) keys.set(label(it), { label: label(it), active: it.value, fresh: 0 });
    for (const it of p.visit_uv_new[d]) {
      const k = keys.get(label(it));
      if (k) k.fresh = it.value;
      else keys.set(label(it), { label: label(it), active: 0, fresh: it.value });
    }
    const rows = [...keys.values()];
    const shown = rows.slice(0, top);
    const w = Math.max(16, ...shown.map((r) => width(r.label))) + 2;
    lines.push(`${padEnd(TITLES[d], w)}${padStart('active', 10)}${padStart('%', 7)}${padStart('new', 10)}${padStart('%', 7)}`);
    if (rows.length === 0) lines.push('  (no users)');
    for (const r of shown) {
      const pa = totalActive ? ((100 * r.active) / totalActive).toFixed(1) : '0.0';
      const pn = totalNew ? ((100 * r.fresh) / totalNew).toFixed(1) : '0.0';
      lines.push(`${padEnd(`  ${r.label}`, w)}${padStart(String(r.active), 10)}${padStart(pa, 7)}${padStart(String(r.fresh), 10)}${padStart(pn, 7)}`);
    }
    if (rows.length > shown.length) lines.push(`  … ${rows.length - shown.length} more (use --json for all)`);
    lines.push('');
  }
  return lines.join('\n');
}
