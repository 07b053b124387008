import { platformId } from '../../domain/dimensions.ts';
import { resolveRegion } from '../../domain/region/index.ts';
import { marketDeviceName } from './device.ts';
import type { GeoLookup } from './geo.ts';
import { Ip2RegionGeo } from './ip2regionGeo.ts';
import { parseUserAgent } from './userAgent.ts';

/** Region ids (GB/T 2260; 0 unknown). */
export interface RegionIds {
  province: number;
  city: number;
}

/** What a User-Agent gives an event: the platform as `wx.getSystemInfo()` names it, its id, the device name. */
export interface UaDevice {
  platform: string | null;
  platformId: number;
  device: string | null;
}

/** Distinct addresses and User-Agents remembered; past this a cache starts over (junk input cannot grow it). */
const IP_CACHE_LIMIT = 50_000;
const UA_CACHE_LIMIT = 10_000;
const UNKNOWN_REGION: RegionIds = Object.freeze({ province: 0, city: 0 });
const NO_DEVICE: UaDevice = Object.freeze({ platform: null, platformId: 0, device: null });

function remember<V>(cache: Map<string, V>, limit: number, key: string, value: V): V {
  if (cache.size >= limit) cache.clear();
  cache.set(key, value);
  return value;
}

/**
 * The enrichment sources of the ingest steps `geo` and `ua`, with their answers cached per address and per
 * User-Agent string (events of one client repeat both). The IP database is loaded on first use.
 */
export class Enricher {
  private geoLookup: GeoLookup | undefined;
  private readonly regions = new Map<string, RegionIds>();
  private readonly devices = new Map<string, UaDevice>();

  /** `geo`: the IP database to use (default: the one bundled in the `ip2region` package). */
  constructor(geo?: GeoLookup | (() => GeoLookup)) {
    if (typeof geo === 'function') this.loadGeo = geo;
    else this.geoLookup = geo;
  }

  private loadGeo: () => GeoLookup = () => Ip2RegionGeo.load();

  get geo(): GeoLookup {
    this.geoLookup ??= this.loadGeo();
    return this.geoLookup;
  }

  /** Province and city ids of an address; unknown (0, 0) for private, reserved, foreign or unknown addresses. */
  regionOf(ip: string): RegionIds {
    const hit = this.regions.get(ip);
    if (hit) return hit;
    const place = this.geo.lookup(ip);
    let ids = UNKNOWN_REGION;
    if (place) {
      // The database's names go through the same resolver as client-sent names; a city it names that GB/T 2260
      // does not know (renamed, or a district) still gives the province.
      const both = resolveRegion(place.province, place.city);
      const province = both.ok ? both : resolveRegion(place.province, null);
      if (province.ok) ids = Object.freeze({ province: province.province, city: province.city });
    }
    return remember(this.regions, IP_CACHE_LIMIT, ip, ids);
  }

  /** Platform and device from a User-Agent string. */
  deviceOf(ua: string): UaDevice {
    const hit = this.devices.get(ua);
    if (hit) return hit;
    const c = parseUserAgent(ua);
    const d: UaDevice =
      c.platform === null && c.brand === null && c.model === null
        ? NO_DEVICE
        : Object.freeze({
            platform: c.platform,
            platformId: c.platform === null ? 0 : platformId(c.platform),
            device: c.brand === null && c.model === null ? null : marketDeviceName(c.brand, c.model, c.platform),
          });
    return remember(this.devices, UA_CACHE_LIMIT, ua, d);
  }
}

let shared: Enricher | undefined;

/** The process-wide enricher over the bundled sources (what every ingest uses unless given another). */
export function defaultEnricher(): Enricher {
  shared ??= new Enricher();
  return shared;
}
