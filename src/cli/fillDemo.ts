import { seededAppCredentials } from '../auth/index.ts';
import { yesterday, type Clock } from '../domain/clock.ts';
import { generateDemoEvents } from '../demo/index.ts';
import type { Backend } from './backend.ts';
import { readDemoCredentials, writeDemoCredentials, type DemoCredentials } from './demoApp.ts';

export interface DemoFill {
  credentials: DemoCredentials;
  accepted: number;
  duplicates: number;
}

export interface DemoFillOptions {
  users: number;
  days: number;
  /**
   * Seeds everything: the app (its appid and secret, see `seededAppCredentials`) and the events. Same seed and same
   * clock (so the same yesterday), same data, byte for byte, on any machine. Without it: a random app, and the
   * generator's default seed.
   */
  seed?: number;
  onProgress?: (done: number) => void;
}

/** The demo app of a seed, created if absent. */
export async function seededDemoApp(backend: Backend, seed: number): Promise<DemoCredentials> {
  const creds = seededAppCredentials(seed);
  if (!(await backend.hasApp(creds.appid))) await backend.createApp({ name: `demo (seed ${seed})`, credentials: creds });
  return creds;
}

/**
 * Creates (or reuses) the demo app and fills it with synthetic visits ending yesterday by `clock` (through a running
 * server, its clock: see `Backend.now`).
 */
export async function fillDemo(backend: Backend, dataDir: string, clock: Clock, opts: DemoFillOptions): Promise<DemoFill> {
  let creds: DemoCredentials | undefined;
  if (opts.seed !== undefined) {
    creds = await seededDemoApp(backend, opts.seed);
    writeDemoCredentials(dataDir, creds);
  } else {
    creds = readDemoCredentials(dataDir);
    if (!creds || !(await backend.hasApp(creds.appid))) {
      const app = await backend.createApp({ name: 'demo' });
      creds = { appid: app.appid, secret: app.secret };
      writeDemoCredentials(dataDir, creds);
    }
  }
  const endDay = yesterday(clock);
  let accepted = 0;
  let duplicates = 0;
  for (const batch of generateDemoEvents({ users: opts.users, days: opts.days, endDay, seed: opts.seed })) {
    const r = await backend.ingest(creds.appid, batch);
    if (r.rejected.length > 0) throw new Error(`demo data was rejected: ${r.rejected[0]?.errmsg ?? ''}`);
    accepted += r.accepted;
    duplicates += r.duplicates;
    opts.onProgress?.(accepted + duplicates);
  }
  return { credentials: creds, accepted, duplicates };
}
