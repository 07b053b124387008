import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

/** The dashboard's files: `web/` at the package root (src/ and dist/ sit at the same depth, so this holds for both). */
export const WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** One file as served: its bytes, a gzip copy when that is smaller, and an ETag. */
export interface LoadedAsset {
  type: string;
  body: Buffer;
  gzip: Buffer | undefined;
  etag: string;
}

/**
 * Everything the dashboard serves, from a fixed table made at start-up (no path from a request ever reaches the
 * file system): the page and its modules from `web/`, ECharts' prebuilt browser module from node_modules, and the
 * China map (ECharts 4's china.json, vendored with its licence). Files are read on first use and kept in memory
 * with a gzip copy, so the ~1 MB of ECharts is read and compressed once.
 */
export class Assets {
  private readonly files = new Map<string, string>();
  private readonly loaded = new Map<string, Promise<LoadedAsset>>();

  constructor(webDir: string = WEB_DIR) {
    for (const f of readdirSync(webDir)) {
      if (/^[a-z][a-z0-9-]*\.(js|css|svg|html)$/.test(f) && !f.includes('.test.')) this.files.set(f, join(webDir, f));
    }
    const require = createRequire(import.meta.url);
    const echartsDir = join(require.resolve('echarts/package.json'), '..');
    this.files.set('echarts.mjs', join(echartsDir, 'dist/echarts.esm.min.mjs'));
    this.files.set('licenses/echarts-LICENSE.txt', join(echartsDir, 'LICENSE'));
    this.files.set('licenses/echarts-NOTICE.txt', join(echartsDir, 'NOTICE'));
    this.files.set('china.json', join(webDir, 'vendor/china-map/china.json'));
    this.files.set('licenses/china-map-LICENSE.txt', join(webDir, 'vendor/china-map/LICENSE'));
    this.files.set('licenses/china-map-NOTICE.txt', join(webDir, 'vendor/china-map/NOTICE'));
  }

  /** The names served under /dashboard/assets/ (and index.html, served at /). */
  names(): string[] {
    return [...this.files.keys()];
  }

  /** The asset called `name`, or undefined when there is none. */
  get(name: string): Promise<LoadedAsset> | undefined {
    const file = this.files.get(name);
    if (file === undefined) return undefined;
    let p = this.loaded.get(name);
    if (!p) {
      p = load(file);
      // A failed read is not cached: the next request tries again.
      p.catch(() => this.loaded.delete(name));
      this.loaded.set(name, p);
    }
    return p;
  }
}

async function load(file: string): Promise<LoadedAsset> {
  const body = await readFile(file);
  const ext = extname(file) || '.txt';
  const type = TYPES[ext] ?? TYPES['.txt'] ?? 'application/octet-stream';
  const packed = body.length > 512 ? await gzipAsync(body, { level: 9 }) : undefined;
  return {
    type,
    body,
    gzip: packed && packed.length < body.length ? packed : undefined,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  };
}
