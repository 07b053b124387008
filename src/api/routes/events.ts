import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, WeChatError } from '../../domain/errors.ts';
import type { IngestReport } from '../../ingest/index.ts';
import type { Services } from '../../services.ts';
import { eventRecords } from '../body.ts';
import { sendError } from '../reply.ts';

/** Bounds the events being validated and stored at once; past it, ingest asks clients to retry. */
export class InflightLimit {
  private current = 0;
  constructor(readonly max: number) {}
  tryTake(n: number): boolean {
    if (this.current > 0 && this.current + n > this.max) return false;
    this.current += n;
    return true;
  }
  give(n: number): void {
    this.current -= n;
  }
}

export function ingestAnswer(report: IngestReport, lineErrors: { index: number; reason: string }[] = []) {
  const bad = new Map(lineErrors.map((l) => [l.index, l.reason]));
  return {
    errcode: 0,
    errmsg: 'ok',
    accepted: report.accepted,
    duplicates: report.duplicates,
    rejected: report.rejected.map((r) => ({
      index: r.index,
      errcode: ERRORS.DATA_FORMAT.errcode,
      errmsg: bad.get(r.index) ?? `${r.field}: ${r.reason}`,
    })),
  };
}

/** POST /v1/events?access_token=…: a JSON array, {"events":[…]} or NDJSON; answered once the batch is durable. */
export async function eventRoutes(
  app: FastifyInstance,
  s: Services,
  inflight: InflightLimit,
  busy: (req: FastifyRequest, reply: FastifyReply) => FastifyReply,
): Promise<void> {
  app.post('/v1/events', async (req, reply) => {
    let taken = 0;
    try {
      const appid = await s.auth.verify((req.query as Record<string, unknown>).access_token);
      const { records, lineErrors } = eventRecords(req.body, req.headers['content-type']);
      if (records.length > s.config.maxBatchEvents) {
        throw new WeChatError('CONTENT_TOO_LARGE', `at most ${s.config.maxBatchEvents} events a request; nothing was stored`);
      }
      if (!inflight.tryTake(records.length)) return busy(req, reply);
      taken = records.length;
      const report = await s.ingest.ingest(appid, records);
      return ingestAnswer(report, lineErrors);
    } catch (err) {
      return sendError(req, reply, err);
    } finally {
      if (taken) inflight.give(taken);
    }
  });
}
