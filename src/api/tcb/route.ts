/**
 * `POST /tcb`: the Tencent CloudBase endpoint that the official wx-server-sdk calls for `cloud.openapi.*`,
 * so that `cloud.init({ env, serviceUrl: 'http://host:port/tcb', secretId: APPID, secretKey: APPSECRET })`
 * then `cloud.openapi.analysis.getUserPortrait({...})` runs unchanged against datacube.
 *
 * Wire format (as @cloudbase/node-sdk 3.x sends and reads it):
 * - request: `POST /tcb?env=ENV&seqId=…`, multipart/form-data with text fields `action=wx.openApi`, `apiName`,
 *   `envName` (and empty token fields), and the binary part `requestData` (application/octet-stream) holding a
 *   protobuf `CommApiData`; authenticated by a TC3-HMAC-SHA256 `Authorization` header (see ./signature.ts).
 * - answers are always HTTP 200, because the SDK turns any other status into "<status> <text> | [url]" and never
 *   reads the body:
 *   - an API's answer (success or WeChat errcode): body = protobuf `CommOpenApiResp` whose `respData` is WeChat's
 *     JSON, sent with a non-JSON content type (application/octet-stream). The SDK throws for `errcode != 0`
 *     (`errCode` = errcode, `errMsg` = "openapi.<api>:fail <errmsg>"), otherwise camelCases the answer.
 *   - a refusal of the request itself (bad signature, unknown env, malformed form): body = JSON
 *     `{ code, message, requestId }` with content type exactly `application/json; charset=utf-8` (the SDK
 *     JSON-parses only that exact value). The SDK throws `errCode` = its TCB_ERR_CODE[code],
 *     `errMsg` = "openapi.<api>:fail <errCode> <text>. <message>".
 *
 * Unknown API names: `TcbDeps.callOpenApi` signals them, either by returning `{ errcode: 48001, errmsg }` or by
 * throwing `new WeChatError('API_UNAUTHORIZED', ...)`; both reach the SDK as errCode 48001. Any other error
 * thrown by `callOpenApi` is logged and answered as WeChat's `-1 system error`.
 *
 * The route lives in an encapsulated plugin, so its multipart parser and error handler touch no other route.
 * Do not also register @fastify/multipart on the root instance (the decorators would clash).
 * The signed URL includes the path the client used (`//host/tcb`): a reverse proxy must not rewrite the
 * path or Host header.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, type ErrorName, isWeChatError } from '../../domain/errors.ts';
import {
  API_TYPE_OPEN_API,
  type DecodedApiData,
  decodeCommApiData,
  encodeCommOpenApiResp,
  TcbFormatError,
} from './proto.ts';
import { precheckTc3, verifyTc3 } from './signature.ts';

export interface TcbDeps {
  /** The app whose cloud env id is `env`, with its secret (plaintext) — undefined if none. */
  appByEnv(env: string): Promise<{ appid: string; secret: string } | undefined>;
  /** Whether an app with this appid exists (checked before the body when the query names no env). */
  appExists?(appid: string): Promise<boolean>;
  /** Runs one open API by name for an app; returns WeChat's JSON answer (snake_case, with errcode/errmsg on failure). */
  callOpenApi(appid: string, apiName: string, params: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** The time X-Timestamp is checked against (or several times, any of which will do). */
  now(): number | readonly number[];
  /**
   * Test mode's faults: consulted once a call is authenticated and its API known. It waits out a delay itself and
   * returns what to answer instead, if anything: an errcode (the SDK throws it as WeChat's failure) or an HTTP status.
   */
  fault?(appid: string, apiName: string): Promise<TcbFault | undefined>;
}

/** What a fault makes /tcb answer instead of calling the API. */
export interface TcbFault {
  ruleId: number;
  errcode?: number;
  errmsg?: string;
  httpStatus?: number;
}

export const TCB_PATH = '/tcb';

/**
 * TCB error codes the route answers with; each is a key of wx-server-sdk's TCB_ERR_CODE table, so the SDK
 * reports a specific number (`INVALIID_ENV` is the SDK's own spelling, → -501005 "invalid env").
 */
export const TCB_ERROR_CODES = {
  SYS_ERR: -501001,
  EXCEED_CONCURRENT_REQUEST_LIMIT: -501004,
  INVALIID_ENV: -501005,
  INVALID_PARAM: -501007,
  INVALID_REQUEST_SOURCE: -501008,
} as const;
export type TcbErrorCode = keyof typeof TCB_ERROR_CODES;

/** The exact content type node-sdk JSON-parses an answer for. */
const TCB_JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
const PROTOBUF_CONTENT_TYPE = 'application/octet-stream';

const LIMITS = {
  /** `requestData`: the only binary part of a `wx.openApi` call. */
  fileSize: 1024 * 1024,
  files: 1,
  fields: 16,
  fieldSize: 16 * 1024,
  fieldNameSize: 64,
  parts: 17,
  headerPairs: 16,
} as const;

const SAFE_ECHO = /^[A-Za-z0-9_.:-]{1,64}$/;
const API_NAME = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$/;

/** A client-supplied value, quoted only when it is short and plain (never echo arbitrary input). */
function echo(value: string): string {
  return SAFE_ECHO.test(value) ? value : '(invalid)';
}

function sendTcbError(reply: FastifyReply, code: TcbErrorCode, message: string): FastifyReply {
  return reply
    .code(200)
    .type(TCB_JSON_CONTENT_TYPE)
    .send(JSON.stringify({ code, message, requestId: String(reply.request.id) }));
}

function sendAnswer(reply: FastifyReply, answer: Record<string, unknown>): FastifyReply {
  const body = encodeCommOpenApiResp({ respData: Buffer.from(JSON.stringify(answer), 'utf8') });
  return reply.code(200).type(PROTOBUF_CONTENT_TYPE).send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
}

function weChatError(name: ErrorName, detail?: string): Record<string, unknown> {
  const e = ERRORS[name];
  return { errcode: e.errcode, errmsg: detail ? `${e.errmsg} (${detail})` : e.errmsg };
}

type Fields = Record<string, string | Buffer>;

/** Reads every part of the form; a string is an error message for the client. */
async function readForm(request: FastifyRequest): Promise<Fields | string> {
  const fields: Fields = Object.create(null) as Fields;
  try {
    for await (const part of request.parts()) {
      if (Object.prototype.hasOwnProperty.call(fields, part.fieldname)) {
        return `form field ${echo(part.fieldname)} is given twice`;
      }
      if (part.type === 'file') {
        fields[part.fieldname] = await part.toBuffer();
      } else {
        if (typeof part.value !== 'string' || part.valueTruncated || part.fieldnameTruncated) {
          return `form field ${echo(part.fieldname)} is malformed or too long`;
        }
        fields[part.fieldname] = part.value;
      }
    }
  } catch (e) {
    const status = (e as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status < 500 && e instanceof Error) return `malformed form: ${e.message}`;
    return 'malformed form';
  }
  return fields;
}

function text(fields: Fields, name: string): string | undefined {
  const v = fields[name];
  return typeof v === 'string' ? v.trim() : undefined;
}

function rawQuery(url: string): string {
  const i = url.indexOf('?');
  return i < 0 ? '' : url.slice(i + 1);
}

function pathOf(url: string): string {
  const i = url.indexOf('?');
  return i < 0 ? url : url.slice(0, i);
}

async function handle(request: FastifyRequest, reply: FastifyReply, deps: TcbDeps): Promise<FastifyReply> {
  if (!request.isMultipart()) return sendTcbError(reply, 'INVALID_PARAM', 'expected a multipart/form-data request');
  const fields = await readForm(request);
  if (typeof fields === 'string') return sendTcbError(reply, 'INVALID_PARAM', fields);

  const queryEnv = new URLSearchParams(rawQuery(request.url)).get('env') ?? '';
  const envName = text(fields, 'envName') ?? '';
  if (queryEnv !== '' && envName !== '' && queryEnv !== envName) {
    return sendTcbError(reply, 'INVALID_PARAM', 'env in the query differs from envName');
  }
  const env = envName || queryEnv;
  if (env === '') return sendTcbError(reply, 'INVALIID_ENV', 'missing env: call cloud.init({ env })');

  const app = await deps.appByEnv(env);
  if (!app) return sendTcbError(reply, 'INVALIID_ENV', `env ${echo(env)} not found`);

  const auth = await verifyTc3(
    {
      method: request.method,
      path: pathOf(request.url),
      query: rawQuery(request.url),
      headers: request.headers,
      fields,
    },
    async (secretId) => (secretId === app.appid ? app.secret : undefined),
    deps.now(),
  );
  if (!auth.ok) {
    const reason =
      auth.reason === 'unknown secretId' ? `secretId must be the appid of env ${echo(env)}` : auth.reason;
    return sendTcbError(reply, 'INVALID_REQUEST_SOURCE', `authentication failed: ${reason}`);
  }

  const action = text(fields, 'action') ?? '';
  if (action !== 'wx.openApi') {
    return sendTcbError(reply, 'INVALID_PARAM', `unsupported action ${echo(action)}: only wx.openApi is served`);
  }
  const apiName = text(fields, 'apiName') ?? '';
  const requestData = fields['requestData'];
  if (!(requestData instanceof Buffer)) {
    return sendTcbError(reply, 'INVALID_PARAM', 'missing requestData (binary CommApiData part)');
  }
  if (!API_NAME.test(apiName) || apiName.length > 100) {
    return sendAnswer(reply, weChatError('API_UNAUTHORIZED', 'unknown api'));
  }

  if (deps.fault) {
    const f = await deps.fault(app.appid, apiName);
    if (f?.httpStatus !== undefined && f.httpStatus !== 200) {
      // The SDK reads no body for a status other than 200: it throws "<status> <text>" as CloudBase's gateway failing.
      const e = ERRORS.SYSTEM_ERROR;
      const body = { errcode: f.errcode ?? e.errcode, errmsg: `${f.errmsg ?? e.errmsg} rid: ${String(request.id)}` };
      return reply.code(f.httpStatus).header('x-datacube-fault', String(f.ruleId)).type(TCB_JSON_CONTENT_TYPE).send(JSON.stringify(body));
    }
    if (f?.errcode !== undefined) {
      // WeChat failing the call: the SDK throws errCode = errcode, errMsg = "openapi.<api>:fail <errmsg> rid: …".
      reply.header('x-datacube-fault', String(f.ruleId));
      return sendAnswer(reply, { errcode: f.errcode, errmsg: `${f.errmsg ?? ERRORS.SYSTEM_ERROR.errmsg} rid: ${String(request.id)}` });
    }
  }

  let decoded: DecodedApiData;
  try {
    decoded = decodeCommApiData(requestData);
  } catch (e) {
    if (e instanceof TcbFormatError) return sendAnswer(reply, weChatError('DATA_FORMAT', e.message));
    throw e;
  }
  if (decoded.apiType !== API_TYPE_OPEN_API) {
    return sendAnswer(reply, weChatError('API_UNAUTHORIZED', 'only open APIs are served'));
  }
  if (decoded.appid !== '' && decoded.appid !== app.appid) {
    return sendAnswer(reply, weChatError('API_UNAUTHORIZED', 'appid is not the app of this env'));
  }

  let answer: Record<string, unknown>;
  try {
    answer = await deps.callOpenApi(app.appid, apiName, decoded.params);
  } catch (e) {
    if (isWeChatError(e)) {
      answer = { errcode: e.errcode, errmsg: e.message };
    } else {
      request.log.error({ err: e, apiName }, 'tcb open API call failed');
      answer = weChatError('SYSTEM_ERROR');
    }
  }
  return sendAnswer(reply, answer);
}

/** A refusal decided before the body is read (see `authorizeTcb`). */
export class TcbRefusal extends Error {
  constructor(
    readonly tcbCode: TcbErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * What the server checks before it reads (and holds) a `/tcb` body: a TC3 `Authorization` header with a fresh
 * timestamp (precheckTc3), whose secret id is the appid of the env named in the query (the SDK always sends
 * `?env=`), or of a known app when the query names none. The signature itself covers the form fields, so it is
 * verified once they are read (in the handler).
 */
async function authorizeTcb(request: FastifyRequest, deps: TcbDeps): Promise<void> {
  const pre = precheckTc3(request.headers, deps.now());
  if (!pre.ok) throw new TcbRefusal('INVALID_REQUEST_SOURCE', `authentication failed: ${pre.reason}`);
  const env = new URLSearchParams(rawQuery(request.url)).get('env') ?? '';
  if (env !== '') {
    const app = await deps.appByEnv(env);
    if (!app) throw new TcbRefusal('INVALIID_ENV', `env ${echo(env)} not found`);
    if (pre.secretId !== app.appid) throw new TcbRefusal('INVALID_REQUEST_SOURCE', `authentication failed: secretId must be the appid of env ${echo(env)}`);
    return;
  }
  if (deps.appExists && !(await deps.appExists(pre.secretId))) {
    throw new TcbRefusal('INVALID_REQUEST_SOURCE', 'authentication failed: unknown secretId');
  }
}

/** Registers `POST /tcb` in its own encapsulated scope. */
export async function registerTcbRoute(app: FastifyInstance, deps: TcbDeps): Promise<void> {
  await app.register(async (scope) => {
    await scope.register(multipart, {
      limits: { ...LIMITS },
      throwFileSizeLimit: true,
      // A part is binary when it has a file name or is application/octet-stream (how form-data sends a Buffer).
      isPartAFile: (_field, contentType, fileName) => fileName !== undefined || contentType === PROTOBUF_CONTENT_TYPE,
    });

    // Everything that goes wrong in this scope (body parsers, limits, bugs) reaches the SDK as a TCB error.
    scope.setErrorHandler((err, request, reply) => {
      if (err instanceof TcbRefusal) return sendTcbError(reply, err.tcbCode, err.message);
      if ((err as { code?: unknown } | null)?.code === 'DATACUBE_BUSY') {
        reply.header('retry-after', '1');
        return sendTcbError(reply, 'EXCEED_CONCURRENT_REQUEST_LIMIT', 'the server is busy; retry this call');
      }
      const code = (err as { statusCode?: unknown } | null)?.statusCode;
      const status = typeof code === 'number' ? code : 500;
      if (status >= 500) {
        request.log.error({ err }, 'tcb request failed');
        return sendTcbError(reply, 'SYS_ERR', 'internal error');
      }
      if (status === 413) return sendTcbError(reply, 'INVALID_PARAM', 'request body too large');
      if (status === 415) return sendTcbError(reply, 'INVALID_PARAM', 'expected a multipart/form-data request');
      return sendTcbError(reply, 'INVALID_PARAM', err instanceof Error ? err.message : 'bad request');
    });

    // The server's body gate (src/api/bodyGate.ts) runs `authorize` before it reserves and reads the body.
    scope.post(TCB_PATH, { bodyLimit: LIMITS.fileSize, config: { authorize: (request) => authorizeTcb(request, deps) } }, (request, reply) =>
      handle(request, reply, deps),
    );
  });
}
