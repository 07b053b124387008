import { WeChatError } from '../domain/errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a body as strict UTF-8 (47001 otherwise). */
export function bodyText(body: unknown): string {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (!(body instanceof Uint8Array)) throw new WeChatError('DATA_FORMAT', 'the body could not be read');
  try {
    return utf8.decode(body);
  } catch {
    throw new WeChatError('DATA_FORMAT', 'the body is not valid UTF-8');
  }
}

/** Parses a body that must be one JSON object (47001 otherwise). */
export function jsonObjectBody(body: unknown): Record<string, unknown> {
  const text = bodyText(body);
  if (text.trim() === '') throw new WeChatError('DATA_FORMAT', 'the body is empty; send a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new WeChatError('DATA_FORMAT', 'the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new WeChatError('DATA_FORMAT', 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

/**
 * Events in a body: a JSON array, `{"events":[…]}`, or NDJSON (one object per line). The object form may say when the
 * client sent it by its own clock, `"sent_at"` (epoch ms), so /v1/collect can correct a client clock that is off.
 */
export function eventRecords(
  body: unknown,
  contentType: string | undefined,
): { records: unknown[]; lineErrors: { index: number; reason: string }[]; sentAt?: number } {
  const text = bodyText(body);
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/x-ndjson' || type === 'application/jsonl' || type === 'application/ndjson') {
    const records: unknown[] = [];
    const lineErrors: { index: number; reason: string }[] = [];
    const lines = text.split(/\r?\n/);
    for (let n = 0; n < lines.length; n++) {
      const line = lines[n] ?? '';
      if (line.trim() === '') continue;
      try {
        records.push(JSON.parse(line));
      } catch {
        // `index` counts events (blank lines are not events); the line number is the line's place in the body.
        lineErrors.push({ index: records.length, reason: `line ${n + 1} is not valid JSON` });
        records.push(undefined);
      }
    }
    return { records, lineErrors };
  }
  if (text.trim() === '') throw new WeChatError('DATA_FORMAT', 'the body is empty; send a JSON array of events, {"events":[…]} or NDJSON');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new WeChatError('DATA_FORMAT', 'the body is not valid JSON (send NDJSON with Content-Type: application/x-ndjson)');
  }
  if (Array.isArray(value)) return { records: value, lineErrors: [] };
  if (typeof value === 'object' && value !== null && Array.isArray((value as { events?: unknown }).events)) {
    const { events, sent_at: sentAt } = value as { events: unknown[]; sent_at?: unknown };
    return typeof sentAt === 'number' && Number.isSafeInteger(sentAt) && sentAt > 0 ? { records: events, lineErrors: [], sentAt } : { records: events, lineErrors: [] };
  }
  throw new WeChatError('DATA_FORMAT', 'the body must be a JSON array of events or {"events":[…]}');
}
