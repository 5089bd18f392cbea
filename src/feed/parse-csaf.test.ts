import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseCsafDocument } from './parse-csaf.ts';
import { FeedError, type Advisory } from './types.ts';

function only(advisories: readonly Advisory[]): Advisory {
  assert.equal(advisories.length, 1);
  const [advisory] = advisories;
  assert.ok(advisory !== undefined);
  return advisory;
}

const FILE = 'vectors/feeds/csaf/icsa-24-156-01.json';
const where = { file: FILE, record: '$' };

function load(): unknown {
  return JSON.parse(readFileSync(new URL(`../../${FILE}`, import.meta.url), 'utf8'));
}

test('parseCsafDocument() turns the real Uniview NVR advisory into one row with its range and fix', () => {
  assert.deepEqual(parseCsafDocument(load(), where), [
    {
      source: 'csaf',
      id: 'CVE-2024-3850',
      aliases: ['ICSA-24-156-01'],
      cvss: 5.4,
      published: '2024-06-04T06:00:00.000000Z',
      products: [
        {
          vendor: 'uniview',
          model: 'nvr30104s2p4',
          hwVersion: null,
          intervals: [{ kind: 'range', lower: null, lowerInclusive: false, upper: 'NVR-B3801.20.17.240507', upperInclusive: false }],
          fixed: ['NVR-B3801.20.17.240507'],
          confidence: 'high',
          reason: 'csaf products CSAFPID-0001',
        },
      ],
      // The only remediation is category "mitigation", not "vendor_fix".
      remediationUrls: [],
    },
  ]);
});

// The shapes below follow the OASIS CSAF 2.0 examples; they are minimal constructed documents that
// exercise one rule each, not advisories of a real product.
function doc(productTree: unknown, vulnerabilities: unknown[]): unknown {
  return {
    document: {
      category: 'csaf_vex',
      csaf_version: '2.0',
      publisher: { category: 'vendor', name: 'Example Vendor', namespace: 'https://example.com' },
      title: 't',
      tracking: { id: 'EX-2024-01', version: '2', initial_release_date: '2024-01-02T00:00:00Z' },
    },
    product_tree: productTree,
    vulnerabilities,
  };
}

function version(name: string, id: string): unknown {
  return { category: 'product_version', name, product: { name: `fw ${name}`, product_id: id } };
}

const firmwareTree = {
  branches: [
    {
      category: 'vendor',
      name: 'Example Vendor',
      branches: [
        { category: 'product_name', name: 'CAM-100', branches: [version('6.40.7', 'A1'), version('6.42.0', 'A2'), version('6.40.8', 'F1'), version('6.42.1', 'F2')] },
        { category: 'product_name', name: 'CAM-200', branches: [version('1.0', 'B1')] },
      ],
    },
  ],
};

test('parseCsafDocument() maps a CSAF vendor name (legal entity) onto the canonical NVD vendor', () => {
  const text = JSON.stringify(load()).replace('"name":"Uniview"', '"name":"Zhejiang Uniview Technologies Co., Ltd"');
  assert.notEqual(text, JSON.stringify(load()));
  assert.deepEqual(only(parseCsafDocument(JSON.parse(text), where)).products.map((p) => p.vendor), ['uniview']);
});

test('parseCsafDocument() never flags a known_not_affected (VEX) product', () => {
  const advisories = parseCsafDocument(doc(firmwareTree, [
    { cve: 'CVE-2024-0001', product_status: { known_affected: ['A1', 'B1'], known_not_affected: ['B1'] } },
    { product_status: { known_not_affected: ['A1', 'A2', 'B1'] } },
  ]), where);
  assert.deepEqual(advisories.map((a) => [a.id, a.products.map((p) => p.model)]), [
    ['CVE-2024-0001', ['cam100']],
    ['EX-2024-01#1', []],
  ]);
});

test('parseCsafDocument() keeps exact versions a list and per-branch fixes separate', () => {
  const advisory = only(parseCsafDocument(doc(firmwareTree, [
    { cve: 'CVE-2024-0003', product_status: { known_affected: ['A1', 'A2'], fixed: ['F1', 'F2'] } },
  ]), where));
  assert.deepEqual(advisory.products, [
    {
      vendor: 'examplevendor',
      model: 'cam100',
      hwVersion: null,
      intervals: [{ kind: 'exact-list', prefix: '6.4', suffixes: ['0.7', '2.0'] }],
      fixed: ['6.40.8', '6.42.1'],
      confidence: 'high',
      reason: 'csaf products A1, A2',
    },
  ]);
});

test('parseCsafDocument() parses vers ranges into separate intervals per branch', () => {
  const tree = {
    branches: [{ category: 'vendor', name: 'Example Vendor', branches: [{ category: 'product_name', name: 'GW-1', branches: [
      { category: 'product_version_range', name: 'vers:generic/>=6.40|<6.40.8|>=6.42|<6.42.1', product: { name: 'gw', product_id: 'R1' } },
      { category: 'product_version_range', name: '<=2.0', product: { name: 'gw old', product_id: 'R2' } },
    ] }] }],
  };
  const advisory = only(parseCsafDocument(doc(tree, [{ cve: 'CVE-2024-0004', product_status: { known_affected: ['R1', 'R2'] } }]), where));
  assert.deepEqual(advisory.products.map((p) => p.intervals), [[
    { kind: 'range', lower: '6.40', lowerInclusive: true, upper: '6.40.8', upperInclusive: false },
    { kind: 'range', lower: '6.42', lowerInclusive: true, upper: '6.42.1', upperInclusive: false },
    { kind: 'range', lower: null, lowerInclusive: false, upper: '2.0', upperInclusive: true },
  ]]);
  assert.deepEqual(advisory.products.map((p) => p.fixed), [['6.40.8', '6.42.1']]);
});

test('parseCsafDocument() takes the model from the hardware and the version from installed_on firmware', () => {
  const tree = {
    branches: [{ category: 'vendor', name: 'Mobotix', branches: [
      { category: 'product_family', name: 'P3', branches: [{ category: 'product_name', name: 'D24M', product: { name: 'Mobotix P3 D24M', product_id: 'HW1' } }] },
      { category: 'product_name', name: 'P3 Firmware', branches: [version('MX-V4.0.1.15', 'FW1'), version('MX-V4.7.2.18', 'FW2')] },
    ] }],
    relationships: [
      { category: 'installed_on', full_product_name: { name: 'fw1 on d24m', product_id: 'C1' }, product_reference: 'FW1', relates_to_product_reference: 'HW1' },
      { category: 'installed_on', full_product_name: { name: 'fw2 on d24m', product_id: 'C2' }, product_reference: 'FW2', relates_to_product_reference: 'HW1' },
    ],
  };
  const advisory = only(parseCsafDocument(doc(tree, [{ cve: 'CVE-2023-34873', product_status: { known_affected: ['C1'], fixed: ['C2'] } }]), where));
  assert.deepEqual(advisory.products.map((p) => [p.vendor, p.model, p.intervals, p.fixed]), [
    ['mobotix', 'd24m', [{ kind: 'exact', version: 'MX-V4.0.1.15' }], ['MX-V4.7.2.18']],
  ]);
});

test('parseCsafDocument() expands model_numbers to one row each and keeps vendor_fix URLs', () => {
  const tree = {
    branches: [{ category: 'vendor', name: 'Example Vendor', branches: [{ category: 'product_name', name: 'Series X', branches: [{
      category: 'product_version', name: '2.1',
      product: { name: 'x 2.1', product_id: 'M1', product_identification_helper: { model_numbers: ['X-100', 'X-200', 'X-3*'] } },
    }] }] }],
  };
  const advisory = only(parseCsafDocument(doc(tree, [{
    cve: 'CVE-2024-0005', ids: [{ system_name: 'vendor', text: 'VSA-7' }],
    product_status: { known_affected: ['M1'] },
    remediations: [{ category: 'vendor_fix', details: 'update', product_ids: ['M1'], url: 'https://example.com/fw' }, { category: 'workaround', details: 'x', url: 'https://example.com/wa' }],
    scores: [{ cvss_v3: { baseScore: 6.1 }, products: ['M1'] }, { cvss_v3: { baseScore: 8.8 }, products: ['M1'] }],
  }]), where));
  assert.deepEqual(advisory.products.map((p) => p.model), ['x100', 'x200']);
  assert.deepEqual(advisory.aliases, ['EX-2024-01', 'VSA-7']);
  assert.deepEqual(advisory.remediationUrls, ['https://example.com/fw']);
  assert.equal(advisory.cvss, 8.8);
});

test('parseCsafDocument() rejects malformed documents with the JSON path', () => {
  const check = (value: unknown, code: string, path: RegExp): void => {
    assert.throws(() => parseCsafDocument(value, where), (error: unknown) => {
      assert.ok(error instanceof FeedError);
      assert.equal(error.code, code);
      assert.match(error.message, path);
      return true;
    });
  };
  check({ document: {} }, 'BAD_RECORD', /\$\.document\.tracking/);
  check(doc(firmwareTree, [{ product_status: { known_affected: ['NOPE'] } }]), 'BAD_RECORD', /product_status: product id "NOPE"/);
  check(doc(firmwareTree, [{ cve: 'CVE-2024', product_status: {} }]), 'BAD_RECORD', /\$\.vulnerabilities\[0\]\.cve/);
  check(doc({ branches: [{ category: 'vendor' }] }, []), 'BAD_RECORD', /\$\.product_tree\.branches\[0\]\.name/);
  check(doc({ branches: [{ category: 'product_version', name: 'x'.repeat(65), product: { name: 'n', product_id: 'P' } }] }, []), 'BAD_VERSION', /branches\[0\]\.name/);
  check(doc({ branches: [{ category: 'vendor', name: 'v', branches: [{ category: 'product_version_range', name: 'vers:generic/!=1.0', product: { name: 'n', product_id: 'P' } }] }] },
    [{ product_status: { known_affected: ['P'] } }]), 'BAD_VERSION', /"!=" constraints/);
  // The record of every error is the document's tracking id once it is known.
  assert.throws(() => parseCsafDocument(doc(firmwareTree, [{ product_status: { known_affected: 'A1' } }]), where), { record: 'EX-2024-01' });
});
