/**
 * matchDevice() against advisories that mirror real NVD, KEV, OSV and CSAF records (ids, CPE
 * names, version bounds and scores as published): every matching rule, each with a device that
 * must be flagged and one that must not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Interval } from '../protocol/index.ts';
import { matchDevice, type DeviceIdentity, type MatchStatus } from './match.ts';
import { MemoryFeedReader, MemoryIndex } from './memory-index.ts';
import type { Advisory, AffectedProduct, FeedSource } from './types.ts';

function below(upper: string, lower: string | null = null): Interval {
  return { kind: 'range', lower, lowerInclusive: lower !== null, upper, upperInclusive: false };
}
function upTo(upper: string): Interval {
  return { kind: 'range', lower: null, lowerInclusive: false, upper, upperInclusive: true };
}
const EVERY: Interval = { kind: 'range', lower: null, lowerInclusive: false, upper: null, upperInclusive: false };

function product(p: Partial<AffectedProduct> & Pick<AffectedProduct, 'vendor' | 'model' | 'intervals'>): AffectedProduct {
  return { hwVersion: null, fixed: [], confidence: 'high', reason: 'test', ...p };
}
function advisory(id: string, source: FeedSource, cvss: number | null, products: AffectedProduct[], aliases: string[] = []): Advisory {
  return { id, source, cvss, aliases, published: null, products, remediationUrls: [] };
}

const ADVISORIES: Advisory[] = [
  // CVE-2019-17621 (KEV): o:dlink:dir-859_firmware < 1.06b01 AND h:dlink:dir-859:-.
  advisory('CVE-2019-17621', 'nvd', 9.8, [
    product({ vendor: 'dlink', model: 'dir859', intervals: [below('1.06b01')], fixed: ['1.06b01'], reason: 'cpe:2.3:o:dlink:dir-859_firmware:* < 1.06b01 AND cpe:2.3:h:dlink:dir-859:-' }),
  ]),
  // CVE-2018-14847 (KEV), fixed per channel: bugfix 6.40.8, current 6.42.1, testing 6.43rc4.
  advisory('CVE-2018-14847', 'csaf', 9.1, [
    product({ vendor: 'mikrotik', model: 'routeros', intervals: [below('6.40.8', '6.29'), below('6.42.1', '6.41'), below('6.43rc4', '6.43rc1')], fixed: ['6.40.8', '6.42.1', '6.43rc4'], reason: 'RouterOS channels' }),
  ]),
  // CVE-2018-1156 as NVD has it: cpe:2.3:o:mikrotik:routeros:* up to (including) 6.42 — coarse;
  // the OSV-style record of the same CVE names the per-channel fixes.
  advisory('CVE-2018-1156', 'nvd', 8.8, [product({ vendor: 'mikrotik', model: 'routeros', intervals: [upTo('6.42')], reason: 'cpe:2.3:o:mikrotik:routeros:* <= 6.42' })]),
  advisory('TATTLER-OSV-2018-1156', 'osv', null, [product({ vendor: 'mikrotik', model: 'routeros', intervals: [below('6.40.8'), below('6.42.1', '6.41')], fixed: ['6.40.8', '6.42.1'], reason: 'osv' })], ['CVE-2018-1156']),
  // CVE-2020-25506 (KEV): DNS-320 FW v2.06B01 Revision Ax; exact version, hardware revision A.
  advisory('CVE-2020-25506', 'nvd', 9.8, [
    product({ vendor: 'dlink', model: 'dns320', hwVersion: 'Ax', intervals: [{ kind: 'exact', version: '2.06b01' }], reason: 'cpe:2.3:o:dlink:dns-320_firmware:2.06b01 AND cpe:2.3:h:dlink:dns-320:ax' }),
  ]),
  // CVE-2018-14933: NUUO NVRmini 2 (NVD product nvrmini_2) up to 3.8.0; NVRmini (1) not named.
  advisory('CVE-2018-14933', 'nvd', 9.8, [product({ vendor: 'nuuo', model: 'nvrmini2', intervals: [upTo('3.8.0')], reason: 'cpe:2.3:o:nuuo:nvrmini_2_firmware:* <= 3.8.0' })]),
  // CVE-2021-33044 Dahua: series names with a literal x (IPC-HX5XXX) are names.
  advisory('CVE-2021-33044', 'nvd', 9.8, [
    product({ vendor: 'dahuasecurity', model: 'ipchx5xxx', intervals: [below('V2.820.0000000.5.R')], fixed: ['V2.820.0000000.5.R'], reason: 'cpe:2.3:o:dahuasecurity:ipc-hx5xxx_firmware:* < 2.820.0000000.5.r' }),
  ]),
  // CVE-2015-3036-like TP-Link record per hardware revision in the product name: tl-wr841n_v8.
  advisory('CVE-2012-6316', 'nvd', 4.3, [product({ vendor: 'tplink', model: 'tlwr841nv8', intervals: [below('3.16.9 Build 130529')], reason: 'cpe:2.3:h:tp-link:tl-wr841n_v8' })]),
  // CVE-2017-5521 (KEV) Netgear R7000 with hardware revision in the hardware CPE's version field.
  advisory('CVE-2017-5521', 'nvd', 8.1, [product({ vendor: 'netgear', model: 'r8500', hwVersion: '2', intervals: [below('V1.0.2.86_1.0.78')], reason: 'cpe:2.3:h:netgear:r8500:2' })]),
  // CVE-2017-7921 Hikvision, firmware `*` with no range: every version, low confidence.
  advisory('CVE-2017-7921', 'nvd', 10, [product({ vendor: 'hikvision', model: 'ds2cd2032i', intervals: [EVERY], confidence: 'low', reason: 'cpe:2.3:o:hikvision:ds-2cd2032-i_firmware:-' })]),
  // CVE-2021-36260 (KEV) Hikvision, with an exact list that must not be widened.
  advisory('CVE-2021-36260', 'nvd', 9.8, [
    product({ vendor: 'hikvision', model: 'ds2cd2032i', intervals: [{ kind: 'exact-list', prefix: 'V5.4.', suffixes: ['5 build 170123', '41 build 170312'] }], fixed: ['V5.5.800 build 210628'], reason: 'exact list' }),
  ]),
];
const KEV = ['CVE-2019-17621', 'CVE-2018-14847', 'CVE-2020-25506', 'CVE-2017-5521', 'CVE-2021-36260'];
const reader = new MemoryFeedReader(ADVISORIES, { kev: KEV });

interface Case {
  readonly name: string;
  readonly device: DeviceIdentity;
  readonly status: MatchStatus;
  /** Ids that must be among the matches (and, for not-vulnerable, none). */
  readonly ids?: readonly string[];
  readonly confidence?: 'high' | 'low';
}

const CASES: readonly Case[] = [
  { name: 'DIR-859 1.05B03 before the fix', device: { vendor: 'D-Link', model: 'DIR-859', version: '1.05B03' }, status: 'vulnerable', ids: ['CVE-2019-17621'], confidence: 'high' },
  { name: 'DIR-859 vendor alias "D-Link Systems, Inc."', device: { vendor: 'D-Link Systems, Inc.', model: 'dir_859', version: 'v1.05b03' }, status: 'vulnerable', ids: ['CVE-2019-17621'] },
  { name: 'DIR-859 at the fix 1.06B01', device: { vendor: 'D-Link', model: 'DIR-859', version: '1.06B01' }, status: 'not-vulnerable' },
  { name: 'DIR-859 after the fix 1.06B02', device: { vendor: 'D-Link', model: 'DIR-859', version: '1.06b02' }, status: 'not-vulnerable' },
  { name: 'DIR-859L: no substring model match', device: { vendor: 'D-Link', model: 'DIR-859L', version: '1.05B03' }, status: 'unknown' },
  { name: 'RouterOS 6.42 (current channel, before 6.42.1)', device: { vendor: 'MikroTik', model: 'RouterOS', version: '6.42' }, status: 'vulnerable', ids: ['CVE-2018-14847', 'CVE-2018-1156'] },
  { name: 'RouterOS 6.40.5 (bugfix channel, before 6.40.8)', device: { vendor: 'MikroTik', model: 'RouterOS', version: '6.40.5' }, status: 'vulnerable', ids: ['CVE-2018-14847', 'CVE-2018-1156'] },
  { name: 'RouterOS 6.43rc2 (testing channel)', device: { vendor: 'MikroTik', model: 'RouterOS', version: '6.43rc2' }, status: 'vulnerable', ids: ['CVE-2018-14847'] },
  { name: 'RouterOS 6.40.8: fixed on the bugfix branch, though NVD says <= 6.42', device: { vendor: 'mikrotik', model: 'routeros', version: '6.40.8' }, status: 'not-vulnerable' },
  { name: 'RouterOS 6.42.1 fixed', device: { vendor: 'MikroTik', model: 'RouterOS', version: '6.42.1' }, status: 'not-vulnerable' },
  { name: 'RouterOS 6.43rc4 fixed on the testing channel', device: { vendor: 'MikroTik', model: 'RouterOS', version: '6.43rc4' }, status: 'not-vulnerable' },
  { name: 'RouterOS via a firmware CPE on a hardware model', device: { vendor: 'MikroTik', model: 'RB951Ui-2HnD', version: '6.42', cpe: 'cpe:2.3:o:mikrotik:routeros:6.42:*:*:*:*:*:*:*' }, status: 'vulnerable', ids: ['CVE-2018-14847'] },
  { name: 'DNS-320 2.06B01 revision A1', device: { vendor: 'D-Link', model: 'DNS-320', version: '2.06B01', hwVersion: 'A1' }, status: 'vulnerable', ids: ['CVE-2020-25506'], confidence: 'high' },
  { name: 'DNS-320 revision unknown: flagged with low confidence', device: { vendor: 'D-Link', model: 'DNS-320', version: '2.06B01' }, status: 'vulnerable', ids: ['CVE-2020-25506'], confidence: 'low' },
  { name: 'DNS-320 revision B1 is not the affected hardware', device: { vendor: 'D-Link', model: 'DNS-320', version: '2.06B01', hwVersion: 'B1' }, status: 'not-vulnerable' },
  { name: 'DNS-320 2.05B10: an exact version is not widened', device: { vendor: 'D-Link', model: 'DNS-320', version: '2.05B10', hwVersion: 'A1' }, status: 'not-vulnerable' },
  { name: 'DNS-320L is not DNS-320', device: { vendor: 'D-Link', model: 'DNS-320L', version: '2.06B01', hwVersion: 'A1' }, status: 'unknown' },
  { name: 'NVRmini2 3.7.0', device: { vendor: 'NUUO', model: 'NVRmini2', version: '3.7.0' }, status: 'vulnerable', ids: ['CVE-2018-14933'] },
  { name: 'NVRmini2 3.9.0 after the range', device: { vendor: 'NUUO', model: 'NVRmini 2', version: '3.9.0' }, status: 'not-vulnerable' },
  { name: 'NVRmini is not NVRmini2', device: { vendor: 'NUUO', model: 'NVRmini', version: '3.7.0' }, status: 'unknown' },
  { name: 'IPC-HX5XXX literal series name, Dahua alias', device: { vendor: 'Dahua', model: 'IPC-HX5XXX', version: 'V2.800.0000000.25.R' }, status: 'vulnerable', ids: ['CVE-2021-33044'] },
  { name: 'IPC-HX5XXX fixed build', device: { vendor: 'Dahua', model: 'IPC-HX5XXX', version: 'V2.820.0000000.5.R' }, status: 'not-vulnerable' },
  { name: 'IPC-HX5842 is not the series name', device: { vendor: 'Dahua', model: 'IPC-HX5842', version: 'V2.800.0000000.25.R' }, status: 'unknown' },
  { name: 'TL-WR841N hardware v8 (revision in the product name)', device: { vendor: 'TP-Link', model: 'TL-WR841N', version: '3.16.9 Build 120409', hwVersion: 'v8' }, status: 'vulnerable', ids: ['CVE-2012-6316'] },
  { name: 'TL-WR841N v8 (revision in the model string)', device: { vendor: 'TP-Link', model: 'TL-WR841N v8', version: '3.16.9 Build 120409' }, status: 'vulnerable', ids: ['CVE-2012-6316'] },
  { name: 'TL-WR841N hardware v9 is another product', device: { vendor: 'TP-Link', model: 'TL-WR841N', version: '3.16.9 Build 120409', hwVersion: '9' }, status: 'unknown' },
  { name: 'TL-WR841N v8 fixed build', device: { vendor: 'TP-Link', model: 'TL-WR841N', version: '3.16.9 Build 130529', hwVersion: '8.0' }, status: 'not-vulnerable' },
  { name: 'R8500 hardware 2 (in the hardware CPE version)', device: { vendor: 'NETGEAR', model: 'R8500', version: 'V1.0.2.80_1.0.71', hwVersion: 'v2' }, status: 'vulnerable', ids: ['CVE-2017-5521'] },
  { name: 'R8500 via a hardware CPE naming revision 2', device: { vendor: 'Netgear', model: 'R8500', version: 'V1.0.2.80_1.0.71', cpe: 'cpe:2.3:h:netgear:r8500:2:*:*:*:*:*:*:*' }, status: 'vulnerable', ids: ['CVE-2017-5521'], confidence: 'high' },
  { name: 'R8500 hardware 1 not affected', device: { vendor: 'NETGEAR', model: 'R8500', version: 'V1.0.2.80_1.0.71', hwVersion: '1' }, status: 'not-vulnerable' },
  { name: 'DS-2CD2032-I every version (firmware *): low confidence', device: { vendor: 'Hikvision', model: 'DS-2CD2032-I', version: 'V5.5.800 build 210628' }, status: 'vulnerable', ids: ['CVE-2017-7921'], confidence: 'low' },
  { name: 'DS-2CD2032-I in an exact list', device: { vendor: 'Hikvision', model: 'DS-2CD2032-I', version: 'V5.4.5_170123' }, status: 'vulnerable', ids: ['CVE-2021-36260', 'CVE-2017-7921'] },
  { name: 'DS-2CD2032-I between exact list members is not flagged by the list', device: { vendor: 'Hikvision', model: 'DS-2CD2032-I', version: 'V5.4.6 build 170201' }, status: 'vulnerable', ids: ['CVE-2017-7921'] },
  { name: 'unknown vendor', device: { vendor: 'Acme', model: 'Cam 1', version: '1.0' }, status: 'unknown' },
];

for (const c of CASES) {
  test(`matchDevice() ${c.name}: ${c.status}`, () => {
    const result = matchDevice(reader, c.device);
    assert.equal(result.status, c.status, JSON.stringify(result, null, 1));
    const ids = result.matches.map((m) => m.id);
    for (const id of c.ids ?? []) assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
    if (c.status !== 'vulnerable') assert.deepEqual(result.matches, []);
    if (c.confidence !== undefined) assert.equal(result.matches.find((m) => m.id === c.ids?.[0])?.confidence, c.confidence);
  });
}

test('matchDevice() skips an exact-list CVE for a version between the members', () => {
  const result = matchDevice(reader, { vendor: 'Hikvision', model: 'DS-2CD2032-I', version: 'V5.4.6 build 170201' });
  assert.deepEqual(result.matches.map((m) => m.id), ['CVE-2017-7921']);
  assert.match(result.matches[0]?.reason ?? '', /every version/);
});

test('matchDevice() merges one CVE across sources: one match, kev if any, fixes of all', () => {
  const kevOnly = advisory('GHSA-xxxx-0001', 'osv', 7.5, [product({ vendor: 'dlink', model: 'dir859', intervals: [below('1.06b01')], fixed: ['1.06b01'] })], ['CVE-2019-17621']);
  const r = new MemoryFeedReader([...ADVISORIES, kevOnly], { kev: KEV });
  const result = matchDevice(r, { vendor: 'dlink', model: 'dir859', version: '1.05' });
  assert.equal(result.matches.length, 1);
  const m = result.matches[0];
  assert.deepEqual({ id: m?.id, source: m?.source, kev: m?.kev, cvss: m?.cvss, fixed: m?.fixed }, { id: 'CVE-2019-17621', source: 'nvd', kev: true, cvss: 9.8, fixed: ['1.06b01'] });
  assert.match(m?.reason ?? '', /also affected according to osv/);
});

test('matchDevice() merges NVD <= 6.42 and the OSV channel fixes of CVE-2018-1156', () => {
  const result = matchDevice(reader, { vendor: 'MikroTik', model: 'RouterOS', version: '6.42' });
  const m = result.matches.find((x) => x.id === 'CVE-2018-1156');
  assert.deepEqual(m?.fixed, ['6.40.8', '6.42.1']);
  assert.equal(m.kev, false);
});

test('matchDevice() sorts KEV first, then CVSS descending', () => {
  const result = matchDevice(reader, { vendor: 'Hikvision', model: 'DS-2CD2032-I', version: 'V5.4.5 build 170123' });
  assert.deepEqual(result.matches.map((m) => [m.id, m.kev, m.cvss]), [['CVE-2021-36260', true, 9.8], ['CVE-2017-7921', false, 10]]);
  const ros = matchDevice(reader, { vendor: 'MikroTik', model: 'RouterOS', version: '6.42' });
  assert.deepEqual(ros.matches.map((m) => m.id), ['CVE-2018-14847', 'CVE-2018-1156']);
});

test('matchDevice() rejects a malformed CPE and an empty model', () => {
  assert.throws(() => matchDevice(reader, { vendor: 'D-Link', model: 'DIR-859', version: '1.0', cpe: 'cpe:/h:dlink:dir-859' }), { name: 'FeedError', code: 'BAD_CPE' });
  assert.throws(() => matchDevice(reader, { vendor: 'D-Link', model: ' - ', version: '1.0' }), { name: 'ProtocolError', code: 'BAD_VALUE' });
});

test('MemoryIndex looks rows up by exact vendor and model only', () => {
  const index = MemoryIndex.fromRows(reader.rows());
  assert.equal(index.lookup('dlink', 'dns320').length, 1);
  assert.equal(index.lookup('dlink', 'dns320l').length, 0);
  assert.equal(index.lookup('dlink', 'dns32').length, 0);
  assert.equal(index.has('mikrotik', 'routeros'), true);
  assert.deepEqual(index.size, { keys: 8, rows: 11 });
});

test('matchDevice() does not let a coarse fix (2.0) clear a version in a later affected line [2.1, 2.3)', () => {
  const reader = new MemoryFeedReader([
    {
      source: 'nvd',
      id: 'CVE-2099-0001',
      aliases: [],
      cvss: 9.8,
      published: null,
      remediationUrls: [],
      products: [
        {
          vendor: 'examplevendor',
          model: 'cam1',
          hwVersion: null,
          intervals: [
            { kind: 'range', lower: '1.0', lowerInclusive: true, upper: '2.0', upperInclusive: false },
            { kind: 'range', lower: '2.1', lowerInclusive: true, upper: '2.3', upperInclusive: false },
          ],
          fixed: ['2.0', '2.3'],
          confidence: 'high',
          reason: 'synthetic: two affected lines',
        },
      ],
    },
  ]);
  assert.equal(matchDevice(reader, { vendor: 'ExampleVendor', model: 'CAM1', version: '2.1.5' }).status, 'vulnerable');
  assert.equal(matchDevice(reader, { vendor: 'ExampleVendor', model: 'CAM1', version: '2.0.5' }).status, 'not-vulnerable');
  assert.equal(matchDevice(reader, { vendor: 'ExampleVendor', model: 'CAM1', version: '2.3' }).status, 'not-vulnerable');
});

test('matchDevice() applies an advisory filed under an OS name only to a device that runs that software', () => {
  const reader = new MemoryFeedReader([
    {
      source: 'nvd',
      id: 'CVE-2018-14847',
      aliases: [],
      cvss: 9.1,
      published: null,
      remediationUrls: [],
      products: [
        {
          vendor: 'mikrotik',
          model: 'routeros',
          hwVersion: null,
          intervals: [{ kind: 'range', lower: null, lowerInclusive: false, upper: '6.42', upperInclusive: true }],
          fixed: [],
          confidence: 'high',
          reason: 'NVD: cpe:2.3:o:mikrotik:routeros (<= 6.42), no hardware CPE',
        },
      ],
    },
  ]);
  assert.equal(matchDevice(reader, { vendor: 'MikroTik', model: 'RB4011iGS+', version: '6.41' }).status, 'unknown');
  const withSoftware = matchDevice(reader, { vendor: 'MikroTik', model: 'RB4011iGS+', version: '6.41', software: 'RouterOS' });
  assert.equal(withSoftware.status, 'vulnerable');
  assert.match(withSoftware.matches[0]?.reason ?? '', /software RouterOS/);
  assert.equal(matchDevice(reader, { vendor: 'MikroTik', model: 'CRS326', version: '2.13', software: 'SwOS' }).status, 'unknown');
});
