/**
 * The protobuf messages wx-server-sdk exchanges with the `/tcb` service for `cloud.openapi.*`:
 * the request's `requestData` part is a `CommApiData`, the answer body is a `CommOpenApiResp`.
 * Field numbers and types match the SDK's generated code (wx-server-sdk 4.x, src/protobuf/openapi.js);
 * only the messages the open-API path uses are declared here.
 */
import protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto3";

message KeyValuePair {
  string key = 1;
  bytes value = 2;
  string contenttype = 3;
  string filename = 4;
}

message OpenApiData {
  repeated KeyValuePair pairs = 1;
}

message CommApiData {
  int32 apiType = 1;
  OpenApiData openapiData = 2;
  string appid = 6;
}

message HttpHeader {
  string key = 1;
  string value = 2;
}

message CommOpenApiResp {
  bytes respData = 1;
  string contentType = 2;
  int32 errorCode = 3;
  uint32 httpCode = 4;
  repeated HttpHeader headers = 5;
  int32 svrkitErrorCode = 6;
}
`;

const root = protobuf.parse(SCHEMA, { keepCase: true }).root;
const CommApiData = root.lookupType('CommApiData');
const CommOpenApiResp = root.lookupType('CommOpenApiResp');

/** `CommApiData.apiType` of a plain open API call (`cloud.openapi.<ns>.<name>`). */
export const API_TYPE_OPEN_API = 0;

/** The content type wx-server-sdk expects in `CommOpenApiResp.contentType` for a JSON answer. */
export const JSON_RESP_CONTENT_TYPE = 'application/json; encoding=utf-8';

/** `requestData` that is not a well-formed `CommApiData`, or a parameter whose value is not JSON. */
export class TcbFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TcbFormatError';
  }
}

export interface DecodedApiData {
  /** 0 for an open API; the SDK's other kinds (inner, svrkit, token) carry no `openapiData`. */
  apiType: number;
  /** `cloud.openapi({ appid })`, or `''` when not given. */
  appid: string;
  /** The call's parameters, keys as sent (snake_case unless `convertCase: false`), values JSON-parsed. */
  params: Record<string, unknown>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Decodes a `requestData` part. Throws {@link TcbFormatError} for bad protobuf, duplicate keys or non-JSON values. */
export function decodeCommApiData(buf: Uint8Array): DecodedApiData {
  let obj: Record<string, unknown>;
  try {
    obj = CommApiData.toObject(CommApiData.decode(buf), { defaults: true, arrays: true }) as Record<string, unknown>;
  } catch (e) {
    throw new TcbFormatError(`requestData is not a CommApiData message: ${e instanceof Error ? e.message : String(e)}`);
  }
  const apiType = typeof obj['apiType'] === 'number' ? obj['apiType'] : 0;
  const appid = typeof obj['appid'] === 'string' ? obj['appid'] : '';
  const openapi = asRecord(obj['openapiData']);
  const pairs: unknown[] = openapi && Array.isArray(openapi['pairs']) ? (openapi['pairs'] as unknown[]) : [];
  const params: Record<string, unknown> = {};
  for (const p of pairs) {
    const pair = asRecord(p);
    const key = pair?.['key'];
    const value = pair?.['value'];
    if (typeof key !== 'string' || key === '' || !(value instanceof Uint8Array)) {
      throw new TcbFormatError('requestData has a parameter without key or value');
    }
    if (Object.prototype.hasOwnProperty.call(params, key)) {
      throw new TcbFormatError(`parameter ${key} is given twice`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8.decode(value));
    } catch {
      throw new TcbFormatError(`value of parameter ${key} is not JSON`);
    }
    // defineProperty: a key named "__proto__" stays an ordinary own property.
    Object.defineProperty(params, key, { value: parsed, enumerable: true, writable: true, configurable: true });
  }
  return { apiType, appid, params };
}

export interface CommApiDataInput {
  apiType?: number;
  appid?: string;
  /** Each value is JSON-stringified, as the SDK does. */
  params: Record<string, unknown>;
}

/** Encodes a `CommApiData` the way wx-server-sdk does (for tests and tools). */
export function encodeCommApiData(input: CommApiDataInput): Uint8Array {
  const pairs = Object.entries(input.params).map(([key, v]) => ({ key, value: Buffer.from(JSON.stringify(v)) }));
  const msg = CommApiData.fromObject({
    apiType: input.apiType ?? API_TYPE_OPEN_API,
    openapiData: { pairs },
    appid: input.appid ?? '',
  });
  return CommApiData.encode(msg).finish();
}

export interface CommOpenApiRespInput {
  /** The API's answer as sent to the caller: WeChat's JSON text for a JSON answer. */
  respData: Uint8Array;
  /** Defaults to {@link JSON_RESP_CONTENT_TYPE}; the SDK JSON-parses only `application/json` or `text/plain`. */
  contentType?: string;
  /** Non-zero makes the SDK throw "system error: error code: N" without reading `respData`. */
  errorCode?: number;
  httpCode?: number;
  headers?: ReadonlyArray<{ key: string; value: string }>;
  svrkitErrorCode?: number;
}

export function encodeCommOpenApiResp(input: CommOpenApiRespInput): Uint8Array {
  const msg = CommOpenApiResp.fromObject({
    respData: input.respData,
    contentType: input.contentType ?? JSON_RESP_CONTENT_TYPE,
    errorCode: input.errorCode ?? 0,
    httpCode: input.httpCode ?? 200,
    headers: input.headers ? [...input.headers] : [],
    svrkitErrorCode: input.svrkitErrorCode ?? 0,
  });
  return CommOpenApiResp.encode(msg).finish();
}

export interface DecodedOpenApiResp {
  respData: Uint8Array;
  contentType: string;
  errorCode: number;
  httpCode: number;
  headers: Array<{ key: string; value: string }>;
  svrkitErrorCode: number;
}

/** Decodes an answer body (for tests and tools). */
export function decodeCommOpenApiResp(buf: Uint8Array): DecodedOpenApiResp {
  const o = CommOpenApiResp.toObject(CommOpenApiResp.decode(buf), { defaults: true, arrays: true }) as Record<
    string,
    unknown
  >;
  const headers: Array<{ key: string; value: string }> = [];
  for (const h of Array.isArray(o['headers']) ? (o['headers'] as unknown[]) : []) {
    const r = asRecord(h);
    headers.push({ key: String(r?.['key'] ?? ''), value: String(r?.['value'] ?? '') });
  }
  const respData = o['respData'];
  return {
    respData: respData instanceof Uint8Array ? respData : new Uint8Array(),
    contentType: typeof o['contentType'] === 'string' ? o['contentType'] : '',
    errorCode: typeof o['errorCode'] === 'number' ? o['errorCode'] : 0,
    httpCode: typeof o['httpCode'] === 'number' ? o['httpCode'] : 0,
    headers,
    svrkitErrorCode: typeof o['svrkitErrorCode'] === 'number' ? o['svrkitErrorCode'] : 0,
  };
}
