import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.ts';

export async function healthRoutes(app: FastifyInstance, s: Services): Promise<void> {
  app.get('/healthz', async (req, reply) => {
    try {
      await s.store.getApp('wx0000000000000000');
      return { ok: true };
    } catch (err) {
      req.log.error({ err }, 'health check failed');
      return reply.code(503).send({ ok: false });
    }
  });
}
