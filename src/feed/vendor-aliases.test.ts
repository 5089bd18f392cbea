import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalName } from '../protocol/index.ts';
import { VENDOR_ALIASES, canonicalVendor, vendorAliasMap, vendorAliasesOf } from './vendor-aliases.ts';

test('canonicalVendor() maps NVD, CSAF and device spellings to one vendor', () => {
  const cases: [string, string][] = [
    ['dlink', 'dlink'], ['D-Link', 'dlink'], ['D-Link Systems, Inc.', 'dlink'],
    ['tp-link', 'tplink'], ['TP-LINK Technologies', 'tplink'],
    ['dahuasecurity', 'dahuasecurity'], ['Dahua', 'dahuasecurity'], ['Zhejiang Dahua Technology Co., Ltd.', 'dahuasecurity'],
    ['HIKVISION', 'hikvision'], ['ui', 'ui'], ['Ubiquiti Networks', 'ui'], ['ubnt', 'ui'],
    ['western_digital', 'westerndigital'], ['WD', 'westerndigital'],
    ['schneider-electric', 'schneiderelectric'], ['Schneider Electric SE', 'schneiderelectric'],
    ['netis-systems', 'netissystems'], ['dasannetworks', 'dasannetworks'], ['DASAN Zhone', 'dasannetworks'],
    ['QNAP Systems, Inc.', 'qnap'], ['ASUSTeK Computer Inc.', 'asus'], ['Allen-Bradley', 'rockwellautomation'],
  ];
  for (const [name, vendor] of cases) assert.equal(canonicalVendor(name), vendor, name);
});

test('canonicalVendor() keeps HP and HPE apart and returns unknown vendors canonicalised', () => {
  assert.equal(canonicalVendor('Hewlett-Packard'), 'hp');
  assert.equal(canonicalVendor('Hewlett Packard Enterprise'), 'hpe');
  assert.equal(canonicalVendor('Some New Vendor GmbH'), 'somenewvendorgmbh');
});

test('canonicalVendor() never matches by substring', () => {
  // "dlinkx" contains "dlink" but is not an alias of it.
  assert.equal(canonicalVendor('dlinkx'), 'dlinkx');
  assert.equal(canonicalVendor('Dahua Clone'), 'dahuaclone');
});

test('canonicalVendor() applies configured extra aliases before the built-in table', () => {
  const extra = vendorAliasMap({ 'Acme Cams Ltd.': 'acme', 'D-Link': 'dlinkoverride' });
  assert.equal(canonicalVendor('ACME CAMS LTD', extra), 'acme');
  assert.equal(canonicalVendor('d-link', extra), 'dlinkoverride');
  assert.equal(canonicalVendor('Dahua', extra), 'dahuasecurity');
});

test('VENDOR_ALIASES keys are canonical and no alias names two vendors', () => {
  const seen = new Map<string, string>();
  for (const [vendor, aliases] of Object.entries(VENDOR_ALIASES)) {
    assert.equal(canonicalName(vendor), vendor);
    for (const alias of [vendor, ...aliases]) {
      const key = canonicalName(alias);
      const before = seen.get(key);
      assert.ok(before === undefined || before === vendor, `${alias}: ${before ?? ''} and ${vendor}`);
      seen.set(key, vendor);
    }
  }
});

test('vendorAliasesOf() lists configured and table aliases of a vendor, minus those configured elsewhere', () => {
  assert.deepEqual(vendorAliasesOf('moxa'), ['moxainc', 'moxatechnologies']);
  const extra = vendorAliasMap({ 'ACME Cams': 'moxa', 'Moxa Inc.': 'acme' });
  assert.deepEqual(vendorAliasesOf('moxa', extra), ['acmecams', 'moxatechnologies']);
  assert.deepEqual(vendorAliasesOf('acme', extra), ['moxainc']);
  assert.deepEqual(vendorAliasesOf('unknownvendor'), []);
});
