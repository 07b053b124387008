import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayOf, formatDay, startOfDay } from '../domain/day.ts';
import { runCli } from './testing.ts';

// `datacube ingest` as a script sees it: its exit code, its summary, its messages.

const dir = mkdtempSync(join(tmpdir(), 'datacube-ingest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const Y = dayOf(Date.now()) - 1;
const iso = (d: number, h: number) => new Date(startOfDay(d) + h * 3_600_000).toISOString();
/** `yyyy-mm-dd hh:00:00` of Shanghai day `d`, hour `h`, as MySQL or Excel would write it (no offset). */
const wall = (d: number, h: number) => {
  const s = formatDay(d);
  return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6)} ${String(h).padStart(2, '0')}:00:00`;
};

interface Summary {
  accepted: number;
  duplicates: number;
  rejected: number;
  errors: { line: number; reason: string; file?: string }[];
  errors_not_listed?: number;
}

const data = join(dir, 'data');
let appid = '';
beforeAll(() => {
  const r = runCli(['app', 'create', '--data', data]);
  appid = (JSON.parse(r.out) as { appid: string }).appid;
});

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function ingest(...args: string[]) {
  const r = runCli(['ingest', '--appid', appid, '--data', data, ...args]);
  return { ...r, sum: r.out.trim() ? (JSON.parse(r.out.trim().split('\n').pop() ?? '{}') as Summary) : undefined };
}

function portraitJson(begin: number, end: number) {
  const r = runCli(['portrait', '--appid', appid, '--begin', formatDay(begin), '--end', formatDay(end), '--json', '--data', data]);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as { visit_uv: { genders: { id: number; value: number }[]; city: { id: number; name: string; value: number }[] } };
}

describe('datacube ingest', { timeout: 180_000 }, () => {
  it('exits 0 when everything is stored, 1 when lines were rejected, 0 again with --allow-rejects', () => {
    const good = file('good.ndjson', `${JSON.stringify({ openid: 'g1', time: iso(Y, 1), event_id: 'g1' })}\n`);
    const ok = ingest(good);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.sum).toMatchObject({ accepted: 1, rejected: 0, errors: [] });

    const mixed = file('mixed.ndjson', [JSON.stringify({ openid: 'm1', time: iso(Y, 2), event_id: 'm1' }), '{bad', JSON.stringify({ openid: 'm2', time: iso(Y, 2), age: 999 })].join('\n'));
    const r = ingest(mixed);
    expect(r.code).toBe(1);
    expect(r.sum).toMatchObject({ accepted: 1, rejected: 2 });
    expect(r.err).toMatch(/2 lines were rejected; 1 event stored/);
    expect(r.err).toMatch(/--allow-rejects/);
    const allowed = ingest('--allow-rejects', mixed);
    expect(allowed.code, allowed.err).toBe(0);
    expect(allowed.sum).toMatchObject({ accepted: 0, duplicates: 1, rejected: 2 });
  });

  it('lists rejected lines sorted by line, the first 100, and says how many more there were', () => {
    // In every batch of the reader (5,000 lines), unreadable lines and rejected events are interleaved.
    const lines: string[] = [];
    for (let i = 1; i <= 12_000; i++) {
      if (i % 97 === 0) lines.push('{not json');
      else if (i % 89 === 0) lines.push(JSON.stringify({ openid: `s${i}`, time: iso(Y, 3), gender: 'robot' }));
      else lines.push(JSON.stringify({ openid: `s${i}`, time: iso(Y, 3), event_id: `s${i}` }));
    }
    const r = ingest('--allow-rejects', file('sorted.ndjson', lines.join('\n')));
    expect(r.code, r.err).toBe(0);
    const bad = lines.map((l, i) => (l.startsWith('{not') || l.includes('robot') ? i + 1 : 0)).filter(Boolean);
    expect(r.sum?.rejected).toBe(bad.length);
    expect(r.sum?.errors.map((e) => e.line)).toEqual(bad.slice(0, 100));
    expect(r.sum?.errors_not_listed).toBe(bad.length - 100);
    expect(r.err).toMatch(new RegExp(`${bad.length} lines were rejected \\(the first 100 are listed\\)`));
  });

  it('exits 2 on a file that cannot be read: nothing stored when it is missing, the summary of what was stored when it breaks off', () => {
    const good = file('before.ndjson', `${JSON.stringify({ openid: 'b1', time: iso(Y, 4), event_id: 'b1' })}\n`);
    const missing = ingest(good, join(dir, 'missing.ndjson'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/missing\.ndjson: cannot be read \(no such file\); nothing was stored/);
    expect(missing.sum).toBeUndefined();

    // A GBK CSV (what Excel on Chinese Windows saves): named as not UTF-8, with the line; the file before it is stored.
    const gbk = Buffer.concat([
      Buffer.from(`openid,time,city\ngb1,${iso(Y, 5)},`),
      Buffer.from([0xb9, 0xe3, 0xd6, 0xdd]), // 广州 in GBK
      Buffer.from(`\ngb2,${iso(Y, 5)},`),
      Buffer.from([0xc9, 0xee, 0xdb, 0xda]), // 深圳 in GBK
      Buffer.from('\n'),
    ]);
    const gbkFile = file('excel.csv', gbk);
    const broken = ingest(good, gbkFile);
    expect(broken.code).toBe(2);
    expect(broken.err).toMatch(/excel\.csv is not UTF-8 text \(line 2, byte \d+\).*GBK.*--encoding gbk/);
    expect(broken.err).toMatch(/stored before it: 1 event\)/); // b1, from the file before
    expect(broken.sum).toMatchObject({ accepted: 1, duplicates: 0 });

    // Read as what it is, it goes in.
    const asGbk = ingest('--encoding', 'gbk', gbkFile);
    expect(asGbk.code, asGbk.err).toBe(0);
    expect(asGbk.sum).toMatchObject({ accepted: 2, rejected: 0 });
    const cities = portraitJson(Y, Y).visit_uv.city;
    expect(cities.find((c) => c.id === 4401)).toMatchObject({ name: '广州', value: 1 });
    expect(cities.find((c) => c.id === 4403)).toMatchObject({ name: '深圳', value: 1 });

    const utf16 = ingest(file('unicode.ndjson', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"openid":"x"}\n', 'utf16le')])));
    expect(utf16.code).toBe(2);
    expect(utf16.err).toMatch(/unicode\.ndjson is not UTF-8 text.*UTF-16/);
    expect(ingest('--encoding', 'klingon', good).err).toMatch(/unknown text encoding "klingon"/);
  });

  it('reads times without an offset in the zone --tz names, and says how when it is not given', () => {
    // 23:30 on day Y in Shanghai is 15:30 UTC: with --tz UTC the same text is day Y+1 in Shanghai (today), not Y.
    const csv = file('mysql.csv', `openid,time,gender\ntz1,${wall(Y, 23).replace('23:00:00', '23:30:00')},1\ntz2,${wall(Y - 1, 10)},2\n`);
    const without = ingest(csv);
    expect(without.code).toBe(1);
    expect(without.sum?.errors[0]?.reason).toMatch(/has no UTC offset.*--tz Asia\/Shanghai/);
    const shanghai = ingest('--tz', 'Asia/Shanghai', csv);
    expect(shanghai.code, shanghai.err).toBe(0);
    expect(shanghai.sum).toMatchObject({ accepted: 2, rejected: 0 });
    const one = portraitJson(Y, Y).visit_uv.genders;
    expect(one.find((g) => g.id === 1)?.value).toBe(1); // tz1 on day Y
    const before = portraitJson(Y - 1, Y - 1).visit_uv.genders;
    expect(before.find((g) => g.id === 2)?.value).toBe(1); // tz2 on day Y-1

    const json = file('excel.json', JSON.stringify([{ openid: 'tz3', time: wall(Y - 2, 8).replace(/-/g, '/'), gender: 2 }]));
    expect(ingest('--tz', 'Europe/Berlin', json).sum).toMatchObject({ accepted: 1 });
    const bad = ingest('--tz', 'Mars/Olympus', json);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/unknown time zone "Mars\/Olympus"/);
  });
});
