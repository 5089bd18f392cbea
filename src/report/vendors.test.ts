import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AggregateCounts } from '../collector/aggregate-counts.ts';
import type { FeedRecord } from '../protocol/feed-record.ts';
import { CSV_COLUMNS, PRIVATE_HEADING, SEEN_VULNERABLE_NOTE } from './format.ts';
import type { VendorReport } from './types.ts';
import { buildVendorReport, formatVendorReport } from './vendors.ts';

const DAY = 86_400;
/** 2024-01-01T00:00:00Z. */
const NOW = 1_704_067_200;
const WINDOW = { fromSeconds: NOW - 7 * DAY, toSeconds: NOW } as const;

function record(overrides: Partial<FeedRecord>): FeedRecord {
  return {
    vendor: 'dlink',
    model: 'dir859',
    hwVersions: [],
    ranges: { scheme: 0, intervals: [] },
    advisories: ['CVE-2019-17621'],
    cvss10: 98,
    kev: false,
    fixed: [],
    remediationHosts: [],
    eligible: false,
    feedVersion: 8,
    issuedAt: NOW - DAY,
    expiresAt: NOW + 6 * DAY,
    ...overrides,
  };
}

const RECORDS: readonly FeedRecord[] = [
  record({ advisories: ['CVE-2019-17621'], cvss10: 98, fixed: ['1.06B01'] }),
  record({ hwVersions: ['A1'], advisories: ['CVE-2019-20215', 'CVE-2019-17621'], cvss10: 75, kev: true, fixed: ['1.06B01', '1.05B05'], eligible: true }),
  record({ vendor: 'nuuo', model: 'nvrmini', advisories: ['CVE-2018-14933'], cvss10: null, kev: true, eligible: true }),
  record({ vendor: 'moxa', model: 'nport5110', advisories: ['CVE-2016-9361'], cvss10: 98 }),
  record({ vendor: 'acme', model: 'cam', advisories: ['CVE-2020-0001'], cvss10: 50 }),
];

const COUNTS: AggregateCounts = {
  identified: [
    { vendor: '(unlisted)', model: '(unlisted)', status: 'unknown', count: 11 },
    { vendor: 'dlink', model: 'dir859', status: 'fail', count: 2 },
    { vendor: 'dlink', model: 'dir859', status: 'pass', count: 5 },
    { vendor: 'dlink', model: 'dir859', status: 'warn', count: 1 },
    { vendor: 'moxa', model: 'nport5110', status: 'warn', count: 3 },
    { vendor: 'nuuo', model: 'nvrmini', status: 'fail', count: 3 },
    { vendor: 'zyxel', model: 'gone', status: 'pass', count: 4 },
  ],
  private: [
    { bucket: '7f3', count: 9 },
    { bucket: '00a', count: 1 },
  ],
};

const DATES = new Map([
  ['CVE-2019-17621', '2019-12-30'],
  ['CVE-2019-20215', '2020-01-01'],
  ['CVE-2018-14933', '2018-08-04'],
]);

function report(): VendorReport {
  return buildVendorReport({ counts: COUNTS, records: RECORDS, feedVersion: 8, advisoryDates: DATES, nowSeconds: NOW, window: WINDOW });
}

test('buildVendorReport() merges the records of one model', () => {
  const dir859 = report().rows.find((r) => r.model === 'dir859');
  assert.deepEqual(dir859, {
    vendor: 'dlink',
    model: 'dir859',
    announcements: { pass: 5, fail: 2, warn: 1, unknown: 0 },
    vulnerable: 3,
    advisories: ['CVE-2019-17621', 'CVE-2019-20215'],
    kev: true,
    cvss: 9.8,
    fixedVersions: ['1.05B05', '1.06B01'],
    // 2019-12-30 → 2024-01-01: 1463 days.
    daysSinceAdvisory: 1463,
    eligible: true,
  });
});

test('buildVendorReport() sorts by seen vulnerable, then KEV, then vendor and model', () => {
  assert.deepEqual(
    report().rows.map((r) => `${r.vendor}/${r.model}:${r.vulnerable}${r.kev ? 'k' : ''}`),
    // dir859 and nvrmini: 3 each, both KEV → by vendor; moxa 3 without KEV after them.
    ['dlink/dir859:3k', 'nuuo/nvrmini:3k', 'moxa/nport5110:3', 'acme/cam:0', 'zyxel/gone:0'],
  );
});

test('buildVendorReport() sums (unlisted) apart, keeps announced models the feed no longer lists', () => {
  const built = report();
  assert.equal(built.unlisted, 11);
  assert.equal(built.rows.some((r) => r.vendor === '(unlisted)'), false);
  const gone = built.rows.find((r) => r.model === 'gone');
  assert.ok(gone !== undefined);
  assert.deepEqual(gone.advisories, []);
  assert.equal(gone.cvss, null);
  assert.equal(gone.daysSinceAdvisory, null);
  assert.deepEqual(built.private, [
    { bucket: '00a', count: 1 },
    { bucket: '7f3', count: 9 },
  ]);
  assert.equal(built.generatedAt, NOW);
  assert.deepEqual(built.window, WINDOW);
});

test('buildVendorReport() counts whole days from the earliest known date, null without dates', () => {
  const rows = (dates?: ReadonlyMap<string, string>, nowSeconds = NOW): VendorReport['rows'] =>
    buildVendorReport({ counts: COUNTS, records: RECORDS, feedVersion: 8, ...(dates === undefined ? {} : { advisoryDates: dates }), nowSeconds, window: WINDOW }).rows;
  const nuuo = (r: VendorReport['rows']): number | null | undefined => r.find((x) => x.vendor === 'nuuo')?.daysSinceAdvisory;
  assert.equal(nuuo(rows(DATES)), 1976);
  // One second before the next midnight: still the same whole day count.
  assert.equal(nuuo(rows(DATES, NOW + DAY - 1)), 1976);
  assert.equal(nuuo(rows(DATES, NOW + DAY)), 1977);
  assert.equal(nuuo(rows(undefined)), null);
  assert.equal(nuuo(rows(new Map([['CVE-2018-14933', 'not a date']]))), null);
  // A date after now (a clock behind the feed) is day 0.
  assert.equal(nuuo(rows(new Map([['CVE-2018-14933', '2030-01-01']]))), 0);
});

test('buildVendorReport() of nothing is an empty report', () => {
  const empty = buildVendorReport({ counts: { identified: [], private: [] }, records: [], feedVersion: null, nowSeconds: NOW, window: { fromSeconds: null, toSeconds: null } });
  assert.deepEqual(empty, { generatedAt: NOW, window: { fromSeconds: null, toSeconds: null }, feedVersion: null, rows: [], unlisted: 0, private: [] });
  assert.match(formatVendorReport(empty, 'md'), /No listed model/);
  assert.equal(formatVendorReport(empty, 'csv'), `${CSV_COLUMNS.join(',')}\r\nunlisted,,,,0${',' .repeat(CSV_COLUMNS.length - 5)}\r\n`);
});

test('buildVendorReport() is deterministic whatever the input order', () => {
  const shuffled = buildVendorReport({
    counts: { identified: [...COUNTS.identified].reverse(), private: [...COUNTS.private].reverse() },
    records: [...RECORDS].reverse(),
    feedVersion: 8,
    advisoryDates: DATES,
    nowSeconds: NOW,
    window: WINDOW,
  });
  assert.equal(formatVendorReport(shuffled, 'json'), formatVendorReport(report(), 'json'));
});

/** Splits RFC 4180 text into records of fields (quoted fields may hold commas, quotes, CR LF). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === undefined) break;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      fields.push(field);
      records.push(fields);
      fields = [];
      field = '';
      i++;
    } else field += c;
  }
  assert.equal(field, '', 'the text ends with CRLF');
  return records;
}

test('formatVendorReport() csv: one header, model, unlisted and private rows', () => {
  const [header, ...records] = parseCsv(formatVendorReport(report(), 'csv'));
  assert.deepEqual(header, [...CSV_COLUMNS]);
  for (const r of records) assert.equal(r.length, CSV_COLUMNS.length);
  const byKind = (kind: string): string[][] => records.filter((r) => r[0] === kind);
  assert.deepEqual(byKind('model')[0], ['model', 'dlink', 'dir859', '', '8', '5', '2', '1', '0', '3', 'CVE-2019-17621 CVE-2019-20215', 'yes', '9.8', 'yes', '1.05B05 1.06B01', '1463', 'yes']);
  assert.deepEqual(byKind('model')[1]?.slice(0, 17), ['model', 'nuuo', 'nvrmini', '', '3', '0', '3', '0', '0', '3', 'CVE-2018-14933', 'yes', '', 'no', '', '1976', 'yes']);
  assert.deepEqual(byKind('unlisted'), [['unlisted', '', '', '', '11', ...Array<string>(12).fill('')]]);
  assert.deepEqual(byKind('private').map((r) => [r[3], r[4]]), [['00a', '1'], ['7f3', '9']]);
});

function firstRow(): VendorReport['rows'][number] {
  const row = report().rows[0];
  assert.ok(row !== undefined);
  return row;
}

test('formatVendorReport() csv quotes per RFC 4180 and defuses formulas (OWASP CSV Injection)', () => {
  const hostile: VendorReport = {
    ...report(),
    rows: [
      {
        ...firstRow(),
        vendor: '=HYPERLINK("http://evil.example","x")',
        model: 'a,b\r\nc',
        advisories: ['+1', '@SUM(A1)'],
        fixedVersions: ['-2', 'say "hi"'],
      },
    ],
  };
  const text = formatVendorReport(hostile, 'csv');
  const [, first] = parseCsv(text);
  assert.ok(first !== undefined);
  assert.equal(first[1], `'=HYPERLINK("http://evil.example","x")`);
  assert.equal(first[2], 'a,b\r\nc');
  assert.equal(first[10], `'+1 @SUM(A1)`);
  assert.equal(first[14], `'-2 say "hi"`);
  assert.ok(text.includes(`"'=HYPERLINK(""http://evil.example"",""x"")"`));
  // No field of the output starts with a formula character.
  for (const r of parseCsv(text)) for (const f of r) assert.doesNotMatch(f, /^[=+\-@]/);
});

test('formatVendorReport() json round-trips the report with stable keys', () => {
  const built = report();
  const text = formatVendorReport(built, 'json');
  assert.deepEqual(JSON.parse(text), built);
  const reordered = { private: built.private, unlisted: built.unlisted, rows: built.rows, feedVersion: built.feedVersion, window: built.window, generatedAt: built.generatedAt };
  assert.equal(formatVendorReport(reordered, 'json'), text);
  assert.deepEqual(Object.keys(JSON.parse(text) as object), ['generatedAt', 'window', 'feedVersion', 'rows', 'unlisted', 'private']);
});

test('formatVendorReport() md: titled table, window, feed version, private section, note; | escaped', () => {
  const text = formatVendorReport(report(), 'md');
  assert.match(text, /^# Vendor report\n\nWindow: 2023-12-25T00:00:00Z to 2024-01-01T00:00:00Z\. Feed version: 8\./);
  assert.ok(text.includes('| dlink | nvrmini'.replace('dlink', 'nuuo')));
  assert.ok(text.includes('| dlink | dir859 | 8 | 3 | CVE-2019-17621, CVE-2019-20215 | yes | 9.8 | yes (1.05B05, 1.06B01) | 1463 |'));
  assert.ok(text.includes(`## ${PRIVATE_HEADING}\n\n| Bucket | Announcements |\n|---|--:|\n| 00a | 1 |\n| 7f3 | 9 |\n`));
  assert.ok(text.includes(SEEN_VULNERABLE_NOTE));
  assert.ok(text.includes('not list: 11.'));
  const piped = formatVendorReport({ ...report(), rows: [{ ...firstRow(), model: 'a|b\nc' }] }, 'md');
  assert.ok(piped.includes('| dlink | a\\|b c |'));
  // Every table line has the header's 9 cells: no cell broke the table.
  for (const line of piped.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Bucket') && !/^\| [0-9a-f]{3} \|/.test(l))) {
    assert.equal(line.replaceAll('\\|', '').split('|').length - 2, 9, line);
  }
});

test('buildVendorReport() folds vendor aliases (the maintained table and extra ones) into the canonical vendor', () => {
  const folded = buildVendorReport({
    counts: {
      identified: [
        { vendor: 'dlinksystems', model: 'dir859', status: 'fail', count: 2 },
        { vendor: 'acmecams', model: 'dir859', status: 'warn', count: 1 },
      ],
      private: [],
    },
    records: [record({}), record({ vendor: 'dlinkcorporation', advisories: ['CVE-2019-20215'] })],
    feedVersion: 8,
    vendorAliases: new Map([['acmecams', 'dlink']]),
    nowSeconds: NOW,
    window: WINDOW,
  });
  assert.deepEqual(
    folded.rows.map((r) => [r.vendor, r.model, r.vulnerable, r.advisories.join(' ')]),
    [['dlink', 'dir859', 3, 'CVE-2019-17621 CVE-2019-20215']],
  );
});
