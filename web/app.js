// The dashboard page: sign-in, the window and audience pickers, totals, and the panels of panels.js (the user
// portrait, then visits from WeChat's other analysis APIs) with a chart and a table each, a CSV download of what is
// shown, Chinese or English. The page's frame and the sign-in form are
// plain HTML and paint at once; ECharts (about 1 MB) and the map load in the background meanwhile.

import { ApiError, callApi, currentSession, signIn, signOut } from './api.js';
import { chartOption } from './charts.js';
import { download, toCsv } from './csv.js';
import { dayNumber, isoOf, windowEnding, ymdFromIso } from './days.js';
import { itemName, t, translatePage } from './i18n.js';
import { ALL_PANELS as PANELS, AUDIENCE_KEY, audienceTotal, SOURCES } from './panels.js';

/**
 * @typedef {import('./i18n.js').Lang} Lang
 * @typedef {import('./panels.js').Audience} Audience
 * @typedef {import('./panels.js').Panel} Panel
 * @typedef {import('./panels.js').SourceName} SourceName
 * @typedef {import('./days.js').Period} Period
 * @typedef {import('./days.js').Window} Window
 * @typedef {import('./api.js').SessionInfo} SessionInfo
 * @typedef {import('./charts.js').Row} Row
 * @typedef {import('./csv.js').CsvRow} CsvRow
 * @typedef {typeof import('./echarts.mjs')} ECharts
 * @typedef {import('./echarts.mjs').ECharts} Chart
 */

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function el(id, type) {
  const e = document.getElementById(id);
  if (!(e instanceof type)) throw new Error(`#${id} is missing`);
  return e;
}

const ui = {
  loading: el('loading', HTMLElement),
  signin: el('signin', HTMLElement),
  form: el('signin-form', HTMLFormElement),
  appid: el('appid', HTMLInputElement),
  secret: el('secret', HTMLInputElement),
  signinError: el('signin-error', HTMLElement),
  signinSubmit: el('signin-submit', HTMLButtonElement),
  dashboard: el('dashboard', HTMLElement),
  controls: el('controls', HTMLFormElement),
  endDate: el('end-date', HTMLInputElement),
  toYesterday: el('to-yesterday', HTMLButtonElement),
  csv: el('download-csv', HTMLButtonElement),
  status: el('status', HTMLElement),
  range: el('range', HTMLElement),
  totalActive: el('total-active', HTMLElement),
  totalNew: el('total-new', HTMLElement),
  totalActiveValue: el('total-active-value', HTMLElement),
  totalNewValue: el('total-new-value', HTMLElement),
  panels: el('panels', HTMLElement),
  visitPanels: el('visit-panels', HTMLElement),
  who: el('who', HTMLElement),
  lang: el('lang-switch', HTMLButtonElement),
  signout: el('signout', HTMLButtonElement),
  main: el('main', HTMLElement),
};

const narrowQuery = window.matchMedia('(max-width: 640px)');

const state = {
  /** @type {Lang} */
  lang: initialLang(),
  /** @type {SessionInfo | undefined} */
  session: undefined,
  days: 1,
  end: '',
  /** @type {Audience} */
  audience: 'active',
  /** @type {Map<string, 'chart' | 'table'>} */
  views: new Map(),
  /**
   * What the page shows: the window, the portrait's answer (`answer`), every source's answer so far (`answers`), the
   * sources that failed (`errors`), and whether the visit sources are still being read.
   * @type {{ window: Window, answer: Record<string, unknown>, answers: Partial<Record<SourceName, Record<string, unknown>>>, errors: Partial<Record<SourceName, string>>, pending: boolean } | undefined}
   */
  current: undefined,
  /** Numbers the answers of refresh(), so a late answer to an old question is dropped. */
  seq: 0,
};

/** @type {Map<string, Chart>} */
const charts = new Map();
/** @type {Set<string>} panels whose chart had no size when it was to be drawn: drawn when their box gets one */
const undrawn = new Set();
/** @type {Promise<ECharts> | undefined} */
let echartsLoading;
/** @type {Promise<Map<number, string>> | undefined} map-region name by province id (44 → 广东) */
let mapLoading;

// ---- language

/** @returns {Lang} */
function initialLang() {
  const q = new URLSearchParams(location.search).get('lang');
  if (q === 'en' || q === 'zh') return q;
  try {
    const saved = localStorage.getItem('datacube.lang');
    if (saved === 'en' || saved === 'zh') return saved;
  } catch {
    // storage unavailable: the default
  }
  return 'zh';
}

/** @param {Lang} lang */
function applyLang(lang) {
  state.lang = lang;
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t(lang, 'doc.title');
  translatePage(lang);
  ui.lang.textContent = t(lang, 'lang.switch');
  ui.lang.lang = lang === 'zh' ? 'en' : 'zh-CN';
  ui.lang.setAttribute('aria-label', t(lang, 'lang.switch.label'));
  if (state.session) ui.who.textContent = t(lang, 'who', { appid: state.session.appid });
  for (const panel of PANELS) labelPanel(panel);
}

// ---- sign-in and sign-out

/** @param {string} [message] */
function showSignIn(message) {
  state.session = undefined;
  state.current = undefined;
  state.seq++;
  for (const c of charts.values()) c.dispose();
  charts.clear();
  ui.loading.hidden = true;
  ui.dashboard.hidden = true;
  ui.signout.hidden = true;
  ui.who.hidden = true;
  ui.signin.hidden = false;
  ui.secret.value = '';
  setSignInError(message ?? '', undefined);
  ui.appid.focus();
}

/**
 * @param {string} message
 * @param {HTMLInputElement | undefined} field the field at fault
 */
function setSignInError(message, field) {
  ui.signinError.textContent = message;
  for (const f of [ui.appid, ui.secret]) {
    if (f === field) f.setAttribute('aria-invalid', 'true');
    else f.removeAttribute('aria-invalid');
  }
}

/** @param {SubmitEvent} e */
async function onSignIn(e) {
  e.preventDefault();
  const appid = ui.appid.value.trim();
  const secret = ui.secret.value.trim();
  if (!appid || !secret) {
    setSignInError(t(state.lang, 'signin.missing'), appid ? ui.secret : ui.appid);
    return;
  }
  ui.signinSubmit.disabled = true;
  ui.signinSubmit.textContent = t(state.lang, 'signin.busy');
  try {
    const session = await signIn(appid, secret);
    ui.secret.value = '';
    setSignInError('', undefined);
    showDashboard(session);
  } catch (err) {
    const lang = state.lang;
    if (err instanceof ApiError && err.errcode === 40013) setSignInError(t(lang, 'signin.badAppid'), ui.appid);
    else if (err instanceof ApiError && err.errcode === 40125) setSignInError(t(lang, 'signin.badSecret'), ui.secret);
    else if (err instanceof ApiError && err.status === 429) setSignInError(t(lang, 'signin.limited', { s: err.retryAfter ?? 60 }), undefined);
    else setSignInError(t(lang, 'signin.failed', { msg: err instanceof Error ? err.message : String(err) }), undefined);
    (ui.appid.getAttribute('aria-invalid') ? ui.appid : ui.secret).focus();
  } finally {
    ui.signinSubmit.disabled = false;
    ui.signinSubmit.textContent = t(state.lang, 'signin.submit');
  }
}

async function onSignOut() {
  try {
    await signOut();
  } catch {
    // the session ends on this side whatever the server said
  }
  showSignIn(t(state.lang, 'signin.signedOut'));
}

// ---- the dashboard

/** @param {SessionInfo} session */
function showDashboard(session) {
  state.session = session;
  ui.loading.hidden = true;
  ui.signin.hidden = true;
  ui.dashboard.hidden = false;
  ui.signout.hidden = false;
  ui.who.hidden = false;
  ui.who.textContent = t(state.lang, 'who', { appid: session.appid });
  ui.endDate.max = isoOf(session.yesterday);
  readHash(session.yesterday);
  syncControls();
  loadCharting();
  ui.main.focus();
  void refresh();
}

/** Starts loading ECharts and the map (once). */
function loadCharting() {
  echartsLoading ??= import('./echarts.mjs');
  mapLoading ??= (async () => {
    const [echarts, res] = await Promise.all([echartsLoading, fetch('/dashboard/assets/china.json')]);
    /** @type {{ features: { id?: string, properties: { name: string } }[] }} */
    const geo = await res.json();
    echarts.registerMap('china', /** @type {never} */ (geo));
    /** @type {Map<number, string>} */
    const names = new Map();
    for (const f of geo.features) if (f.id) names.set(Number(f.id) / 10000, f.properties.name);
    return names;
  })();
  // Tried again on the next refresh if it failed.
  mapLoading.catch(() => {
    echartsLoading = undefined;
    mapLoading = undefined;
  });
}

/**
 * Window and audience from the address (#days=7&end=20261127&audience=new), so a view can be bookmarked.
 * @param {string} yesterday
 */
function readHash(yesterday) {
  const h = new URLSearchParams(location.hash.slice(1));
  const days = Number(h.get('days'));
  state.days = days === 7 || days === 30 ? days : 1;
  const end = h.get('end') ?? '';
  const n = dayNumber(end);
  const y = dayNumber(yesterday) ?? 0;
  state.end = n !== undefined && n <= y ? end : yesterday;
  state.audience = h.get('audience') === 'new' ? 'new' : 'active';
}

function writeHash() {
  const h = new URLSearchParams({ days: String(state.days), end: state.end, audience: state.audience });
  history.replaceState(null, '', `${location.pathname}${location.search}#${h}`);
}

function syncControls() {
  for (const input of ui.controls.querySelectorAll('input[type=radio]')) {
    if (!(input instanceof HTMLInputElement)) continue;
    input.checked = input.name === 'days' ? Number(input.value) === state.days : input.value === state.audience;
  }
  ui.endDate.value = isoOf(state.end);
  ui.totalActive.toggleAttribute('data-current', state.audience === 'active');
  ui.totalNew.toggleAttribute('data-current', state.audience === 'new');
}

/** @param {Window} w */
function rangeText(w) {
  const fmt = (/** @type {string} */ d) => isoOf(d);
  return w.days === 1 ? t(state.lang, 'range.one', { end: fmt(w.end) }) : t(state.lang, 'range.many', { begin: fmt(w.begin), end: fmt(w.end), days: w.days });
}

function onControlsChange() {
  if (!state.session) return;
  const data = new FormData(ui.controls);
  const days = Number(data.get('days'));
  const audience = data.get('audience') === 'new' ? 'new' : 'active';
  const end = ymdFromIso(ui.endDate.value);
  const yesterday = state.session.yesterday;
  if (end === undefined || (dayNumber(end) ?? 0) > (dayNumber(yesterday) ?? 0)) {
    setStatus(t(state.lang, 'window.badEnd', { day: isoOf(yesterday) }));
    ui.endDate.setAttribute('aria-invalid', 'true');
    return;
  }
  ui.endDate.removeAttribute('aria-invalid');
  const windowChanged = days !== state.days || end !== state.end;
  state.days = days === 7 || days === 30 ? days : 1;
  state.end = end;
  state.audience = audience;
  syncControls();
  writeHash();
  if (windowChanged || !state.current) void refresh();
  else void render();
}

/** Fetches the answer for the chosen window, then draws it. */
async function refresh() {
  const seq = ++state.seq;
  const w = windowEnding(state.end, state.days);
  writeHash();
  ui.dashboard.setAttribute('aria-busy', 'true');
  setStatus(t(state.lang, 'status.loading', { range: rangeText(w) }));
  // The visit sources are asked at the same time; the portrait is drawn as soon as it is there.
  const visits = readVisits(w);
  try {
    const answer = await callSource('portrait', w);
    performance.mark('datacube:data');
    if (seq !== state.seq) return;
    state.current = { window: w, answer, answers: { portrait: answer }, errors: {}, pending: true };
    await render();
    const v = await visits;
    if (seq !== state.seq) return;
    state.current = { ...state.current, answers: { ...v.answers, portrait: answer }, errors: v.errors, pending: false };
    performance.mark('datacube:visits');
    await render();
  } catch (err) {
    if (seq !== state.seq) return;
    if (err instanceof ApiError && err.signedOut) {
      showSignIn(t(state.lang, 'signin.expired'));
      return;
    }
    state.current = undefined;
    clearNumbers();
    setStatus(t(state.lang, 'status.error', { msg: err instanceof Error ? err.message : String(err) }));
    ui.dashboard.setAttribute('aria-busy', 'false');
  }
}

/**
 * One source's answer for a window: one API call per period; several answers' lists are joined in order (the daily
 * trend over the window's days).
 * @param {SourceName} name
 * @param {Window} w
 * @returns {Promise<Record<string, unknown>>}
 */
async function callSource(name, w) {
  const source = SOURCES[name];
  const answers = await Promise.all(source.periods(w).map((p) => callApi(source.path, { begin_date: p.begin, end_date: p.end })));
  if (answers.length === 1 && answers[0]) return answers[0];
  return { list: answers.flatMap((a) => (Array.isArray(a.list) ? a.list : [])) };
}

/**
 * Every visit source's answer for a window; a source that fails is reported by itself (its panels say so), except
 * for an ended session, which ends the page's.
 * @param {Window} w
 */
async function readVisits(w) {
  /** @type {Partial<Record<SourceName, Record<string, unknown>>>} */
  const answers = {};
  /** @type {Partial<Record<SourceName, string>>} */
  const errors = {};
  const names = /** @type {SourceName[]} */ (Object.keys(SOURCES)).filter((n) => SOURCES[n].group === 'visits');
  await Promise.all(
    names.map(async (name) => {
      try {
        answers[name] = await callSource(name, w);
      } catch (err) {
        if (err instanceof ApiError && err.signedOut) throw err;
        errors[name] = err instanceof Error ? err.message : String(err);
      }
    }),
  );
  return { answers, errors };
}

/**
 * The days a panel's numbers are about (its source's calls for the window), as shown in captions and the CSV.
 * @param {Panel} panel
 * @param {Window} w
 * @returns {Window}
 */
function panelPeriod(panel, w) {
  const periods = (panel.periods ?? SOURCES[panel.source].periods)(w);
  const begin = periods[0]?.begin ?? w.begin;
  const end = periods.at(-1)?.end ?? w.end;
  return { begin, end, days: (dayNumber(end) ?? 0) - (dayNumber(begin) ?? 0) + 1 };
}

/**
 * Says what the page is doing in the live region; `quiet` texts (the routine "showing …") are for screen readers
 * only, since the page shows the same thing already.
 * @param {string} text
 * @param {boolean} [quiet]
 */
function setStatus(text, quiet = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle('visually-hidden', quiet);
}

function clearNumbers() {
  ui.totalActiveValue.textContent = '–';
  ui.totalNewValue.textContent = '–';
  for (const panel of PANELS) fillPanel(panel, []);
}

/**
 * The rows a panel shows now.
 * @param {Panel} panel
 * @param {Map<number, string> | undefined} mapNames
 * @returns {Row[]}
 */
function rowsOf(panel, mapNames) {
  const answer = state.current?.answers[panel.source];
  if (!answer) return [];
  return panel.rows(answer, state.audience).map((item) => {
    /** @type {Row} */
    const row = { key: String(item.id ?? item.name), label: panel.label ? panel.label(state.lang, item) : itemName(state.lang, panel.dimension, item), value: item.value };
    if (item.id !== undefined) row.id = item.id;
    const mapName = panel.chart === 'map' && item.id !== undefined ? mapNames?.get(item.id) : undefined;
    if (mapName) row.mapName = mapName;
    return row;
  });
}

/** Draws what state.current holds: totals and tables at once, charts once ECharts is there. */
async function render() {
  const cur = state.current;
  if (!cur) return;
  const seq = state.seq;
  ui.dashboard.setAttribute('aria-busy', 'true');
  ui.range.textContent = rangeText(cur.window);
  ui.totalActiveValue.textContent = String(audienceTotal(cur.answer, 'active'));
  ui.totalNewValue.textContent = String(audienceTotal(cur.answer, 'new'));
  for (const panel of PANELS) fillPanel(panel, rowsOf(panel, undefined));
  try {
    const [echarts, mapNames] = await Promise.all([echartsLoading, mapLoading]);
    if (seq !== state.seq || !echarts || !mapNames) return;
    performance.mark('datacube:charting-loaded');
    for (const panel of PANELS) {
      const rows = rowsOf(panel, mapNames);
      fillPanel(panel, rows);
      drawChart(echarts, panel, rows, mapNames);
      performance.mark(`datacube:drawn-${panel.id}`);
      // Let the browser paint each chart as it is drawn, rather than all at the end.
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (seq !== state.seq) return;
    }
    setStatus(t(state.lang, 'status.ready', { range: rangeText(cur.window), audience: t(state.lang, `audience.${state.audience}`) }), true);
  } catch (err) {
    setStatus(t(state.lang, 'status.error', { msg: err instanceof Error ? err.message : String(err) }));
  } finally {
    // Busy until the visit sources are drawn too.
    if (seq === state.seq && !state.current?.pending) ui.dashboard.setAttribute('aria-busy', 'false');
  }
}

// ---- panels

/** @param {Panel} panel */
function panelParts(panel) {
  const root = el(`panel-${panel.id}`, HTMLElement);
  /** @param {string} sel */
  const q = (sel) => {
    const e = root.querySelector(sel);
    if (!(e instanceof HTMLElement)) throw new Error(`${sel} missing in panel ${panel.id}`);
    return e;
  };
  return {
    root,
    title: q('h2, h3'),
    group: q('.view-switch'),
    chartButton: q('button[data-view=chart]'),
    tableButton: q('button[data-view=table]'),
    chart: q('.chart'),
    note: q('.panel-note'),
    tableWrap: q('.table-wrap'),
    caption: q('caption'),
    nameHead: q('th.col-name'),
    valueHead: q('th.col-value'),
    tbody: q('tbody'),
    empty: q('.empty'),
  };
}

function buildPanels() {
  for (const panel of PANELS) {
    const visits = SOURCES[panel.source].group === 'visits';
    // Visit panels sit under the "visits" heading; a "stats" panel shows its numbers as tiles, not as a picture.
    const heading = visits ? 'h3' : 'h2';
    const role = panel.chart === 'stats' ? 'group' : 'img';
    const section = document.createElement('section');
    section.className = `panel${panel.wide ? ' wide' : ''}`;
    section.id = `panel-${panel.id}`;
    section.dataset.panel = panel.id;
    section.setAttribute('aria-labelledby', `panel-${panel.id}-title`);
    section.innerHTML = `
      <div class="panel-head">
        <${heading} id="panel-${panel.id}-title"></${heading}>
        <div class="view-switch" role="group">
          <button type="button" data-view="chart" aria-pressed="true"></button>
          <button type="button" data-view="table" aria-pressed="false"></button>
        </div>
      </div>
      <div class="chart chart-${panel.chart}" role="${role}"></div>
      <p class="panel-note" hidden></p>
      <div class="table-wrap" tabindex="0" role="region" hidden>
        <table>
          <caption></caption>
          <thead><tr><th scope="col" class="col-name"></th><th scope="col" class="col-value"></th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <p class="empty" hidden></p>`;
    (visits ? ui.visitPanels : ui.panels).append(section);
    state.views.set(panel.id, 'chart');
    const parts = panelParts(panel);
    for (const button of [parts.chartButton, parts.tableButton]) {
      button.addEventListener('click', () => setView(panel, button.dataset.view === 'table' ? 'table' : 'chart'));
    }
    // Follow the panel's size; a hidden chart (table view) has none and is left alone until shown again. A chart
    // that could not be drawn for want of a size is drawn now.
    new ResizeObserver((entries) => {
      const box = entries[0]?.contentRect;
      if (!box || box.width <= 0 || box.height <= 0) return;
      if (undrawn.has(panel.id)) void renderPanel(panel);
      else charts.get(panel.id)?.resize();
    }).observe(parts.chart);
    labelPanel(panel);
  }
}

/** Texts of a panel in the current language. @param {Panel} panel */
function labelPanel(panel) {
  const parts = panelParts(panel);
  const lang = state.lang;
  const title = t(lang, panel.titleKey);
  parts.title.textContent = title;
  parts.group.setAttribute('aria-label', t(lang, 'view.label', { title }));
  parts.tableWrap.setAttribute('aria-label', t(lang, 'table.region', { title }));
  parts.chartButton.textContent = t(lang, 'view.chart');
  parts.tableButton.textContent = t(lang, 'view.table');
  parts.nameHead.textContent = t(lang, panel.nameKey ?? 'table.name');
  parts.valueHead.textContent = t(lang, panel.valueKey ?? 'table.value');
  parts.empty.textContent = t(lang, 'empty');
}

/**
 * @param {Panel} panel
 * @param {'chart' | 'table'} view
 */
function setView(panel, view) {
  state.views.set(panel.id, view);
  const parts = panelParts(panel);
  parts.chartButton.setAttribute('aria-pressed', String(view === 'chart'));
  parts.tableButton.setAttribute('aria-pressed', String(view === 'table'));
  void renderPanel(panel);
}

/**
 * Draws one panel again (after its view changed): its table at once, its chart once ECharts is there.
 * @param {Panel} panel
 */
async function renderPanel(panel) {
  if (!state.current) return;
  const seq = state.seq;
  fillPanel(panel, rowsOf(panel, undefined));
  try {
    const [echarts, mapNames] = await Promise.all([echartsLoading, mapLoading]);
    if (seq !== state.seq || !echarts || !mapNames) return;
    const rows = rowsOf(panel, mapNames);
    fillPanel(panel, rows);
    drawChart(echarts, panel, rows, mapNames);
  } catch (err) {
    setStatus(t(state.lang, 'status.error', { msg: err instanceof Error ? err.message : String(err) }));
  }
}

/**
 * Table, caption, note and visibility of a panel for `rows`.
 * @param {Panel} panel
 * @param {Row[]} rows
 */
function fillPanel(panel, rows) {
  const parts = panelParts(panel);
  const lang = state.lang;
  const view = state.views.get(panel.id) ?? 'chart';
  const title = t(lang, panel.titleKey);
  const cur = state.current;
  const range = cur ? rangeText(panelPeriod(panel, cur.window)) : '';
  parts.caption.textContent = !cur
    ? title
    : panel.byAudience
      ? t(lang, 'table.caption', { title, audience: t(lang, `audience.${state.audience}`), range })
      : t(lang, 'table.caption.visits', { title, range });
  parts.tbody.replaceChildren(
    ...rows.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.key = r.key;
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = r.label;
      const td = document.createElement('td');
      td.textContent = String(r.value);
      tr.append(th, td);
      return tr;
    }),
  );
  const empty = rows.length === 0;
  const error = cur?.errors[panel.source];
  const waiting = Boolean(cur?.pending) && !cur?.answers[panel.source];
  parts.empty.textContent = error ? t(lang, 'status.error', { msg: error }) : t(lang, 'empty');
  parts.empty.hidden = !empty || !cur || waiting;
  parts.tableWrap.hidden = empty || view !== 'table';
  parts.chart.hidden = empty || view !== 'chart';
  const unknown = panel.chart === 'map' ? rows.find((r) => r.id === 0) : undefined;
  parts.note.hidden = !unknown || view !== 'chart';
  parts.note.textContent = unknown ? t(lang, 'map.unknown', { n: unknown.value }) : '';
  parts.chart.setAttribute('aria-label', t(lang, 'chart.summary', { title, items: rows.slice(0, 5).map((r) => `${r.label} ${r.value}`).join(lang === 'zh' ? '，' : ', ') }));
  if (panel.chart === 'stats') fillStats(parts.chart, rows);
}

/**
 * A "stats" panel's picture: one tile per number (no chart library needed).
 * @param {HTMLElement} box
 * @param {Row[]} rows
 */
function fillStats(box, rows) {
  box.replaceChildren(
    ...rows.map((r) => {
      const tile = document.createElement('div');
      tile.className = 'stat';
      tile.dataset.key = r.key;
      const label = document.createElement('span');
      label.className = 'stat-label';
      label.textContent = r.label;
      const value = document.createElement('span');
      value.className = 'stat-value';
      value.textContent = String(r.value);
      tile.append(label, value);
      return tile;
    }),
  );
}

/**
 * @param {ECharts} echarts
 * @param {Panel} panel
 * @param {Row[]} rows
 * @param {Map<number, string>} mapNames
 */
function drawChart(echarts, panel, rows, mapNames) {
  const parts = panelParts(panel);
  let chart = charts.get(panel.id);
  if (parts.chart.hidden || panel.chart === 'stats') return;
  // A box with no size (the page being laid out anew: a viewport briefly 1×1, as a full-page screenshot makes it) is
  // not drawn into: ECharts' map fails to lay out at size 0, and a chart sized 0 keeps failing until resized. The
  // ResizeObserver draws it once the box has a size again.
  if (parts.chart.clientWidth === 0 || parts.chart.clientHeight === 0) {
    undrawn.add(panel.id);
    // (A box that has its size back by the next frame is never seen without one by the ResizeObserver.)
    requestAnimationFrame(() => {
      if (undrawn.has(panel.id) && parts.chart.clientWidth > 0 && parts.chart.clientHeight > 0) void renderPanel(panel);
    });
    return;
  }
  undrawn.delete(panel.id);
  const locale = state.lang === 'zh' ? 'ZH' : 'EN';
  if (chart && chart.getDom().dataset.locale !== locale) {
    chart.dispose();
    chart = undefined;
  }
  if (!chart) {
    parts.chart.dataset.locale = locale;
    chart = echarts.init(parts.chart, null, { renderer: 'svg', locale });
    charts.set(panel.id, chart);
  } else {
    // The box's size now, before the new option is laid out (not a size taken while the box had none).
    chart.resize();
  }
  /** @type {Map<string, string>} */
  const mapLabels = new Map();
  if (panel.chart === 'map') for (const [id, name] of mapNames) mapLabels.set(name, itemName(state.lang, 'province', { id, name }));
  const answer = state.current?.answers[panel.source];
  const total = answer && panel.total ? panel.total(answer, state.audience) : 0;
  const scale = /** @type {[string, string]} */ ([t(state.lang, 'map.more'), t(state.lang, 'map.fewer')]);
  chart.setOption(chartOption(panel.chart, { dimension: panel.dimension, rows, total, narrow: narrowQuery.matches, mapLabels, scale }), { notMerge: true });
}

// ---- CSV

function onDownload() {
  const cur = state.current;
  if (!cur || !state.session) return;
  const refDate = typeof cur.answer.ref_date === 'string' ? cur.answer.ref_date : cur.window.begin === cur.window.end ? cur.window.end : `${cur.window.begin}-${cur.window.end}`;
  /** @type {CsvRow[]} */
  const rows = [];
  for (const a of /** @type {Audience[]} */ (['active', 'new'])) {
    rows.push({ ref_date: refDate, audience: AUDIENCE_KEY[a], dimension: 'total', id: '', name: t(state.lang, `audience.${a}`), value: audienceTotal(cur.answer, a) });
  }
  for (const panel of PANELS) {
    if (SOURCES[panel.source].group !== 'portrait') continue;
    for (const r of rowsOf(panel, undefined)) {
      rows.push({ ref_date: refDate, audience: AUDIENCE_KEY[state.audience], dimension: panel.dimension, id: r.id === undefined ? '' : String(r.id), name: r.label, value: r.value });
    }
  }
  // Visits: each panel's own period (the trend: each row's day); id = the API's key (source, bucket, retention key,
  // field name, page path).
  for (const panel of PANELS) {
    if (SOURCES[panel.source].group !== 'visits') continue;
    const p = panelPeriod(panel, cur.window);
    const period = p.begin === p.end ? p.end : `${p.begin}-${p.end}`;
    for (const r of rowsOf(panel, undefined)) {
      rows.push({
        ref_date: panel.chart === 'line' ? r.key : period,
        audience: panel.byAudience ? AUDIENCE_KEY[state.audience] : '',
        dimension: panel.dimension,
        id: panel.chart === 'line' ? '' : r.key,
        name: r.label,
        value: r.value,
      });
    }
  }
  download(`datacube-${state.session.appid}-${refDate}-${AUDIENCE_KEY[state.audience]}.csv`, toCsv(rows));
}

// ---- start

async function start() {
  buildPanels();
  applyLang(state.lang);
  ui.form.addEventListener('submit', (e) => void onSignIn(e));
  ui.signout.addEventListener('click', () => void onSignOut());
  ui.lang.addEventListener('click', () => {
    const lang = state.lang === 'zh' ? 'en' : 'zh';
    try {
      localStorage.setItem('datacube.lang', lang);
    } catch {
      // not kept: fine
    }
    applyLang(lang);
    if (state.current) void render();
  });
  ui.controls.addEventListener('change', onControlsChange);
  ui.controls.addEventListener('submit', (e) => e.preventDefault());
  ui.toYesterday.addEventListener('click', () => {
    if (!state.session) return;
    ui.endDate.value = isoOf(state.session.yesterday);
    onControlsChange();
  });
  ui.csv.addEventListener('click', onDownload);
  narrowQuery.addEventListener('change', () => void render());
  // ECharts and the map load while the session is checked (or the sign-in form is filled in).
  loadCharting();
  try {
    const session = await currentSession();
    if (session) showDashboard(session);
    else showSignIn();
  } catch (err) {
    ui.loading.textContent = t(state.lang, 'status.error', { msg: err instanceof Error ? err.message : String(err) });
  }
}

void start();
