import { describe, expect, it } from 'vitest';
import { eventRecords } from './body.ts';

describe('eventRecords (NDJSON)', () => {
  it('names the real line of each line that is not JSON, past blank lines and earlier bad lines', () => {
    const body = ['{"openid":"a"}', '', '{bad', 'also bad', '', '{"openid":"b"}', '{nope'].join('\r\n');
    const { records, lineErrors } = eventRecords(Buffer.from(body), 'application/x-ndjson');
    expect(records).toHaveLength(5);
    expect(lineErrors).toEqual([
      { index: 1, reason: 'line 3 is not valid JSON' },
      { index: 2, reason: 'line 4 is not valid JSON' },
      { index: 4, reason: 'line 7 is not valid JSON' },
    ]);
  });
});
