/** Starting bench/server.ts as a child process and talking to it. */
import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerReady } from './server.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface ChildServer extends ServerReady {
  child: ChildProcess;
  /** The store's append statistics (real mode, embedded store). */
  stats(): Promise<{ batches: number; commits: number } | null>;
  stop(): Promise<void>;
}

export async function startChildServer(args: string[]): Promise<ChildServer> {
  const child = fork(join(ROOT, 'bin', 'run-ts.js'), [join(ROOT, 'bench', 'server.ts'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ready = await new Promise<ServerReady>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`bench server exited (${String(code)}) before it was ready`));
    child.once('exit', onExit);
    child.once('message', (m: unknown) => {
      child.off('exit', onExit);
      if (typeof m === 'object' && m !== null && 'ready' in m) resolve((m as { ready: ServerReady }).ready);
      else reject(new Error(`bench server failed: ${JSON.stringify(m)}`));
    });
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    ...ready,
    child,
    stats() {
      return new Promise((resolve) => {
        const on = (m: unknown) => {
          if (typeof m === 'object' && m !== null && 'stats' in m) {
            child.off('message', on);
            resolve((m as { stats: { batches: number; commits: number } | null }).stats);
          }
        };
        child.on('message', on);
        child.send({ stats: true });
      });
    },
    async stop() {
      if (child.exitCode === null && child.connected) child.send({ stop: true });
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
