import { describe, expect, it } from 'vitest';
import { processRecord } from './pipeline.ts';
import { validateStoredEvent } from './validateStored.ts';

const now = Date.UTC(2026, 10, 30);

/** An event as the current ingest stores it (what `datacube export` writes), with some fields changed. */
function stored(record: Record<string, unknown>, change: Record<string, unknown> = {}): Record<string, unknown> {
  const r = processRecord({ openid: 'o_1', time: '2026-11-20T10:00:00+08:00', ...record }, { now });
  if (!r.ok) throw new Error(r.reason);
  return { ...r.event, ...change };
}

describe('validateStoredEvent: device names', () => {
  it('takes the device name ingest gives today', () => {
    const ev = stored({ brand: 'Xiaomi', model: 'MI 3' });
    expect(ev.device).toBe('Xiaomi Mi 3');
    expect(validateStoredEvent(ev, { now }).ok).toBe(true);
  });

  // The first releases named a device by its brand and model as sent; a store upgraded from one keeps (and exports)
  // that name. Its export must import (it was rejected: 661 of 3,254 events of an upgraded store were lost).
  it('takes the name an earlier release gave (brand and model as sent, before marketing names)', () => {
    const ev = stored({ brand: 'Xiaomi', model: 'MI 3' }, { device: 'Xiaomi MI 3' });
    const r = validateStoredEvent(ev, { now });
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.event.device).toBe('Xiaomi MI 3');
  });

  // Releases before Chrome's reduced User-Agent was recognised read a device called K from "Android 10; K".
  it('takes the device an earlier release read from the User-Agent of an event without brand and model', () => {
    const ua = 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36';
    const ev = stored({ ua, platform: 'android' }, { device: 'K' });
    expect(validateStoredEvent(ev, { now }).ok).toBe(true);
  });

  it('still refuses a device name that is neither brand and model nor read from a User-Agent', () => {
    const other = validateStoredEvent(stored({ brand: 'Xiaomi', model: 'MI 3' }, { device: 'Apple iPhone 15' }), { now });
    expect(other).toMatchObject({ ok: false, field: 'device' });
    const noUa = validateStoredEvent(stored({ platform: 'android' }, { device: 'K' }), { now });
    expect(noUa).toMatchObject({ ok: false, field: 'device' });
    const long = validateStoredEvent(stored({ ua: 'x', platform: 'android' }, { device: 'x'.repeat(200) }), { now });
    expect(long).toMatchObject({ ok: false, field: 'device' });
  });
});

describe('validateStoredEvent: events stored before ua was a field', () => {
  const ua = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40(0x1800282c) NetType/WIFI Language/zh_CN';

  // The first release kept `ua` among the extra fields (props) and derived nothing from it; a store upgraded from it
  // keeps such events, and their export must import unchanged (742 of 3,254 events were refused: "props holds the field ua").
  it('takes an event whose props hold the ua it was sent with, and keeps it as stored', () => {
    const ev = stored({ ip: '113.108.182.52' }, { province: 0, city: 0, props: JSON.stringify({ ua }), ua: null });
    const r = validateStoredEvent(ev, { now });
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.event).toMatchObject({ platform: null, device: null, ua: null, props: JSON.stringify({ ua }) });
    const noUaField = { ...ev };
    delete noUaField.ua;
    expect(validateStoredEvent(noUaField, { now }).ok).toBe(true);
  });

  it('takes such an event with other extra fields on either side of its ua', () => {
    const ev = stored({ ip: '113.108.182.52', shop: 'a', lane: 2 }, { ua: null });
    expect(ev.props).toBe('{"shop":"a","lane":2}');
    const props = `{"shop":"a","ua":${JSON.stringify(ua)},"lane":2}`;
    expect(validateStoredEvent({ ...ev, props }, { now }).ok).toBe(true);
    const first = `{"ua":${JSON.stringify(ua)},"shop":"a","lane":2}`;
    expect(validateStoredEvent({ ...ev, props: first }, { now }).ok).toBe(true);
  });

  it('still refuses ua in props next to a ua of its own', () => {
    const ev = stored({ ua }, { props: JSON.stringify({ ua }) });
    expect(validateStoredEvent(ev, { now })).toMatchObject({ ok: false, field: 'props' });
  });
});

describe('validateStoredEvent: a type and an address stored as sent by earlier releases', () => {
  it('takes them in the form ingest gives today (type in lower case, address in normal form)', () => {
    const ev = stored({ type: 'share', ip: '113.108.182.52' }, { type: 'Share', ip: '::FFFF:113.108.182.52' });
    const r = validateStoredEvent(ev, { now });
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.event).toMatchObject({ type: 'share', ip: '113.108.182.52' });
  });
});
