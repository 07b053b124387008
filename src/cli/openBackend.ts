import { loadConfig, type Config } from '../config.ts';
import { openServices } from '../services.ts';
import type { Backend } from './backend.ts';
import { LocalBackend } from './localBackend.ts';
import { RemoteBackend } from './remoteBackend.ts';
import { liveServer } from './serverFile.ts';

export interface StoreOptions {
  data?: string;
  store?: string;
}

export function configFrom(opts: StoreOptions): Config {
  return loadConfig(process.env, { dataDir: opts.data, store: opts.store });
}

/** Through the running server when one owns the data directory; otherwise straight to the store. */
export async function openBackend(opts: StoreOptions): Promise<Backend> {
  const config = configFrom(opts);
  const live = await liveServer(config.dataDir);
  if (live) return new RemoteBackend(live);
  return new LocalBackend(await openServices({ ...config, logLevel: 'silent' }));
}
