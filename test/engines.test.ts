/**
 * The Node versions datacube supports are what package.json's `engines` says, and every installed package agrees:
 * `npm ci` refuses a mismatch (.npmrc engine-strict), and this test names the package that would not run there.
 * It runs on the Node of the machine, which must itself be supported (CI: Node 20).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Fastify from 'fastify';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const supported = pkg.engines.node;

/** Every package installed in node_modules (scoped ones and nested node_modules included): name → engines.node. */
function installed(dir = join(root, 'node_modules'), out = new Map<string, string | undefined>()): Map<string, string | undefined> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.name.startsWith('@')) {
      installed(path, out);
      continue;
    }
    try {
      const p = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as { name?: string; version?: string; engines?: { node?: unknown } };
      out.set(`${p.name ?? entry.name}@${p.version ?? '?'}`, typeof p.engines?.node === 'string' ? p.engines.node : undefined);
    } catch {
      // not a package
    }
    try {
      installed(join(path, 'node_modules'), out);
    } catch {
      // no nested node_modules
    }
  }
  return out;
}

describe('supported Node versions', () => {
  it('are stated in package.json and include the Node running this test', () => {
    expect(semver.validRange(supported)).not.toBeNull();
    expect(semver.satisfies(process.version, supported), `${process.version} is not in "${supported}"`).toBe(true);
    expect(readFileSync(join(root, '.npmrc'), 'utf8')).toMatch(/^engine-strict=true$/m);
  });

  it('are supported by every installed package', () => {
    const refusing: string[] = [];
    for (const [name, range] of installed()) {
      if (range === undefined || !semver.validRange(range)) continue;
      if (!semver.subset(supported, range, { includePrerelease: false })) refusing.push(`${name} wants node ${range}`);
    }
    expect(refusing, `supported: ${supported}`).toEqual([]);
  });

  it('serve cookies through light-my-request (cookie@1, which runs on Node 20) as Fastify uses them', async () => {
    const app = Fastify();
    app.get('/', (_req, reply) => reply.header('set-cookie', 'a=b; Path=/; HttpOnly').send('ok'));
    const r = await app.inject({ method: 'GET', url: '/', cookies: { x: 'y' } });
    expect(r.cookies).toEqual([{ name: 'a', value: 'b', path: '/', httpOnly: true }]);
    await app.close();
  });
});
