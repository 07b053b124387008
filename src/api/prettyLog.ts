/**
 * Log lines for people: pino writes JSON lines into this stream, which prints each as one readable line —
 * `10:15:02.123 POST /datacube/getweanalysisappiduserportrait 200 errcode 61501 3.1 ms rid 5fbb16b0-…` for a request,
 * `10:15:02.123 WARN message key=value` otherwise. Used when the log goes to a terminal (DATACUBE_LOG_FORMAT=auto)
 * or when asked for (DATACUBE_LOG_FORMAT=pretty).
 */
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields shown in their own place, or of no use to a reader. */
const SHOWN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'reqId', 'req', 'res', 'responseTime', 'errcode', 'err']);

export interface LineSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

function clock(ms: unknown): string {
  const d = typeof ms === 'number' ? new Date(ms) : new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function value(v: unknown): string {
  return typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v);
}

/** Formats one pino JSON line; anything that is not JSON comes back as it was. */
export function prettyLine(line: string, color = false): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = typeof o.level === 'number' ? o.level : 30;
  const paint = (code: string, s: string) => (color ? `\u001b[${code}m${s}\u001b[39m` : s);
  const dim = (s: string) => (color ? `\u001b[2m${s}\u001b[22m` : s);
  const parts = [dim(clock(o.time))];
  if (level !== 30) parts.push(paint(COLORS[level] ?? '0', LEVELS[level] ?? String(level)));
  const req = o.req as { method?: unknown; url?: unknown } | undefined;
  const res = o.res as { statusCode?: unknown } | undefined;
  if (req && res && typeof res.statusCode === 'number') {
    const status = res.statusCode;
    parts.push(`${String(req.method)} ${String(req.url)}`);
    parts.push(paint(status >= 500 ? '31' : status >= 400 ? '33' : '32', String(status)));
    if (typeof o.errcode === 'number' && o.errcode !== 0) parts.push(paint('33', `errcode ${o.errcode}`));
    if (typeof o.responseTime === 'number') parts.push(`${o.responseTime} ms`);
  } else if (typeof o.msg === 'string') {
    parts.push(o.msg);
  }
  for (const [k, v] of Object.entries(o)) if (!SHOWN.has(k) && v !== undefined) parts.push(dim(`${k}=${value(v)}`));
  if (typeof o.reqId === 'string') parts.push(dim(`rid ${o.reqId}`));
  const err = o.err as { message?: unknown; stack?: unknown } | undefined;
  let text = parts.join(' ');
  if (err) text += `\n${typeof err.stack === 'string' ? err.stack : String(err.message)}`;
  return text;
}

/** A pino destination that prints readable lines to `out` (colours when it is a terminal and NO_COLOR is unset). */
export function prettyLogStream(out: LineSink, env: NodeJS.ProcessEnv = process.env): { write(chunk: string): void } {
  const color = out.isTTY === true && !env.NO_COLOR;
  let partial = '';
  return {
    write(chunk: string): void {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line !== '') out.write(`${prettyLine(line, color)}\n`);
    },
  };
}
