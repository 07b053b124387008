import { ANALYSIS_PATHS } from './apis.ts';
import { toCloudCallShape } from './camelCase.ts';
import { type ClockLike, systemClock } from './clock.ts';
import { type DateRange, type RawDateRange, toYyyymmdd, type Windows, windowsAt } from './dates.ts';
import { type BackoffOptions, type FetchLike, request, type TransportOptions } from './http.ts';
import { MemoryTokenStore, type TokenEndpoint, TokenManager, type TokenStore } from './tokens.ts';
import { WeChatApiError } from './WeChatApiError.ts';
import type {
  AnalysisApiName,
  AnalysisShapes,
  CallOptions,
  DailyRetain,
  DailySummary,
  DailySummaryRaw,
  DailyVisitTrend,
  MonthlyRetain,
  MonthlyVisitTrend,
  RetainRaw,
  UserPortrait,
  UserPortraitRaw,
  VisitDistribution,
  VisitDistributionRaw,
  VisitPage,
  VisitPageRaw,
  VisitTrendRaw,
  WeeklyRetain,
  WeeklyVisitTrend,
} from './types.ts';

/** WeChat's API host: the default `baseUrl`. */
export const WECHAT_BASE_URL = 'https://api.weixin.qq.com';

export interface WeChatClientOptions {
  /** The mini-program's appid. */
  appid: string;
  /** Its AppSecret. */
  secret: string;
  /** Where WeChat is: `https://api.weixin.qq.com` (default) or a datacube server. Every URL, token routes included, is built from it. */
  baseUrl?: string;
  /** Shares tokens across clients and processes (default: this client's memory). */
  tokenStore?: TokenStore;
  /** The fetch to use (default: the global `fetch`). */
  fetch?: FetchLike;
  /** Most time one attempt of a call may take, ms (default 10,000). */
  timeoutMs?: number;
  /** Attempts after the first when the answer is -1 or 45011 or there is none (default 3). Never on 45009. */
  retries?: number;
  /** Pauses between attempts (exponential with jitter). */
  backoff?: BackoffOptions;
  /** "Now", for the date windows and token lifetimes (default: the system clock). */
  clock?: ClockLike;
  /** `stable_token` (default) or the classic `token` route. */
  tokenEndpoint?: TokenEndpoint;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_RETRIES = 3;
export const DEFAULT_BACKOFF: Required<BackoffOptions> = { baseMs: 200, maxMs: 5_000 };

export function trimBaseUrl(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/i.test(trimmed)) throw new TypeError(`baseUrl must be an http(s) URL, not ${JSON.stringify(baseUrl)}`);
  return trimmed;
}

export function transportFrom(o: { fetch?: FetchLike; timeoutMs?: number; retries?: number; backoff?: BackoffOptions }, defaults: { timeoutMs: number; retries: number; backoff: Required<BackoffOptions> }): TransportOptions {
  const f = o.fetch ?? (globalThis.fetch as FetchLike | undefined);
  if (!f) throw new TypeError('no fetch: run on Node 20 or later, or pass { fetch }');
  const retries = o.retries ?? defaults.retries;
  if (!Number.isInteger(retries) || retries < 0) throw new TypeError(`retries must be a whole number ≥ 0, not ${retries}`);
  const timeoutMs = o.timeoutMs ?? defaults.timeoutMs;
  if (!(timeoutMs > 0)) throw new TypeError(`timeoutMs must be positive, not ${timeoutMs}`);
  return { fetch: f, timeoutMs, retries, backoff: { ...defaults.backoff, ...o.backoff } };
}

function checkCredentials(o: { appid?: unknown; secret?: unknown }): void {
  if (typeof o.appid !== 'string' || o.appid === '') throw new TypeError('appid is required');
  if (typeof o.secret !== 'string' || o.secret === '') throw new TypeError('secret is required');
}

/**
 * A typed client of WeChat's analysis APIs, against WeChat itself or a datacube server:
 * `client.analysis.*` answers in the cloud-call shape (camelCase), `client.datacube.*Raw` with WeChat's exact JSON.
 * Both throw a `WeChatApiError` for any errcode.
 */
export class WeChatClient {
  readonly appid: string;
  readonly baseUrl: string;
  /** The analysis APIs, answering as the cloud call does (camelCase keys, `errMsg`, `errCode`). */
  readonly analysis: AnalysisApi;
  /** The same APIs, answering with WeChat's HTTPS JSON exactly (snake_case). */
  readonly datacube: DatacubeApi;
  /** The valid date windows as of the client's clock. */
  readonly windows: Windows;
  private readonly transport: TransportOptions;
  private readonly tokens: TokenManager;

  constructor(options: WeChatClientOptions) {
    checkCredentials(options);
    this.appid = options.appid;
    this.baseUrl = trimBaseUrl(options.baseUrl ?? WECHAT_BASE_URL);
    const clock = options.clock ?? systemClock;
    this.transport = transportFrom(options, { timeoutMs: DEFAULT_TIMEOUT_MS, retries: DEFAULT_RETRIES, backoff: DEFAULT_BACKOFF });
    this.tokens = new TokenManager({
      appid: options.appid,
      secret: options.secret,
      baseUrl: this.baseUrl,
      endpoint: options.tokenEndpoint ?? 'stable_token',
      store: options.tokenStore ?? new MemoryTokenStore(clock),
      transport: this.transport,
    });
    this.windows = windowsAt(clock);
    this.analysis = new AnalysisApi(this);
    this.datacube = new DatacubeApi(this);
  }

  /** The current access token (fetched if needed), for calling other WeChat APIs yourself. */
  getAccessToken(options: CallOptions = {}): Promise<string> {
    return this.tokens.get(options.signal);
  }

  /**
   * POSTs JSON to any token-protected WeChat path (`/datacube/…`, `/wxa/…`) and returns the JSON answer, with the
   * client's token handling, timeout and retries. Throws a WeChatApiError for a non-zero errcode.
   */
  async post<T = Record<string, unknown>>(path: string, body: unknown, options: CallOptions & { api?: string } = {}): Promise<T> {
    const p = path.startsWith('/') ? path : `/${path}`;
    const send = (token: string) =>
      request(this.transport, {
        api: options.api ?? p,
        method: 'POST',
        url: `${this.baseUrl}${p}${p.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}`,
        body: JSON.stringify(body),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      });
    const token = await this.tokens.get(options.signal);
    try {
      return (await send(token)).json as T;
    } catch (e) {
      if (!(e instanceof WeChatApiError && e.tokenInvalid)) throw e;
      // The token was refused (replaced elsewhere, expired early, revoked): get another and try once more.
      return (await send(await this.tokens.renew(token, options.signal))).json as T;
    }
  }

  /** WeChat's exact JSON answer of an analysis API. */
  async callRaw<N extends AnalysisApiName>(api: N, range: RawDateRange, options: CallOptions = {}): Promise<AnalysisShapes[N]['raw']> {
    const body = { begin_date: toYyyymmdd(range.begin_date, 'begin_date'), end_date: toYyyymmdd(range.end_date, 'end_date') };
    return this.post<AnalysisShapes[N]['raw']>(`/datacube/${ANALYSIS_PATHS[api]}`, body, { ...options, api });
  }

  /** The cloud-call answer of an analysis API (camelCase, `errMsg`, `errCode`). */
  async call<N extends AnalysisApiName>(api: N, range: DateRange, options: CallOptions = {}): Promise<AnalysisShapes[N]['camel']> {
    const json = await this.callRaw(api, { begin_date: toYyyymmdd(range.beginDate, 'beginDate'), end_date: toYyyymmdd(range.endDate, 'endDate') }, options);
    return toCloudCallShape(`analysis.${api}`, json as unknown as Record<string, unknown>) as unknown as AnalysisShapes[N]['camel'];
  }
}

/** `client.analysis`: the analysis family in the cloud-call shape. Dates: `yyyymmdd` strings or `Date`s (Shanghai days). */
export class AnalysisApi {
  constructor(private readonly c: WeChatClient) {}
  /** New and active users of a 1-, 7- or 30-day window by province, city, gender, platform, device and age. */
  getUserPortrait(range: DateRange, options?: CallOptions): Promise<UserPortrait> {
    return this.c.call('getUserPortrait', range, options);
  }
  /** Cumulative users and the day's shares (one day). */
  getDailySummary(range: DateRange, options?: CallOptions): Promise<DailySummary> {
    return this.c.call('getDailySummary', range, options);
  }
  /** Opens, views, visitors, new visitors, stay and depth of one day. */
  getDailyVisitTrend(range: DateRange, options?: CallOptions): Promise<DailyVisitTrend> {
    return this.c.call('getDailyVisitTrend', range, options);
  }
  /** The same for one natural week (Monday to Sunday). */
  getWeeklyVisitTrend(range: DateRange, options?: CallOptions): Promise<WeeklyVisitTrend> {
    return this.c.call('getWeeklyVisitTrend', range, options);
  }
  /** The same for one calendar month (first to last day). */
  getMonthlyVisitTrend(range: DateRange, options?: CallOptions): Promise<MonthlyVisitTrend> {
    return this.c.call('getMonthlyVisitTrend', range, options);
  }
  /** Opens and visitors by access source, opens by stay and by depth (one day). */
  getVisitDistribution(range: DateRange, options?: CallOptions): Promise<VisitDistribution> {
    return this.c.call('getVisitDistribution', range, options);
  }
  /** Per-page views, visitors, stay, entries, exits and shares (one day; top 200 pages). */
  getVisitPage(range: DateRange, options?: CallOptions): Promise<VisitPage> {
    return this.c.call('getVisitPage', range, options);
  }
  /** Retention of one day's new and active users. */
  getDailyRetain(range: DateRange, options?: CallOptions): Promise<DailyRetain> {
    return this.c.call('getDailyRetain', range, options);
  }
  /** Retention of one week's new and active users. */
  getWeeklyRetain(range: DateRange, options?: CallOptions): Promise<WeeklyRetain> {
    return this.c.call('getWeeklyRetain', range, options);
  }
  /** Retention of one month's new and active users. */
  getMonthlyRetain(range: DateRange, options?: CallOptions): Promise<MonthlyRetain> {
    return this.c.call('getMonthlyRetain', range, options);
  }
}

/** `client.datacube`: the analysis family with WeChat's HTTPS JSON, exactly (`POST /datacube/<path>`). */
export class DatacubeApi {
  constructor(private readonly c: WeChatClient) {}
  /** `POST /datacube/getweanalysisappiduserportrait`. */
  getUserPortraitRaw(range: RawDateRange, options?: CallOptions): Promise<UserPortraitRaw> {
    return this.c.callRaw('getUserPortrait', range, options);
  }
  /** `POST /datacube/getweanalysisappiddailysummarytrend`. */
  getDailySummaryRaw(range: RawDateRange, options?: CallOptions): Promise<DailySummaryRaw> {
    return this.c.callRaw('getDailySummary', range, options);
  }
  /** `POST /datacube/getweanalysisappiddailyvisittrend`. */
  getDailyVisitTrendRaw(range: RawDateRange, options?: CallOptions): Promise<VisitTrendRaw> {
    return this.c.callRaw('getDailyVisitTrend', range, options);
  }
  /** `POST /datacube/getweanalysisappidweeklyvisittrend`. */
  getWeeklyVisitTrendRaw(range: RawDateRange, options?: CallOptions): Promise<VisitTrendRaw> {
    return this.c.callRaw('getWeeklyVisitTrend', range, options);
  }
  /** `POST /datacube/getweanalysisappidmonthlyvisittrend`. */
  getMonthlyVisitTrendRaw(range: RawDateRange, options?: CallOptions): Promise<VisitTrendRaw> {
    return this.c.callRaw('getMonthlyVisitTrend', range, options);
  }
  /** `POST /datacube/getweanalysisappidvisitdistribution`. */
  getVisitDistributionRaw(range: RawDateRange, options?: CallOptions): Promise<VisitDistributionRaw> {
    return this.c.callRaw('getVisitDistribution', range, options);
  }
  /** `POST /datacube/getweanalysisappidvisitpage`. */
  getVisitPageRaw(range: RawDateRange, options?: CallOptions): Promise<VisitPageRaw> {
    return this.c.callRaw('getVisitPage', range, options);
  }
  /** `POST /datacube/getweanalysisappiddailyretaininfo`. */
  getDailyRetainRaw(range: RawDateRange, options?: CallOptions): Promise<RetainRaw> {
    return this.c.callRaw('getDailyRetain', range, options);
  }
  /** `POST /datacube/getweanalysisappidweeklyretaininfo`. */
  getWeeklyRetainRaw(range: RawDateRange, options?: CallOptions): Promise<RetainRaw> {
    return this.c.callRaw('getWeeklyRetain', range, options);
  }
  /** `POST /datacube/getweanalysisappidmonthlyretaininfo`. */
  getMonthlyRetainRaw(range: RawDateRange, options?: CallOptions): Promise<RetainRaw> {
    return this.c.callRaw('getMonthlyRetain', range, options);
  }
}
