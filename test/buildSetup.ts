/**
 * Compiles src/ into dist/ (`npm run build`, incremental) before any test runs, so the tests that start the real
 * `datacube` command in a child process (bin/datacube.js runs dist/) test the sources as they are now.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

export function setup(): void {
  const root = resolve(import.meta.dirname, '..');
  const tsc = resolve(root, 'node_modules/typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    const out = e as { stdout?: string; stderr?: string };
    throw new Error(`npm run build failed, so the CLI tests cannot run:\n${out.stdout ?? ''}${out.stderr ?? ''}`);
  }
}
