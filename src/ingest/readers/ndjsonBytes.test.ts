import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BadUtf8, NdjsonBytes } from './ndjsonBytes.ts';
import type { ReadItem } from './readItem.ts';
import { InputEncodingError, readRecords } from './readRecords.ts';

/** Feeds `bytes` in slices of `step` bytes and collects every item, or the error that stopped it. */
function run(bytes: Buffer, step: number, maxChars = 1000): { items: ReadItem[]; error?: unknown } {
  const p = new NdjsonBytes(maxChars);
  const items: ReadItem[] = [];
  try {
    for (let i = 0; i < bytes.length; i += step) items.push(...p.feed(bytes.subarray(i, i + step)));
    items.push(...p.end());
  } catch (error) {
    return { items, error };
  }
  return { items };
}

describe('NdjsonBytes', () => {
  const text = '\ufeff{"city":"广州"}\r\n\n  \n{"city":"深圳"}\n{oops\n{"emoji":"😀"}';

  it('gives the same items however the bytes are split (even inside a character)', () => {
    const expected = [
      { line: 1, record: { city: '广州' } },
      { line: 4, record: { city: '深圳' } },
      expect.objectContaining({ line: 5, reason: expect.stringMatching(/^invalid JSON/) }),
      { line: 6, record: { emoji: '😀' } },
    ];
    for (const step of [1, 2, 3, 5, 7, 64]) expect(run(Buffer.from(text), step).items, `step ${step}`).toEqual(expected);
  });

  it('names the byte and line of the first byte that is not UTF-8, before any line of its chunk comes out', () => {
    // 深 in GBK (0xc9 0xee) on line 3, at byte 16.
    const bytes = Buffer.concat([Buffer.from('{"a":1}\n{"b":2}\n'), Buffer.from([0xc9, 0xee]), Buffer.from('\n{"c":3}\n')]);
    for (const step of [1, 4, 17, 100]) {
      const { items, error } = run(bytes, step);
      expect(error, `step ${step}`).toBeInstanceOf(BadUtf8);
      expect(error).toMatchObject({ byteOffset: 16, line: 3 });
      expect(items.length, `step ${step}`).toBeLessThanOrEqual(2);
    }
    // A character cut off by the end of the input.
    expect(run(Buffer.from([0x7b, 0x7d, 0x0a, 0xe5, 0xb9]), 2).error).toMatchObject({ byteOffset: 3, line: 2 });
    // A lead byte followed by a line break.
    expect(run(Buffer.from([0x31, 0xe5, 0x0a, 0x32, 0x0a]), 1).error).toMatchObject({ byteOffset: 1, line: 1 });
  });

  it('drops a line over the limit without keeping its bytes, counting characters rather than bytes', () => {
    const wide = `"${'广'.repeat(98)}"`; // 100 characters, 296 bytes
    const long = `"${'x'.repeat(5000)}"`;
    const { items } = run(Buffer.from(`${wide}\n${long}\n${wide}\r\n1`), 7, 100);
    expect(items).toEqual([
      { line: 1, record: '广'.repeat(98) },
      { line: 2, reason: 'line longer than 100 characters' },
      { line: 3, record: '广'.repeat(98) },
      { line: 4, record: 1 },
    ]);
    expect(run(Buffer.from(long), 3, 100).items).toEqual([{ line: 1, reason: 'line longer than 100 characters' }]);
  });

  it('reports UTF-16 input read as UTF-8 through readRecords', async () => {
    const stdin = new PassThrough();
    stdin.end(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"openid":"x"}\n', 'utf16le')]));
    const read = async () => {
      for await (const _ of readRecords({ stdin })) void _;
    };
    await expect(read()).rejects.toBeInstanceOf(InputEncodingError);
    const again = new PassThrough();
    again.end(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{}\n', 'utf16le')]));
    await expect(
      (async () => {
        for await (const _ of readRecords({ stdin: again })) void _;
      })(),
    ).rejects.toMatchObject({ utf16: true, line: 1, byteOffset: 0 });
  });
});
