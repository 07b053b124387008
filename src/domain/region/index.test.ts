import { describe, expect, it } from 'vitest';
import { cityName, listCities, listProvinces, provinceName, provinceOfCity, resolveRegion } from './index.ts';
import { tables } from './tables.ts';

describe('provinces', () => {
  it('lists all 34 province-level units with full and short names', () => {
    const provinces = listProvinces();
    expect(provinces).toHaveLength(34);
    const byId = new Map(provinces.map((p) => [p.id, p]));
    expect(byId.get(44)).toEqual({ id: 44, name: '广东省', shortName: '广东' });
    expect(byId.get(11)).toEqual({ id: 11, name: '北京市', shortName: '北京' });
    expect(byId.get(15)).toEqual({ id: 15, name: '内蒙古自治区', shortName: '内蒙古' });
    expect(byId.get(45)).toEqual({ id: 45, name: '广西壮族自治区', shortName: '广西' });
    expect(byId.get(71)).toEqual({ id: 71, name: '台湾省', shortName: '台湾' });
    expect(byId.get(81)).toEqual({ id: 81, name: '香港特别行政区', shortName: '香港' });
    expect(byId.get(82)).toEqual({ id: 82, name: '澳门特别行政区', shortName: '澳门' });
    expect(provinces.map((p) => p.id)).toEqual([...provinces.map((p) => p.id)].sort((a, b) => a - b));
  });

  it('names ids, 未知 for 0 and unknown ids', () => {
    expect(provinceName(44)).toBe('广东省');
    expect(provinceName(65)).toBe('新疆维吾尔自治区');
    expect(provinceName(0)).toBe('未知');
    expect(provinceName(99)).toBe('未知');
  });

  it('round-trips every province by full and short name', () => {
    for (const p of listProvinces()) {
      expect(resolveRegion(p.name, null)).toMatchObject({ ok: true, province: p.id });
      expect(resolveRegion(p.shortName, null)).toMatchObject({ ok: true, province: p.id });
    }
  });
});

describe('cities', () => {
  const cities = listCities();

  it('names ids, 未知 for 0 and unknown ids', () => {
    expect(cityName(4401)).toBe('广州');
    expect(cityName(4403)).toBe('深圳');
    expect(cityName(1101)).toBe('北京');
    expect(cityName(3101)).toBe('上海');
    expect(cityName(5001)).toBe('重庆');
    expect(cityName(2224)).toBe('延边朝鲜族自治州');
    expect(cityName(429004)).toBe('仙桃');
    expect(cityName(8100)).toBe('香港');
    expect(cityName(0)).toBe('未知');
    expect(cityName(5002)).toBe('未知');
    expect(cityName(1102)).toBe('未知');
  });

  it('knows the province of each city', () => {
    expect(provinceOfCity(4401)).toBe(44);
    expect(provinceOfCity(5001)).toBe(50);
    expect(provinceOfCity(659001)).toBe(65);
    expect(provinceOfCity(0)).toBe(0);
    expect(provinceOfCity(9999)).toBe(0);
    for (const c of cities) expect(provinceName(c.province)).not.toBe('未知');
  });

  it('has one city per municipality and SAR, and the prefectures of the others', () => {
    const of = (p: number): number[] => cities.filter((c) => c.province === p).map((c) => c.id);
    expect(of(11)).toEqual([1101]);
    expect(of(12)).toEqual([1201]);
    expect(of(31)).toEqual([3101]);
    expect(of(50)).toEqual([5001]);
    expect(of(71)).toEqual([7100]);
    expect(of(81)).toEqual([8100]);
    expect(of(82)).toEqual([8200]);
    expect(of(44)).toContain(4401);
    for (const p of listProvinces()) expect(of(p.id).length).toBeGreaterThan(0);
  });

  it('never writes 市 at the end of a name, nor 市辖区 or a 直辖 group', () => {
    for (const c of cities) {
      expect(c.name.endsWith('市')).toBe(false);
      expect(c.name).not.toContain('市辖区');
      expect(c.name).not.toContain('直辖');
      expect(c.name).not.toBe('县');
    }
  });

  it('uses four-digit prefecture codes, and six-digit codes only under 省直辖县级行政区划', () => {
    for (const c of cities) {
      if (c.id >= 10000) expect(String(c.id).slice(2, 4)).toBe('90');
      else expect(Math.floor(c.id / 100)).toBe(c.province);
    }
  });

  it('round-trips every city by its name', () => {
    for (const c of cities) {
      expect(resolveRegion(null, c.name)).toEqual({ ok: true, province: c.province, city: c.id });
      expect(resolveRegion(provinceName(c.province), c.name)).toEqual({ ok: true, province: c.province, city: c.id });
    }
  });

  it('has no accepted city name that two cities share (so a city alone always implies its province)', () => {
    const shared = [...tables().cityByName].filter(([, list]) => list.length > 1).map(([name]) => name);
    expect(shared).toEqual([]);
  });

  it('returns fresh lists', () => {
    const a = listCities();
    const first = a[0];
    if (first === undefined) throw new Error('no cities');
    first.name = 'x';
    expect(listCities()[0]?.name).not.toBe('x');
  });
});
