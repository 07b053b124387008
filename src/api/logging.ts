import type { FastifyRequest } from 'fastify';

/** Query parameters whose values never reach a log line: app secrets, access tokens, keys. */
const SENSITIVE = /secret|token|key|signature|password/i;

/** The URL with the value of every sensitive query parameter replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
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
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

/** pino serializer for requests: Fastify's fields, with secrets and tokens taken out of the URL. */
export function requestSerializer(req: FastifyRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: redactUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket ? req.socket.remotePort : undefined,
  };
}
