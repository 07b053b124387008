import { createRequire } from 'node:module';
import { isPublicAddress, normalizeAddress } from './addresses.ts';
import type { GeoLookup, GeoPlace } from './geo.ts';

/** The part of the `ip2region` package (2.x, MIT) used here. */
interface Ip2RegionSearcher {
  search(ip: string): { country: string; province: string; city: string; isp: string } | null;
}
type Ip2RegionClass = new (opts?: { disableIpv6?: boolean }) => Ip2RegionSearcher;

const CHINA = '中国';

/**
 * The offline database bundled in the `ip2region` npm package (IPv4: ip2region's own data; IPv6: the ZX IPv6
 * database it ships beside it), read into memory once (about 11 MB) when first created. Nothing is downloaded.
 */
export class Ip2RegionGeo implements GeoLookup {
  private constructor(private readonly db: Ip2RegionSearcher) {}

  static load(): Ip2RegionGeo {
    const mod = createRequire(import.meta.url)('ip2region') as { default: Ip2RegionClass };
    return new Ip2RegionGeo(new mod.default());
  }

  lookup(address: string): GeoPlace | undefined {
    const ip = normalizeAddress(address);
    if (!isPublicAddress(ip)) return undefined;
    let r: ReturnType<Ip2RegionSearcher['search']>;
    try {
      r = this.db.search(ip);
    } catch {
      return undefined;
    }
    if (!r || r.country !== CHINA || (r.province === '' && r.city === '')) return undefined;
    return { province: r.province, city: r.city };
  }
}
