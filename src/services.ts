import { AnalysisService } from './analysis/index.ts';
import { AuthService, loadMasterKey, Sealer } from './auth/index.ts';
import type { Config } from './config.ts';
import { secureDataDir } from './dataDir.ts';
import { systemClock, type Clock } from './domain/clock.ts';
import { IngestService } from './ingest/index.ts';
import { LifecycleService } from './lifecycle/index.ts';
import { PortraitService } from './portrait/index.ts';
import { openStore, type Store } from './store/index.ts';

/** Everything a server or a local CLI command works with, wired together once. */
export interface Services {
  config: Config;
  clock: Clock;
  store: Store;
  auth: AuthService;
  ingest: IngestService;
  portrait: PortraitService;
  /** The rest of the analysis family (visit trends, retention, distributions, pages, daily summary). */
  analysis: AnalysisService;
  lifecycle: LifecycleService;
  close(): Promise<void>;
}

export async function openServices(config: Config, clock: Clock = systemClock, store?: Store): Promise<Services> {
  secureDataDir(config.dataDir);
  const s =
    store ?? (await openStore(config.store, config.dataDir, { maxDeviceNames: config.maxDeviceNames, maxDeriveBacklog: config.maxDeriveBacklog }));
  const sealer = new Sealer(loadMasterKey(config.dataDir, config.masterKey));
  const auth = new AuthService(s, clock, sealer, {
    tokenTtlSeconds: config.tokenTtlSeconds,
    defaultDailyQuota: config.dailyQuota,
    scryptConcurrency: config.scryptConcurrency,
    secretFailuresPerIp: config.secretFailuresPerIp,
    secretFailuresPerApp: config.secretFailuresPerApp,
  });
  const portrait = new PortraitService(s, clock, config.cacheEntries, s.backend === 'clickhouse');
  const analysis = new AnalysisService(s, clock, config.cacheEntries, s.backend === 'clickhouse');
  const ingest = new IngestService(s, clock, undefined, (appid) => auth.getApp(appid));
  // Every cache of answers, dropped for an app whenever its data changes (events stored, users deleted, pruned).
  const invalidate = (appid: string): void => {
    portrait.invalidate(appid);
    analysis.invalidate(appid);
  };
  ingest.onStored(invalidate);
  const lifecycle = new LifecycleService(s, clock, { keyFingerprint: sealer.fingerprint(), invalidate });
  let closed = false;
  return {
    config,
    clock,
    store: s,
    auth,
    ingest,
    portrait,
    analysis,
    lifecycle,
    async close() {
      if (closed) return;
      closed = true;
      await lifecycle.stop();
      await auth.close().catch(() => undefined);
      await s.close();
    },
  };
}
