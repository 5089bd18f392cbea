import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseOsvRecord } from './parse-osv.ts';
import { FeedError } from './types.ts';

// Constructed records in the OSV schema 1.6 shape: no real OSV record names a device model
// (see vectors/feeds/README.md), so these exercise the rules, not real data.
const where = { file: 'osv/x.json', record: '$' };

function record(affected: unknown[]): unknown {
  return { id: 'OSV-TEST-1', aliases: ['CVE-2024-0001'], published: '2024-01-02T00:00:00Z', severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }], affected };
}

test('parseOsvRecord() maps pkg:generic/<vendor>/<model> and turns events into separate intervals', () => {
  const advisory = parseOsvRecord(record([{
    package: { ecosystem: 'GIT', name: 'fw', purl: 'pkg:generic/D-Link/DIR-859' },
    ranges: [
      { type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.05B03' }, { introduced: '1.06' }, { last_affected: '1.06B01' }] },
      { type: 'GIT', repo: 'https://example.com/x.git', events: [{ introduced: '0' }, { fixed: 'abc123' }] },
    ],
  }]), where);
  assert.equal(advisory.cvss, null);
  assert.deepEqual(advisory.products, [{
    vendor: 'dlink',
    model: 'dir859',
    hwVersion: null,
    intervals: [
      { kind: 'range', lower: null, lowerInclusive: false, upper: '1.05B03', upperInclusive: false },
      { kind: 'range', lower: '1.06', lowerInclusive: true, upper: '1.06B01', upperInclusive: true },
    ],
    fixed: ['1.05B03'],
    confidence: 'high',
    reason: 'osv pkg:generic/D-Link/DIR-859; 1 GIT range(s) skipped',
  }]);
});

test('parseOsvRecord() maps a purl vendor written as the legal entity onto the canonical NVD vendor', () => {
  const advisory = parseOsvRecord(record([{
    package: { ecosystem: 'GIT', name: 'fw', purl: 'pkg:generic/D-Link%20Systems%2C%20Inc./DIR-859' },
    versions: ['1.05B03'],
  }]), where);
  assert.deepEqual(advisory.products.map((p) => [p.vendor, p.model]), [['dlink', 'dir859']]);
});

test('parseOsvRecord() keeps an exact versions list a list when only GIT ranges exist', () => {
  const advisory = parseOsvRecord(record([{
    package: { ecosystem: 'GIT', name: 'fw', purl: 'pkg:generic/acme/cam-1' },
    ranges: [{ type: 'GIT', repo: 'r', events: [{ introduced: '0' }] }],
    versions: ['2.60b02', '2.60b05'],
  }]), where);
  assert.deepEqual(advisory.products.map((p) => p.intervals), [[{ kind: 'exact-list', prefix: '2.60b0', suffixes: ['2', '5'] }]]);
});

test('parseOsvRecord() rejects software-only records as NOT_A_DEVICE and bad events as BAD_RECORD', () => {
  assert.throws(() => parseOsvRecord(record([{ package: { ecosystem: 'OSS-Fuzz', name: 'busybox' } }]), where), (e: unknown) =>
    e instanceof FeedError && e.code === 'NOT_A_DEVICE' && e.record === 'OSV-TEST-1');
  assert.throws(() => parseOsvRecord(record([{ package: { purl: 'pkg:generic/a/b' }, ranges: [{ type: 'SEMVER', events: [{ fixed: 3 }] }] }]), where),
    { code: 'BAD_RECORD', message: /\$\.affected\[0\]\.ranges\[0\]\.events\[0\]\.fixed/ });
  assert.throws(() => parseOsvRecord({ aliases: [] }, where), { code: 'BAD_RECORD', message: /\$\.id/ });
});

test('parseOsvRecord() real record UBUNTU-CVE-2025-38094 (Linux kernel macb Ethernet driver, seen on SAMA5D4 boards) → NOT_A_DEVICE', () => {
  // A real OSV record for an embedded component: it names the package (Ubuntu's `linux`, purl pkg:deb/…),
  // never a device model, so by the documented rule it maps to no device product.
  const file = new URL('../../vectors/feeds/osv/UBUNTU-CVE-2025-38094.json', import.meta.url);
  const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
  assert.throws(() => parseOsvRecord(value, { file: 'osv/UBUNTU-CVE-2025-38094.json', record: '$' }), (e: unknown) =>
    e instanceof FeedError && e.code === 'NOT_A_DEVICE' && e.record === 'UBUNTU-CVE-2025-38094' && e.file === 'osv/UBUNTU-CVE-2025-38094.json' && /pkg:generic/u.test(e.message));
});

test('parseOsvRecord() counts OSV 1.7 upstream ids as aliases (synthetic record)', () => {
  const advisory = parseOsvRecord(
    {
      id: 'EXAMPLE-2099-1',
      upstream: ['CVE-2099-0001'],
      aliases: ['GHSA-aaaa-bbbb-cccc'],
      affected: [{ package: { ecosystem: 'Generic', name: 'x', purl: 'pkg:generic/examplevendor/cam1' }, versions: ['1.0'] }],
    },
    { file: 'synthetic.json', record: 'EXAMPLE-2099-1' },
  );
  assert.deepEqual([...advisory.aliases].sort(), ['CVE-2099-0001', 'GHSA-aaaa-bbbb-cccc']);
});
