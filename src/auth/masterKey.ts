import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The server's master key (seals app secrets and stable tokens): `DATACUBE_MASTER_KEY` if set, otherwise
 * `<data>/master.key`, created (mode 0600) on first use.
 */
export function loadMasterKey(dataDir: string, fromEnv: string | undefined): string {
  if (fromEnv) return fromEnv.toLowerCase();
  const path = join(dataDir, 'master.key');
  if (existsSync(path)) {
    const key = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`${path} does not hold a 64-hex-character key`);
    return key;
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32).toString('hex');
  writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}
