/**
 * datacube/sdk: a typed client of WeChat's analysis APIs — against WeChat (`https://api.weixin.qq.com`) or a
 * datacube server alike — and an ingest client for datacube. No dependency beyond the platform's `fetch`.
 *
 *   const client = new WeChatClient({ appid, secret, baseUrl });
 *   const p = await client.analysis.getUserPortrait(client.windows.last7Days());
 *
 *   const ingest = new DatacubeIngest({ baseUrl, appid, secret });
 *   ingest.track({ openid, page: 'pages/index/index' });
 *   await ingest.close();
 */
export { WeChatClient, AnalysisApi, DatacubeApi, WECHAT_BASE_URL, type WeChatClientOptions } from './WeChatClient.ts';
export {
  DatacubeIngest,
  DELETE_USERS_PER_REQUEST,
  IngestEventError,
  type DatacubeEvent,
  type DatacubeIngestOptions,
  type DeletedUsers,
  type DeleteUsersOptions,
  type IngestStats,
} from './DatacubeIngest.ts';
export { WeChatApiError, type ErrorKind, type WeChatApiErrorDetails } from './WeChatApiError.ts';
export { MemoryTokenStore, type TokenEndpoint, type TokenStore } from './tokens.ts';
export { windows, windowsAt, type DateInput, type DateRange, type DateWindow, type RawDateRange, type Windows } from './dates.ts';
export type { ClockLike } from './clock.ts';
export type { BackoffOptions, FetchLike } from './http.ts';
export { ANALYSIS_PATHS } from './apis.ts';
export type * from './types.ts';
