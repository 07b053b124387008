/**
 * What demo users whose clients do not report a region or a clean device send instead: the address they connect
 * from and their WeChat User-Agent, as a tracker on `/v1/collect` or a server log would give them. Ingest derives
 * region and device from these (src/ingest/enrich), so the demo portrait exercises that path too.
 */
import type { DemoDevice } from './devices.ts';

/**
 * A /24 network of each demo city (`省/市` by short names), as the IP database bundled with datacube (ip2region)
 * places it; `src/demo/generateDemoEvents.test.ts` checks every one still resolves to its city.
 */
export const DEMO_NETWORKS: ReadonlyMap<string, string> = new Map([
  ['上海/上海', '1.118.8'],
  ['云南/昆明', '14.204.0'],
  ['云南/昭通', '39.128.64'],
  ['云南/曲靖', '14.204.160'],
  ['云南/红河', '14.204.216'],
  ['内蒙古/包头', '1.24.128'],
  ['内蒙古/呼和浩特', '1.24.0'],
  ['内蒙古/赤峰', '1.26.96'],
  ['内蒙古/通辽', '1.26.32'],
  ['内蒙古/鄂尔多斯', '1.24.136'],
  ['北京/北京', '1.2.8'],
  ['吉林/吉林', '36.48.128'],
  ['吉林/四平', '36.48.160'],
  ['吉林/延边', '36.48.144'],
  ['吉林/长春', '1.13.0'],
  ['四川/南充', '61.157.208'],
  ['四川/宜宾', '61.139.48'],
  ['四川/成都', '14.196.0'],
  ['四川/绵阳', '60.247.128'],
  ['四川/达州', '61.139.56'],
  ['天津/天津', '20.139.160'],
  ['宁夏/吴忠', '1.50.128'],
  ['宁夏/固原', '1.50.88'],
  ['宁夏/银川', '1.50.0'],
  ['安徽/亳州', '36.4.160'],
  ['安徽/六安', '36.6.224'],
  ['安徽/合肥', '1.51.120'],
  ['安徽/宿州', '36.4.0'],
  ['安徽/芜湖', '36.35.32'],
  ['安徽/阜阳', '36.6.192'],
  ['山东/临沂', '27.197.0'],
  ['山东/济南', '1.51.144'],
  ['山东/济宁', '27.198.0'],
  ['山东/潍坊', '1.51.160'],
  ['山东/烟台', '27.194.0'],
  ['山东/菏泽', '27.206.0'],
  ['山东/青岛', '27.193.0'],
  ['山西/临汾', '59.48.112'],
  ['山西/大同', '59.48.0'],
  ['山西/太原', '1.68.0'],
  ['山西/晋中', '1.69.0'],
  ['山西/运城', '1.68.192'],
  ['山西/长治', '1.68.128'],
  ['广东/东莞', '14.17.64'],
  ['广东/佛山', '14.16.176'],
  ['广东/广州', '1.0.8'],
  ['广东/惠州', '14.16.32'],
  ['广东/揭阳', '14.125.192'],
  ['广东/汕头', '14.21.24'],
  ['广东/江门', '14.21.80'],
  ['广东/深圳', '1.184.192'],
  ['广东/湛江', '14.29.72'],
  ['广东/茂名', '14.21.72'],
  ['广西/南宁', '1.185.0'],
  ['广西/柳州', '58.59.128'],
  ['广西/桂林', '1.185.192'],
  ['广西/玉林', '61.139.232'],
  ['广西/贵港', '58.59.184'],
  ['新疆/乌鲁木齐', '36.105.208'],
  ['新疆/伊犁', '36.105.48'],
  ['新疆/喀什', '36.105.168'],
  ['新疆/阿克苏', '36.96.96'],
  ['江苏/南京', '1.51.0'],
  ['江苏/南通', '36.149.16'],
  ['江苏/常州', '1.51.32'],
  ['江苏/徐州', '36.149.24'],
  ['江苏/无锡', '27.0.208'],
  ['江苏/盐城', '49.69.0'],
  ['江苏/苏州', '36.151.160'],
  ['江西/上饶', '39.158.32'],
  ['江西/九江', '39.160.80'],
  ['江西/南昌', '36.192.200'],
  ['江西/吉安', '39.158.128'],
  ['江西/宜春', '39.160.16'],
  ['江西/赣州', '39.158.184'],
  ['河北/保定', '27.129.16'],
  ['河北/唐山', '27.129.8'],
  ['河北/廊坊', '27.129.32'],
  ['河北/沧州', '61.55.0'],
  ['河北/石家庄', '14.197.152'],
  ['河北/邢台', '27.129.48'],
  ['河北/邯郸', '27.129.24'],
  ['河南/南阳', '1.196.128'],
  ['河南/周口', '1.193.136'],
  ['河南/商丘', '1.193.104'],
  ['河南/新乡', '1.192.72'],
  ['河南/洛阳', '1.193.0'],
  ['河南/郑州', '1.192.0'],
  ['浙江/台州', '36.26.192'],
  ['浙江/嘉兴', '36.22.176'],
  ['浙江/宁波', '36.16.0'],
  ['浙江/杭州', '11.164.32'],
  ['浙江/温州', '14.197.192'],
  ['浙江/绍兴', '36.23.0'],
  ['浙江/金华', '36.22.64'],
  ['海南/三亚', '36.101.0'],
  ['海南/儋州', '59.49.232'],
  ['海南/海口', '36.1.0'],
  ['湖北/孝感', '27.23.0'],
  ['湖北/宜昌', '27.21.0'],
  ['湖北/武汉', '27.16.128'],
  ['湖北/荆州', '27.20.0'],
  ['湖北/襄阳', '27.22.0'],
  ['湖北/黄冈', '27.16.0'],
  ['湖南/岳阳', '36.157.32'],
  ['湖南/常德', '36.157.48'],
  ['湖南/株洲', '36.157.144'],
  ['湖南/衡阳', '36.157.232'],
  ['湖南/邵阳', '36.157.64'],
  ['湖南/长沙', '36.111.200'],
  ['甘肃/兰州', '27.224.96'],
  ['甘肃/天水', '27.225.32'],
  ['甘肃/定西', '27.224.0'],
  ['甘肃/庆阳', '27.224.48'],
  ['福建/厦门', '27.148.160'],
  ['福建/泉州', '27.151.128'],
  ['福建/漳州', '27.155.0'],
  ['福建/福州', '1.1.0'],
  ['福建/莆田', '27.150.192'],
  ['西藏/拉萨', '27.98.224'],
  ['西藏/日喀则', '27.98.248'],
  ['贵州/毕节', '1.49.32'],
  ['贵州/贵阳', '1.204.0'],
  ['贵州/遵义', '1.49.96'],
  ['贵州/铜仁', '1.48.128'],
  ['辽宁/大连', '1.13.192'],
  ['辽宁/沈阳', '36.129.0'],
  ['辽宁/营口', '36.128.176'],
  ['辽宁/锦州', '36.129.64'],
  ['辽宁/鞍山', '36.128.160'],
  ['重庆/重庆', '14.104.0'],
  ['陕西/咸阳', '1.84.208'],
  ['陕西/宝鸡', '1.82.128'],
  ['陕西/榆林', '1.82.96'],
  ['陕西/渭南', '1.82.64'],
  ['陕西/西安', '1.80.0'],
  ['青海/海东', '36.100.16'],
  ['青海/西宁', '36.100.8'],
  ['黑龙江/哈尔滨', '1.58.0'],
  ['黑龙江/大庆', '1.59.0'],
  ['黑龙江/牡丹江', '1.56.128'],
  ['黑龙江/绥化', '1.57.0'],
  ['黑龙江/齐齐哈尔', '1.57.64'],
]);

/** A phone as its WeChat reports it (`wx.getSystemInfo()`: Android models as codes) and the User-Agent it sends. */
export interface UaDevice extends DemoDevice {
  readonly ua: string;
}

const android = (code: string, chrome: string, wechat: string): string =>
  `Mozilla/5.0 (Linux; Android 13; ${code} Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/${chrome} Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MMWEBID/6040 MicroMessenger/${wechat} WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64 miniProgram/wx1234567890abcdef`;
const IPHONE_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN miniProgram/wx1234567890abcdef';

type Table = readonly (readonly [UaDevice, number])[];
const a = (brand: string, code: string, w: number): readonly [UaDevice, number] =>
  [{ platform: 'android', brand, model: code, ua: android(code, '116.0.0.0', '8.0.47.2560(0x28002F35)') }, w] as const;

/** iPhones: the User-Agent says only "iPhone". */
export const UA_IOS: Table = [
  [{ platform: 'ios', brand: 'iPhone', model: 'iPhone 13<iPhone14,5>', ua: IPHONE_UA }, 3],
  [{ platform: 'ios', brand: 'iPhone', model: 'iPhone 15 Pro<iPhone16,1>', ua: IPHONE_UA }, 2],
];

/** Android phones by the model codes their clients report (marketing names come from the model-code table). */
export const UA_ANDROID: Table = [
  a('OPPO', 'PEGM00', 3), // Reno5 5G
  a('OPPO', 'PGBM10', 2), // Reno8 5G
  a('OPPO', 'PCLM10', 1), // Reno Ace
  a('HUAWEI', 'ALN-AL00', 4), // Mate 60 Pro
  a('HUAWEI', 'NOH-AN00', 2), // Mate 40 Pro
  a('HUAWEI', 'HBN-AL00', 2), // Pura 70 Pro
  a('vivo', 'V2309A', 3), // X100
  a('vivo', 'V2227A', 1), // X90 Pro+
  a('Xiaomi', '2211133C', 3), // Xiaomi 13
  a('Redmi', 'M2012K11AC', 2), // Redmi K40
  a('Redmi', '22127RK46C', 2), // Redmi K60 Pro
  a('HONOR', 'PGT-AN10', 2), // Magic5 Pro
  a('OnePlus', 'PHB110', 1), // OnePlus 11
];

/** HarmonyOS NEXT (no model in its User-Agent), WeChat for Windows and for Mac. */
export const UA_OTHER: Table = [
  [{
    platform: 'ohos', brand: 'HUAWEI', model: 'Mate 60 Pro',
    ua: 'Mozilla/5.0 (Phone; OpenHarmony 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36  ArkWeb/4.1.6.1 Mobile MicroMessenger/8.0.9.39(0xf3100927) Weixin NetType/WIFI Language/zh_CN',
  }, 3],
  [{
    platform: 'windows', brand: 'microsoft', model: 'microsoft',
    ua: 'Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Safari/537.36 NetType/WIFI MicroMessenger/7.0.20.1781(0x6700143B) WindowsWechat(0x63090819) XWEB/8519 Flue',
  }, 2],
  [{
    platform: 'mac', brand: 'apple', model: 'MacBookPro18,3',
    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) MicroMessenger/6.8.0(0x16080000) MacWechat/3.8.6(0x13080610) XWEB/30817 Flue',
  }, 1],
];
