import { sign } from '@cloudbase/signature-nodejs';
import { describe, expect, it } from 'vitest';
import { MAX_CLOCK_SKEW_MS, type Tc3Request, verifyTc3 } from './signature.ts';

// Requests are signed by @cloudbase/signature-nodejs, the signer @cloudbase/node-sdk (under wx-server-sdk) uses,
// with the same arguments node-sdk passes: lowercase method, the full URL, the form params, withSignedParams.
const SECRET_ID = 'wx0123456789abcdef';
const SECRET_KEY = 'app-secret-0123456789';
const HOST = '127.0.0.1:8080';
const QUERY = 'env=env-1&seqId=1a2b3c_1';
const TS = 1_717_000_000; // seconds

const lookup = async (id: string): Promise<string | undefined> => (id === SECRET_ID ? SECRET_KEY : undefined);

interface Signed {
  request: Tc3Request;
  nowMs: number;
}

function signedRequest(
  opts: { secretKey?: string; method?: string; timestamp?: number; withSignedParams?: boolean } = {},
): Signed {
  const timestamp = opts.timestamp ?? TS;
  const fields: Record<string, string | Buffer> = {
    action: 'wx.openApi',
    apiName: 'analysis.getUserPortrait',
    requestData: Buffer.from([0x12, 0x00, 0xff, 0x0a, 0x20]),
    envName: 'env-1',
    wxCloudApiToken: '',
    wxCloudbaseAccesstoken: '',
    tcb_sessionToken: '',
    crossAuthorizationToken: '',
  };
  const headers: Record<string, string | number> = {
    'content-type': 'multipart/form-data',
    'User-Agent': 'tcb-node-sdk/3.17.2',
    'X-TCB-Source': ',unknown',
    'X-Client-Timestamp': timestamp * 1000 + 123,
    'X-SDK-Version': 'wx-server-sdk/4.0.2',
    Host: HOST,
  };
  const { authorization } = sign({
    secretId: SECRET_ID,
    secretKey: opts.secretKey ?? SECRET_KEY,
    method: opts.method ?? 'post',
    url: `http://${HOST}/tcb?${QUERY}`,
    params: { ...fields },
    headers,
    withSignedParams: opts.withSignedParams ?? true,
    timestamp,
  });
  // What the server sees: lowercase names, string values, the real multipart content type with its boundary.
  const received: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) received[k.toLowerCase()] = String(v);
  received['content-type'] = 'multipart/form-data; boundary=--------------------------f837be4c63b5f7e949c5b6d8';
  received['authorization'] = authorization;
  received['x-timestamp'] = String(timestamp);
  received['x-signature-expires'] = '600';
  return {
    request: { method: 'POST', path: '/tcb', query: QUERY, headers: received, fields },
    nowMs: timestamp * 1000 + 1500,
  };
}

function withHeader(s: Signed, name: string, value: string | undefined): Signed {
  return { ...s, request: { ...s.request, headers: { ...s.request.headers, [name]: value } } };
}
function withField(s: Signed, name: string, value: string | Buffer): Signed {
  return { ...s, request: { ...s.request, fields: { ...s.request.fields, [name]: value } } };
}

describe('verifyTc3', () => {
  it('accepts a request signed as node-sdk signs it', async () => {
    const s = signedRequest();
    expect(s.request.headers['authorization']).toMatch(/SignedParams=action;apiname;envname;requestdata, SignedHeaders=content-type;host;/);
    expect(await verifyTc3(s.request, lookup, s.nowMs)).toEqual({ ok: true, secretId: SECRET_ID });
  });

  it('accepts a signature without SignedParams (all non-empty fields, sorted)', async () => {
    const s = signedRequest({ withSignedParams: false });
    expect(s.request.headers['authorization']).not.toContain('SignedParams');
    expect(await verifyTc3(s.request, lookup, s.nowMs)).toEqual({ ok: true, secretId: SECRET_ID });
    const added = withField(s, 'extra', 'x');
    expect(await verifyTc3(added.request, lookup, s.nowMs)).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('accepts an uppercase-method signature too', async () => {
    const s = signedRequest({ method: 'POST' });
    expect(await verifyTc3(s.request, lookup, s.nowMs)).toEqual({ ok: true, secretId: SECRET_ID });
  });

  it('accepts timestamps within 5 minutes either way', async () => {
    const s = signedRequest();
    expect((await verifyTc3(s.request, lookup, TS * 1000 + MAX_CLOCK_SKEW_MS)).ok).toBe(true);
    expect((await verifyTc3(s.request, lookup, TS * 1000 - MAX_CLOCK_SKEW_MS)).ok).toBe(true);
  });

  it('refuses a wrong key', async () => {
    const s = signedRequest({ secretKey: 'not-the-secret' });
    expect(await verifyTc3(s.request, lookup, s.nowMs)).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('refuses an unknown secretId', async () => {
    const s = signedRequest();
    const result = await verifyTc3(s.request, async () => undefined, s.nowMs);
    expect(result).toEqual({ ok: false, reason: 'unknown secretId' });
  });

  it('refuses a stale or future timestamp', async () => {
    const s = signedRequest();
    const stale = await verifyTc3(s.request, lookup, TS * 1000 + MAX_CLOCK_SKEW_MS + 1000);
    expect(stale).toMatchObject({ ok: false, reason: expect.stringMatching(/expired/) as unknown });
    const future = await verifyTc3(s.request, lookup, TS * 1000 - MAX_CLOCK_SKEW_MS - 1000);
    expect(future.ok).toBe(false);
  });

  it('refuses an X-Timestamp changed after signing', async () => {
    const s = withHeader(signedRequest(), 'x-timestamp', String(TS + 1));
    expect(await verifyTc3(s.request, lookup, s.nowMs)).toEqual({ ok: false, reason: 'signature mismatch' });
    const other = withHeader(signedRequest(), 'x-timestamp', String(TS + 86_400));
    expect((await verifyTc3(other.request, lookup, (TS + 86_400) * 1000)).ok).toBe(false);
  });

  it('refuses a tampered body: binary part, text field, an added field', async () => {
    const s = signedRequest();
    const data = withField(s, 'requestData', Buffer.from([0x12, 0x00, 0xff, 0x0a, 0x21]));
    expect(await verifyTc3(data.request, lookup, s.nowMs)).toEqual({ ok: false, reason: 'signature mismatch' });
    const api = withField(s, 'apiName', 'analysis.getOther');
    expect(await verifyTc3(api.request, lookup, s.nowMs)).toEqual({ ok: false, reason: 'signature mismatch' });
    const added = withField(s, 'extra', 'x');
    expect(await verifyTc3(added.request, lookup, s.nowMs)).toMatchObject({ ok: false, reason: expect.stringMatching(/not signed: extra/) as unknown });
    const emptied = withField(s, 'envName', '');
    expect((await verifyTc3(emptied.request, lookup, s.nowMs)).ok).toBe(false);
  });

  it('ignores surrounding whitespace of text fields, as the signer trims them', async () => {
    const s = withField(signedRequest(), 'envName', '  env-1 ');
    expect((await verifyTc3(s.request, lookup, s.nowMs)).ok).toBe(true);
  });

  it('refuses a tampered query, path, host or signed header', async () => {
    const s = signedRequest();
    const cases: Tc3Request[] = [
      { ...s.request, query: 'env=env-2&seqId=1a2b3c_1' },
      { ...s.request, path: '/tcb2' },
      withHeader(s, 'host', '127.0.0.1:8081').request,
      withHeader(s, 'x-tcb-source', ',scf').request,
    ];
    for (const request of cases) {
      expect(await verifyTc3(request, lookup, s.nowMs)).toEqual({ ok: false, reason: 'signature mismatch' });
    }
    const gone = withHeader(s, 'user-agent', undefined);
    expect(await verifyTc3(gone.request, lookup, s.nowMs)).toEqual({ ok: false, reason: 'signed header user-agent is missing' });
  });

  it('refuses missing or malformed authorization', async () => {
    const s = signedRequest();
    expect((await verifyTc3(withHeader(s, 'authorization', undefined).request, lookup, s.nowMs)).ok).toBe(false);
    expect((await verifyTc3(withHeader(s, 'authorization', 'Bearer x').request, lookup, s.nowMs)).ok).toBe(false);
    const auth = String(s.request.headers['authorization']);
    const otherService = auth.replace('/tcb/tc3_request', '/cvm/tc3_request');
    expect((await verifyTc3(withHeader(s, 'authorization', otherService).request, lookup, s.nowMs)).ok).toBe(false);
    const noHost = auth.replace('content-type;host;', 'content-type;');
    expect(await verifyTc3(withHeader(s, 'authorization', noHost).request, lookup, s.nowMs)).toEqual({ ok: false, reason: 'header host must be signed' });
    expect((await verifyTc3(withHeader(s, 'x-timestamp', undefined).request, lookup, s.nowMs)).ok).toBe(false);
  });

  it('never puts the secret in a reason', async () => {
    const s = signedRequest({ secretKey: 'wrong' });
    const result = await verifyTc3(s.request, lookup, s.nowMs);
    expect(JSON.stringify(result)).not.toContain(SECRET_KEY);
  });
});
