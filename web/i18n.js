// The dashboard's two languages: Chinese (the default) and English. Texts are looked up by key; the page's static
// markup carries the Chinese text and a data-i18n key, so it paints in Chinese before any script runs.

/** @typedef {'zh' | 'en'} Lang */

/** @type {Record<Lang, Record<string, string>>} */
export const MESSAGES = {
  zh: {
    'skip': '跳到正文',
    'app.title': '用户画像',
    'doc.title': '用户画像 · datacube',
    'loading': '加载中…',
    'signout': '退出登录',
    'lang.switch': 'English',
    'lang.switch.label': 'Switch to English',
    'signin.title': '登录查看用户画像',
    'signin.hint': '使用小程序的 AppID 和 AppSecret 登录（与调用 /cgi-bin/token 相同）。',
    'signin.appid': 'AppID（小程序 ID）',
    'signin.secret': 'AppSecret（小程序密钥）',
    'signin.submit': '登录',
    'signin.busy': '正在登录…',
    'signin.missing': '请填写 AppID 和 AppSecret。',
    'signin.badAppid': '没有这个 AppID。',
    'signin.badSecret': 'AppSecret 不正确。',
    'signin.limited': '登录失败次数过多，请 {s} 秒后再试。',
    'signin.expired': '登录已过期，请重新登录。',
    'signin.signedOut': '已退出登录。',
    'signin.failed': '登录失败：{msg}',
    'who': 'AppID {appid}',
    'controls': '筛选',
    'window.legend': '时间范围',
    'window.1': '1 天',
    'window.7': '7 天',
    'window.30': '30 天',
    'window.end': '截止日期',
    'window.yesterday': '昨天',
    'window.badEnd': '截止日期最晚为昨天（{day}）。',
    'audience.legend': '用户',
    'audience.active': '活跃用户',
    'audience.new': '新用户',
    'csv.download': '下载 CSV',
    'totals.title': '用户总数',
    'range.one': '{end}（北京时间）',
    'range.many': '{begin} 至 {end}（{days} 天，北京时间）',
    'status.loading': '正在读取 {range} 的数据…',
    'status.ready': '已显示 {range}的{audience}。',
    'status.error': '读取失败：{msg}',
    'view.chart': '图表',
    'view.table': '表格',
    'view.label': '{title}的显示方式',
    'table.name': '名称',
    'table.region': '{title}表格',
    'table.value': '用户数',
    'table.caption': '{title}（{audience}，{range}）',
    'empty': '这段时间没有数据。',
    'map.unknown': '未知地区：{n}',
    'map.more': '多',
    'map.fewer': '少',
    'chart.summary': '{title}：{items}',
    'panel.province': '省份分布',
    'panel.city': '城市 Top 10',
    'panel.genders': '性别分布',
    'panel.platforms': '终端平台',
    'panel.ages': '年龄分布',
    'panel.devices': '机型 Top 10',
    'footer.charts': '图表：',
    'footer.map': '地图数据：',
  },
  en: {
    'skip': 'Skip to content',
    'app.title': 'User portrait',
    'doc.title': 'User portrait · datacube',
    'loading': 'Loading…',
    'signout': 'Sign out',
    'lang.switch': '中文',
    'lang.switch.label': '切换到中文',
    'signin.title': 'Sign in to see the user portrait',
    'signin.hint': "Sign in with the mini-program's AppID and AppSecret (the same as for /cgi-bin/token).",
    'signin.appid': 'AppID',
    'signin.secret': 'AppSecret',
    'signin.submit': 'Sign in',
    'signin.busy': 'Signing in…',
    'signin.missing': 'Enter the AppID and the AppSecret.',
    'signin.badAppid': 'There is no app with this AppID.',
    'signin.badSecret': 'The AppSecret is wrong.',
    'signin.limited': 'Too many failed sign-ins; try again in {s} s.',
    'signin.expired': 'Your session has ended; sign in again.',
    'signin.signedOut': 'You are signed out.',
    'signin.failed': 'Sign-in failed: {msg}',
    'who': 'AppID {appid}',
    'controls': 'Filters',
    'window.legend': 'Window',
    'window.1': '1 day',
    'window.7': '7 days',
    'window.30': '30 days',
    'window.end': 'Ending on',
    'window.yesterday': 'Yesterday',
    'window.badEnd': 'The last day can be yesterday ({day}) at the latest.',
    'audience.legend': 'Users',
    'audience.active': 'Active users',
    'audience.new': 'New users',
    'csv.download': 'Download CSV',
    'totals.title': 'Totals',
    'range.one': '{end} (China time)',
    'range.many': '{begin} to {end} ({days} days, China time)',
    'status.loading': 'Loading {range}…',
    'status.ready': 'Showing {audience} for {range}.',
    'status.error': 'Could not load the data: {msg}',
    'view.chart': 'Chart',
    'view.table': 'Table',
    'view.label': 'How to show {title}',
    'table.name': 'Name',
    'table.region': '{title} table',
    'table.value': 'Users',
    'table.caption': '{title} ({audience}, {range})',
    'empty': 'No data for this window.',
    'map.unknown': 'Unknown region: {n}',
    'map.more': 'More',
    'map.fewer': 'Fewer',
    'chart.summary': '{title}: {items}',
    'panel.province': 'Provinces',
    'panel.city': 'Top 10 cities',
    'panel.genders': 'Gender',
    'panel.platforms': 'Platform',
    'panel.ages': 'Age',
    'panel.devices': 'Top 10 devices',
    'footer.charts': 'Charts: ',
    'footer.map': 'Map data: ',
  },
};

/**
 * The text for `key` in `lang`, with `{name}` placeholders filled from `params`.
 * @param {Lang} lang
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 * @returns {string}
 */
export function t(lang, key, params = {}) {
  const text = MESSAGES[lang][key] ?? MESSAGES.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? `{${name}}`));
}

/**
 * Applies `lang` to the static markup: every element with data-i18n gets its text, every data-i18n-attr
 * ("attr:key,attr:key") its attributes.
 * @param {Lang} lang
 * @param {ParentNode} root
 */
export function translatePage(lang, root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    const key = el.getAttribute('data-i18n');
    if (key) el.textContent = t(lang, key);
  }
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of (el.getAttribute('data-i18n-attr') ?? '').split(',')) {
      const [attr, key] = pair.split(':');
      if (attr && key) el.setAttribute(attr, t(lang, key));
    }
  }
}

// English names of WeChat's dimension values, by id; the API gives them in Chinese. Cities and devices keep the
// names the API gives (only their "unknown" is translated).
/** @type {Record<number, string>} */
const GENDERS_EN = { 0: 'Unknown', 1: 'Male', 2: 'Female' };
/** @type {Record<number, string>} */
const PLATFORMS_EN = { 1: 'iPhone', 2: 'Android', 3: 'Other' };
/** @type {Record<number, string>} */
const AGES_EN = { 0: 'Unknown', 1: 'Under 18', 2: '18–24', 3: '25–29', 4: '30–39', 5: '40–49', 6: '50 and over' };
/** @type {Record<number, string>} */
const PROVINCES_EN = {
  0: 'Unknown', 11: 'Beijing', 12: 'Tianjin', 13: 'Hebei', 14: 'Shanxi', 15: 'Inner Mongolia', 21: 'Liaoning', 22: 'Jilin',
  23: 'Heilongjiang', 31: 'Shanghai', 32: 'Jiangsu', 33: 'Zhejiang', 34: 'Anhui', 35: 'Fujian', 36: 'Jiangxi', 37: 'Shandong',
  41: 'Henan', 42: 'Hubei', 43: 'Hunan', 44: 'Guangdong', 45: 'Guangxi', 46: 'Hainan', 50: 'Chongqing', 51: 'Sichuan',
  52: 'Guizhou', 53: 'Yunnan', 54: 'Xizang', 61: 'Shaanxi', 62: 'Gansu', 63: 'Qinghai', 64: 'Ningxia', 65: 'Xinjiang',
  71: 'Taiwan', 81: 'Hong Kong', 82: 'Macao',
};

/**
 * How a dimension value is shown: the API's own name in Chinese; in English, a translation where there is one.
 * @param {Lang} lang
 * @param {string} dimension  the API's array name: province, city, genders, platforms, ages, devices
 * @param {{ id?: number, name: string }} item
 * @returns {string}
 */
export function itemName(lang, dimension, item) {
  if (lang === 'zh') return item.name;
  const id = item.id;
  /** @type {Record<number, string> | undefined} */
  const table = { genders: GENDERS_EN, platforms: PLATFORMS_EN, ages: AGES_EN, province: PROVINCES_EN }[dimension];
  if (table && id !== undefined && table[id] !== undefined) return table[id] ?? item.name;
  if (dimension === 'city' && id === 0) return 'Unknown';
  if (dimension === 'devices' && item.name === '未知') return 'Unknown';
  return item.name;
}
