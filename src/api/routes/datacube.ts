import type { FastifyInstance } from 'fastify';
import { WeChatError } from '../../domain/errors.ts';
import type { Services } from '../../services.ts';
import { jsonObjectBody } from '../body.ts';
import { SMALL_BODY_BYTES } from '../bodyBudget.ts';
import { authorizeToken } from '../bodyGate.ts';
import { OPEN_API_BY_PATH } from '../openApis.ts';
import { sendError } from '../reply.ts';

/** POST /datacube/<path>?access_token=…: WeChat's analysis APIs over HTTPS. */
export async function datacubeRoutes(app: FastifyInstance, s: Services): Promise<void> {
  // The token is checked before the body is read (see bodyGate.ts).
  app.post('/datacube/:path', { bodyLimit: SMALL_BODY_BYTES, config: { authorize: authorizeToken(s) } }, async (req, reply) => {
    try {
      const appid = req.authorizedAppid;
      const api = OPEN_API_BY_PATH.get((req.params as { path: string }).path);
      if (!api) throw new WeChatError('API_UNAUTHORIZED', 'datacube does not serve this API');
      const json = await api.run(s, appid, jsonObjectBody(req.body));
      return reply.type('application/json; charset=utf-8').send(json);
    } catch (err) {
      return sendError(req, reply, err);
    }
  });
}
