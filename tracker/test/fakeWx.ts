/**
 * A stand-in for WeChat's mini-program runtime, enough for the tracker: the global `wx` (storage, request, network
 * status, device info), `App`, `Page`, `Component` and `Behavior`. `wx.request` really sends, with the Referer and User-Agent WeChat would
 * set, so the tracker talks to a real datacube server. Test support only.
 */
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';

/** One HTTP request with node:http (not fetch: its timers read Date.now, which the tests move). */
function post(url: string, method: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h[k] = v;
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: h });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const WECHAT_UA =
  'Mozilla/5.0 (Linux; Android 11; PEGM00 Build/RKQ1.200903.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/86.0.4240.99 XWEB/4317 MMWEBSDK/20220903 Mobile Safari/537.36 MMWEBID/1234 MicroMessenger/8.0.28.2240(0x28001C35) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64 miniProgram/wx1234567890abcdef';

export interface RequestLog {
  at: number;
  status: number | 'failed' | 'lost';
  events: number;
  errcode?: number;
}

type Options = { url: string; method?: string; data?: unknown; header?: Record<string, string>; success?: (r: { statusCode: number; data: unknown; header: Record<string, string> }) => void; fail?: (e: { errMsg: string }) => void };
type PageOptions = Record<string, (this: PageInstance, ...args: unknown[]) => unknown>;
export type PageInstance = Record<string, unknown> & { route: string };
/** What Component() and Behavior() are given: `methods` and `behaviors` are the fields the fake acts on. */
export type ComponentOptions = { methods?: Record<string, (this: ComponentInstance, ...args: unknown[]) => unknown>; behaviors?: unknown[] } & Record<string, unknown>;
/** A component instance: its methods (its behaviors' and its own) on `this`; a page built with Component has a route. */
export type ComponentInstance = Record<string, unknown> & { is: string; route?: string };

export interface Tracker {
  track(type: string, fields?: Record<string, unknown>): void;
  flush(): void;
  setOpenid(openid: string): void;
  stats(): { queued: number; dropped: number; sent: number; sending: boolean };
}

/** Storage outlives a "process": pass the same one to the next FakeWx to restart the mini-program. */
export class FakeStorage {
  readonly data = new Map<string, string>();
}

export class FakeWx {
  online = true;
  /** The next request reaches the server, but its answer is lost (the phone went offline, or the app was killed). */
  loseNextAnswer = false;
  /** The next request's body is replaced by bytes that are not JSON. */
  garbleNextBody = false;
  /** Answers are handed over as their text, unparsed (wx.request with a dataType other than json). */
  textAnswers = false;
  /** No more callbacks: the "process" was killed. */
  dead = false;
  readonly log: RequestLog[] = [];
  private readonly listeners: ((r: { isConnected: boolean; networkType: string }) => void)[] = [];
  app: Record<string, (...args: unknown[]) => unknown> | undefined;
  /** Options given to Page(), in order. */
  readonly pages: PageOptions[] = [];
  /** Options given to Component(), in order. */
  readonly components: ComponentOptions[] = [];
  /** Options given to Behavior(), by the id Behavior() returned (a string, as in WeChat). */
  readonly behaviors = new Map<string, ComponentOptions>();

  constructor(
    readonly appid: string,
    readonly storage = new FakeStorage(),
    readonly device: { brand: string; model: string; platform: string } | undefined = { brand: 'OPPO', model: 'PEGM00', platform: 'android' },
    readonly legacy = false,
  ) {}

  /** Installs wx, App, Page, Component and Behavior as globals, loads the tracker afresh and returns its createTracker. */
  install(): (o: { endpoint: string; appid: string; batchSize?: number; flushIntervalMs?: number; maxQueued?: number }) => Tracker {
    const g = globalThis as Record<string, unknown>;
    g.wx = this.api();
    g.App = (o: Record<string, (...args: unknown[]) => unknown>) => {
      this.app = o;
    };
    g.Page = (o: PageOptions) => {
      this.pages.push(o);
    };
    g.Component = (o: ComponentOptions) => {
      this.components.push(o);
    };
    g.Behavior = (o: ComponentOptions) => {
      const id = `behavior-${this.behaviors.size}`;
      this.behaviors.set(id, o);
      return id;
    };
    const require = createRequire(import.meta.url);
    const path = require.resolve('../src/index.js');
    delete require.cache[path];
    return (require(path) as { createTracker: FakeWx['install'] extends () => infer C ? C : never }).createTracker;
  }

  /** A page instance as the runtime makes one from the options given to the `index`-th Page() call. */
  page(index: number, route: string): PageInstance {
    const o = this.pages[index];
    if (!o) throw new Error(`no page ${index}`);
    const inst = Object.create(o) as PageInstance;
    inst.route = route;
    return inst;
  }

  /**
   * An instance of the `index`-th Component() call, as the runtime makes one: the methods of its behaviors (a
   * behavior's own behaviors first, later behaviors over earlier ones), then its own methods over them (WeChat's rule
   * for methods of the same name). With a `route` it is a page built with Component; without, a plain component.
   */
  component(index: number, is: string, route?: string): ComponentInstance {
    const o = this.components[index];
    if (!o) throw new Error(`no component ${index}`);
    const inst: ComponentInstance = { is };
    if (route !== undefined) inst.route = route;
    const merge = (def: ComponentOptions): void => {
      for (const b of def.behaviors ?? []) {
        const used = typeof b === 'string' ? this.behaviors.get(b) : undefined;
        if (used) merge(used);
      }
      for (const [k, f] of Object.entries(def.methods ?? {})) inst[k] = f;
    };
    merge(o);
    return inst;
  }

  setOnline(on: boolean): void {
    this.online = on;
    for (const l of this.listeners) l({ isConnected: on, networkType: on ? 'wifi' : 'none' });
  }

  private api(): Record<string, unknown> {
    const store = this.storage.data;
    const api: Record<string, unknown> = {
      getStorageSync: (k: string) => {
        const v = store.get(k);
        return v === undefined ? '' : (JSON.parse(v) as unknown);
      },
      setStorageSync: (k: string, v: unknown) => {
        if (!this.dead) store.set(k, JSON.stringify(v));
      },
      getSystemInfoSync: () => ({ ...this.device, SDKVersion: '2.10.0' }),
      onNetworkStatusChange: (cb: (r: { isConnected: boolean; networkType: string }) => void) => void this.listeners.push(cb),
      getNetworkType: (o: { success?: (r: { networkType: string }) => void }) => o.success?.({ networkType: this.online ? 'wifi' : 'none' }),
      request: (o: Options) => void this.request(o),
    };
    if (!this.legacy) {
      api.getDeviceInfo = () => ({ ...this.device, system: 'Android 11' });
      api.getAppBaseInfo = () => ({ SDKVersion: '3.4.0', language: 'zh_CN' });
    }
    return api;
  }

  private async request(o: Options): Promise<void> {
    const events = Array.isArray((o.data as { events?: unknown[] } | undefined)?.events) ? ((o.data as { events: unknown[] }).events.length) : 0;
    if (this.dead) return;
    if (!this.online) {
      this.log.push({ at: performance.now(), status: 'failed', events });
      setTimeout(() => !this.dead && o.fail?.({ errMsg: 'request:fail -1:net::ERR_INTERNET_DISCONNECTED' }), 1);
      return;
    }
    const lose = this.loseNextAnswer;
    this.loseNextAnswer = false;
    const body = this.garbleNextBody ? '{"events": [oops' : JSON.stringify(o.data);
    this.garbleNextBody = false;
    try {
      const r = await post(
        o.url,
        o.method ?? 'GET',
        { ...(o.header ?? {}), referer: `https://servicewechat.com/${this.appid}/devtools/page-frame.html`, 'user-agent': WECHAT_UA },
        body,
      );
      const text = r.text;
      let data: unknown = text;
      try {
        data = JSON.parse(text);
      } catch {
        // wx.request gives the text when it is not JSON
      }
      const errcode = (data as { errcode?: number }).errcode;
      if (lose || this.dead) {
        this.log.push({ at: performance.now(), status: 'lost', events, errcode });
        if (!this.dead) o.fail?.({ errMsg: 'request:fail timeout' });
        return;
      }
      this.log.push({ at: performance.now(), status: r.status, events, errcode });
      o.success?.({ statusCode: r.status, data: this.textAnswers ? text : data, header: r.headers });
    } catch (e) {
      this.log.push({ at: performance.now(), status: 'failed', events });
      if (!this.dead) o.fail?.({ errMsg: `request:fail ${String(e)}` });
    }
  }
}

/** Waits until `cond` holds (polling), or fails after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 15_000, what = 'condition'): Promise<void> {
  const end = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
