import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The package as its users get it: `datacube/sdk` resolved by package name through package.json `exports` to the
// compiled dist/ (built by the test setup), type-checked by a strict consumer project, imported from plain
// JavaScript, and depending on nothing at run time.

const ROOT = resolve(import.meta.dirname, '..', '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const CONSUMER = join(ROOT, 'test', 'sdk-consumer');

function tsc(project: string): { code: number; output: string } {
  const r = spawnSync(process.execPath, [TSC, '-p', project], { encoding: 'utf8' });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

/** The README's SDK examples (the ```ts blocks of its "TypeScript SDK" section). */
function readmeExamples(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/\n## /).find((s) => s.startsWith('TypeScript SDK')) ?? '';
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

/**
 * A project outside the repository that has the package installed (node_modules/datacube → this checkout), with
 * the consumer and the README's examples (given the APPID and SECRET they leave to the reader).
 */
function outsideProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'datacube-sdk-consumer-'));
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(ROOT, join(dir, 'node_modules', 'datacube'), 'dir');
  symlinkSync(join(ROOT, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');
  symlinkSync(join(ROOT, 'node_modules', 'undici-types'), join(dir, 'node_modules', 'undici-types'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'a-consumer', private: true, type: 'module' }));
  copyFileSync(join(CONSUMER, 'consumer.ts'), join(dir, 'consumer.ts'));
  const files = ['consumer.ts'];
  readmeExamples().forEach((code, i) => {
    files.push(`readme-${i}.ts`);
    writeFileSync(join(dir, `readme-${i}.ts`), `declare const APPID: string;\ndeclare const SECRET: string;\n${code}\nexport {};\n`);
  });
  const config = JSON.parse(readFileSync(join(CONSUMER, 'tsconfig.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '')) as Record<string, unknown>;
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ ...config, files }));
  return dir;
}

describe('the datacube/sdk package', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('type-checks a strict consumer that imports it by name (NodeNext and bundler resolution)', () => {
    for (const project of ['tsconfig.json', 'tsconfig.bundler.json']) {
      const r = tsc(join(CONSUMER, project));
      expect(r.output, project).toBe('');
      expect(r.code, project).toBe(0);
    }
  });

  it('type-checks from a project that installed it (the README examples too), and refuses a wrong field name there', () => {
    expect(readmeExamples()).toHaveLength(2);
    const dir = outsideProject();
    dirs.push(dir);
    const good = tsc(join(dir, 'tsconfig.json'));
    expect(good.output).toBe('');
    expect(good.code).toBe(0);

    writeFileSync(
      join(dir, 'consumer.ts'),
      [
        "import { WeChatClient } from 'datacube/sdk';",
        "const client = new WeChatClient({ appid: 'wx1', secret: 's' });",
        "await client.analysis.getUserPortrait({ beginDate: '20261121', endDat: '20261127' });",
        "const p = await client.datacube.getUserPortraitRaw({ begin_date: '20261121', end_date: '20261127' });",
        'p.visit_uv.devices[0]?.id;',
      ].join('\n'),
    );
    for (const f of readdirSync(dir).filter((n) => n.startsWith('readme-'))) rmSync(join(dir, f));
    writeFileSync(join(dir, 'tsconfig.json'), readFileSync(join(dir, 'tsconfig.json'), 'utf8').replace(/"files":\[[^\]]*\]/, '"files":["consumer.ts"]'));
    const bad = tsc(join(dir, 'tsconfig.json'));
    expect(bad.code).not.toBe(0);
    expect(bad.output).toMatch(/consumer\.ts\(3,\d+\): error TS2561: .*'endDat' does not exist in type 'DateRange'/);
    expect(bad.output).toMatch(/consumer\.ts\(5,\d+\): error TS2339: Property 'id' does not exist on type 'DeviceItem'/);
  });

  it('imports from plain JavaScript (ESM) by package name and works without TypeScript', () => {
    const dir = outsideProject();
    dirs.push(dir);
    writeFileSync(
      join(dir, 'use.mjs'),
      [
        "import * as sdk from 'datacube/sdk';",
        "const client = new sdk.WeChatClient({ appid: 'wx1', secret: 's', clock: () => Date.parse('2026-11-27T16:30:00Z') });",
        "const err = new sdk.WeChatApiError(45011, 'api minute-quota reach limit must slower retry next minute rid: 5fbb16b0-1827960a-4cec5692');",
        'console.log(JSON.stringify({ exports: Object.keys(sdk).sort(), base: client.baseUrl, week: client.windows.last7Days(), kind: err.kind, rid: err.rid }));',
      ].join('\n'),
    );
    const out = JSON.parse(execFileSync(process.execPath, [join(dir, 'use.mjs')], { cwd: dir, encoding: 'utf8' })) as Record<string, unknown>;
    expect(out).toEqual({
      exports: expect.arrayContaining(['DatacubeIngest', 'IngestEventError', 'MemoryTokenStore', 'WeChatApiError', 'WeChatClient', 'windows', 'windowsAt']) as unknown,
      base: 'https://api.weixin.qq.com',
      week: { beginDate: '20261121', endDate: '20261127' },
      kind: 'rate-limit',
      rid: '5fbb16b0-1827960a-4cec5692',
    });
  });

  it('needs nothing at run time but its own files: no package, no Node built-in', () => {
    const seen = new Set<string>();
    const bare: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const js = readFileSync(file, 'utf8');
      for (const m of js.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const spec = m[1] ?? m[2] ?? '';
        if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
        else bare.push(`${relative(ROOT, file)}: ${spec}`);
      }
    };
    visit(join(ROOT, 'dist', 'sdk', 'index.js'));
    expect(bare).toEqual([]);
    const files = [...seen].map((f) => relative(join(ROOT, 'dist'), f)).sort();
    expect(files.filter((f) => !f.startsWith('sdk/'))).toEqual(['domain/day.js', 'domain/errors.js', 'domain/event.js']);
    expect(files).not.toContain('sdk/testing.js');

    // …and every one of them (with its declarations) is in what npm would publish.
    const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' })) as { files: { path: string }[] }[];
    const published = new Set(packed[0]?.files.map((f) => f.path));
    for (const f of files) {
      expect(published.has(`dist/${f}`), f).toBe(true);
      expect(published.has(`dist/${f.replace(/\.js$/, '.d.ts')}`), f).toBe(true);
    }
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(pkg.exports['./sdk']).toEqual({ types: './dist/sdk/index.d.ts', import: './dist/sdk/index.js' });
  });
});
