import { RetryLaterError } from '../domain/errors.ts';

/**
 * Runs at most `concurrency` tasks at once, the rest in arrival order; past `maxQueued` waiting, refuses at once
 * (45011, Retry-After 1). Used for the app-secret checks: scrypt runs on libuv's thread pool (4 threads by
 * default), which DuckDB's queries and file I/O share, so unbounded concurrent checks would starve the store and
 * /healthz.
 */
export class WorkPool {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxQueued = 256,
  ) {}

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.queue.length >= this.maxQueued) throw new RetryLaterError('too many secret checks are waiting; retry shortly', 1);
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }
}
