import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ANALYSIS_API_BY_NAME } from '../../analysis/index.ts';
import { publicApp, safeEqual } from '../../auth/index.ts';
import { isWeChatError } from '../../domain/errors.ts';
import type { Services } from '../../services.ts';
import { EXPORT_VERSION, exportedApp, importApp, importEvents, importFirstSeen, writeExport } from '../../transfer/index.ts';
import { bodyText, eventRecords, jsonObjectBody } from '../body.ts';
import { SMALL_BODY_BYTES } from '../bodyBudget.ts';
import { ingestAnswer, logDeviceOverflow } from './events.ts';
import { BACKUP_CONTENT_TYPE } from '../../lifecycle/index.ts';
import { DELETE_BODY_BYTES } from './users.ts';

/** `retainDays` of a JSON body: a number, null (keep everything) or absent (an error for anything else). */
function retainDaysOf(b: Record<string, unknown>): number | null | undefined {
  if (b.retainDays === null) return null;
  return optional(b, 'retainDays', 'number');
}

/** A field of a JSON body that may be absent: its value, or an error naming it when it has another type (not ignored). */
function optional<T extends 'string' | 'number' | 'boolean'>(
  b: Record<string, unknown>,
  key: string,
  type: T,
): (T extends 'string' ? string : T extends 'number' ? number : boolean) | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (typeof v !== type) throw new Error(`${key} must be a ${type}`);
  return v as T extends 'string' ? string : T extends 'number' ? number : boolean;
}

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
    // errmsg as the public API writes it (the detail in `hint: [...]`), so WeChat clients and the SDK read it alike.
    if (isWeChatError(err)) {
      return reply.code(400).send({ errcode: err.errcode, errmsg: `${err.errmsg}${err.detail ? `, hint: [${err.detail}]` : ''}`, detail: err.detail, error: err.message });
    }
    return reply.code(400).send({ error: err instanceof Error ? err.message : String(err) });
  };
  const appidParam = (req: FastifyRequest) => (req.params as { appid: string }).appid;

  app.get('/admin/apps', async () => {
    const stats = new Map((await s.store.eventStats()).map((x) => [x.appid, x]));
    return (await s.store.listApps()).map((a) => {
      const st = stats.get(a.appid);
      return { ...publicApp(a), events: st?.events ?? 0, lastEventTime: st ? new Date(st.lastTime).toISOString() : null };
    });
  });

  app.post('/admin/apps', { bodyLimit: SMALL_BODY_BYTES }, async (req, reply) => {
    try {
      const b = jsonObjectBody(req.body);
      const { app: created, secret } = await s.auth.createApp({
        name: optional(b, 'name', 'string'),
        env: optional(b, 'env', 'string'),
        dailyQuota: optional(b, 'dailyQuota', 'number'),
        // The seeded demo app (`datacube demo --seed N` through a running server): its appid and secret are given.
        credentials: typeof b.appid === 'string' && typeof b.secret === 'string' ? { appid: b.appid, secret: b.secret } : undefined,
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
        name: optional(b, 'name', 'string'),
        env: optional(b, 'env', 'string'),
        dailyQuota: optional(b, 'dailyQuota', 'number'),
        collect: optional(b, 'collect', 'boolean'),
        retainDays: retainDaysOf(b),
      });
      return publicApp(updated);
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.delete('/admin/apps/:appid', async (req, reply) => {
    try {
      const appid = appidParam(req);
      const events = await s.store.countEvents(appid);
      if (!(await s.auth.deleteApp(appid))) return reply.code(404).send({ error: `no app ${appid}` });
      s.portrait.invalidate(appid);
      s.analysis.invalidate(appid);
      return { appid, events };
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.post('/admin/apps/:appid/secret', { bodyLimit: SMALL_BODY_BYTES }, async (req, reply) => {
    try {
      const appid = appidParam(req);
      if (!(await s.store.getApp(appid))) return reply.code(404).send({ error: `no app ${appid}` });
      const { secret } = await s.auth.resetSecret(appid);
      return { appid, secret };
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.get('/admin/apps/:appid', async (req, reply) => {
    const found = await s.store.getApp(appidParam(req));
    return found ? publicApp(found) : reply.code(404).send({ error: `no app ${appidParam(req)}` });
  });

  app.get('/admin/apps/:appid/events', async (req, reply) => {
    const appid = appidParam(req);
    if (!(await s.store.getApp(appid))) return reply.code(404).send({ error: `no app ${appid}` });
    return { appid, events: await s.store.countEvents(appid) };
  });

  // The export file of an app, streamed as it is read from the store.
  app.get('/admin/export', async (req, reply) => {
    const appid = String((req.query as Record<string, unknown>).appid ?? '');
    if (!(await s.store.getApp(appid))) return reply.code(404).send({ error: `no app ${appid}` });
    const out = new PassThrough();
    const write = (text: string) =>
      new Promise<void>((resolve, reject) => {
        if (out.destroyed) return reject(new Error('the client went away'));
        if (out.write(text)) return resolve();
        const onDrain = () => {
          out.off('close', onClose);
          resolve();
        };
        const onClose = () => {
          out.off('drain', onDrain);
          reject(new Error('the client went away'));
        };
        out.once('drain', onDrain);
        out.once('close', onClose);
      });
    writeExport(s.store, appid, write).then(
      () => out.end(),
      (err: unknown) => {
        req.log.warn({ err }, 'export stopped');
        out.destroy(err instanceof Error ? err : new Error(String(err)));
      },
    );
    return reply.type('application/x-ndjson; charset=utf-8').send(out);
  });

  app.post('/admin/import/app', { bodyLimit: SMALL_BODY_BYTES }, async (req, reply) => {
    try {
      return await importApp(s, exportedApp({ datacube_export: EXPORT_VERSION, app: jsonObjectBody(req.body) }, 'the request'));
    } catch (err) {
      return fail(reply, err);
    }
  });

  /** `POST path?appid=…` with a JSON array of `what`, for an app the store has, handed to `take`. */
  const importRoute = (path: string, what: string, take: (appid: string, rows: unknown[]) => Promise<unknown>) =>
    app.post(path, async (req, reply) => {
      try {
        const appid = String((req.query as Record<string, unknown>).appid ?? '');
        if (!(await s.store.getApp(appid))) return reply.code(404).send({ error: `no app ${appid}` });
        const body = JSON.parse(bodyText(req.body)) as unknown;
        if (!Array.isArray(body)) return reply.code(400).send({ error: `send a JSON array of ${what}` });
        return await take(appid, body);
      } catch (err) {
        return fail(reply, err);
      }
    });
  importRoute('/admin/import/first-seen', '{"openid", "day"}', (appid, rows) => importFirstSeen(s, appid, rows));
  importRoute('/admin/import/events', 'exported events', (appid, rows) => importEvents(s, appid, rows));

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

  // ---- personal data over its life (src/lifecycle)

  app.post('/admin/users/delete', { bodyLimit: DELETE_BODY_BYTES }, async (req, reply) => {
    try {
      const b = jsonObjectBody(req.body);
      const appid = String(b.appid ?? '');
      if (!(await s.store.getApp(appid))) return reply.code(404).send({ error: `no app ${appid}` });
      return await s.lifecycle.deleteUsers(appid, b.openids);
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.post('/admin/prune', { bodyLimit: SMALL_BODY_BYTES }, async (_req, reply) => {
    try {
      return { pruned: await s.lifecycle.prune() };
    } catch (err) {
      return fail(reply, err);
    }
  });

  /** The backup streams out as it is taken (gzip); a cut-short one lacks its closing counts line. */
  app.get('/admin/backup', async (req, reply) => {
    const out = new PassThrough();
    s.lifecycle.backup(out).catch((err: unknown) => {
      req.log.error({ err }, 'backup failed');
      out.destroy(err instanceof Error ? err : new Error(String(err)));
    });
    return reply.type('application/gzip').send(out);
  });

  // A backup to restore arrives as a stream: kept in a temporary file of the data directory (the restore reads it
  // twice: to check it whole, then to load it), removed afterwards.
  app.addContentTypeParser(BACKUP_CONTENT_TYPE, (_req, payload, done) => done(null, payload));
  app.post('/admin/restore', async (req, reply) => {
    const tmp = join(s.config.dataDir, `restore-${randomBytes(6).toString('hex')}.tmp`);
    try {
      if (req.headers['content-type'] !== BACKUP_CONTENT_TYPE) {
        return reply.code(400).send({ error: `send the backup file as the body, with Content-Type: ${BACKUP_CONTENT_TYPE}` });
      }
      await pipeline(req.body as Readable, createWriteStream(tmp, { mode: 0o600 }));
      return await s.lifecycle.restore(() => createReadStream(tmp));
    } catch (err) {
      return fail(reply, err);
    } finally {
      rmSync(tmp, { force: true });
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

  // The analysis family for `datacube trend|retain|distribution|pages|summary`: {appid, api, begin_date, end_date}.
  app.post('/admin/analysis', { bodyLimit: SMALL_BODY_BYTES }, async (req, reply) => {
    try {
      const b = jsonObjectBody(req.body);
      const appid = String(b.appid ?? '');
      if (!(await s.store.getApp(appid))) return reply.code(404).send({ error: `no app ${appid}` });
      const api = ANALYSIS_API_BY_NAME.get(String(b.api ?? ''));
      if (!api) return reply.code(404).send({ error: `no analysis API ${String(b.api)}` });
      const period = s.analysis.period(api, String(b.begin_date ?? ''), String(b.end_date ?? ''));
      return reply.type('application/json; charset=utf-8').send(await s.analysis.answerJson(appid, api, period));
    } catch (err) {
      return fail(reply, err);
    }
  });
}
