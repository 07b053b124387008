/**
 * Bad input: property-based fuzzing (fast-check) of malformed requests over every route — WeChat's token and
 * datacube routes, ingest, /tcb (unsigned and correctly signed), admin, health, unknown routes — with random
 * methods, query strings, headers, content types and bodies (invalid UTF-8, huge numbers, deep nesting,
 * prototype-pollution keys, NDJSON, multipart, oversized), plus raw bytes on a socket for what an HTTP client
 * would refuse to send. Every answer must be: below 500, JSON (or WeChat's protobuf on /tcb), a WeChat errcode
 * with a rid that the server's log carries, or one of the routes' documented shapes; never a stack trace or an
 * internal path; no error logged by the server, no unhandled rejection, no crash.
 */
import { sign } from '@cloudbase/signature-nodejs';
import fc from 'fast-check';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCommApiData, decodeCommOpenApiResp } from '../../src/api/tcb/proto.ts';
import { startTestServer, TEST_ADMIN_KEY, type TestServer } from '../../src/api/testing.ts';
import { ManualClock } from '../../src/domain/clock.ts';
import { dayOf, formatDay, startOfDay } from '../../src/domain/day.ts';
import { LONG, request, type Answer } from './harness.ts';
import { LogCapture } from './logCapture.ts';

const RUNS = Number(process.env.DATACUBE_FUZZ_RUNS ?? (LONG ? 50_000 : 10_000));
const RID = /rid: ([0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8})$/;
/** What must never reach a client: stack frames, source locations, our paths. */
const LEAKS = [/\n\s+at /, /node_modules/, /\/work\//, /\.ts:\d/, /\.js:\d/, /file:\/\//, /\bat (async )?[A-Za-z_.]+ \(/];

const NOW = Date.now();
const YESTERDAY = dayOf(NOW) - 1;
const ENV = 'fuzz-env';

interface Creds {
  appid: string;
  secret: string;
  token: string;
  otherToken: string;
  host: string;
}

type Body = { kind: 'text'; text: string } | { kind: 'bytes'; bytes: Uint8Array };

interface HttpCase {
  kind: 'http';
  method: string;
  path: string;
  query: [string, string][];
  headers: [string, string][];
  body: Body | undefined;
}
interface TcbCase {
  kind: 'tcb';
  apiName: string;
  requestData: Uint8Array;
  extraField: [string, string] | undefined;
  timestampSkew: number;
  withSecret: 'right' | 'wrong';
}
interface RawCase {
  kind: 'raw';
  bytes: Uint8Array;
}
type Case = HttpCase | TcbCase | RawCase;

// ---- arbitraries

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__defineGetter__', 'valueOf'];
const FIELD_KEYS = [
  'begin_date', 'end_date', 'grant_type', 'appid', 'secret', 'force_refresh', 'events', 'openid', 'time', 'event_id', 'gender',
  'age', 'platform', 'brand', 'model', 'province', 'city', 'ip', 'type', 'page', 'scene', 'session', 'stay', 'name', 'env',
  'dailyQuota', 'x',
];
const HUGE_NUMBERS = ['1e999', '-1e999', '123456789012345678901234567890', '9007199254740993', '-0', '1E+400', '0.000000000000000000000000001', '1e-400', '4294967296', '-1'];

function credsArb(c: Creds) {
  return fc.oneof(
    fc.constantFrom(c.token, c.otherToken, c.appid, c.secret, TEST_ADMIN_KEY, ENV, 'client_credential', formatDay(YESTERDAY), formatDay(YESTERDAY - 6)),
    fc.constantFrom('', ' ', 'wx0000000000000000', 'x'.repeat(600), '\u0000', '%00', '%zz', '𝕏', '\ud800', '<script>', '../../etc/passwd', '${jndi:x}', 'null', 'true'),
    fc.string({ maxLength: 40 }),
    fc.stringMatching(/^[0-9a-zA-Z_-]{1,70}$/),
  );
}

function valueArb(c: Creds): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: credsArb(c) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, 2, -1, 121, 1.5, Number.MAX_SAFE_INTEGER, 1e300, -1e300, true, false, null) },
    { weight: 1, arbitrary: fc.integer({ min: startOfDay(YESTERDAY - 40), max: NOW + 3_600_000 }) },
    { weight: 1, arbitrary: fc.date({ min: new Date(946684800000), max: new Date(NOW + 86_400_000), noInvalidDate: true }).map((d) => d.toISOString()) },
  );
}

/** A JSON object as text, so keys like "__proto__" really are in it. */
function objectText(c: Creds): fc.Arbitrary<string> {
  return fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...FIELD_KEYS), fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 12 })), valueArb(c)), { maxLength: 12 })
    .map((pairs) => `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`);
}

function eventText(c: Creds): fc.Arbitrary<string> {
  return fc
    .record({
      openid: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/), valueArb(c)),
      time: fc.oneof(fc.integer({ min: startOfDay(YESTERDAY - 40), max: NOW }), valueArb(c)),
      extra: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...FIELD_KEYS), fc.constantFrom(...PROTO_KEYS)), valueArb(c)), { maxLength: 6 }),
    })
    .map(({ openid, time, extra }) =>
      `{"openid":${JSON.stringify(openid) ?? 'null'},"time":${JSON.stringify(time) ?? 'null'}${extra.map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join('')}}`,
    );
}

function nested(depth: number, open: string, close: string, inner: string): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

function bodyArb(c: Creds): fc.Arbitrary<Body> {
  const text = (a: fc.Arbitrary<string>) => a.map((t): Body => ({ kind: 'text', text: t }));
  return fc.oneof(
    { weight: 4, arbitrary: text(objectText(c)) },
    { weight: 4, arbitrary: text(fc.array(eventText(c), { maxLength: 20 }).map((es) => `[${es.join(',')}]`)) },
    { weight: 1, arbitrary: text(fc.array(eventText(c), { maxLength: 5 }).map((es) => `{"events":[${es.join(',')}]}`)) },
    { weight: 2, arbitrary: text(fc.array(fc.oneof(eventText(c), fc.string({ maxLength: 30 })), { maxLength: 8 }).map((ls) => ls.join('\n'))) },
    { weight: 2, arbitrary: text(fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v))) },
    {
      weight: 2,
      arbitrary: text(
        fc
          .tuple(fc.constantFrom(...FIELD_KEYS), fc.constantFrom(...HUGE_NUMBERS), fc.constantFrom('{', '[{"openid":"a","time":'))
          .map(([k, n, shape]) => (shape === '{' ? `{"${k}":${n},"begin_date":${n},"end_date":"${formatDay(YESTERDAY)}"}` : `[{"openid":"a","time":${n},"${k}":${n}}]`)),
      ),
    },
    {
      weight: 2,
      arbitrary: text(
        fc
          .tuple(fc.integer({ min: 100, max: 60_000 }), fc.constantFrom('array', 'object', 'event'))
          .map(([d, shape]) =>
            shape === 'array' ? nested(d, '[', ']', '1') : shape === 'object' ? nested(d, '{"a":', '}', 'null') : `[{"openid":"a","time":${NOW - 1000},"deep":${nested(d, '[', ']', '')}}]`,
          ),
      ),
    },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b): Body => ({ kind: 'bytes', bytes: b })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(objectText(c), fc.integer({ min: 0, max: 40 }), fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]))
        .map(([t, at, bad]): Body => {
          const b = Buffer.from(t);
          const i = Math.min(at, b.length);
          return { kind: 'bytes', bytes: Buffer.concat([b.subarray(0, i), Buffer.from(bad), b.subarray(i)]) };
        }),
    },
    {
      weight: 1,
      arbitrary: text(
        fc
          .tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 40 }), fc.constantFrom('requestData', 'action', 'apiName', 'envName', 'x'))
          .map(([v, junk, name]) => `--b0undary\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${v}\r\n--b0undary${junk}`),
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom<Body>({ kind: 'text', text: '' }, { kind: 'text', text: 'x'.repeat(70_000) }, { kind: 'text', text: `{"a":"${'y'.repeat(1_100_000)}"}` }) },
  );
}

const ROUTES = [
  '/cgi-bin/token', '/cgi-bin/stable_token', '/datacube/getweanalysisappiduserportrait', '/datacube/getweanalysisappiddailysummarytrend',
  '/v1/events', '/tcb', '/admin/apps', '/admin/events', '/admin/portrait', '/healthz', '/', '/cgi-bin', '/datacube/', '/v1', '/admin',
  '/v1/users/delete', '/admin/users/delete', '/admin/prune', '/admin/backup', '/admin/restore',
];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'application/x-ndjson', 'application/jsonl', 'text/plain', 'application/octet-stream',
  'multipart/form-data; boundary=b0undary', 'multipart/form-data', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16',
  ';;;', 'a/b/c', '*/*', 'application/json, text/plain', ' ', 'multipart/form-data; boundary=',
];

function pathArb(c: Creds): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...ROUTES) },
    { weight: 1, arbitrary: fc.constantFrom(`/admin/apps/${c.appid}`, '/admin/apps/wx0000000000000000', '/admin/apps/%2e%2e', '/admin/apps/__proto__') },
    { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 4 }).map((segs) => `/${segs.map((s) => encodeURIComponent(s)).join('/')}`) },
    { weight: 1, arbitrary: fc.constantFrom('/%zz', '/datacube/%E0%A4%A', '//cgi-bin//token', '/v1/events/', '/V1/EVENTS', '/tcb/../admin/apps', `/${'a'.repeat(3000)}`, '/datacube/__proto__', '/%00', '/%ff%fe') },
  );
}

/** Routes with the method they are served on: most cases reach a handler, the rest a random method or path. */
function routeArb(c: Creds): fc.Arbitrary<{ method: string; path: string }> {
  const served: [string, string][] = [
    ['GET', '/cgi-bin/token'], ['POST', '/cgi-bin/stable_token'], ['POST', '/datacube/getweanalysisappiduserportrait'],
    ['POST', '/datacube/getweanalysisappiddailysummarytrend'], ['POST', '/v1/events'], ['POST', '/tcb'], ['GET', '/admin/apps'],
    ['POST', '/admin/apps'], ['PATCH', `/admin/apps/${c.appid}`], ['PATCH', '/admin/apps/wx0000000000000000'], ['POST', '/admin/events'],
    ['POST', '/admin/portrait'], ['GET', '/healthz'], ['HEAD', '/healthz'], ['HEAD', '/cgi-bin/token'],
    ['POST', '/v1/users/delete'], ['POST', '/admin/users/delete'], ['POST', '/admin/prune'], ['POST', '/admin/restore'],
  ];
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...served).map(([method, path]) => ({ method, path })) },
    {
      weight: 1,
      arbitrary: fc.record({
        method: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...METHODS) }, { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,9}$/) }),
        path: pathArb(c),
      }),
    },
  );
}

function httpCaseArb(c: Creds): fc.Arbitrary<HttpCase> {
  return fc
    .record({
      route: routeArb(c),
      query: fc.array(
        fc.tuple(
          fc.oneof(fc.constantFrom('access_token', 'access_token', 'grant_type', 'appid', 'secret', 'env', 'seqId', ...PROTO_KEYS, 'constructor[prototype][x]', 'a[b]'), fc.string({ maxLength: 8 })),
          credsArb(c),
        ),
        { maxLength: 5 },
      ),
      headers: fc.array(
        fc.oneof(
          fc.constantFrom(...CONTENT_TYPES).map((v): [string, string] => ['content-type', v]),
          fc.constantFrom(`Bearer ${TEST_ADMIN_KEY}`, `Bearer ${TEST_ADMIN_KEY}`, 'Bearer wrong', 'Bearer ', 'Basic YTpi', 'TC3-HMAC-SHA256 Credential=x', '').map((v): [string, string] => ['authorization', v]),
          fc.constantFrom('gzip', 'br', 'identity', 'x').map((v): [string, string] => ['content-encoding', v]),
          fc.constantFrom('chunked').map((v): [string, string] => ['transfer-encoding', v]),
          fc.tuple(fc.stringMatching(/^x-[a-z0-9-]{1,20}$/), fc.stringMatching(/^[ -~]{0,60}$/)).map(([k, v]): [string, string] => [k, v]),
          fc.constantFrom<[string, string]>(['expect', '100-continue'], ['accept', 'text/html'], ['x-forwarded-for', '10.0.0.1'], ['content-length', '0'], ['x-timestamp', '1'], ['host', 'evil.example']),
        ),
        { maxLength: 5 },
      ),
      body: fc.option(bodyArb(c), { nil: undefined, freq: 4 }),
    })
    .map(({ route, query, headers, body }) => ({ kind: 'http' as const, method: route.method, path: route.path, query, headers, body }));
}

function tcbCaseArb(): fc.Arbitrary<TcbCase> {
  return fc.record({
    kind: fc.constant<'tcb'>('tcb'),
    apiName: fc.oneof(fc.constantFrom('analysis.getUserPortrait', 'analysis.getDailySummary', 'wxacode.get', 'x', '', 'a.b.c.d', '__proto__.x'), fc.string({ maxLength: 20 })),
    requestData: fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc
        .record({
          apiType: fc.constantFrom(0, 0, 0, 1, 2),
          appid: fc.constantFrom('', '', 'wx0000000000000000'),
          params: fc.dictionary(fc.oneof(fc.constantFrom('begin_date', 'end_date', ...PROTO_KEYS), fc.string({ maxLength: 8 })), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(formatDay(YESTERDAY))), { maxKeys: 4 }),
        })
        .map((d) => encodeCommApiData(d)),
    ),
    extraField: fc.option(fc.tuple(fc.constantFrom('wxCloudApiToken', 'x', 'action'), fc.string({ maxLength: 10 })), { nil: undefined }),
    timestampSkew: fc.constantFrom(0, 0, 0, -600, 600),
    withSecret: fc.constantFrom<'right' | 'wrong'>('right', 'right', 'right', 'wrong'),
  });
}

function rawCaseArb(): fc.Arbitrary<RawCase> {
  const bytes = (s: string) => Buffer.from(s, 'latin1');
  return fc
    .record({
      method: fc.oneof(fc.constantFrom('GET', 'POST', 'FOO', 'G\u00ffT', '', 'PRI'), fc.stringMatching(/^[A-Z]{1,6}$/)),
      path: fc.oneof(
        fc.constantFrom('/v1/events', '/cgi-bin/token?appid=\u00ff\u00fe', '/datacube/\u00c3\u0028', '*', 'http://x/healthz', '/ /', '/\u0000', '/healthz'),
        fc.uint8Array({ minLength: 1, maxLength: 30 }).map((b) => `/${Buffer.from(b).toString('latin1').replace(/[\r\n ]/g, '_')}`),
      ),
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 extra', 'HTTX'),
      host: fc.constantFrom(true, true, false),
      headers: fc.array(
        fc.oneof(
          fc.constantFrom('Content-Length: 5', 'Content-Length: -1', 'Content-Length: 1, 2', 'Content-Length: 99999999999999999999', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked', 'Content-Type: application/json', 'X: \u00ff\u00fe', 'Bad Header: 1', ': empty', 'X-Folded: a\r\n b', `X-Big: ${'a'.repeat(20_000)}`),
          fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b).toString('latin1').replace(/[\r\n]/g, '')),
        ),
        { maxLength: 4 },
      ),
      body: fc.uint8Array({ maxLength: 200 }),
    })
    .map(({ method, path, version, host, headers, body }) => {
      const head = `${method} ${path} ${version}\r\n${host ? 'Host: 127.0.0.1\r\n' : ''}${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`;
      const chunked = headers.some((h) => /transfer-encoding/i.test(h));
      return { kind: 'raw' as const, bytes: Buffer.concat([bytes(head), Buffer.from(body), chunked ? bytes('\r\n0\r\n\r\n') : Buffer.alloc(0), Buffer.alloc(5, 0x20)]) };
    });
}

// ---- sending

function encodeQuery(q: [string, string][]): string {
  if (q.length === 0) return '';
  return `?${q.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v.replace(/[\ud800-\udfff]/g, '?'))}`).join('&')}`;
}

function multipart(boundary: string, fields: Record<string, string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    const isFile = typeof value !== 'string';
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${isFile ? '; filename="blob"' : ''}\r\n${isFile ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`,
      ),
      typeof value === 'string' ? Buffer.from(value) : value,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(parts);
}

interface Sent {
  path: string;
  method: string;
  /** Everything the client sent, as text, to tell a reflected input from a leak. */
  input: string;
  outcome: { ok: true; answer: Answer } | { ok: false; error: string };
  /**
   * Raw bytes only: answers after the first on the same connection. Bytes after a complete request are a request of
   * their own on a kept-alive connection, so a broken one gets its own 400 (a blank line inside the headers leaves
   * most of them after the body: see the examples of the run below).
   */
  more?: Answer[];
}

async function sendHttp(base: string, c: HttpCase, agent: http.Agent): Promise<Sent | undefined> {
  const path = c.path + encodeQuery(c.query);
  const headers: Record<string, string> = {};
  for (const [k, v] of c.headers) headers[k] = v;
  const chunked = headers['transfer-encoding'] === 'chunked';
  if (chunked) delete headers['content-length'];
  else if (headers['content-length'] !== undefined) delete headers['content-length'];
  const body = c.body === undefined ? undefined : c.body.kind === 'text' ? Buffer.from(c.body.text) : c.body.bytes;
  const outcome = await request(base, { method: c.method, path, headers, body, timeoutMs: 15_000 }, agent);
  if (!outcome.ok && outcome.error.startsWith('client refused')) return undefined; // Node's client would not send it
  const input = `${c.method} ${path} ${c.headers.map(([k, v]) => `${k}: ${v}`).join('\n')} ${body ? Buffer.from(body).toString('latin1') : ''}`;
  return { path: c.path, method: c.method, input, outcome };
}

async function sendTcb(base: string, t: TcbCase, creds: Creds, clock: ManualClock): Promise<Sent> {
  const fields: Record<string, string | Buffer> = {
    action: 'wx.openApi',
    apiName: t.apiName,
    requestData: Buffer.from(t.requestData),
    envName: ENV,
    wxCloudApiToken: '',
  };
  if (t.extraField) fields[t.extraField[0]] = t.extraField[1];
  const timestamp = Math.floor(clock.now() / 1000) + t.timestampSkew;
  const headers: Record<string, string | number> = { 'content-type': 'multipart/form-data', Host: creds.host, 'X-SDK-Version': 'wx-server-sdk/4.0.2' };
  const { authorization } = sign({
    secretId: creds.appid,
    secretKey: t.withSecret === 'right' ? creds.secret : 'not-the-secret',
    method: 'post',
    url: `http://${creds.host}/tcb?env=${ENV}`,
    params: { ...fields },
    headers,
    withSignedParams: true,
    timestamp,
  });
  const boundary = '----fuzz4b7c';
  const body = multipart(boundary, fields);
  const outcome = await request(base, {
    method: 'POST',
    path: `/tcb?env=${ENV}`,
    headers: {
      'content-type': `multipart/form-data; boundary=${boundary}`,
      authorization,
      'x-timestamp': String(timestamp),
      'x-signature-expires': '600',
      'x-sdk-version': 'wx-server-sdk/4.0.2',
      host: creds.host,
    },
    body,
  });
  return { path: '/tcb', method: 'POST', input: `${t.apiName} ${body.toString('latin1')}`, outcome };
}

/**
 * The HTTP/1.x answers in the bytes a connection received, in order: each head, then a body of its Content-Length, or
 * chunks, or (neither) the rest. Bytes that do not start an answer end the list with an answer of status 0.
 */
function parseAnswers(all: Buffer): Answer[] {
  const out: Answer[] = [];
  let at = 0;
  while (at < all.length) {
    const headEnd = all.indexOf('\r\n\r\n', at);
    const head = all.subarray(at, headEnd < 0 ? all.length : headEnd).toString('latin1');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of head.split('\r\n').slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    if (status === 0 || headEnd < 0) {
      const body = all.subarray(at);
      out.push({ status: 0, headers, body, text: body.toString('utf8') });
      break;
    }
    at = headEnd + 4;
    let body: Buffer;
    if (headers['transfer-encoding'] === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const eol = all.indexOf('\r\n', at);
        if (eol < 0) {
          at = all.length;
          break;
        }
        const n = parseInt(all.subarray(at, eol).toString('latin1'), 16);
        if (!(n > 0)) {
          at = Math.min(all.length, eol + 4); // the last chunk and the blank line after it
          break;
        }
        parts.push(all.subarray(eol + 2, eol + 2 + n));
        at = eol + 2 + n + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = all.subarray(at, at + n);
      at += n;
    } else {
      body = all.subarray(at);
      at = all.length;
    }
    out.push({ status, headers, body, text: body.toString('utf8') });
  }
  return out;
}

function sendRaw(port: number, r: RawCase): Promise<Sent> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1');
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      s.destroy();
      const input = Buffer.from(r.bytes).toString('latin1');
      const answers = parseAnswers(Buffer.concat(chunks));
      const [first, ...more] = answers;
      if (!first) return resolve({ path: '(raw)', method: '(raw)', input, outcome: { ok: false, error: error ?? 'closed without an answer' } });
      resolve({ path: '(raw)', method: '(raw)', input, outcome: { ok: true, answer: first }, more });
    };
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => finish());
    s.on('close', () => finish());
    s.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    s.setTimeout(10_000, () => finish('timed out'));
    // Half-close after sending: the server sees the end of the request, complete or not, and answers it.
    s.end(Buffer.from(r.bytes));
  });
}

// ---- judging an answer

interface Verdict {
  problem?: string;
  /** The request id the answer names (errmsg rid or tcb requestId). */
  rid?: string;
}

/** A target's path as the router sees it: no query or fragment, repeated and trailing slashes not counted. */
function routeOf(target: string): string {
  return (target.split(/[?#]/)[0] ?? '').replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1');
}

function judge(s: Sent): Verdict {
  if (!s.outcome.ok) return { problem: `no answer: ${s.outcome.error}` };
  const a = s.outcome.answer;
  if (a.status >= 500 || a.status < 100) return { problem: `HTTP ${a.status}` };
  for (const leak of LEAKS) {
    const m = leak.exec(a.text);
    if (m && !s.input.includes(m[0])) return { problem: `leaks ${leak}: ${a.text.slice(0, 300)}` };
  }
  if (s.method === 'HEAD') return a.body.length === 0 ? {} : { problem: 'a HEAD answer with a body' };
  // Routed as the server routes it: repeated and trailing slashes do not count (ignoreDuplicateSlashes,
  // ignoreTrailingSlash in createServer.ts), so `GET //` is the dashboard's page like `GET /`.
  const route = routeOf(s.path);
  const contentType = String(a.headers['content-type'] ?? '');
  let value: unknown;
  if (route === '/tcb' && contentType.startsWith('application/octet-stream')) {
    try {
      value = JSON.parse(Buffer.from(decodeCommOpenApiResp(a.body).respData).toString('utf8'));
    } catch (e) {
      return { problem: `tcb answer is not a CommOpenApiResp with JSON: ${String(e)}` };
    }
    const v = value as { errcode?: unknown; ref_date?: unknown };
    if (typeof v.errcode === 'number' && v.errcode !== -1) return {};
    if (typeof v.ref_date === 'string') return {};
    return { problem: `tcb answer without errcode: ${JSON.stringify(value).slice(0, 200)}` };
  }
  // The dashboard's page and files (GET / and /dashboard/assets/…) are HTML, scripts and styles, not JSON. A raw
  // request names its route in its request line, where the router ignores a query and a fragment (`GET /#x`, seed
  // 767394514, is the dashboard's page too).
  const rawGet = s.method === '(raw)' ? /^GET ([^ ]*) HTTP\/\d\.\d\r\n/.exec(s.input)?.[1] : undefined;
  const getRoute = rawGet === undefined ? (s.method === 'GET' ? route : undefined) : routeOf(rawGet);
  if (getRoute !== undefined && (getRoute === '/' || getRoute.startsWith('/dashboard/assets/')) && a.status === 200 && /^text\/(html|javascript|css)/.test(contentType)) {
    return {};
  }
  // A backup streams out as gzip (the CLI checks it whole).
  if (route === '/admin/backup' && contentType.startsWith('application/gzip')) return a.body[0] === 0x1f && a.body[1] === 0x8b ? {} : { problem: 'a backup that is not gzip' };
  if (!contentType.startsWith('application/json')) return { problem: `content type ${contentType}: ${a.text.slice(0, 200)}` };
  try {
    value = JSON.parse(a.text);
  } catch {
    return { problem: `not JSON: ${a.text.slice(0, 200)}` };
  }
  if (Array.isArray(value)) return route === '/admin/apps' ? {} : { problem: `an array from ${route}` };
  if (typeof value !== 'object' || value === null) return { problem: `not a JSON object: ${a.text.slice(0, 100)}` };
  const v = value as Record<string, unknown>;
  // Admin answers are for the CLI: {error} (with the errcode and WeChat's text when there is one).
  if (route.startsWith('/admin/') && typeof v.error === 'string') return v.errcode === -1 ? { problem: `system error: ${a.text}` } : {};
  if (typeof v.errcode === 'number') {
    if (v.errcode === -1) return { problem: `system error: ${a.text}` };
    if (typeof v.errmsg !== 'string') return { problem: 'errcode without errmsg' };
    const result = typeof v.accepted === 'number' || (route === '/v1/users/delete' && typeof v.users === 'number' && typeof v.events === 'number');
    if (v.errcode === 0) return result ? {} : { problem: `errcode 0 without a result: ${a.text.slice(0, 200)}` };
    const rid = RID.exec(v.errmsg)?.[1];
    return rid ? { rid } : { problem: `errmsg without a rid: ${v.errmsg}` };
  }
  if (route === '/tcb' && typeof v.code === 'string' && typeof v.message === 'string' && typeof v.requestId === 'string') {
    return v.code === 'SYS_ERR' ? { problem: `tcb SYS_ERR: ${a.text}` } : { rid: v.requestId };
  }
  if (route.startsWith('/admin/') && (typeof v.appid === 'string' || typeof v.ref_date === 'string')) return {};
  if (route === '/admin/prune' && Array.isArray(v.pruned)) return {};
  if (typeof v.access_token === 'string' && typeof v.expires_in === 'number') return {};
  if (typeof v.ref_date === 'string' && typeof v.visit_uv === 'object') return {};
  // A raw request is answered by the route it names (its garbage tail gets no answer of its own).
  if ((route === '/healthz' || route === '(raw)') && v.ok === true) return {};
  return { problem: `unrecognised answer from ${route}: ${a.text.slice(0, 200)}` };
}

// ---- the run

describe(`bad input: ${RUNS} fuzzed requests`, () => {
  const clock = new ManualClock(NOW);
  const logs = new LogCapture();
  let t: TestServer;
  let creds: Creds;
  const crashes: unknown[] = [];
  const onCrash = (e: unknown) => crashes.push(e);

  beforeAll(async () => {
    process.on('unhandledRejection', onCrash);
    process.on('uncaughtException', onCrash);
    t = await startTestServer({ clock, server: { logger: { level: 'info', stream: logs } } });
    const { app, secret } = await t.services.auth.createApp({ env: ENV });
    const other = await t.newApp();
    creds = {
      appid: app.appid,
      secret,
      token: await t.token(app.appid, secret),
      otherToken: await t.token(other.appid, other.secret),
      host: new URL(t.url).host,
    };
    // Some data, so that fuzzed portraits with a good token do real work.
    await t.post(`/v1/events?access_token=${creds.token}`, [
      { openid: 'seed1', time: startOfDay(YESTERDAY) + 3_600_000, gender: 1, platform: 'iOS' },
      { openid: 'seed2', time: startOfDay(YESTERDAY - 3) + 3_600_000, gender: 2, province: '广东', city: '深圳' },
    ]);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onCrash);
    process.off('uncaughtException', onCrash);
    await t.stop(true);
  });

  it('answers every malformed request with an errcode or a precise message, never 5xx, never a stack', { timeout: LONG ? 1_200_000 : 300_000 }, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const port = Number(new URL(t.url).port);
    const rids: string[] = [];
    const counts = { http: 0, tcb: 0, raw: 0, skipped: 0 };
    const statuses = new Map<number, number>();
    const errcodes = new Map<string, number>();
    const arb: fc.Arbitrary<Case> = fc.oneof(
      { weight: 17, arbitrary: httpCaseArb(creds) },
      { weight: 1, arbitrary: tcbCaseArb() },
      { weight: 2, arbitrary: rawCaseArb() },
    );
    const seed = Number(process.env.DATACUBE_SEED ?? Math.floor(Math.random() * 2 ** 31));
    try {
      await fc.assert(
        fc.asyncProperty(arb, async (c) => {
          const sent = c.kind === 'http' ? await sendHttp(t.url, c, agent) : c.kind === 'tcb' ? await sendTcb(t.url, c, creds, clock) : await sendRaw(port, c);
          if (!sent) {
            counts.skipped++;
            return;
          }
          counts[c.kind]++;
          if (sent.outcome.ok) statuses.set(sent.outcome.answer.status, (statuses.get(sent.outcome.answer.status) ?? 0) + 1);
          const v = judge(sent);
          if (v.problem) throw new Error(`${v.problem}\nrequest: ${sent.input.slice(0, 400)}`);
          if (v.rid) rids.push(v.rid);
          // A raw connection's later answers (to the bytes after its request) are judged as answers of their own.
          for (const answer of sent.more ?? []) {
            const w = judge({ ...sent, outcome: { ok: true, answer } });
            if (w.problem) throw new Error(`${w.problem} (answer ${2 + (sent.more ?? []).indexOf(answer)} on the connection)\nrequest: ${sent.input.slice(0, 400)}`);
            if (w.rid) rids.push(w.rid);
          }
          if (sent.outcome.ok) {
            const code = /"(errcode|code)":(-?\d+|"[A-Z_]+")/.exec(sent.outcome.answer.text)?.[2] ?? (sent.outcome.answer.status === 200 ? 'ok' : String(sent.outcome.answer.status));
            errcodes.set(code, (errcodes.get(code) ?? 0) + 1);
          }
        }),
        {
          numRuns: RUNS,
          seed,
          endOnFailure: false,
          verbose: 1,
          // Found by seed 521661063 under load: a complete request, bytes after it, then the client's FIN. The server
          // ended the connection at the FIN (or at the bytes after it) before the store had answered /healthz.
          // And a blank line inside the headers (the long run's failures of 2026-11-30): the GET's 5-byte body is
          // "Conne", the rest is a second request, not valid HTTP, answered 400 after the GET's 404 — two answers.
          examples: [
            [{ kind: 'raw', bytes: Buffer.from('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\n12345     ', 'latin1') }],
            [{ kind: 'raw', bytes: Buffer.from('GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nConnection: close\r\n\r\n     ', 'latin1') }],
          ],
        },
      );
    } finally {
      agent.destroy();
    }
    console.info(`fuzz: seed ${seed}; sent ${JSON.stringify(counts)}; statuses ${JSON.stringify([...statuses].sort((a, b) => a[0] - b[0]))}; answers ${JSON.stringify([...errcodes].sort((a, b) => b[1] - a[1]))}`);
    expect(counts.http + counts.tcb + counts.raw).toBeGreaterThanOrEqual(RUNS * 0.95);
    expect(counts.tcb).toBeGreaterThan(0);
    // The server is still well, logged no error, and every rid a client saw is in its log.
    expect((await t.get('/healthz')).json).toEqual({ ok: true });
    expect(crashes).toEqual([]);
    expect(logs.atLeast(50)).toEqual([]);
    const missing = rids.filter((r) => !logs.reqIds.has(r));
    expect(missing.slice(0, 5)).toEqual([]);
    expect(rids.length).toBeGreaterThan(RUNS / 2);
  });
});
