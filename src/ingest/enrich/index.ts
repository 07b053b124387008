export type { GeoLookup, GeoPlace } from './geo.ts';
export { Ip2RegionGeo } from './ip2regionGeo.ts';
export { isPublicAddress, normalizeAddress } from './addresses.ts';
export { parseUserAgent, canonicalBrand, type UaClient } from './userAgent.ts';
export { marketingName, preloadModelNames, type MarketingName } from './modelNames.ts';
export { marketDeviceName } from './device.ts';
export { Enricher, defaultEnricher, type RegionIds, type UaDevice } from './Enricher.ts';
