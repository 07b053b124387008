// ECharts options for the dashboard's kinds of chart (map, bars, pie, line; "stats" panels draw no chart). Every chart shows its numbers on hover (tooltip), and
// bars and pies also carry their values as labels; percentages appear only in tooltips.

/**
 * @typedef {import('./panels.js').ChartKind} ChartKind
 * @typedef {{ key: string, label: string, value: number, mapName?: string, id?: number }} Row
 * @typedef {import('./echarts.mjs').EChartsOption} EChartsOption
 * @typedef {import('./echarts.mjs').TooltipComponentFormatterCallbackParams} TooltipParams
 */

export const FONT = 'system-ui, -apple-system, "Segoe UI", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Noto Sans SC", sans-serif';
const TEXT = '#1f2328';
const MUTED = '#57606a';
const BLUE = '#2563c9';
/** Colours for slices: distinct, and dark enough to read white on (gender: male, female, unknown). */
const PALETTE = ['#2563c9', '#c2410c', '#15803d', '#7c3aed', '#b45309', '#0e7490', '#be185d', '#4b5563'];
/** @type {Record<number, string>} */
const GENDER_COLORS = { 1: '#2563c9', 2: '#be185d', 0: '#6b7280' };
/** @type {Record<number, string>} */
const PLATFORM_COLORS = { 1: '#4b5563', 2: '#15803d', 3: '#b45309' };

/**
 * Makes text safe inside the HTML of a tooltip (device names come from clients).
 * @param {string} s
 */
export function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The hovered item's name and value (a tooltip with trigger "item" gets one item).
 * @param {TooltipParams} params
 * @returns {{ name: string, value: number }}
 */
function hovered(params) {
  const p = Array.isArray(params) ? params[0] : params;
  const value = Number(p?.value);
  return { name: p?.name ?? '', value: Number.isFinite(value) ? value : 0 };
}

/**
 * @param {number} value
 * @param {number} total
 */
function percent(value, total) {
  return total > 0 ? `${((value / total) * 100).toFixed(1)}%` : '–';
}

/**
 * @param {string} label
 * @param {number} value
 * @param {number} total
 */
function tip(label, value, total) {
  return total > 0 ? `<strong>${escapeHtml(label)}</strong><br>${value} · ${percent(value, total)}` : `<strong>${escapeHtml(label)}</strong><br>${value}`;
}

/**
 * The ECharts option of a chart.
 * @param {ChartKind} kind
 * @param {{ dimension: string, rows: Row[], total: number, narrow: boolean, mapLabels: Map<string, string>, scale: [string, string] }} p
 *   mapLabels: map region name → name shown (for regions without users); scale: the map legend's ends (more, fewer)
 * @returns {EChartsOption}
 */
export function chartOption(kind, p) {
  const base = {
    animation: false,
    textStyle: { fontFamily: FONT, color: TEXT },
    aria: { enabled: false },
  };
  const tooltip = { className: 'chart-tooltip', confine: true, textStyle: { fontFamily: FONT, color: TEXT }, extraCssText: 'max-width: 240px; white-space: normal;' };

  if (kind === 'map') {
    const byMapName = new Map(p.rows.filter((r) => r.mapName).map((r) => [r.mapName ?? '', r]));
    const max = Math.max(1, ...p.rows.filter((r) => r.mapName).map((r) => r.value));
    return {
      ...base,
      tooltip: {
        ...tooltip,
        trigger: 'item',
        formatter: (params) => {
          const { name } = hovered(params);
          const row = byMapName.get(name);
          return tip(row?.label ?? p.mapLabels.get(name) ?? name, row?.value ?? 0, p.total);
        },
      },
      visualMap: {
        type: 'continuous',
        min: 0,
        max,
        left: p.narrow ? 'center' : 8,
        bottom: 8,
        orient: p.narrow ? 'horizontal' : 'vertical',
        itemHeight: p.narrow ? 120 : 100,
        calculable: false,
        text: p.scale,
        inRange: { color: ['#dbe7fb', '#6f9be6', '#1d4fa8'] },
        textStyle: { color: MUTED, fontFamily: FONT },
      },
      series: [
        {
          type: 'map',
          map: 'china',
          roam: false,
          selectedMode: false,
          layoutCenter: ['50%', p.narrow ? '44%' : '50%'],
          layoutSize: p.narrow ? '98%' : '118%',
          label: { show: false },
          itemStyle: { areaColor: '#f1f3f5', borderColor: '#9aa4b1', borderWidth: 0.6 },
          emphasis: { label: { show: false }, itemStyle: { areaColor: '#f5b841' } },
          data: p.rows.filter((r) => r.mapName).map((r) => ({ name: r.mapName ?? '', value: r.value })),
        },
      ],
    };
  }

  if (kind === 'pie') {
    const colors = p.dimension === 'genders' ? GENDER_COLORS : p.dimension === 'platforms' ? PLATFORM_COLORS : {};
    return {
      ...base,
      tooltip: {
        ...tooltip,
        trigger: 'item',
        formatter: (params) => {
          const { name, value } = hovered(params);
          return tip(name, value, p.total);
        },
      },
      series: [
        {
          type: 'pie',
          radius: p.narrow ? ['34%', '58%'] : ['38%', '64%'],
          center: ['50%', '52%'],
          avoidLabelOverlap: true,
          label: { formatter: '{b}\n{c}', color: TEXT, fontFamily: FONT, lineHeight: 16 },
          labelLine: { length: 8, length2: 8 },
          data: p.rows.map((r, i) => ({
            name: r.label,
            value: r.value,
            itemStyle: { color: (r.id !== undefined ? colors[r.id] : undefined) ?? PALETTE[i % PALETTE.length] },
          })),
        },
      ],
    };
  }

  if (kind === 'line') {
    // A day-by-day trend: one point per day, every day labelled on the axis when there is room.
    return {
      ...base,
      grid: { left: 8, right: 40, top: 24, bottom: 8, containLabel: true },
      tooltip: {
        ...tooltip,
        trigger: 'axis',
        formatter: (params) => {
          const { name, value } = hovered(params);
          return tip(name, value, 0);
        },
      },
      xAxis: {
        type: 'category',
        data: p.rows.map((r) => r.label),
        boundaryGap: p.rows.length === 1,
        axisTick: { show: false },
        axisLine: { lineStyle: { color: '#afb8c1' } },
        axisLabel: { color: TEXT, fontFamily: FONT, hideOverlap: true },
      },
      yAxis: { type: 'value', minInterval: 1, splitLine: { lineStyle: { color: '#eaeef2' } }, axisLabel: { color: MUTED, fontFamily: FONT } },
      series: [
        {
          type: 'line',
          data: p.rows.map((r) => r.value),
          symbol: 'circle',
          symbolSize: 7,
          showSymbol: true,
          label: { show: p.rows.length <= 10, position: 'top', color: TEXT, fontFamily: FONT },
          lineStyle: { color: BLUE, width: 2 },
          itemStyle: { color: BLUE },
          areaStyle: { color: 'rgba(37, 99, 201, 0.08)' },
        },
      ],
    };
  }

  // Bars: horizontal for rankings (largest on top), vertical for age brackets.
  const horizontal = kind === 'hbar';
  const categoryAxis = {
    type: /** @type {const} */ ('category'),
    data: p.rows.map((r) => r.label),
    inverse: horizontal,
    axisTick: { show: false },
    axisLine: { lineStyle: { color: '#afb8c1' } },
    axisLabel: {
      color: TEXT,
      fontFamily: FONT,
      width: horizontal ? (p.narrow ? 96 : 128) : undefined,
      overflow: /** @type {const} */ ('truncate'),
      interval: 0,
      rotate: !horizontal && p.narrow ? 40 : 0,
    },
  };
  const valueAxis = {
    type: /** @type {const} */ ('value'),
    minInterval: 1,
    splitLine: { lineStyle: { color: '#eaeef2' } },
    axisLabel: { color: MUTED, fontFamily: FONT },
  };
  return {
    ...base,
    grid: { left: 8, right: horizontal ? 48 : 16, top: 16, bottom: 8, containLabel: true },
    tooltip: {
      ...tooltip,
      trigger: 'item',
      formatter: (params) => {
        const { name, value } = hovered(params);
        return tip(name, value, p.total);
      },
    },
    xAxis: horizontal ? valueAxis : categoryAxis,
    yAxis: horizontal ? categoryAxis : valueAxis,
    series: [
      {
        type: 'bar',
        barMaxWidth: 28,
        itemStyle: { color: BLUE, borderRadius: horizontal ? [0, 3, 3, 0] : [3, 3, 0, 0] },
        label: { show: true, position: horizontal ? 'right' : 'top', color: TEXT, fontFamily: FONT },
        data: p.rows.map((r) => r.value),
      },
    ],
  };
}
