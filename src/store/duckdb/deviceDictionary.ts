import type { DuckDBConnection } from '@duckdb/node-api';

/** One app's device dictionary (`app_devices`): name → id, ids 1.. in order of admission. */
export interface AppDictionary {
  ids: Map<string, number>;
  maxId: number;
}

/**
 * The dictionaries of the apps that appended most recently, so `append` can decide admissions without a query;
 * others are read back from `app_devices` when next needed. At most `maxApps` are kept (each holds at most the cap).
 */
export class DeviceDictionaries {
  private readonly byApp = new Map<number, AppDictionary>();
  constructor(private readonly maxApps = 32) {}

  async get(conn: DuckDBConnection, app: number): Promise<AppDictionary> {
    const hit = this.byApp.get(app);
    if (hit) {
      this.byApp.delete(app);
      this.byApp.set(app, hit);
      return hit;
    }
    const r = await conn.runAndReadAll('SELECT name, id FROM app_devices WHERE app = $1', [app]);
    const dict: AppDictionary = { ids: new Map(), maxId: 0 };
    for (const [name, id] of r.getRows()) {
      const n = Number(id);
      dict.ids.set(String(name), n);
      if (n > dict.maxId) dict.maxId = n;
    }
    if (this.byApp.size >= this.maxApps) {
      const oldest = this.byApp.keys().next().value;
      if (oldest !== undefined) this.byApp.delete(oldest);
    }
    this.byApp.set(app, dict);
    return dict;
  }

  /** Adds committed admissions to the app's dictionary (if it is held). */
  apply(app: number, admitted: readonly { id: number; name: string }[]): void {
    const dict = this.byApp.get(app);
    if (!dict) return;
    for (const a of admitted) {
      dict.ids.set(a.name, a.id);
      if (a.id > dict.maxId) dict.maxId = a.id;
    }
  }

  /** Forgets the app's dictionary (after a failed write, so it is read back as committed). */
  forget(app: number): void {
    this.byApp.delete(app);
  }
}
