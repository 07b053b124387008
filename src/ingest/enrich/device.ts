import { deviceName } from '../../domain/dimensions.ts';
import { marketingName } from './modelNames.ts';

/** Platforms whose models are never Android-style codes. */
const NO_CODES = new Set(['ios', 'ipados', 'mac', 'windows', 'devtools', 'linux']);
const APPLE = /^(apple|iphone|ipad|ipod)$/i;

/**
 * The device dimension's name for what a client (or its User-Agent) reports: the engine's rule (`deviceName`), after
 * turning an Android model code into its marketing name where one is known (`OPPO`/`PEGM00` → `OPPO Reno5 5G`).
 */
export function marketDeviceName(brand: string | null, model: string | null, platform: string | null): string | null {
  if (model && !(platform && NO_CODES.has(platform)) && !(brand && APPLE.test(brand))) {
    const m = marketingName(brand, model);
    if (m) return deviceName(m.brand, m.model) ?? null;
  }
  return deviceName(brand ?? undefined, model ?? undefined) ?? null;
}
