import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareVersions, rangeContains, tokenizeVersion } from './version-compare.ts';
import type { RangeSet } from './version-range.ts';

// [a, b, expected compareVersions(a, b)]
const PAIRS: readonly (readonly [string, string, -1 | 0 | 1])[] = [
  ['3.11', '3.11.0', 0],
  ['v3.11', '3.11.0', 0],
  ['V2.0', '2.0', 0],
  ['1.05B03', '1.05b03', 0],
  ['1.05', '1.5', 0],
  ['1.2', '1.10', -1],
  ['1.0rc1', '1.0', -1],
  ['1.0-rc1', '1.0', -1],
  ['1.0alpha', '1.0beta', -1],
  ['1.0beta2', '1.0rc1', -1],
  ['1.0rc2', '1.0rc10', -1],
  ['1.0.0', '1.0rc9', 1],
  ['1.0a', '1.0', 1],
  ['1.0.1a', '1.0.2', -1],
  ['1.05B03', '1.06b01', -1],
  ['6.42.1', '6.43rc1', -1],
  ['2.0.0', '10.0', -1],
  ['99999999999999999999.1', '99999999999999999999.0', 1],
  ['', '0', 0],
];

for (const [a, b, expected] of PAIRS) {
  test(`compareVersions() orders ${JSON.stringify(a)} ${['<', '=', '>'][expected + 1] ?? '?'} ${JSON.stringify(b)}`, () => {
    assert.equal(compareVersions(a, b), expected);
    assert.equal(compareVersions(b, a), -expected || 0);
  });
}

test('compareVersions() is transitive over the pair table', () => {
  const versions = [...new Set(PAIRS.flatMap(([a, b]) => [a, b]))];
  for (const a of versions) for (const b of versions) for (const c of versions) {
    if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) assert.ok(compareVersions(a, c) <= 0, `${a} ${b} ${c}`);
  }
});

test('tokenizeVersion() treats rc only after a number as a pre-release', () => {
  assert.deepEqual(tokenizeVersion('rc1').map((t) => t.kind), ['text', 'number']);
  assert.deepEqual(tokenizeVersion('2.0rc1').map((t) => t.kind), ['number', 'number', 'pre', 'number']);
});

test('rangeContains() honours bounds, inclusivity, exact lists and union', () => {
  const set: RangeSet = {
    scheme: 0,
    intervals: [
      { kind: 'range', lower: '6.0', lowerInclusive: true, upper: '6.40.8', upperInclusive: false },
      { kind: 'range', lower: '6.41', lowerInclusive: true, upper: '6.42.1', upperInclusive: false },
      { kind: 'exact', version: '7.1' },
      { kind: 'exact-list', prefix: '4.2.', suffixes: ['3', '5'] },
    ],
  };
  const cases: [string, boolean][] = [['6.0', true], ['5.9', false], ['6.40.7', true], ['6.40.8', false], ['6.40.9', false], ['6.41.0', true], ['6.42.1', false], ['v7.1.0', true], ['4.2.5', true], ['4.2.4', false]];
  for (const [version, expected] of cases) assert.equal(rangeContains(set, version), expected, version);
});
