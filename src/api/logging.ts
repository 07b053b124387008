import type { FastifyRequest } from 'fastify';
import { APPID_PATTERN } from '../auth/index.ts';

/** Query parameters whose values never reach a log line: app secrets, access tokens, keys. */
const SENSITIVE = /secret|token|key|signature|password/i;

/** The URL with the value of every sensitive query parameter replaced by `[redacted]`. */
export function redactUrl(url: string, knownSegments?: ReadonlySet<string>): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const safe = knownSegments ? redactPath(path, knownSegments) : path;
  if (q < 0) return safe;
  const parts = url
    .slice(q + 1)
    .split('&')
    .map((p) => {
      const eq = p.indexOf('=');
      const rawName = eq < 0 ? p : p.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        // an undecodable name is checked as it is
      }
      return eq >= 0 && SENSITIVE.test(name) ? `${rawName}=[redacted]` : p;
    });
  return `${safe}?${parts.join('&')}`;
}

/**
 * The path with every segment the server does not serve replaced by `*`: a client may put a secret or a token in
 * the path by mistake (`/cgi-bin/token/<secret>`), and the log must not keep it. Kept: the segments of the routes
 * (`known`) and appids (not secret).
 */
export function redactPath(path: string, known: ReadonlySet<string>): string {
  return path
    .split('/')
    .map((seg) => (seg === '' || known.has(seg) || APPID_PATTERN.test(seg) ? seg : '*'))
    .join('/');
}

/**
 * pino serializer for requests: Fastify's fields, with secrets and tokens taken out of the URL (sensitive query
 * parameters, and path segments that are not part of any route; `knownSegments` is filled as routes are added).
 */
export function requestSerializer(knownSegments: ReadonlySet<string>): (req: FastifyRequest) => Record<string, unknown> {
  return (req) => ({
    method: req.method,
    url: redactUrl(req.url, knownSegments),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket ? req.socket.remotePort : undefined,
  });
}
