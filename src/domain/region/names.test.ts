import { describe, expect, it } from 'vitest';
import { cityAliases, cityDisplayName, cleanInput, provinceShortName, stripNationalities } from './names.ts';

describe('provinceShortName', () => {
  it.each([
    ['广东省', '广东'],
    ['北京市', '北京'],
    ['内蒙古自治区', '内蒙古'],
    ['广西壮族自治区', '广西'],
    ['宁夏回族自治区', '宁夏'],
    ['新疆维吾尔自治区', '新疆'],
    ['西藏自治区', '西藏'],
    ['香港特别行政区', '香港'],
    ['台湾省', '台湾'],
  ])('%s → %s', (full, short) => expect(provinceShortName(full)).toBe(short));
});

describe('stripNationalities', () => {
  it.each([
    ['延边朝鲜族', '延边'],
    ['海西蒙古族藏族', '海西'],
    ['恩施土家族苗族', '恩施'],
    ['巴音郭楞蒙古', '巴音郭楞'],
    ['克孜勒苏柯尔克孜', '克孜勒苏'],
    ['怒江傈僳族', '怒江'],
    ['内蒙古', '内蒙古'],
    ['西藏', '西藏'],
  ])('%s → %s', (name, place) => expect(stripNationalities(name)).toBe(place));
});

describe('city names', () => {
  it('drops a trailing 市 only', () => {
    expect(cityDisplayName('广州市')).toBe('广州');
    expect(cityDisplayName('阿里地区')).toBe('阿里地区');
    expect(cityDisplayName('延边朝鲜族自治州')).toBe('延边朝鲜族自治州');
  });

  it('lists the short forms of each prefecture kind', () => {
    expect(cityAliases('广州市')).toEqual(['广州市', '广州']);
    expect(cityAliases('延边朝鲜族自治州')).toEqual(['延边朝鲜族自治州', '延边', '延边州']);
    expect(cityAliases('大兴安岭地区')).toEqual(['大兴安岭地区', '大兴安岭']);
    expect(cityAliases('锡林郭勒盟')).toEqual(['锡林郭勒盟', '锡林郭勒']);
    expect(cityAliases('白沙黎族自治县')).toEqual(['白沙黎族自治县', '白沙', '白沙县']);
    expect(cityAliases('神农架林区')).toEqual(['神农架林区', '神农架']);
  });
});

describe('cleanInput', () => {
  it('trims and treats blank, 0 and 未知 as unknown', () => {
    expect(cleanInput('  广东 ')).toBe('广东');
    expect(cleanInput('\u3000广州\u3000')).toBe('广州');
    for (const v of ['', '   ', '0', ' 0 ', '未知', null, undefined]) expect(cleanInput(v)).toBe('');
  });
});
