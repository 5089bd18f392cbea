import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { compareVersions, rangeContains, tokenizeVersion } from './version-compare.ts';
import type { RangeSet } from './version-range.ts';

const VECTOR_FILE = join(import.meta.dirname, '..', '..', 'vectors', 'feeds', 'version-compare.json');

interface PairVector {
  readonly vendor: string;
  readonly a: string;
  readonly b: string;
  readonly expected: -1 | 0 | 1;
  readonly note: string;
}

function isPairVector(value: unknown): value is PairVector {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.a === 'string' && typeof v.b === 'string' && (v.expected === -1 || v.expected === 0 || v.expected === 1);
}

function loadVectors(): PairVector[] {
  const doc: unknown = JSON.parse(readFileSync(VECTOR_FILE, 'utf8'));
  if (typeof doc !== 'object' || doc === null || !('vectors' in doc) || !Array.isArray(doc.vectors)) {
    throw new TypeError(`${VECTOR_FILE}: expected {vectors: [...]}`);
  }
  const vectors: unknown[] = doc.vectors;
  return vectors.map((v, i) => {
    if (!isPairVector(v)) throw new TypeError(`${VECTOR_FILE}: vectors[${i}] is not {a, b, expected}`);
    return v;
  });
}

const VECTORS = loadVectors();
const SIGN = ['<', '=', '>'];

// Edge cases of the rules themselves (the vector file holds the real vendor strings).
const RULE_PAIRS: readonly (readonly [string, string, -1 | 0 | 1])[] = [
  ['3.11', '3.11.0', 0],
  ['v3.11', '3.11.0', 0],
  ['V2.0', '2.0', 0],
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
  ['beta', 'rc', -1],
  ['1.0-1', '1.0', 1],
  ['1.0 build', '1.0', 0],
];

test('vectors/feeds/version-compare.json holds at least 60 real pairs from at least 10 vendors', () => {
  assert.ok(VECTORS.length >= 60, `${VECTORS.length} pairs`);
  assert.ok(new Set(VECTORS.map((v) => v.vendor)).size >= 10);
});

for (const { vendor, a, b, expected, note } of [
  ...VECTORS,
  ...RULE_PAIRS.map(([a, b, expected]) => ({ vendor: 'rule', a, b, expected, note: '' })),
]) {
  test(`compareVersions() orders ${vendor} ${JSON.stringify(a)} ${SIGN[expected + 1] ?? '?'} ${JSON.stringify(b)}`, () => {
    assert.equal(compareVersions(a, b), expected, note);
    assert.equal(compareVersions(b, a), -expected || 0, note);
  });
}

test('compareVersions() is transitive over every version in the tables', () => {
  const versions = [...new Set([...VECTORS, ...RULE_PAIRS.map(([a, b]) => ({ a, b }))].flatMap(({ a, b }) => [a, b]))];
  for (const a of versions) for (const b of versions) for (const c of versions) {
    if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) assert.ok(compareVersions(a, c) <= 0, `${a} ${b} ${c}`);
  }
});

// Versions built from the pieces real firmware strings are made of, so the special rules
// (prefixes, b builds, separator words, release padding, pre-release markers) all fire.
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: 99999 }).map(String) },
  { weight: 1, arbitrary: fc.nat({ max: 99 }).map((n) => `0${n}`) },
  {
    weight: 4,
    arbitrary: fc.constantFrom('.', '.', '-', '_', ' ', ',', '(', ')', 'b', 'B', 'beta', 'rc', 'alpha', 'v', 'V',
      ' build ', 'Update', 'r', 'c', 'hotfix', 'x', 'rel.', 'n'),
  },
);
const version = fc.array(piece, { maxLength: 10 }).map((parts) => parts.join(''));
const RUNS = 10_000;

test('compareVersions() is antisymmetric on generated versions', () => {
  fc.assert(
    fc.property(version, version, (a, b) => compareVersions(a, b) === (-compareVersions(b, a) || 0)),
    { numRuns: RUNS },
  );
});

test('compareVersions() is reflexive, and appending ".0" keeps a version equal', () => {
  fc.assert(
    fc.property(version, (a) => compareVersions(a, a) === 0 && (!/[0-9]/.test(a) || compareVersions(a, `${a}.0`) === 0)),
    { numRuns: RUNS },
  );
});

test('compareVersions() is transitive on generated versions (a sorted list stays ordered pairwise)', () => {
  fc.assert(
    fc.property(fc.array(version, { minLength: 3, maxLength: 6 }), (list) => {
      const sorted = [...list].sort(compareVersions);
      for (let i = 0; i < sorted.length; i++) {
        for (let j = i + 1; j < sorted.length; j++) {
          if (compareVersions(sorted[i] ?? '', sorted[j] ?? '') > 0) return false;
        }
      }
      return true;
    }),
    { numRuns: RUNS },
  );
});

test('compareVersions() is transitive on near-equal triples (shared prefixes)', () => {
  const near = fc.tuple(version, version, version, version).map(([p, x, y, z]) => [p + x, p + y, p + z] as const);
  fc.assert(
    fc.property(near, ([a, b, c]) => {
      if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) return compareVersions(a, c) <= 0;
      if (compareVersions(a, b) === 0 && compareVersions(b, c) === 0) return compareVersions(a, c) === 0;
      return true;
    }),
    { numRuns: RUNS },
  );
});

test('tokenizeVersion() drops a word prefix, keeps rc after a number as a pre-release', () => {
  assert.deepEqual(tokenizeVersion('rc1').map((t) => t.kind), ['text', 'number']);
  assert.deepEqual(tokenizeVersion('QTS 4.5.2').map((t) => t.kind), ['number', 'number', 'number']);
  assert.deepEqual(tokenizeVersion('2.0rc1').map((t) => t.kind), ['number', 'number', 'pre', 'number']);
  assert.deepEqual(tokenizeVersion('beta').map((t) => t.kind), ['text']);
});

test('tokenizeVersion() reads a D-Link b as a build and pads the release before it', () => {
  assert.deepEqual(tokenizeVersion('1.04b12'), ['1', '4', '0', '0', '12'].map((digits) => ({ kind: 'number', digits })));
  assert.deepEqual(tokenizeVersion('V5.21(AAZF.7)B0').map((t) => (t.kind === 'text' ? t.text : t.kind)), ['number', 'number', 'aazf', 'number', 'b', 'number']);
});

test('rangeContains() honours bounds, inclusivity, exact lists and union', () => {
  const set: RangeSet = {
    scheme: 0,
    intervals: [
      { kind: 'range', lower: '6.0', lowerInclusive: true, upper: '6.40.8', upperInclusive: false },
      { kind: 'range', lower: '6.41', lowerInclusive: true, upper: '6.42.1', upperInclusive: false },
      { kind: 'range', lower: '6.43rc1', lowerInclusive: true, upper: '6.43rc4', upperInclusive: false },
      { kind: 'exact', version: '7.1' },
      { kind: 'exact-list', prefix: '4.2.', suffixes: ['3', '5'] },
    ],
  };
  const cases: [string, boolean][] = [
    ['6.0', true], ['5.9', false], ['6.40.7', true], ['6.40.8', false], ['6.40.9', false], ['6.41.0', true],
    ['6.42', true], ['6.42.1', false], ['6.43rc3', true], ['6.43rc4', false], ['6.43', false], ['v7.1.0', true],
    ['4.2.5', true], ['4.2.4', false],
  ];
  for (const [version, expected] of cases) assert.equal(rangeContains(set, version), expected, version);
});
