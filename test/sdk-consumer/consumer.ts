// Compile-only: a TypeScript consumer of `datacube/sdk`, imported by its package name. `npm test`
// (src/sdk/consumer.test.ts) type-checks it as it is and from a separate project that installs the package; every
// `@ts-expect-error` below is a mistake the public types must catch (tsc fails if one of them stops being an error).
import {
  DatacubeIngest,
  type DatacubeEvent,
  type DateWindow,
  type DeletedUsers,
  type DeviceItem,
  type ErrorKind,
  type IngestEventError,
  type IngestStats,
  MemoryTokenStore,
  type PortraitItem,
  type TokenStore,
  type UserPortrait,
  type UserPortraitRaw,
  type VisitDistribution,
  type VisitPageRaw,
  WeChatApiError,
  WeChatClient,
  windows,
} from 'datacube/sdk';

const shared: TokenStore = new Map<string, string>();
const client = new WeChatClient({
  appid: 'wx1234567890abcdef',
  secret: '0123456789abcdef0123456789abcdef',
  baseUrl: 'http://127.0.0.1:8080',
  tokenStore: shared,
  fetch,
  timeoutMs: 5_000,
  retries: 2,
  clock: () => Date.now(),
});
new WeChatClient({ appid: 'wx1', secret: 's', tokenStore: new MemoryTokenStore(), clock: { now: () => new Date() }, tokenEndpoint: 'token' });
// @ts-expect-error the option is baseUrl, not baseURL
new WeChatClient({ appid: 'wx1', secret: 's', baseURL: 'http://127.0.0.1:8080' });
// @ts-expect-error the secret is required
new WeChatClient({ appid: 'wx1' });

export async function portrait(): Promise<number> {
  const week: DateWindow = client.windows.last7Days();
  const p: UserPortrait = await client.analysis.getUserPortrait(week);
  const ok: 'openapi.analysis.getUserPortrait:ok' = p.errMsg;
  const zero: 0 = p.errCode;
  const province: PortraitItem | undefined = p.visitUv.province[0];
  const id: number = province?.id ?? 0;
  const device: DeviceItem | undefined = p.visitUvNew.devices[0];
  // @ts-expect-error device items have no id
  const deviceId: number = device?.id ?? 0;
  // @ts-expect-error the cloud-call shape is camelCase
  const snake = p.visit_uv;

  await client.analysis.getUserPortrait({ beginDate: new Date(), endDate: '20261127' });
  // @ts-expect-error a wrong field name must not compile
  await client.analysis.getUserPortrait({ beginDate: '20261121', endDat: '20261127' });
  // @ts-expect-error the cloud-call form takes beginDate/endDate
  await client.analysis.getUserPortrait({ begin_date: '20261121', end_date: '20261127' });

  const raw: UserPortraitRaw = await client.datacube.getUserPortraitRaw({ begin_date: '20261121', end_date: '20261127' });
  const active: number = raw.visit_uv.genders.reduce((n, g) => n + g.value, 0);
  // @ts-expect-error the raw form is WeChat's snake_case
  const camel = raw.visitUv;
  // @ts-expect-error the raw form takes begin_date/end_date
  await client.datacube.getUserPortraitRaw({ beginDate: '20261121', endDate: '20261127' });

  const day = windows.yesterday();
  const d: VisitDistribution = await client.analysis.getVisitDistribution(day);
  const sources = d.list.find((e) => e.index === 'access_source_session_cnt')?.itemList ?? [];
  const pages: VisitPageRaw = await client.datacube.getVisitPageRaw({ begin_date: day.beginDate, end_date: day.endDate });
  const top: string | undefined = pages.list[0]?.page_path;
  const weekly = await client.analysis.getWeeklyRetain(client.windows.lastWeek());
  const back: number | undefined = weekly.visitUv.find((kv) => kv.key === 1)?.value;
  const monthly = await client.datacube.getMonthlyVisitTrendRaw({ begin_date: '20261001', end_date: '20261031' });
  const uv: number | undefined = monthly.list[0]?.visit_uv;
  // @ts-expect-error the raw trend row is snake_case
  const uvCamel = monthly.list[0]?.visitUv;

  void [ok, zero, deviceId, snake, camel, sources, top, back, uv, uvCamel];
  return id + active;
}

export function describeFailure(e: unknown): string {
  if (e instanceof WeChatApiError) {
    const kind: ErrorKind = e.kind;
    const rid: string | undefined = e.rid;
    const code: number = e.errcode;
    // @ts-expect-error kind is one of five words
    const wrong: ErrorKind = 'timeout';
    void wrong;
    return `${code} ${e.errmsg} (${kind}, rid ${rid ?? 'none'})`;
  }
  return String(e);
}

export async function send(events: DatacubeEvent[]): Promise<IngestStats> {
  const ingest = new DatacubeIngest({
    baseUrl: 'http://127.0.0.1:8080',
    appid: 'wx1234567890abcdef',
    secret: '0123456789abcdef0123456789abcdef',
    maxBatchEvents: 1000,
    flushIntervalMs: 500,
    onError: (error: IngestEventError, event: DatacubeEvent) => console.warn(error.errcode, error.reason, event.openid),
  });
  for (const e of events) ingest.track(e);
  const id: string = ingest.track({ openid: 'o1', time: new Date(), page: 'pages/index/index', type: 'share', gender: 'female', scene: 1001 });
  // @ts-expect-error a misspelt event field
  ingest.track({ openid: 'o1', pgae: 'pages/index/index' });
  // @ts-expect-error openid is required
  ingest.track({ page: 'pages/index/index' });
  void id;
  const deleted: DeletedUsers = await ingest.deleteUsers(['o1', 'o2'], { timeoutMs: 60_000 });
  const removed: number = deleted.users + deleted.events;
  // @ts-expect-error deleteUsers takes a list of openids
  await ingest.deleteUsers('o1');
  void removed;
  return ingest.close();
}
