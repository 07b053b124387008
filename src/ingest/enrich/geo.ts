/**
 * Region from IP: a `GeoLookup` answers where an address is, in the names a Chinese IP database uses
 * (`广东省`/`深圳市`, `北京`/`北京市`, `台湾省`/`台北`); the ingest step maps them onto GB/T 2260 ids with the same
 * region resolver that client-sent names go through (src/domain/region).
 */
export interface GeoPlace {
  /** Province-level name, `''` when the database knows only the country. */
  province: string;
  /** City name, `''` when unknown. */
  city: string;
}

export interface GeoLookup {
  /** Where a public address in China is; `undefined` for private, reserved or foreign addresses and unknown ones. */
  lookup(ip: string): GeoPlace | undefined;
}
