import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Interval } from '../protocol/index.ts';
import { parseNvdCve } from './parse-nvd.ts';
import { exactIntervals as exactVersionIntervals } from './version-intervals.ts';
import { FeedError, type Advisory, type AffectedProduct, type FeedErrorCode } from './types.ts';
import { vendorAliasMap } from './vendor-aliases.ts';

const VECTORS = new URL('../../vectors/feeds/nvd/', import.meta.url);

function sample(id: string): Advisory {
  const value: unknown = JSON.parse(readFileSync(new URL(`${id}.json`, VECTORS), 'utf8'));
  return parseNvdCve(value, { file: `${id}.json`, record: '$' });
}

const ANY: Interval = { kind: 'range', lower: null, lowerInclusive: false, upper: null, upperInclusive: false };
const upTo = (upper: string, upperInclusive: boolean): Interval => ({ kind: 'range', lower: null, lowerInclusive: false, upper, upperInclusive });

/** The part of a product a test pins down (the reason is checked separately). */
function shape(p: AffectedProduct): unknown {
  return { vendor: p.vendor, model: p.model, hwVersion: p.hwVersion, intervals: p.intervals, fixed: p.fixed, confidence: p.confidence };
}
function models(a: Advisory): string[] {
  return a.products.map((p) => `${p.vendor}/${p.model}`);
}

test('parseNvdCve() CVE-2019-17621 (D-Link DIR-859 …): firmware/hardware pairs, update field joined, per-config ranges kept', () => {
  const a = sample('CVE-2019-17621');
  assert.equal(a.id, 'CVE-2019-17621');
  assert.equal(a.source, 'nvd');
  assert.equal(a.cvss, 10); // highest of V3.1 9.8 and V2 10.0
  assert.equal(a.published, '2019-12-30');
  assert.deepEqual(a.remediationUrls, [
    'https://supportannouncement.us.dlink.com/announcement/publication.aspx?name=SAP10146',
    'https://supportannouncement.us.dlink.com/announcement/publication.aspx?name=SAP10147',
    'https://www.dlink.com/en/security-bulletin',
  ]);
  assert.deepEqual(a.products.map(shape), [
    // ≤ 1.05b03, plus the exact 1.06b01 with update beta1 (never widened into the range).
    { vendor: 'dlink', model: 'dir859', hwVersion: null, intervals: [upTo('1.05b03', true), { kind: 'exact', version: '1.06b01beta1' }], fixed: [], confidence: 'high' },
    // Two configurations for the same model stay two intervals.
    { vendor: 'dlink', model: 'dir822', hwVersion: null, intervals: [upTo('2.03b01', true), upTo('3.12b04', true)], fixed: [], confidence: 'high' },
    { vendor: 'dlink', model: 'dir823', hwVersion: null, intervals: [upTo('1.00b06', true), { kind: 'exact', version: '1.00b06beta' }], fixed: [], confidence: 'high' },
    // Firmware version '-' with no range: every version, low confidence.
    { vendor: 'dlink', model: 'dir818lx', hwVersion: null, intervals: [ANY], fixed: [], confidence: 'low' },
  ]);
  const lx = a.products[3];
  assert.match(lx?.reason ?? '', /every version is treated as affected/u);
  // Must not flag: models that only share a prefix (DIR-859 vs DIR-85, DIR-818LX vs DIR-818L).
  assert.ok(!models(a).includes('dlink/dir85'));
  assert.ok(!models(a).includes('dlink/dir818l'));
});

test('parseNvdCve() CVE-2021-36260 (Hikvision): {cve:{…}} wrapper, escaped \\/ and \\(\\) model names, firmware "-"', () => {
  const a = sample('CVE-2021-36260');
  assert.deepEqual(models(a), ['hikvision/ds2cd2026g2iusl', 'hikvision/ds2cd2066g2iu', 'hikvision/ds2cd2186g2isu']);
  for (const p of a.products) {
    assert.deepEqual(p.intervals, [ANY]);
    assert.equal(p.confidence, 'low');
  }
  assert.equal(a.cvss, 9.8);
});

test('parseNvdCve() CVE-2020-25506 (DNS-320 rev Ax): hardware revision from the hardware CPE, exact firmware; DNS-320L not flagged', () => {
  const a = sample('CVE-2020-25506');
  assert.deepEqual(a.products.map(shape), [
    { vendor: 'dlink', model: 'dns320', hwVersion: 'ax', intervals: [{ kind: 'exact', version: '2.06b01' }], fixed: [], confidence: 'high' },
  ]);
  assert.ok(!models(a).includes('dlink/dns320l'));
  assert.equal(a.remediationUrls.length, 2);
});

test('parseNvdCve() CVE-2018-14933 (NUUO NVRmini): exact firmware 2016; NVRmini2 is not flagged', () => {
  const a = sample('CVE-2018-14933');
  assert.deepEqual(a.products.map(shape), [
    { vendor: 'nuuo', model: 'nvrmini', hwVersion: null, intervals: [{ kind: 'exact', version: '2016' }], fixed: [], confidence: 'high' },
  ]);
  assert.ok(!models(a).includes('nuuo/nvrmini2'));
});

test('parseNvdCve() CVE-2023-1389 (Archer AX21): versionEndExcluding is an exclusive bound and a fixed version', () => {
  const a = sample('CVE-2023-1389');
  assert.deepEqual(a.products.map(shape), [
    { vendor: 'tplink', model: 'archerax21', hwVersion: null, intervals: [upTo('1.1.4', false)], fixed: ['1.1.4'], confidence: 'high' },
  ]);
  assert.ok(!models(a).includes('tplink/archerax21v2'));
});

test('parseNvdCve() CVE-2018-14847 (RouterOS): a lone OS CPE not named <model>_firmware keeps the OS name as model', () => {
  const a = sample('CVE-2018-14847');
  assert.deepEqual(a.products.map(shape), [
    { vendor: 'mikrotik', model: 'routeros', hwVersion: null, intervals: [upTo('6.42', true)], fixed: [], confidence: 'high' },
  ]);
  assert.match(a.products[0]?.reason ?? '', /OS or firmware name routeros/u);
  assert.equal(a.cvss, 9.1); // V3.0 9.1 beats V2 6.4
});

test('parseNvdCve() CVE-2018-7445 (RouterOS): a range and a list of exact rc builds (update field) stay separate', () => {
  const a = sample('CVE-2018-7445');
  assert.equal(a.products.length, 1);
  const p = a.products[0];
  assert.deepEqual(p?.intervals, [
    upTo('6.41.3', false),
    { kind: 'exact-list', prefix: '6.4.2rc', suffixes: ['11', '12', '14', '15', '18', '2', '20', '23', '24', '27', '5', '6', '9'] },
  ]);
  assert.deepEqual(p.fixed, ['6.41.3']);
});

test('parseNvdCve() CVE-2020-2509 (QNAP QTS): per-branch ranges, build numbers from the update field, NA update ignored', () => {
  const a = sample('CVE-2020-2509');
  assert.deepEqual(a.products.map(shape), [
    {
      vendor: 'qnap', model: 'qts', hwVersion: null,
      intervals: [
        upTo('4.2.6', false),
        { kind: 'range', lower: '4.3.5', lowerInclusive: true, upper: '4.3.6', upperInclusive: false },
        { kind: 'range', lower: '4.4.0', lowerInclusive: true, upper: '4.5.1', upperInclusive: false },
        { kind: 'exact-list', prefix: '4.', suffixes: ['2.6', '2.6build_20170517', '2.6build_20190322', '3.4.0358', '3.4.0358beta1', '3.4.0387beta2'] },
      ],
      fixed: ['4.2.6', '4.3.6', '4.5.1'], confidence: 'high',
    },
  ]);
});

test('parseNvdCve() CVE-2017-17215 (Huawei HG532) and CVE-2018-10561 (Dasan GPON): firmware "-" → every version, low', () => {
  assert.deepEqual(sample('CVE-2017-17215').products.map(shape), [
    { vendor: 'huawei', model: 'hg532', hwVersion: null, intervals: [ANY], fixed: [], confidence: 'low' },
  ]);
  assert.deepEqual(sample('CVE-2018-10561').products.map(shape), [
    { vendor: 'dasannetworks', model: 'gponrouter', hwVersion: null, intervals: [ANY], fixed: [], confidence: 'low' },
  ]);
});

test('parseNvdCve() CVE-2021-28799 (QNAP HBS, an application on QTS) → NOT_A_DEVICE', () => {
  assert.throws(() => sample('CVE-2021-28799'), isFeedError('NOT_A_DEVICE', 'CVE-2021-28799'));
});

test('parseNvdCve() CVE-2017-2741 (HP PageWide / OfficeJet Pro printers): HP product numbers as models, < 1708d is fixed in 1708d', () => {
  const a = sample('CVE-2017-2741');
  assert.equal(a.cvss, 10); // highest of V3.0 9.8 and V2 10.0
  assert.equal(a.published, '2018-01-23');
  assert.deepEqual(a.remediationUrls, ['https://support.hp.com/us-en/document/c05462914']);
  // Each configuration pairs <sku>_firmware with the <sku> hardware CPE: one product per SKU, no crosswise pairing.
  const below1708d = upTo('1708d', false);
  assert.deepEqual(a.products.map(shape), [
    { vendor: 'hp', model: 'j9v82a', hwVersion: null, intervals: [below1708d], fixed: ['1708d'], confidence: 'high' },
    { vendor: 'hp', model: 'j9v82b', hwVersion: null, intervals: [below1708d], fixed: ['1708d'], confidence: 'high' },
    { vendor: 'hp', model: 'k9z76a', hwVersion: null, intervals: [below1708d], fixed: ['1708d'], confidence: 'high' },
    { vendor: 'hp', model: 'k9z76d', hwVersion: null, intervals: [below1708d], fixed: ['1708d'], confidence: 'high' },
  ]);
  // Must not flag: K9Z76B (a sibling SKU the full record does not list), the bare family prefix, or the firmware name.
  for (const m of ['hp/k9z76b', 'hp/k9z76', 'hp/j9v82', 'hp/j9v82afirmware']) assert.ok(!models(a).includes(m), m);
});

test('parseNvdCve() CVE-2016-9361 (Moxa NPort serial servers): series firmware shared by the hardware models, per-config ranges, a firmware CPE filed under part h', () => {
  const a = sample('CVE-2016-9361');
  assert.equal(a.cvss, 9.8);
  assert.deepEqual(a.remediationUrls, []); // the only reference is an ICS-CERT advisory (not tagged Patch / Vendor Advisory)
  const p = (model: string, upper: string): unknown => ({ vendor: 'moxa', model, hwVersion: null, intervals: [upTo(upper, true)], fixed: [], confidence: 'high' });
  assert.deepEqual(a.products.map(shape), [
    // nport_5100_series_firmware names no hardware model: it applies to each hardware CPE of its configuration,
    // and the two configurations keep their own bounds (5110 ≤ 2.5, 5130/5150 ≤ 3.5).
    p('nport5110', '2.5'),
    p('nport5130', '3.5'),
    p('nport5150', '3.5'),
    ...['nport5410', 'nport5430', 'nport5430i', 'nport5450', 'nport5450t', 'nport5450i', 'nport5450it'].map((m) => p(m, '3.10')),
    // NVD files this firmware as cpe:2.3:h:moxa:nport_5600-8-dtl_series_firmware (≤ 2.3): read as firmware, not as a
    // vulnerable hardware model of its own that would flag the DTL models for every version.
    p('nport56108dtl', '2.3'),
    p('nport56508dtl', '2.3'),
    p('nport5650i8dtl', '2.3'),
    p('nport6150', '1.13'),
    p('nport6150t', '1.13'),
  ]);
  // Must not flag: the firmware family names, NPort 6250 (same 6x50 family, not in the record), NPort 5450 AI-M12 via prefix.
  for (const m of ['moxa/nport5100series', 'moxa/nport56008dtlseriesfirmware', 'moxa/nport56008dtlseries', 'moxa/nport6250', 'moxa/nport545']) {
    assert.ok(!models(a).includes(m), m);
  }
  // The 5110 row does not take the 5130/5150 bound.
  assert.deepEqual(a.products.find((x) => x.model === 'nport5110')?.intervals, [upTo('2.5', true)]);
});

test('parseNvdCve() CVE-2018-9995 (TBK DVR4104 / DVR4216): firmware "-" → every version, low; models keep the "tbk" prefix of the CPE', () => {
  const a = sample('CVE-2018-9995');
  assert.equal(a.cvss, 9.8);
  assert.deepEqual(a.remediationUrls, []);
  assert.deepEqual(a.products.map(shape), [
    { vendor: 'tbkvision', model: 'tbkdvr4216', hwVersion: null, intervals: [ANY], fixed: [], confidence: 'low' },
    { vendor: 'tbkvision', model: 'tbkdvr4104', hwVersion: null, intervals: [ANY], fixed: [], confidence: 'low' },
  ]);
  for (const p of a.products) assert.match(p.reason, /version '-' and no range .*every version is treated as affected/u);
  // Must not flag: TBK model numbers the record does not list (DVR4108, DVR4116) and the shorter prefix.
  for (const m of ['tbkvision/tbkdvr4108', 'tbkvision/tbkdvr4116', 'tbkvision/tbkdvr41']) assert.ok(!models(a).includes(m), m);
});

// ---- Synthetic configurations (hand-written, not real NVD records) for rules the samples lack. ----

function record(configurations: unknown[], extra: Record<string, unknown> = {}): unknown {
  return { id: 'CVE-2099-0001', published: '2099-01-01T00:00:00.000', configurations, ...extra };
}
function match(criteria: string, vulnerable: boolean, range: Record<string, string> = {}): unknown {
  return { criteria, vulnerable, ...range };
}
function node(cpeMatch: unknown[], negate = false, operator = 'OR'): unknown {
  return { operator, negate, cpeMatch };
}
function parse(value: unknown, options = {}): Advisory {
  return parseNvdCve(value, { file: 'synthetic.json', record: '$.vulnerabilities[0]' }, options);
}
function isFeedError(code: FeedErrorCode, text: string) {
  return (e: unknown): boolean => e instanceof FeedError && e.code === code && `${e.record} ${e.message}`.includes(text);
}

test('parseNvdCve() synthetic: one OS node (DSM-like) with several hardware models gives each model the OS versions ('+' is kept: canonicalName strips punctuation only)', () => {
  const a = parse(record([{ operator: 'AND', nodes: [
    node([match('cpe:2.3:o:synology:diskstation_manager:*:*:*:*:*:*:*:*', true, { versionStartIncluding: '7.0', versionEndExcluding: '7.1.1-42962' })]),
    node([match('cpe:2.3:h:synology:ds918\\+:-:*:*:*:*:*:*:*', false), match('cpe:2.3:h:synology:ds920\\+:-:*:*:*:*:*:*:*', false)]),
  ] }]));
  const range: Interval = { kind: 'range', lower: '7.0', lowerInclusive: true, upper: '7.1.1-42962', upperInclusive: false };
  assert.deepEqual(a.products.map(shape), [
    { vendor: 'synology', model: 'ds918+', hwVersion: null, intervals: [range], fixed: ['7.1.1-42962'], confidence: 'high' },
    { vendor: 'synology', model: 'ds920+', hwVersion: null, intervals: [range], fixed: ['7.1.1-42962'], confidence: 'high' },
  ]);
});

test('parseNvdCve() synthetic: an AND of two firmware and two hardware CPEs pairs by <model>_firmware, not crosswise', () => {
  const a = parse(record([{ operator: 'AND', nodes: [
    node([match('cpe:2.3:o:dlink:dns-320_firmware:2.06b01:*:*:*:*:*:*:*', true), match('cpe:2.3:o:dlink:dns-320l_firmware:1.11:*:*:*:*:*:*:*', true)]),
    node([match('cpe:2.3:h:dlink:dns-320:-:*:*:*:*:*:*:*', false), match('cpe:2.3:h:dlink:dns-320l:-:*:*:*:*:*:*:*', false)]),
  ] }]));
  assert.deepEqual(a.products.map((p) => [p.model, p.intervals]), [
    ['dns320', [{ kind: 'exact', version: '2.06b01' }]],
    ['dns320l', [{ kind: 'exact', version: '1.11' }]],
  ]);
});

test('parseNvdCve() synthetic: OR configuration — each vulnerable entry alone; platform-only entries never flag', () => {
  const a = parse(record([{ nodes: [node([
    match('cpe:2.3:o:acme:cam1_firmware:*:*:*:*:*:*:*:*', true, { versionEndExcluding: '2.0' }),
    match('cpe:2.3:h:acme:cam2:-:*:*:*:*:*:*:*', false),
    match('cpe:2.3:h:acme:cam3:b2:*:*:*:*:*:*:*', true),
  ])] }]));
  assert.deepEqual(a.products.map(shape), [
    // A lone <model>_firmware CPE names its model.
    { vendor: 'acme', model: 'cam1', hwVersion: null, intervals: [upTo('2.0', false)], fixed: ['2.0'], confidence: 'high' },
    // A lone vulnerable hardware CPE: every firmware version, low; its version is the hardware revision.
    { vendor: 'acme', model: 'cam3', hwVersion: 'b2', intervals: [ANY], fixed: [], confidence: 'low' },
  ]);
  assert.ok(!models(a).includes('acme/cam2'));
});

test('parseNvdCve() synthetic: AND where a part has no hardware match yields nothing for platform-only groups', () => {
  // Both nodes hold only platform (vulnerable:false) entries: nothing is vulnerable.
  assert.throws(() => parse(record([{ operator: 'AND', nodes: [
    node([match('cpe:2.3:o:acme:cam1_firmware:1.0:*:*:*:*:*:*:*', false)]),
    node([match('cpe:2.3:h:acme:cam1:-:*:*:*:*:*:*:*', false)]),
  ] }])), isFeedError('NOT_A_DEVICE', 'CVE-2099-0001'));
});

test('parseNvdCve() synthetic: a negated hardware node excludes that model (and only that revision when given)', () => {
  const a = parse(record([{ operator: 'AND', nodes: [
    node([match('cpe:2.3:o:acme:acmeos:*:*:*:*:*:*:*:*', true, { versionEndIncluding: '3.1' })]),
    node([match('cpe:2.3:h:acme:nvr4:-:*:*:*:*:*:*:*', false), match('cpe:2.3:h:acme:nvr8:-:*:*:*:*:*:*:*', false), match('cpe:2.3:h:acme:nvr16:a1:*:*:*:*:*:*:*', false)]),
    node([match('cpe:2.3:h:acme:nvr8:*:*:*:*:*:*:*:*', false), match('cpe:2.3:h:acme:nvr16:b1:*:*:*:*:*:*:*', false)], true),
  ] }]));
  assert.deepEqual(a.products.map((p) => [p.model, p.hwVersion]), [['nvr4', null], ['nvr16', 'a1']]);
});

test('parseNvdCve() synthetic: a negated firmware node for every version cancels; for some versions it lowers confidence', () => {
  assert.throws(() => parse(record([{ operator: 'AND', nodes: [
    node([match('cpe:2.3:o:acme:cam1_firmware:*:*:*:*:*:*:*:*', true)]),
    node([match('cpe:2.3:o:acme:cam1_firmware:*:*:*:*:*:*:*:*', false)], true),
  ] }])), isFeedError('NOT_A_DEVICE', 'CVE-2099-0001'));
  const a = parse(record([{ operator: 'AND', nodes: [
    node([match('cpe:2.3:o:acme:cam1_firmware:*:*:*:*:*:*:*:*', true, { versionEndExcluding: '5.0' })]),
    node([match('cpe:2.3:o:acme:cam1_firmware:4.2:*:*:*:*:*:*:*', false)], true),
  ] }]));
  const p = a.products[0];
  assert.ok(p);
  assert.equal(p.confidence, 'low');
  assert.match(p.reason, /excludes .*4\.2/u);
});

test('parseNvdCve() synthetic: a vulnerable application on a hardware platform is low confidence, every version', () => {
  const a = parse(record([{ operator: 'AND', nodes: [
    node([match('cpe:2.3:a:acme:webui:*:*:*:*:*:*:*:*', true, { versionEndExcluding: '2.0' })]),
    node([match('cpe:2.3:h:acme:router9:-:*:*:*:*:*:*:*', false)]),
  ] }]));
  assert.deepEqual(a.products.map(shape), [{ vendor: 'acme', model: 'router9', hwVersion: null, intervals: [ANY], fixed: [], confidence: 'low' }]);
  assert.match(a.products[0]?.reason ?? '', /application/u);
});

test('parseNvdCve() synthetic: vendor aliases (built-in and configured) canonicalise vendors', () => {
  const config = [{ nodes: [node([match('cpe:2.3:o:d-link:dir-600_firmware:2.11:*:*:*:*:*:*:*', true)])] }];
  assert.equal(parse(record(config)).products[0]?.vendor, 'dlink');
  const extra = vendorAliasMap({ 'd-link': 'dlinkcorp' });
  assert.equal(parse(record(config), { vendorAliases: extra }).products[0]?.vendor, 'dlinkcorp');
});

test('parseNvdCve() synthetic: application-only and unanalysed records are NOT_A_DEVICE', () => {
  assert.throws(() => parse(record([{ nodes: [node([match('cpe:2.3:a:acme:lib:1.0:*:*:*:*:*:*:*', true)])] }])), isFeedError('NOT_A_DEVICE', 'application-only'));
  assert.throws(() => parse({ id: 'CVE-2099-0002' }), isFeedError('NOT_A_DEVICE', 'not analysed'));
});

test('parseNvdCve() refuses malformed records with the documented code, naming the CVE and the JSON path', () => {
  const ok = [{ nodes: [node([match('cpe:2.3:o:acme:cam1_firmware:1.0:*:*:*:*:*:*:*', true)])] }];
  const cases: [unknown, FeedErrorCode, string][] = [
    ['not an object', 'BAD_RECORD', '$'],
    [{ id: 'CVE-x' }, 'BAD_RECORD', '$.id'],
    [record('nope' as unknown as unknown[]), 'BAD_RECORD', '$.configurations'],
    [record([{ nodes: [node([{ criteria: 'cpe:2.3:o:acme:x:1:*:*:*:*:*:*:*' }])] }]), 'BAD_RECORD', 'cpeMatch[0].vulnerable'],
    [record([{ nodes: [node([match('cpe:2.3:o:acme:x', true)])] }]), 'BAD_CPE', '$.configurations[0].nodes[0].cpeMatch[0].criteria'],
    [record([{ operator: 'XOR', nodes: [] }]), 'BAD_RECORD', '$.configurations[0].operator'],
    [record([{ nodes: [node([match('cpe:2.3:o:acme:x_firmware:*:*:*:*:*:*:*:*', true, { versionEndExcluding: '' })])] }]), 'BAD_VERSION', 'versionEndExcluding'],
    [record([{ nodes: [node([match('cpe:2.3:o:acme:x_firmware:*:*:*:*:*:*:*:*', true, { versionEndExcluding: '1'.repeat(65) })])] }]), 'BAD_VERSION', 'versionEndExcluding'],
    [record([{ nodes: [node([match('cpe:2.3:o:*:x_firmware:1:*:*:*:*:*:*:*', true)])] }]), 'BAD_CPE', 'vendor'],
    [record(ok, { metrics: { cvssMetricV31: [{ cvssData: { baseScore: 11 } }] } }), 'BAD_RECORD', 'baseScore'],
    [record(ok, { metrics: { cvssMetricV31: [{ cvssData: { baseScore: '9.8' } }] } }), 'BAD_RECORD', 'baseScore'],
  ];
  for (const [value, code, text] of cases) assert.throws(() => parse(value), isFeedError(code, text), `${code} ${text}`);
  // The shell's label and the CVE id together locate the record.
  assert.throws(() => parse(record([{ nodes: [node([match('cpe:2.3:o:acme:x', true)])] }])), (e: unknown) => e instanceof FeedError && e.record === '$.vulnerabilities[0] CVE-2099-0001' && e.file === 'synthetic.json');
});

test('exactVersionIntervals() keeps exact versions exact: one → exact, several → exact-list with non-empty suffixes', () => {
  assert.deepEqual(exactVersionIntervals(['1.0']), [{ kind: 'exact', version: '1.0' }]);
  assert.deepEqual(exactVersionIntervals(['4.2.6', '4.2.6build_1']), [{ kind: 'exact-list', prefix: '4.2.', suffixes: ['6', '6build_1'] }]);
  assert.deepEqual(exactVersionIntervals(['1.0', '2.0']), [{ kind: 'exact', version: '1.0' }, { kind: 'exact', version: '2.0' }]);
  assert.deepEqual(exactVersionIntervals(['1.0', '1.0']), [{ kind: 'exact', version: '1.0' }]);
});
