import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a running server leaves in its data directory so CLI commands can go through it (mode 0600). */
export interface ServerFile {
  url: string;
  pid: number;
  adminKey: string;
  /** The server's request-body limit, so the CLI splits what it sends to fit (absent from older servers). */
  maxBodyBytes?: number;
  /** The store it serves, as `storeIdentity` writes it (no password); absent in files of older versions (DuckDB). */
  store?: string;
}

export function serverFilePath(dataDir: string): string {
  return join(dataDir, 'server.json');
}

/** Written whole or not at all (a temporary file renamed over the old one), so a reader never sees half of it. */
export function writeServerFile(dataDir: string, f: ServerFile): void {
  const path = serverFilePath(dataDir);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(f), { mode: 0o600 });
    renameSync(tmp, path);
  } catch (e) {
    // It holds the admin key: not left behind by a start that fails here.
    try {
      rmSync(tmp, { force: true });
    } catch {
      // The first error is the one to report.
    }
    throw e;
  }
}

export function removeServerFile(dataDir: string, pid = process.pid): void {
  const f = readServerFile(dataDir);
  if (f && f.pid === pid) rmSync(serverFilePath(dataDir), { force: true });
}

export function readServerFile(dataDir: string): ServerFile | undefined {
  const p = serverFilePath(dataDir);
  if (!existsSync(p)) return undefined;
  try {
    const v = JSON.parse(readFileSync(p, 'utf8')) as Partial<ServerFile>;
    if (typeof v.url === 'string' && typeof v.pid === 'number' && typeof v.adminKey === 'string') {
      return { url: v.url, pid: v.pid, adminKey: v.adminKey, ...(typeof v.store === 'string' ? { store: v.store } : {}) };
    }
  } catch {
    // A half-written or foreign file: treat as no server.
  }
  return undefined;
}

/**
 * The server named in `dataDir`'s server.json: `live` when it answers /healthz, `silent` when its process exists but
 * it did not answer within `timeoutMs` (busy, or the pid now belongs to another process), `none` otherwise.
 */
export async function findServer(dataDir: string, timeoutMs = 3000): Promise<{ state: 'none' } | { state: 'live' | 'silent'; server: ServerFile }> {
  const f = readServerFile(dataDir);
  if (!f) return { state: 'none' };
  try {
    process.kill(f.pid, 0);
  } catch {
    return { state: 'none' };
  }
  try {
    const r = await fetch(`${f.url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    return { state: r.ok ? 'live' : 'silent', server: f };
  } catch {
    return { state: 'silent', server: f };
  }
}

/** The running server that owns `dataDir`, if there is one that answers. */
export async function liveServer(dataDir: string): Promise<ServerFile | undefined> {
  const found = await findServer(dataDir);
  return found.state === 'live' ? found.server : undefined;
}
