import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, isWeChatError, RetryLaterError } from '../domain/errors.ts';

/** `{errcode, errmsg}` with the rid appended as WeChat does; detail (if any) before the rid. */
export function errorBody(errcode: number, errmsg: string, rid: string, detail?: string): { errcode: number; errmsg: string } {
  return { errcode, errmsg: `${errmsg}${detail ? `, hint: [${detail}]` : ''} rid: ${rid}` };
}

/** Sends any error as WeChat would: HTTP 200 and a JSON errcode; internal failures are logged, never shown. */
export function sendError(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof RetryLaterError) {
    // Like every 45011 datacube sends: HTTP 429 so generic clients back off, and when to try again.
    return reply
      .code(429)
      .header('retry-after', String(err.retryAfterSeconds))
      .type('application/json; charset=utf-8')
      .send(errorBody(err.errcode, err.errmsg, req.id, err.detail));
  }
  if (isWeChatError(err)) {
    return reply.code(200).type('application/json; charset=utf-8').send(errorBody(err.errcode, err.errmsg, req.id, err.detail));
  }
  req.log.error({ err }, 'internal error');
  const e = ERRORS.SYSTEM_ERROR;
  return reply.code(200).type('application/json; charset=utf-8').send(errorBody(e.errcode, e.errmsg, req.id));
}
