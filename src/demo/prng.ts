/** A 32-bit seeded generator (mulberry32): fast, deterministic, plenty for demo data. Returns floats in [0, 1). */
export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Mixes two 32-bit integers into one well-spread 32-bit hash, to seed a generator per (user), (user, day), … */
export function mix(a: number, b: number): number {
  let h = Math.imul((a ^ 0x9e3779b9) >>> 0, 0x85ebca6b) ^ (b >>> 0);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A table to draw from in proportion to weights. */
export interface Weighted<T> {
  readonly items: readonly T[];
  /** Cumulative weights, the last one 1. */
  readonly cumulative: Float64Array;
}

export function weighted<T>(pairs: readonly (readonly [T, number])[]): Weighted<T> {
  const total = pairs.reduce((s, [, w]) => s + w, 0);
  const cumulative = new Float64Array(pairs.length);
  let acc = 0;
  pairs.forEach(([, w], i) => {
    acc += w / total;
    cumulative[i] = acc;
  });
  cumulative[pairs.length - 1] = 1;
  return { items: pairs.map(([t]) => t), cumulative };
}

export function draw<T>(table: Weighted<T>, rng: Rng): T {
  const r = rng();
  const c = table.cumulative;
  let i = 0;
  while (i < c.length - 1 && r >= (c[i] ?? 1)) i++;
  const item = table.items[i];
  if (item === undefined) throw new Error('draw from an empty table');
  return item;
}

/** An integer in [lo, hi]. */
export function intBetween(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** A standard normal deviate (Box–Muller). */
export function normal(rng: Rng): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** `length` characters of `[A-Za-z0-9_-]`. */
export function idChars(rng: Rng, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ID_ALPHABET[Math.floor(rng() * 64)];
  return s;
}

/** `n` (≥ 0) in exactly `length` characters of the same alphabet, so distinct numbers give distinct ids. */
export function idOfNumber(n: number, length: number): string {
  let s = '';
  let rest = n;
  for (let i = 0; i < length; i++) {
    s = (ID_ALPHABET[rest % 64] ?? 'A') + s;
    rest = Math.floor(rest / 64);
  }
  return s;
}
