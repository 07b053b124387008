/**
 * Splits records into consecutive groups whose JSON array text stays within `maxBytes` (and `maxCount` records):
 * what the CLI sends through a running server, whose body limit is in bytes. Each group is the array text, ready to
 * send, and the index of its first record. A record too large to fit even alone is a group of its own (the server
 * refuses it; the caller reports it).
 */
export function byteBatches(records: readonly unknown[], maxBytes: number, maxCount = Infinity): { first: number; count: number; body: string }[] {
  const out: { first: number; count: number; body: string }[] = [];
  let parts: string[] = [];
  let bytes = 2; // "[" and "]"
  let first = 0;
  const flush = (next: number) => {
    if (parts.length > 0) out.push({ first, count: parts.length, body: `[${parts.join(',')}]` });
    parts = [];
    bytes = 2;
    first = next;
  };
  records.forEach((r, i) => {
    const text = JSON.stringify(r) ?? 'null';
    const size = Buffer.byteLength(text) + (parts.length > 0 ? 1 : 0);
    if (parts.length > 0 && (bytes + size > maxBytes || parts.length >= maxCount)) flush(i);
    parts.push(text);
    bytes += Buffer.byteLength(text) + (parts.length > 1 ? 1 : 0);
  });
  flush(records.length);
  return out;
}
