import type { FastifyInstance } from 'fastify';
import { isWeChatError } from '../../domain/errors.ts';
import type { Services } from '../../services.ts';
import type { TestMode } from '../../testmode/index.ts';
import { OPEN_API_BY_NAME } from '../openApis.ts';
import { registerTcbRoute } from '../tcb/index.ts';
import { takeFault } from './testMode.ts';

/**
 * POST /tcb: the endpoint wx-server-sdk's `cloud.openapi.*` calls reach when `serviceUrl` points here.
 * The protocol lives in ../tcb/; this wires it to the same open-API table as the HTTPS routes.
 */
export async function tcbRoutes(app: FastifyInstance, s: Services, testMode?: TestMode): Promise<void> {
  await registerTcbRoute(app, {
    // The SDK signs with the time of the machine it runs on: the wall clock, or the test clock when the test fakes
    // timers too. In test mode either will do.
    now: () => (testMode ? [Date.now(), s.clock.now()] : s.clock.now()),
    fault: testMode ? (appid, apiName) => takeFault(testMode, { route: 'tcb', api: apiName, appid }) : undefined,
    async appExists(appid) {
      return (await s.auth.getApp(appid)) !== undefined;
    },
    async appByEnv(env) {
      const a = await s.store.getAppByEnv(env);
      if (!a) return undefined;
      const secret = s.auth.secretOf(a);
      return secret ? { appid: a.appid, secret } : undefined;
    },
    async callOpenApi(appid, apiName, params) {
      const api = OPEN_API_BY_NAME.get(apiName);
      if (!api) return { errcode: 48001, errmsg: 'api unauthorized' };
      try {
        return JSON.parse((await api.run(s, appid, params)).toString('utf8')) as Record<string, unknown>;
      } catch (err) {
        if (isWeChatError(err)) return { errcode: err.errcode, errmsg: err.errmsg };
        throw err;
      }
    },
  });
}
