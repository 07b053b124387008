// How the page talks to datacube. Data comes from the public WeChat API: POST /dashboard/datacube/<path> is passed
// by the server, unchanged, to POST /datacube/<path>?access_token=<the session's token>, and its answer comes back
// unchanged. The session (an HttpOnly cookie) is made by signing in with the appid and secret.

/** @typedef {{ appid: string, yesterday: string }} SessionInfo */

/** A non-zero errcode from the server; `status` is the HTTP status. */
export class ApiError extends Error {
  /**
   * @param {number} errcode
   * @param {string} errmsg
   * @param {number} status
   * @param {number} [retryAfter] seconds, from a 429's Retry-After
   */
  constructor(errcode, errmsg, status, retryAfter) {
    super(errmsg);
    this.name = 'ApiError';
    this.errcode = errcode;
    this.errmsg = errmsg;
    this.status = status;
    this.retryAfter = retryAfter;
  }

  /** The session is gone (signed out elsewhere, expired, server restarted): sign in again. */
  get signedOut() {
    return this.status === 401;
  }
}

/**
 * @param {string} url
 * @param {RequestInit} init
 * @returns {Promise<Record<string, unknown>>}
 */
async function request(url, init) {
  const res = await fetch(url, { credentials: 'same-origin', cache: 'no-store', ...init });
  /** @type {unknown} */
  let body;
  try {
    body = await res.json();
  } catch {
    throw new ApiError(-1, `HTTP ${res.status}`, res.status);
  }
  const json = typeof body === 'object' && body !== null && !Array.isArray(body) ? /** @type {Record<string, unknown>} */ (body) : {};
  const errcode = typeof json.errcode === 'number' ? json.errcode : 0;
  if (errcode !== 0 || !res.ok) {
    const retry = Number(res.headers.get('retry-after'));
    throw new ApiError(errcode, typeof json.errmsg === 'string' ? json.errmsg : `HTTP ${res.status}`, res.status, Number.isFinite(retry) && retry > 0 ? retry : undefined);
  }
  return json;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * Who is signed in, or undefined.
 * @returns {Promise<SessionInfo | undefined>}
 */
export async function currentSession() {
  const j = await request('/dashboard/session', { method: 'GET' });
  return j.signed_in === true ? { appid: String(j.appid), yesterday: String(j.yesterday) } : undefined;
}

/**
 * Signs in; throws ApiError (40013 unknown appid, 40125 wrong secret, 45011 too many failures).
 * @param {string} appid
 * @param {string} secret
 * @returns {Promise<SessionInfo>}
 */
export async function signIn(appid, secret) {
  const j = await request('/dashboard/session', { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ appid, secret }) });
  return { appid: String(j.appid), yesterday: String(j.yesterday) };
}

export async function signOut() {
  await request('/dashboard/session', { method: 'DELETE' });
}

/**
 * Calls one of WeChat's analysis APIs (its path after /datacube/) with a JSON body; resolves to its answer.
 * @param {string} path
 * @param {Record<string, unknown>} body
 * @returns {Promise<Record<string, unknown>>}
 */
export function callApi(path, body) {
  return request(`/dashboard/datacube/${encodeURIComponent(path)}`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });
}
