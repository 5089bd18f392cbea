import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toNameKey, toVendorKey } from './record-fields.ts';
import { FeedError } from './types.ts';

const where = { file: 'csaf/x.json', record: '$' };

test('toVendorKey() maps CSAF publisher and vendor names onto the canonical NVD vendor', () => {
  const cases: readonly (readonly [string, string])[] = [
    ['D-Link Systems, Inc.', 'dlink'],
    ['Hangzhou Hikvision Digital Technology Co., Ltd.', 'hikvision'],
    ['Zhejiang Dahua Technology Co., Ltd.', 'dahuasecurity'],
    ['Uniview', 'uniview'],
    ['Zhejiang Uniview Technologies Co., Ltd', 'uniview'],
    ['Siemens AG', 'siemens'],
    ['Schneider Electric', 'schneiderelectric'],
    ['MOXA Inc.', 'moxa'],
    ['Phoenix Contact', 'phoenixcontact'],
    ['PHOENIX CONTACT GmbH & Co. KG', 'phoenixcontact'],
    ['TP-LINK Technologies Co., Ltd.', 'tplink'],
    ['Some New Vendor GmbH', 'somenewvendorgmbh'],
  ];
  for (const [name, vendor] of cases) assert.equal(toVendorKey(name, where, '$.vendor'), vendor, name);
});

test('toVendorKey() and toNameKey() refuse a name with nothing left as BAD_RECORD naming the path', () => {
  for (const convert of [toVendorKey, toNameKey]) {
    assert.throws(
      () => convert('-- , .', where, '$.product_tree.branches[0].name'),
      (e: unknown) => e instanceof FeedError && e.code === 'BAD_RECORD' && e.message.includes('$.product_tree.branches[0].name'),
    );
  }
});

test('toNameKey() canonicalises models without vendor aliases', () => {
  assert.equal(toNameKey('DIR-859', where, '$'), 'dir859');
  assert.equal(toNameKey('Dahua', where, '$'), 'dahua');
});
