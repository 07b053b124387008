import { describe, expect, it } from 'vitest';
import { ageBucket, AGE_NAMES, deviceName, genderId, platformId, PLATFORM_NAMES, GENDER_NAMES } from './dimensions.ts';

describe('dimension rules', () => {
  it('buckets ages at every edge', () => {
    const cases: [number, number][] = [[0, 1], [17, 1], [18, 2], [24, 2], [25, 3], [29, 3], [30, 4], [39, 4], [40, 5], [49, 5], [50, 6], [120, 6]];
    for (const [years, id] of cases) expect(ageBucket(years), String(years)).toBe(id);
    expect(AGE_NAMES).toEqual({ 0: '未知', 1: '17岁以下', 2: '18-24岁', 3: '25-29岁', 4: '30-39岁', 5: '40-49岁', 6: '50岁以上' });
  });
  it('maps genders; 0 and "unknown" carry no information', () => {
    expect([0, 1, 2, '0', '1', '2', 'unknown', 'male', 'female', undefined, null].map(genderId)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 0]);
    expect(genderId(3)).toBeUndefined();
    expect(genderId('M')).toBeUndefined();
    expect(GENDER_NAMES).toEqual({ 0: '未知', 1: '男', 2: '女' });
  });
  it('maps platforms in any case', () => {
    expect(['ios', 'iOS', 'IOS', 'android', 'Android', 'ohos', 'windows', 'mac', 'devtools', 'x'].map(platformId)).toEqual([1, 1, 1, 2, 2, 3, 3, 3, 3, 3]);
    expect(PLATFORM_NAMES).toEqual({ 1: 'iPhone', 2: 'Android', 3: '其他' });
  });
  it('names devices as one marketing name', () => {
    expect(deviceName('iPhone', 'iPhone 13<iPhone14,5>')).toBe('Apple iPhone 13');
    expect(deviceName('apple', 'iPhone 6')).toBe('Apple iPhone 6');
    expect(deviceName('OPPO', 'R9')).toBe('OPPO R9');
    expect(deviceName('Xiaomi', 'Xiaomi 13')).toBe('Xiaomi 13');
    expect(deviceName('HUAWEI', 'Mate 60 Pro')).toBe('HUAWEI Mate 60 Pro');
    expect(deviceName('vivo', 'vivo X90')).toBe('vivo X90');
    expect(deviceName(undefined, 'iPhone 12')).toBe('Apple iPhone 12');
    expect(deviceName('samsung', undefined)).toBe('samsung');
    expect(deviceName(undefined, undefined)).toBeUndefined();
    expect(deviceName('', '  ')).toBeUndefined();
  });
});
