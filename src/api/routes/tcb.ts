import type { FastifyInstance } from 'fastify';
import { isWeChatError } from '../../domain/errors.ts';
import type { Services } from '../../services.ts';
import { OPEN_API_BY_NAME } from '../openApis.ts';
import { registerTcbRoute } from '../tcb/index.ts';

/**
 * POST /tcb: the endpoint wx-server-sdk's `cloud.openapi.*` calls reach when `serviceUrl` points here.
 * The protocol lives in ../tcb/; this wires it to the same open-API table as the HTTPS routes.
 */
export async function tcbRoutes(app: FastifyInstance, s: Services): Promise<void> {
  await registerTcbRoute(app, {
    now: () => s.clock.now(),
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
        return JSON.parse(await api.run(s, appid, params)) as Record<string, unknown>;
      } catch (err) {
        if (isWeChatError(err)) return { errcode: err.errcode, errmsg: err.errmsg };
        throw err;
      }
    },
  });
}
