import { randomBytes } from 'node:crypto';

/**
 * Random bytes are drawn from the system a few KiB at a time and turned into hex once: one draw (or one hex
 * conversion) per request costs more than the request.
 */
const POOL_BYTES = 4096;
let pool = '';
let used = 0;

function randomHex8Bytes(): string {
  if (used + 16 > pool.length) {
    pool = randomBytes(POOL_BYTES).toString('hex');
    used = 0;
  }
  const hex = pool.slice(used, used + 16);
  used += 16;
  return hex;
}

/** A request id as WeChat writes it: `5fbb16b0-1827960a-4cec5692` (Unix time in hex, then random hex). */
export function newRid(nowMs = Date.now()): string {
  const r = randomHex8Bytes();
  return `${Math.floor(nowMs / 1000).toString(16).padStart(8, '0')}-${r.slice(0, 8)}-${r.slice(8)}`;
}
