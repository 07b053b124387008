import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.ts';
import { jsonObjectBody } from '../body.ts';
import { SMALL_BODY_BYTES } from '../bodyBudget.ts';
import { sendError } from '../reply.ts';

/** GET /cgi-bin/token and POST /cgi-bin/stable_token. */
export async function tokenRoutes(app: FastifyInstance, s: Services): Promise<void> {
  // No HEAD twin (Fastify adds one to every GET by default): a HEAD would issue a token nobody receives and cut the
  // caller's live token to 5 minutes.
  app.get('/cgi-bin/token', { exposeHeadRoute: false }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    try {
      return await s.auth.token(q.grant_type, q.appid, q.secret, req.ip);
    } catch (err) {
      return sendError(req, reply, err);
    }
  });

  app.post('/cgi-bin/stable_token', { bodyLimit: SMALL_BODY_BYTES }, async (req, reply) => {
    try {
      const b = jsonObjectBody(req.body);
      return await s.auth.stableToken(b.grant_type, b.appid, b.secret, b.force_refresh, req.ip);
    } catch (err) {
      return sendError(req, reply, err);
    }
  });
}
