import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a running server leaves in its data directory so CLI commands can go through it (mode 0600). */
export interface ServerFile {
  url: string;
  pid: number;
  adminKey: string;
}

export function serverFilePath(dataDir: string): string {
  return join(dataDir, 'server.json');
}

/** Written whole or not at all (a temporary file renamed over the old one), so a reader never sees half of it. */
export function writeServerFile(dataDir: string, f: ServerFile): void {
  const path = serverFilePath(dataDir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(f), { mode: 0o600 });
  renameSync(tmp, path);
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
    if (typeof v.url === 'string' && typeof v.pid === 'number' && typeof v.adminKey === 'string') return v as ServerFile;
  } catch {
    // A half-written or foreign file: treat as no server.
  }
  return undefined;
}

/** The running server that owns `dataDir`, if there is one that answers. */
export async function liveServer(dataDir: string): Promise<ServerFile | undefined> {
  const f = readServerFile(dataDir);
  if (!f) return undefined;
  try {
    process.kill(f.pid, 0);
  } catch {
    return undefined;
  }
  try {
    const r = await fetch(`${f.url}/healthz`, { signal: AbortSignal.timeout(3000) });
    return r.ok ? f : undefined;
  } catch {
    return undefined;
  }
}
