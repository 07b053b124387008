import { loadConfig, type Config } from '../config.ts';
import { openServices } from '../services.ts';
import type { Backend } from './backend.ts';
import { LocalBackend } from './localBackend.ts';
import { RemoteBackend } from './remoteBackend.ts';
import { findServer } from './serverFile.ts';

export interface StoreOptions {
  data?: string;
  store?: string;
}

export function configFrom(opts: StoreOptions): Config {
  return loadConfig(process.env, { dataDir: opts.data, store: opts.store });
}

/**
 * Through the running server when one owns the data directory; otherwise straight to the store. A server that
 * exists but does not answer /healthz in time (overloaded) is named in the error, rather than the store's "in use".
 */
export async function openBackend(opts: StoreOptions): Promise<Backend> {
  const config = configFrom(opts);
  const found = await findServer(config.dataDir);
  if (found.state === 'live') return new RemoteBackend(found.server);
  try {
    return new LocalBackend(await openServices({ ...config, logLevel: 'silent' }));
  } catch (e) {
    if (found.state === 'silent') {
      const { pid, url } = found.server;
      throw new Error(`a datacube server (pid ${pid}) owns ${config.dataDir} but did not answer ${url}/healthz in time (it may be overloaded); try again`);
    }
    throw e;
  }
}
