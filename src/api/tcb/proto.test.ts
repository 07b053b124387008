import { describe, expect, it } from 'vitest';
import {
  API_TYPE_OPEN_API,
  decodeCommApiData,
  decodeCommOpenApiResp,
  encodeCommApiData,
  encodeCommOpenApiResp,
  JSON_RESP_CONTENT_TYPE,
  TcbFormatError,
} from './proto.ts';

/** Hand-built protobuf bytes, field by field, to pin the wire layout independently of protobufjs. */
function lengthDelimited(field: number, payload: Uint8Array): Uint8Array {
  if (payload.length > 127) throw new Error('test helper handles short payloads only');
  return Uint8Array.from([(field << 3) | 2, payload.length, ...payload]);
}
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

describe('CommApiData', () => {
  it('round-trips parameters, apiType and appid', () => {
    const params = { begin_date: '20240101', end_date: '20240107', nested: { a: [1, 2, null], b: true }, n: 3.5 };
    const buf = encodeCommApiData({ params, appid: 'wx1234567890abcdef' });
    expect(decodeCommApiData(buf)).toEqual({ apiType: API_TYPE_OPEN_API, appid: 'wx1234567890abcdef', params });
  });

  it('decodes the layout wx-server-sdk sends (apiType 1, openapiData 2 of pairs, appid 6)', () => {
    const pair = (k: string, v: string): Uint8Array => lengthDelimited(1, concat(lengthDelimited(1, utf8(k)), lengthDelimited(2, utf8(v))));
    const openapiData = lengthDelimited(2, concat(pair('begin_date', '"20240101"'), pair('end_date', '"20240102"')));
    const bytes = concat(Uint8Array.from([0x08, 0x00]), openapiData, lengthDelimited(6, utf8('wxabc')));
    expect(decodeCommApiData(bytes)).toEqual({
      apiType: 0,
      appid: 'wxabc',
      params: { begin_date: '20240101', end_date: '20240102' },
    });
  });

  it('defaults: empty message is an open API call without appid or parameters', () => {
    expect(decodeCommApiData(new Uint8Array())).toEqual({ apiType: 0, appid: '', params: {} });
  });

  it('keeps a "__proto__" key as an own property', () => {
    const decoded = decodeCommApiData(encodeCommApiData({ params: JSON.parse('{"__proto__": {"polluted": 1}}') as Record<string, unknown> }));
    expect(Object.keys(decoded.params)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('rejects a value that is not JSON with a typed error', () => {
    const pair = lengthDelimited(1, concat(lengthDelimited(1, utf8('begin_date')), lengthDelimited(2, utf8('2024-01-01'))));
    const bytes = lengthDelimited(2, pair);
    expect(() => decodeCommApiData(bytes)).toThrow(TcbFormatError);
    expect(() => decodeCommApiData(bytes)).toThrow(/begin_date is not JSON/);
  });

  it('rejects bytes that are not protobuf, a pair without key, and a key given twice', () => {
    expect(() => decodeCommApiData(Uint8Array.from([0x12, 0x40, 0x01]))).toThrow(TcbFormatError);
    const noKey = lengthDelimited(2, lengthDelimited(1, lengthDelimited(2, utf8('1'))));
    expect(() => decodeCommApiData(noKey)).toThrow(TcbFormatError);
    const pair = lengthDelimited(1, concat(lengthDelimited(1, utf8('a')), lengthDelimited(2, utf8('1'))));
    expect(() => decodeCommApiData(lengthDelimited(2, concat(pair, pair)))).toThrow(/given twice/);
  });
});

describe('CommOpenApiResp', () => {
  it('round-trips with the JSON content type by default', () => {
    const json = JSON.stringify({ errcode: 0, errmsg: 'ok', ref_date: '20240101' });
    const decoded = decodeCommOpenApiResp(encodeCommOpenApiResp({ respData: utf8(json) }));
    expect(Buffer.from(decoded.respData).toString('utf8')).toBe(json);
    expect(decoded.contentType).toBe(JSON_RESP_CONTENT_TYPE);
    expect(decoded).toMatchObject({ errorCode: 0, httpCode: 200, headers: [], svrkitErrorCode: 0 });
  });

  it('carries every field', () => {
    const decoded = decodeCommOpenApiResp(
      encodeCommOpenApiResp({
        respData: Uint8Array.from([1, 2, 3]),
        contentType: 'image/png',
        errorCode: -3,
        httpCode: 404,
        headers: [{ key: 'x-a', value: 'b' }],
        svrkitErrorCode: 7,
      }),
    );
    expect({ ...decoded, respData: [...decoded.respData] }).toEqual({
      respData: [1, 2, 3],
      contentType: 'image/png',
      errorCode: -3,
      httpCode: 404,
      headers: [{ key: 'x-a', value: 'b' }],
      svrkitErrorCode: 7,
    });
  });

  it('puts respData in field 1 and contentType in field 2, as the SDK reads them', () => {
    const bytes = encodeCommOpenApiResp({ respData: utf8('{}'), contentType: 'x', httpCode: 0 });
    expect([...bytes]).toEqual([0x0a, 2, 0x7b, 0x7d, 0x12, 1, 0x78]);
  });
});
