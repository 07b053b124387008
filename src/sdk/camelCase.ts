/**
 * The cloud call's answer from WeChat's JSON, as `wx-server-sdk` makes it: `errcode`/`errmsg` removed, every key
 * (at any depth) turned from snake_case to camelCase (`_x` → `X`; values untouched), then
 * `errMsg: "openapi.<api>:ok"` and `errCode: 0` added.
 */
export function toCloudCallShape(api: string, json: Record<string, unknown>): Record<string, unknown> {
  const { errcode: _errcode, errmsg: _errmsg, ...rest } = json;
  const converted = camelKeys(rest);
  return { ...(converted as Record<string, unknown>), errMsg: `openapi.${api}:ok`, errCode: 0 };
}

export function camelName(key: string): string {
  return key.replace(/_[a-z]/g, (m) => m.charAt(1).toUpperCase());
}

function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (value !== null && typeof value === 'object') {
    // fromEntries defines own properties, so a key such as "__proto__" stays a key.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [camelName(k), camelKeys(v)]));
  }
  return value;
}
