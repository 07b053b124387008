/**
 * A Bloom filter of the stored events' `(appid, event_id)` pairs, so that `append` needs to look in the `events`
 * table (a scan of the whole table) only for ids the filter cannot rule out: ids that are stored, and about one in
 * a million others. Kept in memory (about 4.5 bytes per stored event id) and told about every id once its batch is
 * committed; filled from `events.id_lo`/`id_hi` (the same hash, stored with each event) when first needed.
 *
 * It grows as a chain of filters, each twice the capacity of the one before and with half its false-positive
 * rate, so the overall rate stays below twice the first one's however many ids are added.
 */
const FIRST_FALSE_POSITIVE_RATE = 1e-6;
const MIN_CAPACITY = 1 << 16;

class Bloom {
  readonly bits: Uint32Array;
  readonly m: number;
  readonly k: number;
  count = 0;

  constructor(
    readonly capacity: number,
    falsePositiveRate: number,
  ) {
    // m bits and k probes for `capacity` keys at the rate asked (m < 2^32, so a probe is one 32-bit remainder).
    this.m = Math.min(2 ** 32 - 32, Math.ceil((-capacity * Math.log(falsePositiveRate)) / (Math.LN2 * Math.LN2)));
    this.bits = new Uint32Array(Math.ceil(this.m / 32));
    this.k = Math.max(1, Math.round((this.m / capacity) * Math.LN2));
  }

  add(lo: number, hi: number): void {
    const step = hi | 1;
    for (let i = 0; i < this.k; i++) {
      const bit = ((lo + Math.imul(i, step)) >>> 0) % this.m;
      this.bits[bit >>> 5] = (this.bits[bit >>> 5] ?? 0) | (1 << (bit & 31));
    }
    this.count++;
  }

  has(lo: number, hi: number): boolean {
    const step = hi | 1;
    for (let i = 0; i < this.k; i++) {
      const bit = ((lo + Math.imul(i, step)) >>> 0) % this.m;
      if (((this.bits[bit >>> 5] ?? 0) & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

export class EventIdFilter {
  private readonly chain: Bloom[] = [];

  /** `expected`: how many ids will be added soon (the stored ones when opening). */
  constructor(expected = 0) {
    this.chain.push(new Bloom(Math.max(MIN_CAPACITY, Math.ceil(1.25 * expected)), FIRST_FALSE_POSITIVE_RATE));
  }

  /** Adds a key given as the two 32-bit halves of its 64-bit hash. */
  add(lo: number, hi: number): void {
    let last = this.chain[this.chain.length - 1];
    if (!last || last.count >= last.capacity) {
      const n = this.chain.length;
      last = new Bloom((last?.capacity ?? MIN_CAPACITY) * 2, FIRST_FALSE_POSITIVE_RATE / 2 ** n);
      this.chain.push(last);
    }
    last.add(lo >>> 0, hi >>> 0);
  }

  /** False: the key was never added. True: it probably was. */
  mightContain(lo: number, hi: number): boolean {
    for (const b of this.chain) if (b.has(lo >>> 0, hi >>> 0)) return true;
    return false;
  }

  /** Bytes held, for the record. */
  get bytes(): number {
    return this.chain.reduce((s, b) => s + b.bits.byteLength, 0);
  }
}

/**
 * The 64-bit key of an event id, as two unsigned 32-bit halves written into `out[at]` and `out[at + 1]`: two
 * independent multiplicative hashes (FNV-1a and a murmur-style mix) over the UTF-16 code units of
 * `appid`, a separator and `eventId`, each finished with murmur3's avalanche. Stored with each event
 * (`events.id_lo`, `events.id_hi`); never change it without a migration that recomputes those columns.
 */
export function eventIdHash(appid: string, eventId: string, out: Uint32Array, at: number): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < appid.length; i++) {
    const c = appid.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a = Math.imul(a ^ 0xffff, 0x01000193);
  b = Math.imul(b ^ 0xffff, 0x5bd1e995);
  for (let i = 0; i < eventId.length; i++) {
    const c = eventId.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  out[at] = fmix(a ^ eventId.length);
  out[at + 1] = fmix(b ^ appid.length);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
