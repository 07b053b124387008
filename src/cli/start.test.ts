import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// `npm start` is `datacube serve --demo`: on an empty data directory it makes the demo app and prints two curl
// lines. Run those lines, as printed, in a shell against the real server.

const BIN = resolve(import.meta.dirname, '../../bin/datacube.js');

describe('npm start', () => {
  it('creates the demo app on first start, and its printed curl lines return a real portrait', async () => {
    const data = mkdtempSync(join(tmpdir(), 'datacube-start-'));
    const server = spawn(process.execPath, [BIN, 'serve', '--demo', '--port', '0', '--data', data], {
      env: { ...process.env, DATACUBE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    server.stdout.on('data', (b: Buffer) => (out += b.toString()));
    try {
      for (let i = 0; i < 600 && !/-d '\{"begin_date"/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      const lines = out.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('TOKEN=') || l.startsWith('curl '));
      expect(lines, out).toHaveLength(2);
      expect(out).toMatch(/Demo app: appid wx[0-9a-f]{16} {2}secret [0-9a-f]{32}/);
      const r = spawnSync('bash', ['-c', `${lines[0]}\n${lines[1]}`], { encoding: 'utf8', timeout: 60_000 });
      const outLines = r.stdout.trim().split('\n');
      const portrait = JSON.parse(outLines[outLines.length - 1] ?? '') as {
        ref_date: string;
        visit_uv: Record<string, { value: number }[]>;
        visit_uv_new: Record<string, unknown[]>;
      };
      expect(portrait.ref_date).toMatch(/^\d{8}-\d{8}$/);
      const active = portrait.visit_uv.genders?.reduce((s, g) => s + g.value, 0) ?? 0;
      expect(active).toBeGreaterThan(100);
      for (const dim of ['province', 'city', 'platforms', 'devices', 'ages']) {
        expect(portrait.visit_uv[dim]?.reduce((s, g) => s + g.value, 0), dim).toBe(active);
      }
      expect(portrait.visit_uv_new.province?.length).toBeGreaterThan(0);
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
      rmSync(data, { recursive: true, force: true });
    }
  }, 120_000);
});
