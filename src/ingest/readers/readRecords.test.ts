import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type ReadItem,
  type ReadOptions,
  type RecordSource,
  byteProgress,
  formatOf,
  isRecordError,
  readRecords,
} from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'datacube-readers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function file(name: string, content: string | Buffer): string {
  fileNo += 1;
  const path = join(dir, `${fileNo}-${name}`);
  writeFileSync(path, content);
  return path;
}

async function collect(source: RecordSource, opts?: ReadOptions): Promise<ReadItem[]> {
  const out: ReadItem[] = [];
  for await (const batch of readRecords(source, opts)) out.push(...batch);
  return out;
}

const read = (path: string, opts?: ReadOptions) => collect({ path }, opts);
const records = (items: ReadItem[]) => items.filter((i) => !isRecordError(i));
const errors = (items: ReadItem[]) => items.filter(isRecordError);

describe('formatOf', () => {
  it('maps extensions, any case, and - to NDJSON', () => {
    expect(formatOf('a.ndjson')).toBe('ndjson');
    expect(formatOf('dir.v2/a.JSONL')).toBe('ndjson');
    expect(formatOf('a.json')).toBe('json');
    expect(formatOf('/x/y/events.CSV')).toBe('csv');
    expect(formatOf('-')).toBe('ndjson');
    expect(formatOf('a.txt')).toBeUndefined();
    expect(formatOf('dir.csv/noext')).toBeUndefined();
    expect(formatOf('.csv')).toBeUndefined();
  });

  it('readRecords refuses an unknown extension at once, and a missing file when iterated', async () => {
    expect(() => readRecords({ path: join(dir, 'x.txt') })).toThrow(/format/);
    await expect(read(join(dir, 'missing.ndjson'))).rejects.toThrow(/ENOENT/);
  });
});

describe('NDJSON', () => {
  it('reads one record per line, skips blank lines, numbers lines from 1', async () => {
    const path = file('a.ndjson', '{"openid":"a","n":1}\n\n   \n{"openid":"b"}\n{"openid":"c"}');
    expect(await read(path)).toEqual([
      { line: 1, record: { openid: 'a', n: 1 } },
      { line: 4, record: { openid: 'b' } },
      { line: 5, record: { openid: 'c' } },
    ]);
  });

  it('reports a bad line and goes on after it', async () => {
    const path = file('bad.jsonl', '{"openid":"a"}\n{"openid":\n{"openid":"c"}\nnot json\n{"openid":"e"}\n');
    const items = await read(path);
    expect(records(items).map((i) => i.line)).toEqual([1, 3, 5]);
    const errs = errors(items);
    expect(errs.map((e) => e.line)).toEqual([2, 4]);
    expect(errs[0]?.reason).toMatch(/^invalid JSON: /);
  });

  it('ignores a UTF-8 BOM and accepts CRLF', async () => {
    const path = file('bom.ndjson', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":"广东"}\r\n{"a":2}\r\n')]));
    expect(await read(path)).toEqual([
      { line: 1, record: { a: '广东' } },
      { line: 2, record: { a: 2 } },
    ]);
  });

  it('reports a line longer than the limit without keeping it', async () => {
    const path = file('long.ndjson', `{"a":1}\n{"b":"${'x'.repeat(500)}"}\n{"c":3}\n`);
    const items = await read(path, { maxRecordChars: 100 });
    expect(items).toEqual([
      { line: 1, record: { a: 1 } },
      { line: 2, reason: 'line longer than 100 characters' },
      { line: 3, record: { c: 3 } },
    ]);
  });

  it('reads standard input through a stream, split anywhere (even inside a multi-byte character)', async () => {
    const stdin = new PassThrough();
    const bytes = Buffer.from('{"city":"广州"}\n\n{"city":"深圳"}\n{oops\n{"city":"东莞"}');
    const done = collect({ stdin });
    for (let i = 0; i < bytes.length; i += 3) stdin.write(bytes.subarray(i, i + 3));
    stdin.end();
    const items = await done;
    expect(items).toEqual([
      { line: 1, record: { city: '广州' } },
      { line: 3, record: { city: '深圳' } },
      expect.objectContaining({ line: 4, reason: expect.stringMatching(/invalid JSON/) }),
      { line: 5, record: { city: '东莞' } },
    ]);
  });

  it('takes string chunks from a stream with an encoding set', async () => {
    const stdin = new PassThrough({ encoding: 'utf8' });
    stdin.end('{"x":1}\n{"x":2}\n');
    expect(records(await collect({ stdin }))).toHaveLength(2);
  });

  it('streams a 200k-line file in chunks of at most chunkSize, yielding before the file is read', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 200_000; i++) lines.push(`{"event_id":"e${i}","openid":"u${i % 997}","time":${1_700_000_000_000 + i}}`);
    const path = file('big.ndjson', `${lines.join('\n')}\n`);
    const size = statSync(path).size;
    const progress = byteProgress({ path });
    expect(progress.total).toBe(size);
    const sizes: number[] = [];
    const readAtYield: number[] = [];
    let expected = 0;
    let ordered = true;
    for await (const batch of readRecords({ path }, { progress })) {
      sizes.push(batch.length);
      readAtYield.push(progress.bytesRead);
      for (const item of batch) {
        expected += 1;
        if (isRecordError(item) || item.line !== expected) ordered = false;
      }
    }
    expect(ordered).toBe(true);
    expect(expected).toBe(200_000);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(5_000);
    expect(sizes.length).toBeGreaterThanOrEqual(40);
    // the first batch comes out after reading a small part of the file: nothing holds the whole input
    expect(readAtYield[0]).toBeLessThan(size / 4);
    expect(progress.bytesRead).toBe(size);
    expect(progress.fraction()).toBe(1);
  });

  it('honours a small chunkSize and can be stopped early', async () => {
    const path = file('few.ndjson', Array.from({ length: 25 }, (_, i) => `{"i":${i}}`).join('\n'));
    const sizes: number[] = [];
    for await (const batch of readRecords({ path }, { chunkSize: 10 })) sizes.push(batch.length);
    expect(sizes).toEqual([10, 10, 5]);
    let seen = 0;
    for await (const batch of readRecords({ path }, { chunkSize: 10 })) {
      seen += batch.length;
      break;
    }
    expect(seen).toBe(10);
  });
});

describe('JSON array', () => {
  it('reads each element, with nested braces and strings holding } ] , " and escapes', async () => {
    const a = { openid: 'a', props: { nested: { deep: [1, { x: '}' }] } }, page: 'pages/x?q={"y":1}' };
    const b = { openid: 'b', model: 'say "hi" \\ }]{[,', list: [[], {}, [[{}]]] };
    const c = { openid: 'c', text: 'line\nbreak\t\u2028 end\\' };
    const path = file('a.json', `[\n  ${JSON.stringify(a)},\n  ${JSON.stringify(b, null, 2)},\n${JSON.stringify(c)}\n]\n`);
    const items = await read(path);
    expect(items.map((i) => ('record' in i ? i.record : i))).toEqual([a, b, c]);
    expect(items.map((i) => i.line)).toEqual([2, 3, 3 + JSON.stringify(b, null, 2).split('\n').length]);
  });

  it('reads an array with CRLF line endings, a BOM and any values', async () => {
    const text = '\ufeff[\r\n{"a":1},\r\n{\r\n"b":"x}y"\r\n},\r\n42,\r\n"s",\r\nnull\r\n]\r\n';
    expect(await read(file('crlf.json', text))).toEqual([
      { line: 2, record: { a: 1 } },
      { line: 3, record: { b: 'x}y' } },
      { line: 6, record: 42 },
      { line: 7, record: 's' },
      { line: 8, record: null },
    ]);
  });

  it('reports a broken element at its first line and goes on', async () => {
    const text = '[\n{"a":1},\n{"a":2}},\n{"a":\n  oops},\n{"a":4}\n]';
    const items = await read(file('broken.json', text));
    expect(records(items)).toEqual([
      { line: 2, record: { a: 1 } },
      { line: 6, record: { a: 4 } },
    ]);
    expect(errors(items).map((e) => e.line)).toEqual([3, 4]);
    expect(errors(items)[0]?.reason).toMatch(/^invalid JSON in array element 2: /);
  });

  it('gives one error for a document that is not an array', async () => {
    expect(await read(file('obj.json', '{"a":[1,2]}\n'))).toEqual([
      { line: 1, reason: 'the top level of the document is not a JSON array' },
    ]);
    expect(await read(file('nd.json', '\n\n{"a":1}\n{"a":2}\n'))).toEqual([
      { line: 3, reason: 'the top level of the document is not a JSON array' },
    ]);
    expect(await read(file('empty.json', ''))).toEqual([{ line: 1, reason: 'the input is empty: expected a JSON array' }]);
  });

  it('reads an empty array, and reports an unclosed array, a trailing comma and text after the array', async () => {
    expect(await read(file('e.json', ' [ ] \n'))).toEqual([]);
    expect(await read(file('open.json', '[{"a":1},\n{"a":2'))).toEqual([
      { line: 1, record: { a: 1 } },
      { line: 2, reason: 'unexpected end of input inside array element 2: the array is not closed' },
    ]);
    expect(errors(await read(file('trail.json', '[{"a":1},]')))).toEqual([
      { line: 1, reason: 'trailing comma before the end of the array' },
    ]);
    expect(await read(file('after.json', '[{"a":1}]\n[{"a":2}]'))).toEqual([
      { line: 1, record: { a: 1 } },
      { line: 2, reason: 'unexpected text after the end of the top-level array' },
    ]);
  });

  it('splits correctly however the text is cut (one byte at a time)', async () => {
    const values = [{ s: 'a"b\\"c}' }, { n: [1, [2, { m: ']' }]] }, { k: '\\' }, { u: '广东省' }];
    const bytes = Buffer.from(JSON.stringify(values, null, 1));
    const stdin = new PassThrough();
    const done = collect({ stdin }, { format: 'json' });
    for (let i = 0; i < bytes.length; i++) stdin.write(bytes.subarray(i, i + 1));
    stdin.end();
    expect(records(await done).map((i) => ('record' in i ? i.record : undefined))).toEqual(values);
  });

  it('drops an element longer than the limit and goes on', async () => {
    const text = `[{"a":1},{"b":"${'x'.repeat(300)}"},{"c":3}]`;
    expect(await read(file('long.json', text), { maxRecordChars: 100 })).toEqual([
      { line: 1, record: { a: 1 } },
      { line: 1, reason: 'array element 2 is longer than 100 characters' },
      { line: 1, record: { c: 3 } },
    ]);
  });
});

describe('CSV', () => {
  it('names fields from the header, omits empty cells, converts numeric cells of the numeric fields only', async () => {
    const text =
      'openid,time,gender,age,platform,province,city,scene,stay,session,model\n' +
      'u1,1700000000000,1,25,ios,广东省,广州市,1001,12.5,s1,iPhone 13<iPhone14,5>\n' +
      'u2,2024-05-01T10:00:00+08:00,,,android,, ,abc,,0012,007\n';
    // the model cell holds a comma, so that row is quoted below
    const quoted = text.replace('iPhone 13<iPhone14,5>', '"iPhone 13<iPhone14,5>"');
    expect(await read(file('a.csv', quoted))).toEqual([
      {
        line: 2,
        record: {
          openid: 'u1',
          time: 1_700_000_000_000,
          gender: 1,
          age: 25,
          platform: 'ios',
          province: '广东省',
          city: '广州市',
          scene: 1001,
          stay: 12.5,
          session: 's1',
          model: 'iPhone 13<iPhone14,5>',
        },
      },
      {
        line: 3,
        record: { openid: 'u2', time: '2024-05-01T10:00:00+08:00', platform: 'android', scene: 'abc', session: '0012', model: '007' },
      },
    ]);
  });

  it('reads quoted cells with quotes, commas and line breaks; reports rows at their first line', async () => {
    const text = 'openid,model,page\r\n"u1","say ""hi"", ok","p\r\nq"\r\n\r\nu2,,"x"\r\n';
    expect(await read(file('q.csv', text))).toEqual([
      { line: 2, record: { openid: 'u1', model: 'say "hi", ok', page: 'p\nq' } },
      { line: 5, record: { openid: 'u2', page: 'x' } },
    ]);
  });

  it('skips blank lines, reports malformed rows and goes on', async () => {
    const text = [
      'openid,age', // 1
      'u1,20', // 2
      '', // 3
      'u2,21,extra', // 4 too many cells
      'u3', // 5 too few
      'u4,"2"2', // 6 text after a closing quote
      'u5,2"2', // 7 quote inside an unquoted cell
      'u6,22', // 8
    ].join('\n');
    const items = await read(file('bad.csv', text));
    expect(records(items)).toEqual([
      { line: 2, record: { openid: 'u1', age: 20 } },
      { line: 8, record: { openid: 'u6', age: 22 } },
    ]);
    expect(errors(items).map((e) => e.line)).toEqual([4, 5, 6, 7]);
    expect(errors(items)[0]?.reason).toBe('expected 2 cells as in the header, found 3');
  });

  it('rereads the lines swallowed by a stray opening quote', async () => {
    const text = 'openid,age\nu1,"20\nu2,21\nu3,22\n';
    const items = await read(file('stray.csv', text));
    expect(items).toEqual([
      { line: 2, reason: 'unexpected end of input inside a quoted cell' },
      { line: 3, record: { openid: 'u2', age: 21 } },
      { line: 4, record: { openid: 'u3', age: 22 } },
    ]);
    // …and a broken quoted row is given up at a bad quote too, without losing the lines after its first
    const items2 = await read(file('stray2.csv', 'openid,age\nu1,"20\nu2,21\nu3,"2"x\nu4,23\n'));
    expect(items2).toEqual([
      { line: 2, reason: 'unexpected text after the closing quote of cell 2' },
      { line: 3, record: { openid: 'u2', age: 21 } },
      { line: 4, reason: 'unexpected text after the closing quote of cell 2' },
      { line: 5, record: { openid: 'u4', age: 23 } },
    ]);
  });

  it('keeps a column named __proto__ as a field (it is not taken as the record’s prototype)', async () => {
    const items = await read(file('proto.csv', 'openid,__proto__,constructor\nu1,x,y\n'));
    expect(items).toHaveLength(1);
    const record = (items[0] as { record: Record<string, unknown> }).record;
    expect(Object.keys(record)).toEqual(['openid', '__proto__', 'constructor']);
    expect(record['__proto__']).toBe('x');
    expect(JSON.parse(JSON.stringify(record))).toEqual(JSON.parse('{"openid":"u1","__proto__":"x","constructor":"y"}'));
  });

  it('ignores a BOM before the header and stops on a duplicate column name', async () => {
    expect(await read(file('bom.csv', '\ufeffopenid,gender\nu1,2\n'))).toEqual([{ line: 2, record: { openid: 'u1', gender: 2 } }]);
    expect(await read(file('dup.csv', 'openid,age,openid\nu1,2,u2\n'))).toEqual([
      { line: 1, reason: 'the header names the column "openid" twice' },
    ]);
  });
});
