import type { FastifyInstance } from 'fastify';
import { WeChatError } from '../../domain/errors.ts';
import type { Services } from '../../services.ts';
import { jsonObjectBody } from '../body.ts';
import { SMALL_BODY_BYTES } from '../bodyBudget.ts';
import { authorizeToken } from '../bodyGate.ts';
import { OPEN_API_BY_PATH } from '../openApis.ts';
import { sendError } from '../reply.ts';

const JSON_TYPE = 'application/json; charset=utf-8';

/** POST /datacube/<path>?access_token=…: WeChat's analysis APIs over HTTPS. */
export async function datacubeRoutes(app: FastifyInstance, s: Services): Promise<void> {
  // The token is checked before the body is read (see bodyGate.ts).
  // Not an async handler: a cached answer (the common case under load) is sent without a promise.
  app.post('/datacube/:path', { bodyLimit: SMALL_BODY_BYTES, config: { authorize: authorizeToken(s) } }, (req, reply) => {
    try {
      const appid = req.authorizedAppid;
      const api = OPEN_API_BY_PATH.get((req.params as { path: string }).path);
      if (!api) throw new WeChatError('API_UNAUTHORIZED', 'datacube does not serve this API');
      const params = jsonObjectBody(req.body);
      const now = api.answerNow(s, appid, params);
      if (now) {
        reply.type(JSON_TYPE).send(now);
        return;
      }
      return api.run(s, appid, params).then(
        (json) => reply.type(JSON_TYPE).send(json),
        (err: unknown) => sendError(req, reply, err),
      );
    } catch (err) {
      sendError(req, reply, err);
      return;
    }
  });
}
