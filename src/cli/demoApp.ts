import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The demo app's credentials, kept in the data directory (mode 0600) so `npm start` can print them on every
 * start. The demo app is the only app whose secret is kept in clear.
 */
export interface DemoCredentials {
  appid: string;
  secret: string;
}

export function readDemoCredentials(dataDir: string): DemoCredentials | undefined {
  const p = join(dataDir, 'demo.json');
  if (!existsSync(p)) return undefined;
  try {
    const v = JSON.parse(readFileSync(p, 'utf8')) as Partial<DemoCredentials>;
    if (typeof v.appid === 'string' && typeof v.secret === 'string') return { appid: v.appid, secret: v.secret };
  } catch {
    // unreadable: a new demo app will be made
  }
  return undefined;
}

export function writeDemoCredentials(dataDir: string, c: DemoCredentials): void {
  writeFileSync(join(dataDir, 'demo.json'), `${JSON.stringify(c)}\n`, { mode: 0o600 });
}
