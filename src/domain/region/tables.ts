/**
 * The lookup maps, built once from ./source.ts on first use. See ./index.ts for the id and naming rules.
 */
import { AREA_ROWS, CITY_ROWS, PROVINCE_ROWS } from './source.ts';
import { cityAliases, cityDisplayName, provinceShortName } from './names.ts';

/** A province-level unit. `shortName`: `广东`, `内蒙古`, `北京` (for a China map). */
export interface ProvinceInfo {
  id: number;
  name: string;
  shortName: string;
}

/** A city as datacube reports it. */
export interface CityInfo {
  id: number;
  name: string;
  province: number;
}

export interface Tables {
  /** By id. */
  readonly provinces: readonly Readonly<ProvinceInfo>[];
  readonly provinceById: ReadonlyMap<number, Readonly<ProvinceInfo>>;
  /** Full and short names → id. */
  readonly provinceByName: ReadonlyMap<string, number>;
  /** By id. */
  readonly cities: readonly Readonly<CityInfo>[];
  readonly cityById: ReadonlyMap<number, Readonly<CityInfo>>;
  /** Every accepted form of a city name → the cities it may mean (more than one: ambiguous without a province). */
  readonly cityByName: ReadonlyMap<string, readonly Readonly<CityInfo>[]>;
  /** Province → its only city, for the municipalities and 台湾/香港/澳门. */
  readonly onlyCity: ReadonlyMap<number, number>;
  /** 台湾/香港/澳门: GB/T 2260 lists no prefectures, so any place name inside them means the region's city. */
  readonly undivided: ReadonlySet<number>;
}

let built: Tables | undefined;

/** The maps, built at the first call. */
export function tables(): Tables {
  built ??= build();
  return built;
}

const provinceOf = (code: string): number => Number(code.slice(0, 2));
const prefectureOf = (code: string): number => Number(code.slice(0, 4));
/** `429000 湖北省-自治区直辖县级行政区划`: a group of county-level units directly under the province. */
const isDirectCountyGroup = (name: string): boolean => name.includes('直辖县级');

function build(): Tables {
  const provinces: ProvinceInfo[] = [];
  const provinceById = new Map<number, ProvinceInfo>();
  const provinceByName = new Map<string, number>();
  const cityById = new Map<number, CityInfo>();
  const cityByName = new Map<string, CityInfo[]>();
  const onlyCity = new Map<number, number>();
  const undivided = new Set<number>();

  for (const row of PROVINCE_ROWS) {
    const info: ProvinceInfo = { id: provinceOf(row.code), name: row.name, shortName: provinceShortName(row.name) };
    provinces.push(info);
    provinceById.set(info.id, info);
    for (const alias of [info.name, info.shortName]) {
      const other = provinceByName.get(alias);
      if (other !== undefined && other !== info.id) throw new Error(`region data: province name ${alias} is ambiguous`);
      provinceByName.set(alias, info.id);
    }
  }

  const addCity = (city: CityInfo, aliases: readonly string[]): void => {
    if (!cityById.has(city.id)) cityById.set(city.id, city);
    for (const alias of aliases) addAlias(alias, city);
  };
  const addAlias = (alias: string, city: CityInfo): void => {
    const list = cityByName.get(alias);
    if (list === undefined) cityByName.set(alias, [city]);
    else if (!list.some((c) => c.id === city.id)) list.push(city);
  };

  const directGroups = new Set<number>();
  for (const row of CITY_ROWS) {
    if (isDirectCountyGroup(row.name)) {
      directGroups.add(prefectureOf(row.code));
      continue;
    }
    const city = { id: prefectureOf(row.code), name: cityDisplayName(row.name), province: provinceOf(row.code) };
    addCity(city, cityAliases(row.name));
  }

  // Province-level units without prefectures: the municipalities get their GB/T 2260 `XX01` code
  // (`1101 北京`; Chongqing's `5002` counties fold into `5001`), 台湾/香港/澳门 the package's `XX00`.
  const municipal = new Map<number, CityInfo>();
  const divided = new Set([...cityById.values()].map((c) => c.province));
  for (const p of provinces) {
    if (divided.has(p.id)) continue;
    const isMunicipality = p.name.endsWith('市');
    const city = { id: p.id * 100 + (isMunicipality ? 1 : 0), name: p.shortName, province: p.id };
    addCity(city, [p.name, p.shortName]);
    onlyCity.set(p.id, city.id);
    if (isMunicipality) municipal.set(p.id, city);
    else undivided.add(p.id);
  }

  for (const row of AREA_ROWS) {
    const province = provinceOf(row.code);
    if (directGroups.has(prefectureOf(row.code))) {
      // County-level units directly under the province: their own six-digit code stands for the city.
      addCity({ id: Number(row.code), name: cityDisplayName(row.name), province }, cityAliases(row.name));
      continue;
    }
    // A municipality's districts and counties (`朝阳区`, `城口县`) name the municipality; full names only.
    const city = municipal.get(province);
    if (city !== undefined) addAlias(row.name, city);
  }

  const cities = [...cityById.values()].sort((a, b) => a.id - b.id);
  provinces.sort((a, b) => a.id - b.id);
  return { provinces, provinceById, provinceByName, cities, cityById, cityByName, onlyCity, undivided };
}
