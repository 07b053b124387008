import { ManualClock } from '../domain/clock.ts';
import { FaultBook, type FaultBookOptions } from './FaultBook.ts';

export interface TestModeOptions {
  /** Where the clock starts (epoch ms); it stands still until moved. */
  clockMs: number;
  /** The seed of the demo data and of `ratio` fault draws. */
  seed?: number;
  /** The server's open-API table (names and paths of the analysis APIs a fault rule may name). */
  apis: FaultBookOptions['apis'];
}

/**
 * `datacube serve --test-mode`: a clock that stands still until a test moves it, and programmable faults. The server
 * passes `clock` to every service (windows, token lifetimes and overlap, quotas per day, force_refresh limits, caches,
 * request ids all follow it) and answers `/__datacube/clock` and `/__datacube/faults`. Without test mode none of it
 * exists.
 */
export class TestMode {
  readonly clock: ManualClock;
  readonly faults: FaultBook;
  readonly seed: number | undefined;
  /** The seeded demo app, once made (shown by GET /__datacube). */
  demo: { appid: string; secret: string } | undefined;

  constructor(opts: TestModeOptions) {
    this.clock = new ManualClock(opts.clockMs);
    this.seed = opts.seed;
    this.faults = new FaultBook({ apis: opts.apis, seed: opts.seed });
  }
}

/**
 * Whether a listen address only accepts connections from this machine: `localhost`, 127.0.0.0/8, `::1` (and their
 * IPv4-mapped form). `0.0.0.0`, `::` and every other address are reachable from elsewhere.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
