import { yesterday, type Clock } from '../domain/clock.ts';
import { generateDemoEvents } from '../demo/index.ts';
import type { Backend } from './backend.ts';
import { readDemoCredentials, writeDemoCredentials, type DemoCredentials } from './demoApp.ts';

export interface DemoFill {
  credentials: DemoCredentials;
  accepted: number;
  duplicates: number;
}

/** Creates (or reuses) the demo app and fills it with synthetic visits ending yesterday. */
export async function fillDemo(
  backend: Backend,
  dataDir: string,
  clock: Clock,
  opts: { users: number; days: number; onProgress?: (done: number) => void },
): Promise<DemoFill> {
  let creds = readDemoCredentials(dataDir);
  if (!creds || !(await backend.hasApp(creds.appid))) {
    const app = await backend.createApp({ name: 'demo' });
    creds = { appid: app.appid, secret: app.secret };
    writeDemoCredentials(dataDir, creds);
  }
  let accepted = 0;
  let duplicates = 0;
  for (const batch of generateDemoEvents({ users: opts.users, days: opts.days, endDay: yesterday(clock) })) {
    const r = await backend.ingest(creds.appid, batch);
    if (r.rejected.length > 0) throw new Error(`demo data was rejected: ${r.rejected[0]?.errmsg ?? ''}`);
    accepted += r.accepted;
    duplicates += r.duplicates;
    opts.onProgress?.(accepted + duplicates);
  }
  return { credentials: creds, accepted, duplicates };
}
