import { createRequire } from 'node:module';
import type { DeviceDetectorOptions, ResultDevice } from 'node-device-detector';
import { canonicalBrand } from './userAgent.ts';

/** A maker and a marketing model name (`OPPO` + `Reno5 5G`). */
export interface MarketingName {
  brand: string;
  model: string;
}

/** Distinct (brand, model) inputs remembered; past this the cache starts over (junk input cannot grow it). */
const CACHE_LIMIT = 20_000;

/** The part of node-device-detector used here (a CommonJS class, loaded lazily). */
interface Detector {
  getBrandsByDeviceCode(code: string): unknown[];
  parseDevice(userAgent: string): ResultDevice;
}
type DetectorClass = new (options: DeviceDetectorOptions) => Detector;

let detector: Detector | undefined;

/**
 * node-device-detector (MIT; its device data is the port of Matomo's device-detector tables): loaded on the first
 * lookup that needs it — about half a second and 50 MB — and kept.
 */
function deviceDetector(): Detector {
  if (!detector) {
    const Detector = createRequire(import.meta.url)('node-device-detector') as DetectorClass;
    detector = new Detector({ deviceIndexes: true, deviceAliasCode: false, deviceInfo: false, deviceTrusted: false });
  }
  return detector;
}

/** Series whose maker writes the number without a space (`Reno5`, `Magic5`), and other house spellings. */
function houseStyle(brand: string, model: string): string {
  if (brand === 'OPPO') return model.replace(/^Reno (\d)/, 'Reno$1');
  if (brand === 'HONOR') return model.replace(/^Magic (\d)/, 'Magic$1');
  if (brand === 'HUAWEI') return model.replace(/^Nova\b/, 'nova');
  return model;
}

/** OPPO's R series carries carrier suffixes (`R9m`, `R9tm`, `R9 Plusm A`, `R11st`) that are not part of the name. */
const OPPO_R_CARRIER = /^(R\d{1,2}s?)( Plus)?(?:tm|km|m|t|k)?(?: [A-Z])?$/;

/** A model code needs a digit and looks like a code, not a sentence; nothing longer than a model name. */
const CODE_LIKE = /^(?=.*\d)[A-Za-z0-9][A-Za-z0-9 +_-]{1,39}$/;

const cache = new Map<string, MarketingName | null>();

function compute(brand: string | null, model: string): MarketingName | null {
  const b = brand ? canonicalBrand(brand) : null;
  const bare = b && model.toLowerCase().startsWith(`${b.toLowerCase()} `) ? model.slice(b.length + 1) : model;
  if (CODE_LIKE.test(model)) {
    const d = deviceDetector();
    // Only codes the detector's index knows are looked up: a miss costs a hash lookup, not a scan of every regex.
    const code = d.getBrandsByDeviceCode(model).length > 0 ? model : b && d.getBrandsByDeviceCode(`${b} ${bare}`).length > 0 ? `${b} ${bare}` : null;
    if (code !== null) {
      const r = d.parseDevice(`Mozilla/5.0 (Linux; Android 10; ${code} Build/A; wv)`);
      if (r.brand && r.model) {
        let found = canonicalBrand(r.brand);
        let name = r.model.trim();
        // Sub-brands sold under their own name: `Redmi K40`, `POCO F5`.
        const sub = /^(Redmi|POCO)\b\s*/i.exec(name);
        if (sub?.[1]) {
          found = canonicalBrand(sub[1]);
          name = name.slice(sub[0].length);
        }
        return { brand: found, model: houseStyle(found, name) };
      }
    }
  }
  if (b === 'OPPO') {
    const m = OPPO_R_CARRIER.exec(bare);
    if (m?.[1]) return { brand: b, model: m[1] + (m[2] ?? '') };
  }
  return null;
}

/**
 * The marketing name of an Android (or HarmonyOS) phone whose client reports a model code: `OPPO`/`PEGM00` →
 * `OPPO`/`Reno5 5G`, `PCLM10` → `OPPO`/`Reno Ace`, `ALN-AL00` → `HUAWEI`/`Mate 60 Pro`, `2211133C` → `Xiaomi`/`13`,
 * `OPPO R9m` → `OPPO`/`R9`. `undefined` when no name is known (the model is then used as sent). Cached per
 * (brand, model): a model is looked up once.
 */
export function marketingName(brand: string | null, model: string): MarketingName | undefined {
  const key = `${brand ?? ''}\u0000${model}`;
  let hit = cache.get(key);
  if (hit === undefined) {
    hit = compute(brand, model);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, hit);
  }
  return hit ?? undefined;
}

/** A model code of each large maker of phones sold in China: looking them up loads the detector and each maker's tables. */
const WARM_UP: readonly (readonly [string, string])[] = [
  ['OPPO', 'PEGM00'],
  ['vivo', 'V2055A'],
  ['HUAWEI', 'ALN-AL00'],
  ['HONOR', 'ANY-AN00'],
  ['Xiaomi', '2211133C'],
  ['Redmi', 'M2012K11AC'],
  ['OnePlus', 'LE2120'],
  ['realme', 'RMX3350'],
  ['samsung', 'SM-G9910'],
  ['meizu', 'MEIZU 18'],
];

/**
 * Loads node-device-detector and the tables of the large makers now (about half a second, once per process), so that
 * the first events naming a phone model do not wait for it. `serve` calls it right after it starts listening.
 * Returns how many of the codes it knew (all of them, unless the detector's data changed).
 */
export function preloadModelNames(): number {
  let known = 0;
  for (const [brand, model] of WARM_UP) if (marketingName(brand, model)) known++;
  return known;
}
