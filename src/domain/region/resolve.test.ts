import { describe, expect, it } from 'vitest';
import { resolveRegion, type RegionResult } from './index.ts';

const ok = (province: number, city: number): RegionResult => ({ ok: true, province, city });

function rejected(province: string | null, city: string | null): { field: string; reason: string } {
  const r = resolveRegion(province, city);
  if (r.ok) throw new Error(`expected a rejection for ${province}/${city}, got ${r.province}/${r.city}`);
  return { field: r.field, reason: r.reason };
}

describe('resolveRegion: provinces', () => {
  it.each([
    ['广东省', 44],
    ['广东', 44],
    ['北京', 11],
    ['北京市', 11],
    ['内蒙古', 15],
    ['内蒙古自治区', 15],
    ['新疆', 65],
    ['新疆维吾尔自治区', 65],
    ['广西', 45],
    ['宁夏', 64],
    ['西藏', 54],
    ['香港', 81],
    ['香港特别行政区', 81],
    ['澳门', 82],
    ['台湾', 71],
    ['台湾省', 71],
    ['  广东省 ', 44],
  ])('%s → %d', (name, id) => {
    const r = resolveRegion(name, null);
    expect(r.ok && r.province).toBe(id);
  });

  it('leaves the city unknown for a province alone, unless the province is one city', () => {
    expect(resolveRegion('广东省', undefined)).toEqual(ok(44, 0));
    expect(resolveRegion('北京', null)).toEqual(ok(11, 1101));
    expect(resolveRegion('重庆市', '0')).toEqual(ok(50, 5001));
    expect(resolveRegion('香港', '0')).toEqual(ok(81, 8100));
  });

  it('rejects an unknown province on the province field', () => {
    const r = rejected('火星', '广州');
    expect(r.field).toBe('province');
    expect(r.reason).toBe('province "火星" is not a province-level division of China');
  });
});

describe('resolveRegion: cities', () => {
  it.each([
    ['广州', 44, 4401],
    ['广州市', 44, 4401],
    ['深圳', 44, 4403],
    ['北京', 11, 1101],
    ['北京市', 11, 1101],
    ['上海', 31, 3101],
    ['天津市', 12, 1201],
    ['重庆', 50, 5001],
    ['城口县', 50, 5001],
    ['石柱土家族自治县', 50, 5001],
    ['万州区', 50, 5001],
    ['朝阳区', 11, 1101],
    ['呼和浩特', 15, 1501],
    ['延边', 22, 2224],
    ['延边州', 22, 2224],
    ['延边朝鲜族自治州', 22, 2224],
    ['恩施', 42, 4228],
    ['恩施州', 42, 4228],
    ['恩施土家族苗族自治州', 42, 4228],
    ['大兴安岭', 23, 2327],
    ['大兴安岭地区', 23, 2327],
    ['锡林郭勒', 15, 1525],
    ['锡林郭勒盟', 15, 1525],
    ['阿里地区', 54, 5425],
    ['仙桃', 42, 429004],
    ['仙桃市', 42, 429004],
    ['济源', 41, 419001],
    ['琼海', 46, 469002],
    ['石河子', 65, 659001],
    ['神农架', 42, 429021],
    ['香港', 81, 8100],
    ['澳门特别行政区', 82, 8200],
  ])('%s alone → %d/%d', (name, province, city) => {
    expect(resolveRegion(undefined, name)).toEqual(ok(province, city));
  });

  it('accepts a city with its own province in any form', () => {
    expect(resolveRegion('广东省', '广州市')).toEqual(ok(44, 4401));
    expect(resolveRegion('广东', '深圳')).toEqual(ok(44, 4403));
    expect(resolveRegion('内蒙古', '呼和浩特市')).toEqual(ok(15, 1501));
    expect(resolveRegion('吉林', '延边州')).toEqual(ok(22, 2224));
    expect(resolveRegion('湖北省', '天门市')).toEqual(ok(42, 429006));
    expect(resolveRegion('海南', '定安')).toEqual(ok(46, 469021));
    expect(resolveRegion('上海市', '浦东新区')).toEqual(ok(31, 3101));
  });

  it('reads ip2region records', () => {
    expect(resolveRegion('广东省', '广州市')).toEqual(ok(44, 4401));
    expect(resolveRegion('内蒙古', '包头市')).toEqual(ok(15, 1502));
    expect(resolveRegion('0', '0')).toEqual(ok(0, 0));
    expect(resolveRegion('香港', '0')).toEqual(ok(81, 8100));
    expect(resolveRegion('台湾省', '0')).toEqual(ok(71, 7100));
  });

  it('puts any place inside 台湾/香港/澳门 in the region itself', () => {
    expect(resolveRegion('台湾省', '台北')).toEqual(ok(71, 7100));
    expect(resolveRegion('台湾', '高雄市')).toEqual(ok(71, 7100));
    expect(resolveRegion('香港', '中西区')).toEqual(ok(81, 8100));
    expect(rejected('台湾', '广州').field).toBe('city');
  });

  it('treats missing, blank, 0 and 未知 as unknown', () => {
    for (const v of [undefined, null, '', '  ', '0', '未知']) {
      expect(resolveRegion(v, v)).toEqual(ok(0, 0));
      expect(resolveRegion('广东', v)).toEqual(ok(44, 0));
      expect(resolveRegion(v, '广州')).toEqual(ok(44, 4401));
    }
  });

  it('rejects a city outside the given province on the city field', () => {
    const r = rejected('北京', '广州');
    expect(r.field).toBe('city');
    expect(r.reason).toBe('city "广州" is not in 北京市 (it is in 4401 广州, 广东省)');
    expect(rejected('广东省', '延边').field).toBe('city');
    expect(rejected('海南', '海南').field).toBe('city'); // 海南 the city is 海南藏族自治州, 青海
  });

  it('rejects an unknown city on the city field', () => {
    const r = rejected(null, '火星');
    expect(r).toEqual({ field: 'city', reason: 'city "火星" is not a prefecture-level city of China' });
    expect(rejected('广东', '火星').field).toBe('city');
    expect(rejected('北京', '火星').field).toBe('city');
    expect(rejected('北京', '市辖区').field).toBe('city');
    expect(rejected(null, '广东').field).toBe('city');
  });

  it('answers repeated inputs the same way', () => {
    const first = resolveRegion('广东省', '广州市');
    expect(resolveRegion('广东省', '广州市')).toBe(first);
    expect(resolveRegion('北京', '广州')).toEqual(resolveRegion('北京', '广州'));
  });
});
