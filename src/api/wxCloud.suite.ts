/**
 * The real wx-server-sdk for tests of the cloud call (`/tcb`) against a server started by `startTestServer`. Test
 * support only (a `.suite.ts` file: not compiled into dist/, as wx-server-sdk is a dev dependency).
 */
import { createRequire } from 'node:module';

export type CloudCall = (data: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** `cloud.openapi`; called with options, the same API in another form (snake_case, another app). */
export interface CloudOpenApi {
  (options: { convertCase?: boolean; appid?: string }): CloudOpenApi;
  readonly analysis: { readonly getUserPortrait: CloudCall; readonly [name: string]: CloudCall | undefined };
}

/** The part of wx-server-sdk the tests use (the package has no types of its own). */
export interface WxCloud {
  init(config: { env: string | symbol; serviceUrl: string; secretId: string; secretKey: string }): void;
  readonly openapi: CloudOpenApi;
  readonly DYNAMIC_CURRENT_ENV: symbol;
}

const require = createRequire(import.meta.url);

/** wx-server-sdk as a fresh `require` sees it (its default instance can be `init`ed once only), not yet `init`ed. */
export function freshWxCloud(): WxCloud {
  process.env.TENCENTCLOUD = 'true'; // no probe of Tencent Cloud's metadata host
  delete require.cache[require.resolve('wx-server-sdk')];
  return require('wx-server-sdk') as WxCloud;
}

/** A fresh wx-server-sdk calling `serviceUrl` (the server's `/tcb`) in `env`, signing with the app's id and secret. */
export function cloudFor(serviceUrl: string, env: string, secretId: string, secretKey: string): WxCloud {
  const cloud = freshWxCloud();
  cloud.init({ env, serviceUrl, secretId, secretKey });
  return cloud;
}

/** What a cloud call threw (wx-server-sdk rejects with WeChat's errCode and errMsg); fails if it did not throw. */
export async function thrown(p: Promise<unknown>): Promise<{ errCode?: unknown; errMsg?: string; message?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { errCode?: unknown; errMsg?: string; message?: string };
  }
  throw new Error('expected the SDK to throw');
}

/** snake_case keys → camelCase at every depth, written here apart from the SDK's own conversion. */
export function camel(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camel);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), camel(x)]));
  }
  return v;
}
