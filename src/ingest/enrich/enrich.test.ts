import { describe, expect, it } from 'vitest';
import { processRecord } from '../pipeline.ts';
import { isPublicAddress, normalizeAddress } from './addresses.ts';
import { Enricher } from './Enricher.ts';
import type { GeoLookup } from './geo.ts';
import { Ip2RegionGeo } from './ip2regionGeo.ts';
import { marketingName, preloadModelNames } from './modelNames.ts';
import { parseUserAgent } from './userAgent.ts';

const NOW = Date.parse('2026-11-28T10:00:00+08:00');
const base = { openid: 'oUser_1', time: '2026-11-27T10:15:00+08:00' };
const ctx = { now: NOW };

/** Real WeChat User-Agents (mini-program WebViews and desktop clients). */
export const UA = {
  oppoR9:
    'Mozilla/5.0 (Linux; Android 5.1; OPPO R9m Build/LMY47I; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/53.0.2785.49 Mobile MQQBrowser/6.2 TBS/043220 Safari/537.36 MicroMessenger/6.5.7.1041 NetType/WIFI Language/zh_CN',
  oppoReno5:
    'Mozilla/5.0 (Linux; Android 11; PEGM00 Build/RKQ1.200903.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/86.0.4240.99 XWEB/4317 MMWEBSDK/20220903 Mobile Safari/537.36 MMWEBID/1234 MicroMessenger/8.0.28.2240(0x28001C35) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64 miniProgram/wx1234567890abcdef',
  huaweiMate60:
    'Mozilla/5.0 (Linux; Android 12; ALN-AL00 Build/HUAWEIALN-AL00; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/99.0.4844.88 Mobile Safari/537.36 MicroMessenger/8.0.40.2420(0x28002837) WeChat/arm64 Weixin NetType/5G Language/zh_CN ABI/arm64 miniProgram/wx1234567890abcdef',
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.42(0x18002a2f) NetType/WIFI Language/zh_CN miniProgram/wx1234567890abcdef',
  harmonyNext:
    'Mozilla/5.0 (Phone; OpenHarmony 5.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36  ArkWeb/4.1.6.1 Mobile MicroMessenger/8.0.9.39(0xf3100927) Weixin NetType/WIFI Language/zh_CN MMWEBID/2777 MMWEBSDK/202507060011 XWEB/1140307',
  windows:
    'Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Safari/537.36 NetType/WIFI MicroMessenger/7.0.20.1781(0x6700143B) WindowsWechat(0x63090819) XWEB/8519 Flue',
  mac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) MicroMessenger/6.8.0(0x16080000) MacWechat/3.8.6(0x13080610) XWEB/30817 Flue',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40(0x1800282a) NetType/WIFI Language/zh_CN',
};

function enriched(rec: Record<string, unknown>) {
  const r = processRecord({ ...base, ...rec }, ctx);
  if (!r.ok) throw new Error(`rejected: ${r.field}: ${r.reason}`);
  return r.event;
}

describe('region from IP (ip2region, mapped to GB/T 2260 ids)', () => {
  it.each([
    ['202.96.134.133', 44, 4403], // 广东 深圳
    ['183.232.231.172', 44, 4401], // 广东 广州
    ['61.139.2.69', 51, 5101], // 四川 成都
    ['223.5.5.5', 33, 3301], // 浙江 杭州
    ['218.30.19.40', 61, 6101], // 陕西 西安
    ['114.114.114.114', 32, 3201], // 江苏 南京
    ['58.16.0.1', 52, 5201], // 贵州 贵阳
    ['220.181.38.148', 11, 1101], // 北京 (a municipality)
    ['101.226.4.6', 31, 3101], // 上海
    ['202.175.3.3', 82, 8200], // 澳门
    ['140.112.8.116', 71, 7100], // 台湾
    ['::ffff:114.114.114.114', 32, 3201], // IPv4 seen on an IPv6 socket
    ['240e:3b7:3272:d8d0:db09:c067:8d59:539e', 44, 4403], // IPv6, 深圳
    ['2409:8a55::1', 44, 4401], // IPv6, 广州
  ])('%s → %d / %d', (ip, province, city) => {
    expect(enriched({ ip })).toMatchObject({ province, city });
  });

  it.each([
    '10.1.2.3', '172.16.5.4', '192.168.1.1', '127.0.0.1', '100.64.0.1', '169.254.1.1', '0.0.0.0', '203.0.113.9',
    '198.51.100.7', '224.0.0.1', '240.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fc00::1', '2001:db8::1',
    '8.8.8.8', '1.1.1.1', '2001:4860:4860::8888', '81.2.69.142',
  ])('%s (private, reserved or foreign) → unknown', (ip) => {
    expect(enriched({ ip })).toMatchObject({ province: 0, city: 0, ip });
  });

  it('never overrides a region the client sent', () => {
    expect(enriched({ ip: '202.96.134.133', province: '北京' })).toMatchObject({ province: 11, city: 1101 });
    expect(enriched({ ip: '220.181.38.148', city: '广州' })).toMatchObject({ province: 44, city: 4401 });
    expect(enriched({ ip: '220.181.38.148', province: '广东' })).toMatchObject({ province: 44, city: 0 });
  });

  it('goes through a GeoLookup: any database answering in Chinese names can stand in', () => {
    const answers: Record<string, { province: string; city: string }> = {
      '1.0.1.1': { province: '湖北省', city: '仙桃市' },
      '1.0.1.2': { province: '广东省', city: '一个改了名的市' }, // a city GB/T 2260 does not know: the province stays
      '1.0.1.3': { province: '火星', city: '' },
    };
    const geo: GeoLookup = { lookup: (ip) => answers[ip] };
    const enricher = new Enricher(geo);
    expect(enricher.regionOf('1.0.1.1')).toEqual({ province: 42, city: 429004 });
    expect(enricher.regionOf('1.0.1.2')).toEqual({ province: 44, city: 0 });
    expect(enricher.regionOf('1.0.1.3')).toEqual({ province: 0, city: 0 });
    expect(enricher.regionOf('1.0.1.4')).toEqual({ province: 0, city: 0 });
    const r = processRecord({ ...base, ip: '1.0.1.1' }, { now: NOW, enricher });
    expect(r.ok && [r.event.province, r.event.city]).toEqual([42, 429004]);
  });

  it('tells public addresses from special ones, and unwraps IPv4-mapped IPv6', () => {
    expect(isPublicAddress('202.96.134.133')).toBe(true);
    expect(isPublicAddress('240e:3b7::1')).toBe(true);
    expect(isPublicAddress('192.168.0.1')).toBe(false);
    expect(isPublicAddress('not an ip')).toBe(false);
    expect(normalizeAddress('::FFFF:1.2.3.4')).toBe('1.2.3.4');
    expect(normalizeAddress('::ffff:abcd')).toBe('::ffff:abcd');
    expect(Ip2RegionGeo.load().lookup('::ffff:10.0.0.1')).toBeUndefined();
  });
});

describe('device and platform from User-Agent', () => {
  it.each([
    ['oppoR9', 'android', 2, 'OPPO R9'],
    ['oppoReno5', 'android', 2, 'OPPO Reno5 5G'],
    ['huaweiMate60', 'android', 2, 'HUAWEI Mate 60 Pro'],
    ['iphone', 'ios', 1, 'Apple iPhone'],
    ['ipad', 'ios', 1, 'Apple iPad'],
    ['harmonyNext', 'ohos', 3, null],
    ['windows', 'windows', 3, null],
    ['mac', 'mac', 3, 'Apple Mac'],
  ] as const)('%s → %s (%d), %s', (key, platform, platformId, device) => {
    const e = enriched({ ua: UA[key] });
    expect(e).toMatchObject({ platform, platformId, device, ua: UA[key], brand: null, model: null });
  });

  it('lets the platform, brand and model the client sent win over the User-Agent', () => {
    expect(enriched({ ua: UA.oppoR9, platform: 'ios', brand: 'iPhone', model: 'iPhone 13<iPhone14,5>' })).toMatchObject({
      platform: 'ios', platformId: 1, device: 'Apple iPhone 13',
    });
    // Platform from the client, device from the UA.
    expect(enriched({ ua: UA.oppoReno5, platform: 'devtools' })).toMatchObject({ platform: 'devtools', platformId: 3, device: 'OPPO Reno5 5G' });
    // Device from the client, platform from the UA.
    expect(enriched({ ua: UA.iphone, brand: 'HUAWEI', model: 'Mate 60' })).toMatchObject({ platform: 'ios', device: 'HUAWEI Mate 60' });
  });

  it('preloads the detector with a known code of each large maker', () => {
    expect(preloadModelNames()).toBe(10);
  });

  it('names the model codes clients report by their marketing names, as sent by wx.getSystemInfo too', () => {
    expect(enriched({ platform: 'android', brand: 'OPPO', model: 'PEGM00' }).device).toBe('OPPO Reno5 5G');
    expect(enriched({ platform: 'android', brand: 'OPPO', model: 'PCLM10' }).device).toBe('OPPO Reno Ace');
    expect(enriched({ platform: 'android', brand: 'Xiaomi', model: '2211133C' }).device).toBe('Xiaomi 13');
    expect(enriched({ platform: 'android', brand: 'Redmi', model: 'M2012K11AC' }).device).toBe('Redmi K40');
    expect(enriched({ platform: 'android', brand: 'OPPO', model: 'OPPO R9tm' }).device).toBe('OPPO R9');
    // Names that are already marketing names, and unknown codes, stay as sent.
    expect(enriched({ platform: 'android', brand: 'HUAWEI', model: 'Mate 60 Pro' }).device).toBe('HUAWEI Mate 60 Pro');
    expect(enriched({ platform: 'android', brand: 'vivo', model: 'X100' }).device).toBe('vivo X100');
    expect(enriched({ platform: 'android', brand: 'Acme', model: 'ZZ-9000Q' }).device).toBe('Acme ZZ-9000Q');
    expect(marketingName('OPPO', 'PEGM00')).toEqual({ brand: 'OPPO', model: 'Reno5 5G' });
    expect(marketingName(null, 'no digits here')).toBeUndefined();
  });

  it('keeps the ua on the event, and refuses one that is not a string or too long', () => {
    expect(enriched({ ua: 'curl/8.0' })).toMatchObject({ ua: 'curl/8.0', platform: null, device: null });
    const bad = (ua: unknown) => {
      const r = processRecord({ ...base, ua }, ctx);
      return r.ok ? undefined : r.field;
    };
    expect(bad(42)).toBe('ua');
    expect(bad('x'.repeat(1025))).toBe('ua');
    // The request's User-Agent is used only for events without their own.
    const r = processRecord({ ...base }, { now: NOW, userAgent: UA.iphone });
    expect(r.ok && r.event.device).toBe('Apple iPhone');
    const own = processRecord({ ...base, ua: UA.oppoR9 }, { now: NOW, userAgent: UA.iphone });
    expect(own.ok && own.event.device).toBe('OPPO R9');
  });

  it('parses the WeChat forms directly', () => {
    expect(parseUserAgent(UA.oppoReno5)).toEqual({ platform: 'android', brand: null, model: 'PEGM00' });
    expect(parseUserAgent(UA.harmonyNext).platform).toBe('ohos');
    expect(parseUserAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) wechatdevtools/1.06 MicroMessenger/8.0.5').platform).toBe('devtools');
    expect(parseUserAgent('')).toEqual({ platform: null, brand: null, model: null });
    // Chrome's reduced User-Agent: `K` stands for any device, so the device is unknown, not a phone named "K".
    const reduced = 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 MicroMessenger/8.0.1';
    expect(parseUserAgent(reduced)).toEqual({ platform: 'android', brand: null, model: null });
    expect(enriched({ ua: reduced })).toMatchObject({ platform: 'android', device: null });
  });
});

describe('the collect context', () => {
  it('uses the client address instead of any ip the event carries', () => {
    const r = processRecord({ ...base, ip: '202.96.134.133' }, { now: NOW, clientIp: '220.181.38.148' });
    expect(r.ok && [r.event.ip, r.event.province, r.event.city]).toEqual(['220.181.38.148', 11, 1101]);
  });

  it('fills a record of only openid, time, ip and ua', () => {
    const e = enriched({ ip: '183.232.231.172', ua: UA.oppoReno5 });
    expect(e).toMatchObject({ province: 44, city: 4401, platform: 'android', platformId: 2, device: 'OPPO Reno5 5G', props: null });
  });
});
