import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OVERFLOW_DEVICE_NAME } from '../../domain/dimensions.ts';
import { ERRORS, WeChatError } from '../../domain/errors.ts';
import type { IngestReport } from '../../ingest/index.ts';
import type { Services } from '../../services.ts';
import { eventRecords } from '../body.ts';
import { authorizeToken } from '../bodyGate.ts';
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

export interface IngestAnswer {
  errcode: 0;
  errmsg: 'ok';
  accepted: number;
  duplicates: number;
  rejected: { index: number; errcode: number; errmsg: string }[];
  /**
   * Present when some events carry device names past the app's cap (DATACUBE_MAX_DEVICE_NAMES): `events` of them,
   * with `names` distinct names, count under the device bucket `name` (其他).
   */
  device_overflow?: { events: number; names: number; cap: number; name: string; hint: string };
}

export function ingestAnswer(report: IngestReport, lineErrors: { index: number; reason: string }[] = []): IngestAnswer {
  const bad = new Map(lineErrors.map((l) => [l.index, l.reason]));
  const answer: IngestAnswer = {
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
  const o = report.deviceOverflow;
  if (o) {
    answer.device_overflow = {
      ...o,
      name: OVERFLOW_DEVICE_NAME,
      hint: `the app already has ${o.cap} distinct device names (the server's DATACUBE_MAX_DEVICE_NAMES); ${o.events} events with ${o.names} new names count under ${OVERFLOW_DEVICE_NAME}`,
    };
  }
  return answer;
}

/** Says in the log that an app's device names went past its cap. */
export function logDeviceOverflow(req: FastifyRequest, appid: string, report: IngestReport): void {
  const o = report.deviceOverflow;
  if (o) req.log.warn({ appid, deviceOverflow: o }, `app ${appid}: ${o.events} events with ${o.names} device names past the cap of ${o.cap} count under ${OVERFLOW_DEVICE_NAME}`);
}

/** POST /v1/events?access_token=…: a JSON array, {"events":[…]} or NDJSON; answered once the batch is durable. */
export async function eventRoutes(
  app: FastifyInstance,
  s: Services,
  inflight: InflightLimit,
  busy: (req: FastifyRequest, reply: FastifyReply) => FastifyReply,
): Promise<void> {
  // The token is checked before the body is read (see bodyGate.ts).
  app.post('/v1/events', { config: { authorize: authorizeToken(s) } }, async (req, reply) => {
    let taken = 0;
    try {
      const appid = req.authorizedAppid;
      const { records, lineErrors } = eventRecords(req.body, req.headers['content-type']);
      if (records.length > s.config.maxBatchEvents) {
        throw new WeChatError('CONTENT_TOO_LARGE', `at most ${s.config.maxBatchEvents} events a request; nothing was stored`);
      }
      if (!inflight.tryTake(records.length)) return busy(req, reply);
      taken = records.length;
      const report = await s.ingest.ingest(appid, records);
      logDeviceOverflow(req, appid, report);
      return ingestAnswer(report, lineErrors);
    } catch (err) {
      return sendError(req, reply, err);
    } finally {
      if (taken) inflight.give(taken);
    }
  });
}
