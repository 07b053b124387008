/**
 * Phones as `wx.getSystemInfo()` reports them: `platform`, `brand`, `model`. iPhones carry their hardware id in
 * `<…>`; Android models are given by their marketing names. Weights are rough shares among Chinese WeChat users.
 */
export interface DemoDevice {
  readonly platform: string;
  readonly brand: string;
  readonly model: string;
}

type Table = readonly (readonly [DemoDevice, number])[];

function models(platform: string, brand: string, list: readonly (readonly [string, number])[]): Table {
  return list.map(([model, w]) => [{ platform, brand, model }, w] as const);
}

/** `platform: 'ios'`. */
export const IOS_DEVICES: Table = models('ios', 'iPhone', [
  ['iPhone 11<iPhone12,1>', 7],
  ['iPhone XR<iPhone11,8>', 3],
  ['iPhone SE (2nd generation)<iPhone12,8>', 2],
  ['iPhone 12<iPhone13,2>', 8],
  ['iPhone 12 Pro Max<iPhone13,4>', 3],
  ['iPhone 13<iPhone14,5>', 12],
  ['iPhone 13 Pro<iPhone14,2>', 5],
  ['iPhone 13 Pro Max<iPhone14,3>', 6],
  ['iPhone 14<iPhone14,7>', 7],
  ['iPhone 14 Pro<iPhone15,2>', 6],
  ['iPhone 14 Pro Max<iPhone15,3>', 7],
  ['iPhone 15<iPhone15,4>', 8],
  ['iPhone 15 Pro<iPhone16,1>', 5],
  ['iPhone 15 Pro Max<iPhone16,2>', 8],
  ['iPhone 16<iPhone17,3>', 4],
  ['iPhone 16 Pro Max<iPhone17,2>', 5],
]);

/** `platform: 'android'`, by brand (brand share, then models). */
export const ANDROID_DEVICES: readonly (readonly [Table, number])[] = [
  [models('android', 'HUAWEI', [['Mate 60 Pro', 5], ['Mate 60', 3], ['Mate 40 Pro', 3], ['P60', 2], ['nova 11', 3], ['nova 12', 2], ['Mate X5', 1]]), 17],
  [models('android', 'HONOR', [['HONOR 90', 3], ['HONOR 100', 2], ['Magic5 Pro', 2], ['Magic6', 2], ['X50', 4]]), 11],
  [models('android', 'OPPO', [['Reno10', 4], ['Reno11', 3], ['Find X6', 2], ['Find X7', 2], ['A2', 3], ['K11', 2]]), 17],
  [models('android', 'vivo', [['X90', 3], ['X100', 3], ['S17', 3], ['Y78', 3], ['iQOO Neo8', 2], ['iQOO 12', 2]]), 18],
  [models('android', 'Xiaomi', [['Xiaomi 13', 4], ['Xiaomi 14', 4], ['Xiaomi 12S', 2], ['MIX Fold3', 1]]), 13],
  [models('android', 'Redmi', [['Redmi K60', 3], ['Redmi K70', 3], ['Redmi Note 12', 3], ['Redmi Note 13 Pro', 3]]), 12],
  [models('android', 'OnePlus', [['OnePlus 11', 2], ['OnePlus Ace 2', 2], ['OnePlus 12', 1]]), 4],
  [models('android', 'realme', [['realme GT5', 2], ['realme 11 Pro', 2]]), 3],
  [models('android', 'samsung', [['Galaxy S23 Ultra', 2], ['Galaxy S24', 1], ['Galaxy Z Flip5', 1]]), 3],
  [models('android', 'meizu', [['meizu 20', 1], ['meizu 21', 1]]), 2],
];

/** Everything neither iOS nor Android: HarmonyOS NEXT, the developer tools, WeChat for PC and Mac. */
export const OTHER_DEVICES: Table = [
  [{ platform: 'ohos', brand: 'HUAWEI', model: 'Mate 60 Pro' }, 3],
  [{ platform: 'ohos', brand: 'HUAWEI', model: 'Mate X5' }, 1],
  [{ platform: 'ohos', brand: 'HUAWEI', model: 'Pura 70' }, 2],
  [{ platform: 'windows', brand: 'microsoft', model: 'microsoft' }, 2],
  [{ platform: 'mac', brand: 'apple', model: 'MacBookPro18,3' }, 1],
  [{ platform: 'devtools', brand: 'devtools', model: 'iPhone 12/13 (Pro)' }, 1],
];

/** Shares of the three platform classes. */
export const PLATFORM_SHARES = { ios: 0.3, android: 0.68, other: 0.02 } as const;
