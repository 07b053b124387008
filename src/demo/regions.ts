/**
 * Where demo users live: the 31 mainland provinces weighted by their 2020 census population (万人, rounded), each
 * with a few of its main prefecture-level divisions weighted the same way. Names as in GB/T 2260; `short` is the
 * name without its administrative suffix, as many clients report it. A municipality is its own city.
 */
export interface DemoCity {
  readonly name: string;
  readonly short: string;
  readonly weight: number;
}

export interface DemoProvince {
  readonly name: string;
  readonly short: string;
  readonly weight: number;
  readonly cities: readonly DemoCity[];
}

/** `广州 1868` → 广州市; `喀什地区/喀什 450` names a division whose name does not end in 市. */
function cities(spec: string): DemoCity[] {
  return spec
    .trim()
    .split(/\s*,\s*/)
    .map((entry) => {
      const [names = '', weight = '1'] = entry.split(/\s+/);
      const [name = '', short] = names.split('/');
      return short === undefined
        ? { name: `${name}市`, short: name, weight: Number(weight) }
        : { name, short, weight: Number(weight) };
    });
}

function province(name: string, short: string, weight: number, cityList: string): DemoProvince {
  return { name, short, weight, cities: cities(cityList) };
}

function municipality(short: string, weight: number): DemoProvince {
  const name = `${short}市`;
  return { name, short, weight, cities: [{ name, short, weight: 1 }] };
}

export const DEMO_PROVINCES: readonly DemoProvince[] = [
  municipality('北京', 2189),
  municipality('天津', 1387),
  province('河北省', '河北', 7461, '石家庄 1124, 保定 1154, 邯郸 941, 唐山 772, 沧州 730, 廊坊 546, 邢台 711'),
  province('山西省', '山西', 3492, '太原 530, 运城 477, 临汾 398, 大同 310, 长治 318, 晋中 337'),
  province('内蒙古自治区', '内蒙古', 2405, '呼和浩特 345, 包头 271, 赤峰 404, 鄂尔多斯 215, 通辽 287'),
  province('辽宁省', '辽宁', 4259, '沈阳 907, 大连 745, 鞍山 333, 锦州 270, 营口 233'),
  province('吉林省', '吉林', 2407, '长春 907, 吉林 362, 四平 181, 延边朝鲜族自治州/延边 194'),
  province('黑龙江省', '黑龙江', 3185, '哈尔滨 1001, 齐齐哈尔 406, 大庆 278, 绥化 376, 牡丹江 229'),
  municipality('上海', 2487),
  province('江苏省', '江苏', 8475, '苏州 1275, 南京 931, 徐州 908, 无锡 746, 南通 773, 常州 528, 盐城 671'),
  province('浙江省', '浙江', 6457, '杭州 1194, 宁波 940, 温州 957, 金华 705, 台州 662, 嘉兴 540, 绍兴 527'),
  province('安徽省', '安徽', 6103, '合肥 937, 阜阳 820, 宿州 532, 芜湖 364, 六安 440, 亳州 500'),
  province('福建省', '福建', 4154, '福州 829, 厦门 516, 泉州 878, 漳州 505, 莆田 321'),
  province('江西省', '江西', 4519, '南昌 626, 赣州 897, 上饶 649, 九江 460, 宜春 500, 吉安 446'),
  province('山东省', '山东', 10153, '济南 920, 青岛 1007, 临沂 1102, 潍坊 939, 烟台 710, 菏泽 880, 济宁 836'),
  province('河南省', '河南', 9937, '郑州 1260, 南阳 971, 周口 903, 商丘 782, 洛阳 706, 新乡 625'),
  province('湖北省', '湖北', 5775, '武汉 1233, 襄阳 526, 荆州 523, 宜昌 401, 黄冈 588, 孝感 427'),
  province('湖南省', '湖南', 6644, '长沙 1005, 衡阳 665, 邵阳 657, 岳阳 505, 常德 528, 株洲 390'),
  province('广东省', '广东', 12601, '广州 1868, 深圳 1756, 东莞 1047, 佛山 950, 惠州 604, 湛江 698, 茂名 617, 揭阳 558, 汕头 550, 江门 480'),
  province('广西壮族自治区', '广西', 5013, '南宁 874, 玉林 580, 桂林 493, 贵港 431, 柳州 416'),
  province('海南省', '海南', 1008, '海口 287, 三亚 103, 儋州 95'),
  municipality('重庆', 3205),
  province('四川省', '四川', 8367, '成都 2094, 南充 561, 达州 539, 绵阳 487, 宜宾 459'),
  province('贵州省', '贵州', 3856, '贵阳 599, 遵义 660, 毕节 690, 铜仁 329'),
  province('云南省', '云南', 4721, '昆明 846, 曲靖 577, 昭通 509, 红河哈尼族彝族自治州/红河 448'),
  province('西藏自治区', '西藏', 365, '拉萨 87, 日喀则 80'),
  province('陕西省', '陕西', 3953, '西安 1295, 咸阳 396, 宝鸡 332, 渭南 469, 榆林 362'),
  province('甘肃省', '甘肃', 2502, '兰州 436, 天水 298, 庆阳 218, 定西 252'),
  province('青海省', '青海', 592, '西宁 247, 海东 136'),
  province('宁夏回族自治区', '宁夏', 720, '银川 286, 吴忠 138, 固原 114'),
  province('新疆维吾尔自治区', '新疆', 2585, '乌鲁木齐 405, 喀什地区/喀什 450, 伊犁哈萨克自治州/伊犁 285, 阿克苏地区/阿克苏 271'),
];
