import UAParser from 'ua-parser-js';

/** What a User-Agent says about the client, in the terms `wx.getSystemInfo()` uses; null where it says nothing. */
export interface UaClient {
  /** `ios`, `android`, `ohos`, `windows`, `mac`, `devtools`, `linux`, or null. */
  platform: string | null;
  /** The maker as WeChat clients report it (`OPPO`, `HUAWEI`, `iPhone`), or null. */
  brand: string | null;
  /** The model as the User-Agent names it (`PEGM00`, `R9m`, `iPhone`), or null. */
  model: string | null;
}

const NOTHING: UaClient = Object.freeze({ platform: null, brand: null, model: null });

/** ua-parser-js's vendor names → the spelling `wx.getSystemInfo().brand` uses on those phones. */
const BRANDS: Readonly<Record<string, string>> = {
  huawei: 'HUAWEI',
  honor: 'HONOR',
  oppo: 'OPPO',
  vivo: 'vivo',
  xiaomi: 'Xiaomi',
  redmi: 'Redmi',
  oneplus: 'OnePlus',
  realme: 'realme',
  samsung: 'samsung',
  meizu: 'meizu',
  zte: 'ZTE',
  nubia: 'nubia',
  lenovo: 'Lenovo',
  motorola: 'motorola',
  google: 'google',
  sony: 'Sony',
  nokia: 'Nokia',
  coolpad: 'Coolpad',
  gionee: 'GIONEE',
  letv: 'LeEco',
  smartisan: 'SMARTISAN',
  asus: 'asus',
  apple: 'Apple',
};

/** `wx.getSystemInfo().brand` spelling of a maker's name (unknown makers as given). */
export function canonicalBrand(name: string): string {
  return BRANDS[name.trim().toLowerCase()] ?? name.trim();
}

/**
 * Reads platform, maker and model from a User-Agent: ua-parser-js (1.x) for the operating system and device, plus the
 * forms WeChat clients send — Android WebView with `MicroMessenger/… miniProgram/…`, iOS, HarmonyOS NEXT
 * (`OpenHarmony`, `ArkWeb`: platform `ohos`, no model in the string), Windows (`WindowsWechat`) and Mac (`MacWechat`)
 * WeChat, and the developer tools (`wechatdevtools`). Android on HarmonyOS 2–4 is `android`, as WeChat reports it.
 */
export function parseUserAgent(ua: string): UaClient {
  if (/wechatdevtools/i.test(ua)) return { platform: 'devtools', brand: null, model: null };
  if (/OpenHarmony|ArkWeb/.test(ua)) return { platform: 'ohos', brand: null, model: null };
  if (/WindowsWechat|WindowsWeChat/.test(ua)) return { platform: 'windows', brand: null, model: null };
  if (/MacWechat|MacWeChat/.test(ua)) return { platform: 'mac', brand: 'Apple', model: 'Mac' };
  const r = new UAParser(ua).getResult();
  const os = (r.os.name ?? '').toLowerCase();
  const vendor = r.device.vendor ? canonicalBrand(r.device.vendor) : null;
  // `Android 10; K`: Chrome's reduced User-Agent names no device, whatever the phone (https://www.chromium.org/updates/ua-reduction/).
  const named = r.device.model?.trim() || null;
  const model = named === 'K' && !vendor ? null : named;
  if (os === 'ios' || /^(iPhone|iPad|iPod)$/.test(model ?? '')) {
    const m = model && /^(iPhone|iPad|iPod)/.test(model) ? model : 'iPhone';
    return { platform: 'ios', brand: 'iPhone', model: m };
  }
  if (os === 'android' || os === 'harmonyos') return { platform: 'android', brand: vendor, model };
  if (os === 'windows') return { platform: 'windows', brand: null, model: null };
  if (os === 'mac os' || os === 'macos') return { platform: 'mac', brand: 'Apple', model: 'Mac' };
  if (os === 'linux' || os === 'ubuntu' || os === 'debian' || os === 'fedora') return { platform: 'linux', brand: null, model: null };
  return NOTHING;
}
