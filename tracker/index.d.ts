/** Options of `createTracker`. */
export interface TrackerOptions {
  /** datacube's base URL, e.g. `https://stats.example.com` (add it to the mini-program's request domains). */
  endpoint: string;
  /** The mini-program's appid, as datacube knows it. */
  appid: string;
  /** Events sent per request (1–100, default 20); a full batch is sent at once. */
  batchSize?: number;
  /** Longest time an event waits before it is sent, ms (default 10 000). */
  flushIntervalMs?: number;
  /** Unsent events kept (in memory and in wx storage across restarts); past it the oldest are dropped (default 1 000). */
  maxQueued?: number;
}

export interface TrackerStats {
  /** Events waiting to be sent. */
  queued: number;
  /** Events dropped: the queue was full, or datacube refused them as malformed. */
  dropped: number;
  /** Events datacube acknowledged since this start. */
  sent: number;
  /** Whether a request is under way. */
  sending: boolean;
}

export interface Tracker {
  /** Records an event of any type (`open`, `visit`, `share`, or your own) with extra fields (`page`, `stay`, …). */
  track(type: string, fields?: Record<string, unknown>): void;
  /** Sends the queued events now (a wait asked for by datacube's 45011 is still honoured). */
  flush(): void;
  /** The user's openid (from your backend: wx.login → code2session); queued events of the anonymous id take it. */
  setOpenid(openid: string): void;
  stats(): TrackerStats;
}

/**
 * Starts tracking: call in app.js before `App()`; wraps the global `App`, `Page` and `Component` (pages built with
 * Component: the page handlers in `methods`) and `Behavior`.
 */
export function createTracker(options: TrackerOptions): Tracker;
