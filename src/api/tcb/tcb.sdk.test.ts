import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ERRORS, WeChatError } from '../../domain/errors.ts';
import { registerTcbRoute, type TcbDeps } from './route.ts';

// Drives the real wx-server-sdk (and the @cloudbase/node-sdk under it) against registerTcbRoute on port 0.

type OpenApiCall = (data: Record<string, unknown>) => Promise<Record<string, unknown>>;
interface OpenApi {
  (options: { convertCase?: boolean; appid?: string }): OpenApi;
  readonly [namespace: string]: Record<string, OpenApiCall>;
}
interface WxCloud {
  init(config: { env: string; serviceUrl: string; secretId: string; secretKey: string }): void;
  openapi: OpenApi;
}

const require = createRequire(import.meta.url);

// Tells @cloudbase/node-sdk it already knows its platform, so it does not probe Tencent Cloud's metadata host
// (a DNS lookup outside this machine) on every call.
process.env.TENCENTCLOUD = 'true';

/** A wx-server-sdk as a fresh `require` sees it: its default instance can be `init`ed once only. */
function freshCloud(config: { env: string; secretId: string; secretKey: string }): WxCloud {
  delete require.cache[require.resolve('wx-server-sdk')];
  const cloud = require('wx-server-sdk') as unknown as WxCloud;
  cloud.init({ ...config, serviceUrl });
  return cloud;
}

interface SdkFailure {
  errCode: unknown;
  errMsg: string;
  message: string;
}
async function failure(p: Promise<unknown>): Promise<SdkFailure> {
  try {
    await p;
  } catch (e) {
    const err = e as Partial<SdkFailure>;
    return { errCode: err.errCode, errMsg: String(err.errMsg), message: String(err.message) };
  }
  throw new Error('expected the SDK call to fail');
}

const APP_A = { env: 'env-a-1f2e3d', appid: 'wxaaaaaaaaaaaaaaaa', secret: 'secret-of-app-a-0123456789abcdef' };
const APP_B = { env: 'env-b-4c5b6a', appid: 'wxbbbbbbbbbbbbbbbb', secret: 'secret-of-app-b-0123456789abcdef' };
const APPS = [APP_A, APP_B];

let clockOffsetMs = 0;
const calls: Array<{ appid: string; apiName: string; params: Record<string, unknown> }> = [];

const deps: TcbDeps = {
  async appByEnv(env) {
    const app = APPS.find((a) => a.env === env);
    return app && { appid: app.appid, secret: app.secret };
  },
  async callOpenApi(appid, apiName, params) {
    calls.push({ appid, apiName, params });
    if (apiName !== 'analysis.getUserPortrait') throw new WeChatError('API_UNAUTHORIZED', 'unknown api');
    if (params['begin_date'] === 'bad') return { ...ERRORS.DATE_FORMAT };
    if (params['begin_date'] === 'boom') throw new Error('engine on fire');
    return {
      errcode: 0,
      errmsg: 'ok',
      ref_date: `${String(params['begin_date'])}-${String(params['end_date'])}`,
      visit_uv_new: { province: [{ id: 31, name: '广东', value: 3 }], platforms: [] },
      echo_params: params,
    };
  },
  now: () => Date.now() + clockOffsetMs,
};

let app: FastifyInstance;
let serviceUrl = '';
let logged = '';

beforeAll(async () => {
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logged += chunk.toString('utf8');
      cb();
    },
  });
  app = Fastify({ logger: { level: 'trace', stream: logStream } });
  await registerTcbRoute(app, deps);
  app.post('/other', async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  serviceUrl = `http://127.0.0.1:${address.port}/tcb`;
});

afterAll(async () => {
  await app.close();
});

beforeEach(() => {
  clockOffsetMs = 0;
  calls.length = 0;
});

const a = (): WxCloud => freshCloud({ env: APP_A.env, secretId: APP_A.appid, secretKey: APP_A.secret });

describe('wx-server-sdk → /tcb', () => {
  it('answers getUserPortrait camelCased, with errMsg and errCode 0', async () => {
    const result = await a().openapi.analysis!.getUserPortrait!({ beginDate: '20240101', endDate: '20240107' });
    expect(result).toEqual({
      refDate: '20240101-20240107',
      visitUvNew: { province: [{ id: 31, name: '广东', value: 3 }], platforms: [] },
      echoParams: { beginDate: '20240101', endDate: '20240107' },
      errMsg: 'openapi.analysis.getUserPortrait:ok',
      errCode: 0,
    });
    expect(calls).toEqual([
      { appid: APP_A.appid, apiName: 'analysis.getUserPortrait', params: { begin_date: '20240101', end_date: '20240107' } },
    ]);
  });

  it('keeps snake_case with convertCase: false', async () => {
    const openapi = a().openapi({ convertCase: false });
    const result = await openapi.analysis!.getUserPortrait!({ begin_date: '20240101', end_date: '20240101' });
    expect(result).toEqual({
      ref_date: '20240101-20240101',
      visit_uv_new: { province: [{ id: 31, name: '广东', value: 3 }], platforms: [] },
      echo_params: { begin_date: '20240101', end_date: '20240101' },
      errMsg: 'openapi.analysis.getUserPortrait:ok',
      errCode: 0,
    });
  });

  it('throws a WeChat errcode as errCode with errMsg "…:fail <errmsg>"', async () => {
    const e = await failure(a().openapi.analysis!.getUserPortrait!({ beginDate: 'bad', endDate: '20240101' }));
    expect(e.errCode).toBe(61500);
    expect(e.errMsg).toBe('openapi.analysis.getUserPortrait:fail date format error');
    expect(e.errMsg.endsWith(':fail date format error')).toBe(true);
  });

  it('honours cloud.openapi({ appid }) for the env’s own app only', async () => {
    const own = await a().openapi({ appid: APP_A.appid }).analysis!.getUserPortrait!({ beginDate: '20240101', endDate: '20240101' });
    expect(own.errCode).toBe(0);
    const e = await failure(a().openapi({ appid: APP_B.appid }).analysis!.getUserPortrait!({ beginDate: '20240101', endDate: '20240101' }));
    expect(e.errCode).toBe(48001);
    expect(e.errMsg).toMatch(/:fail api unauthorized/);
    expect(calls).toHaveLength(1);
  });

  it('answers an unknown API with 48001', async () => {
    const e = await failure(a().openapi.analysis!.getNothing!({}));
    expect(e.errCode).toBe(48001);
    expect(e.errMsg).toMatch(/^openapi\.analysis\.getNothing:fail api unauthorized/);
  });

  it('answers an engine failure with -1 system error, without leaking it', async () => {
    const e = await failure(a().openapi.analysis!.getUserPortrait!({ beginDate: 'boom', endDate: '20240101' }));
    expect(e.errCode).toBe(-1);
    expect(e.errMsg).toBe('openapi.analysis.getUserPortrait:fail system error');
    expect(e.message).not.toContain('engine on fire');
  });

  it('refuses a wrong secretKey', async () => {
    const cloud = freshCloud({ env: APP_A.env, secretId: APP_A.appid, secretKey: 'not-the-secret' });
    const e = await failure(cloud.openapi.analysis!.getUserPortrait!({ beginDate: '20240101', endDate: '20240101' }));
    expect(e.errCode).toBe(-501008);
    expect(e.errMsg).toMatch(/^openapi\.analysis\.getUserPortrait:fail -501008 invalid request source\. authentication failed: signature mismatch$/);
    expect(calls).toHaveLength(0);
  });

  it('refuses another app’s credentials for this env', async () => {
    const cloud = freshCloud({ env: APP_A.env, secretId: APP_B.appid, secretKey: APP_B.secret });
    const e = await failure(cloud.openapi.analysis!.getUserPortrait!({ beginDate: '20240101', endDate: '20240101' }));
    expect(e.errCode).toBe(-501008);
    expect(e.errMsg).toContain(`secretId must be the appid of env ${APP_A.env}`);
    expect(calls).toHaveLength(0);
  });

  it('refuses an unknown env', async () => {
    const cloud = freshCloud({ env: 'env-nope', secretId: APP_A.appid, secretKey: APP_A.secret });
    const e = await failure(cloud.openapi.analysis!.getUserPortrait!({ beginDate: '20240101', endDate: '20240101' }));
    expect(e.errCode).toBe(-501005);
    expect(e.errMsg).toBe('openapi.analysis.getUserPortrait:fail -501005 invalid env. env env-nope not found');
  });

  it('refuses a request whose timestamp is more than 5 minutes off the server clock', async () => {
    clockOffsetMs = 6 * 60 * 1000;
    const e = await failure(a().openapi.analysis!.getUserPortrait!({ beginDate: '20240101', endDate: '20240101' }));
    expect(e.errCode).toBe(-501008);
    expect(e.errMsg).toContain('signature expired');
  });

  it('never logs or echoes a secret', () => {
    for (const { secret } of APPS) expect(logged).not.toContain(secret);
  });
});

describe('/tcb without the SDK', () => {
  it('answers every malformed request with a TCB JSON error, never a 500 or HTML', async () => {
    const requests = [
      { method: 'POST' as const, url: '/tcb?env=x', payload: { a: 1 } },
      { method: 'POST' as const, url: '/tcb', headers: { 'content-type': 'text/xml' }, payload: '<a/>' },
      { method: 'POST' as const, url: '/tcb', headers: { 'content-type': 'application/json' }, payload: '{bad' },
      {
        method: 'POST' as const,
        url: '/tcb',
        headers: { 'content-type': 'multipart/form-data; boundary=XX' },
        payload: '--XX\r\nContent-Disposition: form-data; name="envName"\r\n\r\nenv-a-1f2e3d\r\n--XX--\r\n',
      },
      { method: 'POST' as const, url: '/tcb', headers: { 'content-type': 'multipart/form-data; boundary=XX' }, payload: 'garbage' },
    ];
    for (const r of requests) {
      const res = await app.inject(r);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      const body = res.json<{ code: string; message: string; requestId: string }>();
      expect(['INVALID_PARAM', 'INVALIID_ENV', 'INVALID_REQUEST_SOURCE']).toContain(body.code);
      expect(body.message.length).toBeGreaterThan(0);
    }
  });

  it('refuses a requestData part over 1 MB', async () => {
    const boundary = 'YY';
    const big = Buffer.alloc(1024 * 1024 + 10, 1);
    const payload = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="requestData"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      big,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await app.inject({ method: 'POST', url: '/tcb', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ code: string }>().code).toBe('INVALID_PARAM');
  });

  it('keeps its multipart parser to itself', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/other',
      headers: { 'content-type': 'multipart/form-data; boundary=XX' },
      payload: '--XX--\r\n',
    });
    expect(res.statusCode).toBe(415);
  });
});
