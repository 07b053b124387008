import { randomBytes } from 'node:crypto';

/** A request id as WeChat writes it: `5fbb16b0-1827960a-4cec5692` (Unix time in hex, then random hex). */
export function newRid(nowMs = Date.now()): string {
  const r = randomBytes(8).toString('hex');
  return `${Math.floor(nowMs / 1000).toString(16).padStart(8, '0')}-${r.slice(0, 8)}-${r.slice(8)}`;
}
