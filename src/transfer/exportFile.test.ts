import { describe, expect, it } from 'vitest';
import { emptyEvent, type VisitEvent } from '../domain/event.ts';
import { ImportIds, IMPORT_ID_WINDOW, exportedApp, exportedEvent } from './exportFile.ts';

const ev = (openid: string, time: number, eventId: string | null = null): VisitEvent => ({ ...emptyEvent(), openid, time, day: 1, eventId });

describe('export files', () => {
  it('gives events without an id the same ids on every import of the same file, keeping repeats apart', () => {
    const file = [ev('a', 1), ev('a', 1), ev('b', 1), ev('a', 1), ev('c', 2, 'given')];
    const run = () => {
      const ids = new ImportIds();
      return file.map((e) => ids.assign(e).eventId);
    };
    const first = run();
    expect(run()).toEqual(first);
    expect(new Set(first).size).toBe(5);
    expect(first[4]).toBe('given');
    expect(first[0]).toMatch(/^import-[A-Za-z0-9_-]{32}$/);
    expect(first[1]).toBe(`${first[0]}-1`);
    expect(first[3]).toBe(`${first[0]}-2`);
    for (const id of first) expect((id ?? '').length).toBeLessThanOrEqual(64);
  });

  it('numbers repeats within the window without ever giving two of them the same id', () => {
    const ids = new ImportIds();
    const seen = new Set<string>();
    const twin = ev('twin', 5);
    // The twin at the start, in the middle and after the first has left the window.
    const at = new Set([0, 10, IMPORT_ID_WINDOW + 5, IMPORT_ID_WINDOW + 6]);
    for (let i = 0; i < IMPORT_ID_WINDOW + 10; i++) {
      const id = ids.assign(at.has(i) ? twin : ev(`u${i}`, i)).eventId ?? '';
      expect(seen.has(id), `line ${i}`).toBe(false);
      seen.add(id);
    }
  });

  it('refuses what is not an export header or an exported event, naming the line', () => {
    expect(() => exportedApp({ openid: 'x' }, 'f.ndjson')).toThrow(/f\.ndjson is not a datacube export/);
    expect(() => exportedApp({ datacube_export: 1, app: { appid: 'wx1' } }, 'f')).toThrow(/not a datacube export/);
    expect(() => exportedEvent({ openid: 'x' }, 7)).toThrow(/line 7: not a datacube export event/);
    expect(() => exportedEvent({ ...ev('a', 1), eventId: 5 }, 8)).toThrow(/line 8: bad event_id/);
    expect(exportedEvent(ev('a', 1), 9)).toEqual(ev('a', 1));
  });
});
