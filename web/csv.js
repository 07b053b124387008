// The CSV download: what the page shows, one row per number. UTF-8 with a byte-order mark, so spreadsheet programs
// read the Chinese names correctly; cells that a spreadsheet would take for a formula are prefixed with '.

/** @typedef {{ ref_date: string, audience: string, dimension: string, id: string, name: string, value: number }} CsvRow */

export const CSV_COLUMNS = /** @type {const} */ (['ref_date', 'audience', 'dimension', 'id', 'name', 'value']);

/**
 * @param {string | number} v
 * @returns {string}
 */
function cell(v) {
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The CSV text (with its byte-order mark) for `rows`.
 * @param {CsvRow[]} rows
 * @returns {string}
 */
export function toCsv(rows) {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) lines.push(CSV_COLUMNS.map((c) => cell(r[c])).join(','));
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

/**
 * Makes the browser save `text` as `filename`.
 * @param {string} filename
 * @param {string} text
 */
export function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
