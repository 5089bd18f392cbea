/**
 * Renders the vendor report as CSV (RFC 4180, spreadsheet-safe), JSON (stable keys) or Markdown
 * (docs/report.md shows each). Pure: text in memory, the CLI writes it.
 * @module
 */
import type { ReportWindow, VendorReport, VendorReportRow } from './types.ts';

/** The formats `tattler report vendors --format` accepts. */
export const REPORT_FORMATS = ['csv', 'json', 'md'] as const;
/** One of {@link REPORT_FORMATS}. */
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** The CSV header: one line, every row kind shares it (the `kind` column says which). */
export const CSV_COLUMNS = [
  'kind',
  'vendor',
  'model',
  'bucket',
  'announcements',
  'pass',
  'fail',
  'warn',
  'unknown',
  'seen_vulnerable',
  'advisories',
  'kev',
  'cvss',
  'fixed_version_available',
  'fixed_versions',
  'days_since_advisory',
  'eligible',
] as const;

/** What "seen vulnerable" means, printed under the Markdown table (and in docs/report.md). */
export const SEEN_VULNERABLE_NOTE =
  '"Seen vulnerable" counts identified announcements answered FAIL or WARN: the firmware the device reported is in a listed advisory\'s affected range.';

/** Heading of the private-mode section. */
export const PRIVATE_HEADING = 'Private mode (the collector never learns the model)';

function total(row: VendorReportRow): number {
  const a = row.announcements;
  return a.pass + a.fail + a.warn + a.unknown;
}

/**
 * One CSV field: RFC 4180 §2 (quote a field holding a comma, quote, CR or LF; double inner
 * quotes), after defusing spreadsheet formulas (OWASP "CSV Injection": a field starting with
 * `=`, `+`, `-`, `@`, tab or CR gets a leading `'`, so a spreadsheet shows it as text).
 */
function csvField(value: string | number | boolean | null): string {
  let text = value === null ? '' : typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvLine(fields: readonly (string | number | boolean | null)[]): string {
  // RFC 4180 §2.1: each record ends with CRLF.
  return `${fields.map(csvField).join(',')}\r\n`;
}

function formatCsv(report: VendorReport): string {
  let text = csvLine(CSV_COLUMNS);
  for (const row of report.rows) {
    const a = row.announcements;
    text += csvLine([
      'model',
      row.vendor,
      row.model,
      null,
      total(row),
      a.pass,
      a.fail,
      a.warn,
      a.unknown,
      row.vulnerable,
      row.advisories.join(' '),
      row.kev,
      row.cvss === null ? null : row.cvss.toFixed(1),
      row.fixedVersions.length > 0,
      row.fixedVersions.join(' '),
      row.daysSinceAdvisory,
      row.eligible,
    ]);
  }
  const empty = Array<null>(CSV_COLUMNS.length - 5).fill(null);
  text += csvLine(['unlisted', null, null, null, report.unlisted, ...empty]);
  for (const { bucket, count } of report.private) text += csvLine(['private', null, null, bucket, count, ...empty]);
  return text;
}

/** The report with its keys in one fixed order, whatever order the object was built in. */
function stableReport(report: VendorReport): VendorReport {
  return {
    generatedAt: report.generatedAt,
    window: { fromSeconds: report.window.fromSeconds, toSeconds: report.window.toSeconds },
    feedVersion: report.feedVersion,
    rows: report.rows.map((row) => ({
      vendor: row.vendor,
      model: row.model,
      announcements: {
        pass: row.announcements.pass,
        fail: row.announcements.fail,
        warn: row.announcements.warn,
        unknown: row.announcements.unknown,
      },
      vulnerable: row.vulnerable,
      advisories: [...row.advisories],
      kev: row.kev,
      cvss: row.cvss,
      fixedVersions: [...row.fixedVersions],
      daysSinceAdvisory: row.daysSinceAdvisory,
      eligible: row.eligible,
    })),
    unlisted: report.unlisted,
    private: report.private.map(({ bucket, count }) => ({ bucket, count })),
  };
}

/** A Markdown table cell: CommonMark §2.4 backslash escapes for `|` (GFM tables) and inline syntax. */
function mdCell(value: string | number): string {
  return String(value)
    .replace(/[\\|`*_[\]<>#]/g, (c) => `\\${c}`)
    .replace(/[\r\n]+/g, ' ');
}

function mdRow(cells: readonly (string | number)[]): string {
  return `| ${cells.map(mdCell).join(' | ')} |\n`;
}

function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

function describeWindow(window: ReportWindow): string {
  const from = window.fromSeconds === null ? 'the first count kept' : isoTime(window.fromSeconds);
  const to = window.toSeconds === null ? 'the last count' : isoTime(window.toSeconds);
  return window.fromSeconds === null && window.toSeconds === null ? 'every count kept' : `${from} to ${to}`;
}

function formatMarkdown(report: VendorReport): string {
  let text = '# Vendor report\n\n';
  text += `Window: ${describeWindow(report.window)}. Feed version: ${report.feedVersion ?? 'none'}. Generated: ${isoTime(report.generatedAt)}.\n\n`;
  text += mdRow([
    'Vendor',
    'Model',
    'Announcements',
    'Seen vulnerable',
    'Advisories',
    'KEV',
    'CVSS',
    'Fixed version available',
    'Days since advisory',
  ]);
  text += '|---|---|--:|--:|---|---|--:|---|--:|\n';
  for (const row of report.rows) {
    text += mdRow([
      row.vendor,
      row.model,
      total(row),
      row.vulnerable,
      row.advisories.length > 0 ? row.advisories.join(', ') : '—',
      row.kev ? 'yes' : 'no',
      row.cvss === null ? '—' : row.cvss.toFixed(1),
      row.fixedVersions.length > 0 ? `yes (${row.fixedVersions.join(', ')})` : 'no',
      row.daysSinceAdvisory ?? '—',
    ]);
  }
  if (report.rows.length === 0) text += '\n_No listed model was announced and the feed lists none._\n';
  text += `\nIdentified announcements of models the feed does not list: ${report.unlisted}.\n\n`;
  text += `${SEEN_VULNERABLE_NOTE}\n\n`;
  text += `## ${PRIVATE_HEADING}\n\n`;
  if (report.private.length === 0) {
    text += '_No private-mode announcements._\n';
  } else {
    text += mdRow(['Bucket', 'Announcements']);
    text += '|---|--:|\n';
    for (const { bucket, count } of report.private) text += mdRow([bucket, count]);
  }
  return text;
}

/**
 * The report as text: `csv` (RFC 4180 with CRLF, one header, rows of kind `model`, `unlisted`
 * and `private`), `json` (the report object, keys in a fixed order) or `md` (titled tables).
 * @example formatVendorReport(report, 'csv').split('\r\n')[0] === CSV_COLUMNS.join(',')
 */
export function formatVendorReport(report: VendorReport, format: ReportFormat): string {
  switch (format) {
    case 'csv':
      return formatCsv(report);
    case 'json':
      return `${JSON.stringify(stableReport(report), null, 2)}\n`;
    case 'md':
      return formatMarkdown(report);
  }
}
