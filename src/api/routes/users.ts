import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.ts';
import { jsonObjectBody } from '../body.ts';
import { authorizeToken } from '../bodyGate.ts';
import { sendError } from '../reply.ts';

/** Room for 1,000 openids of up to 128 characters, quoted and separated, and a little more. */
export const DELETE_BODY_BYTES = 256 * 1024;

/**
 * POST /v1/users/delete?access_token=…  {"openids":[…]} (1 to 1,000): removes those users of the token's app, raw
 * events and every derived row, and answers once they are gone: `{"errcode":0,"errmsg":"ok","users":U,"events":E}`
 * (U: openids the app had anything of; E: events removed). Nothing is deleted on any error.
 */
export async function userRoutes(app: FastifyInstance, s: Services): Promise<void> {
  // The token is checked before the body is read (see bodyGate.ts), as on the other token routes.
  app.post('/v1/users/delete', { bodyLimit: DELETE_BODY_BYTES, config: { authorize: authorizeToken(s) } }, async (req, reply) => {
    try {
      const appid = req.authorizedAppid;
      const body = jsonObjectBody(req.body);
      const r = await s.lifecycle.deleteUsers(appid, body.openids);
      return { errcode: 0, errmsg: 'ok', users: r.users, events: r.events };
    } catch (err) {
      return sendError(req, reply, err);
    }
  });
}
