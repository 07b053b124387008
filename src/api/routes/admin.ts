import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { publicApp, safeEqual } from '../../auth/index.ts';
import { isWeChatError } from '../../domain/errors.ts';
import type { Services } from '../../services.ts';
import { eventRecords, jsonObjectBody } from '../body.ts';
import { SMALL_BODY_BYTES } from '../bodyBudget.ts';
import { ingestAnswer, logDeviceOverflow } from './events.ts';

/**
 * /admin/*: how `datacube app|ingest|portrait|demo` work while a server owns the data directory. Loopback
 * only, and only with the admin key the server wrote into the data directory (`server.json`, mode 0600).
 */
export async function adminRoutes(app: FastifyInstance, s: Services, adminKey: string): Promise<void> {
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const auth = req.headers.authorization ?? '';
    const ip = req.socket.remoteAddress ?? '';
    const loopback = ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1';
    if (!loopback || !auth.startsWith('Bearer ') || !safeEqual(auth.slice(7), adminKey)) {
      return reply.code(401).send({ error: 'admin routes need the key in the data directory and a loopback connection' });
    }
  });
  const fail = (reply: FastifyReply, err: unknown) => {
    if (isWeChatError(err)) return reply.code(400).send({ errcode: err.errcode, errmsg: err.errmsg, error: err.message });
    return reply.code(400).send({ error: err instanceof Error ? err.message : String(err) });
  };

  app.get('/admin/apps', async () => (await s.store.listApps()).map(publicApp));

  app.post('/admin/apps', { bodyLimit: SMALL_BODY_BYTES }, async (req, reply) => {
    try {
      const b = jsonObjectBody(req.body);
      const { app: created, secret } = await s.auth.createApp({
        name: typeof b.name === 'string' ? b.name : undefined,
        env: typeof b.env === 'string' ? b.env : undefined,
        dailyQuota: typeof b.dailyQuota === 'number' ? b.dailyQuota : undefined,
      });
      return { ...publicApp(created), secret };
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.patch('/admin/apps/:appid', { bodyLimit: SMALL_BODY_BYTES }, async (req, reply) => {
    try {
      const b = jsonObjectBody(req.body);
      const updated = await s.auth.updateApp((req.params as { appid: string }).appid, {
        name: typeof b.name === 'string' ? b.name : undefined,
        env: typeof b.env === 'string' ? b.env : undefined,
        dailyQuota: typeof b.dailyQuota === 'number' ? b.dailyQuota : undefined,
        collect: typeof b.collect === 'boolean' ? b.collect : undefined,
      });
      return publicApp(updated);
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.post('/admin/events', async (req, reply) => {
    try {
      const appid = String((req.query as Record<string, unknown>).appid ?? '');
      if (!(await s.store.getApp(appid))) return reply.code(404).send({ error: `no app ${appid}` });
      const { records, lineErrors } = eventRecords(req.body, req.headers['content-type']);
      const report = await s.ingest.ingest(appid, records);
      logDeviceOverflow(req, appid, report);
      return ingestAnswer(report, lineErrors);
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.post('/admin/portrait', { bodyLimit: SMALL_BODY_BYTES }, async (req, reply) => {
    try {
      const b = jsonObjectBody(req.body);
      const appid = String(b.appid ?? '');
      if (!(await s.store.getApp(appid))) return reply.code(404).send({ error: `no app ${appid}` });
      const window = s.portrait.window(String(b.begin_date ?? ''), String(b.end_date ?? ''));
      return reply.type('application/json; charset=utf-8').send(await s.portrait.portraitJson(appid, window));
    } catch (err) {
      return fail(reply, err);
    }
  });
}
