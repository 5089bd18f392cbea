/**
 * Canonical names ([P-4.1-1]), the model hash and buckets ([P-4.2-*]) and compact advisory ids
 * ([P-4.3-1]): the spec's tables, an independent SHA-256, and round-trip properties.
 * @module
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { toHex } from '../crypto/index.ts';
import {
  BUCKET_COUNT,
  bucketIndex,
  bucketPrefix,
  bucketTag,
  canonicalName,
  decodeAdvisoryId,
  encodeAdvisoryId,
  isCanonicalName,
  modelHash,
  prefixOfBucket,
} from './index.ts';
import { protocolErrorCode } from '../testing/mutation.ts';

// docs/protocol.md §4.1 table, plus cases for symbols, ligatures and other compatibility forms.
const NAMES: readonly (readonly [string, string])[] = [
  ['D-Link', 'dlink'],
  ['TP-Link', 'tplink'],
  ['DNS-320L', 'dns320l'],
  ['Archer C7', 'archerc7'],
  ['archer_c7', 'archerc7'],
  ['IPC-HX5XXX', 'ipchx5xxx'],
  ['ＤＩＲ－８５９', 'dir859'],
  ['\u00dcber Cam', '\u00fcbercam'], // NFC input
  ['U\u0308ber Cam', '\u00fcbercam'], // NFD input, composed by NFKC
  ['C7+', 'c7+'], // symbols (Sm) are kept
  ['\ufb01rebox', 'firebox'], // the ligature ﬁ folds to "fi"
  ['Cam\u200b\u00adPro', 'campro'], // format characters (Cf) are removed
  ['a'.repeat(64), 'a'.repeat(64)],
  ['a-'.repeat(64), 'a'.repeat(64)], // 128 characters in, 64 bytes out
  ['\u00fc'.repeat(32), '\u00fc'.repeat(32)], // 64 UTF-8 bytes
];

for (const [input, expected] of NAMES) {
  test(`canonicalName() maps ${JSON.stringify(input.length > 20 ? input.slice(0, 20) + '…' : input)} to ${JSON.stringify(expected.length > 20 ? expected.slice(0, 20) + '…' : expected)}`, () => {
    assert.equal(canonicalName(input), expected);
    assert.ok(isCanonicalName(expected));
  });
}

test('canonicalName() keeps DNS-320L and DNS-320 apart', () => {
  assert.notEqual(canonicalName('DNS-320L'), canonicalName('DNS-320'));
});

for (const [name, input] of [
  ['an empty string', ''],
  ['spaces and a tab', ' \t '],
  ['only punctuation', '-_.'],
  ['only a zero-width space', '\u200b'],
  ['65 ASCII letters', 'a'.repeat(65)],
  ['33 two-byte letters (66 bytes)', '\u00fc'.repeat(33)],
] as const) {
  test(`canonicalName() refuses ${name} with BAD_VALUE`, () => {
    assert.equal(
      protocolErrorCode(() => canonicalName(input)),
      'BAD_VALUE',
    );
    assert.equal(isCanonicalName(input), false);
  });
}

test('isCanonicalName() is false for names that canonicalName() would change', () => {
  for (const name of ['D-Link', 'dlink ', 'Dlink', 'U\u0308ber', 'ＤＩＲ'])
    assert.equal(isCanonicalName(name), false, name);
});

test('canonicalName() output is canonical when removing punctuation joins a base and a combining mark', () => {
  // "A", "-", COMBINING ACUTE: NFKC cannot compose across the hyphen; once step (4) removes it,
  // "a" + U+0301 is left uncomposed, which canonicalName itself (and so the collector) rejects.
  for (const input of ['A-\u0301', 'e\u00ad\u0301', '\u1100-\u1161']) {
    const name = canonicalName(input);
    assert.ok(
      isCanonicalName(name),
      `canonicalName(${JSON.stringify(input)}) gave ${JSON.stringify(name)}, which is not canonical`,
    );
  }
});

// Names are drawn from characters that interact with NFKC, case mapping and the removal step,
// plus arbitrary code points.
const trickyCharacter = fc.constantFrom(
  'A',
  'a',
  'Z',
  '0',
  '7',
  '-',
  '_',
  ' ',
  '\t',
  '.',
  '+',
  'É',
  'e',
  'U',
  '\u0301',
  '\u0308',
  '\u00ad',
  '\u200b',
  '\u200d',
  '\ufb01',
  '\u216b',
  'Ｄ',
  '－',
  '\u0130',
  '\u1e9e',
  'Σ',
  '\u1100',
  '\u1161',
);
const nameInput = fc.oneof(
  fc.string({ unit: trickyCharacter, maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
);

test('canonicalName() is idempotent wherever it does not throw', () => {
  fc.assert(
    fc.property(nameInput, (input) => {
      let once: string;
      try {
        once = canonicalName(input);
      } catch {
        return;
      }
      assert.equal(canonicalName(once), once);
    }),
    { numRuns: 5000 },
  );
});

test('canonicalName() throws only ProtocolError BAD_VALUE', () => {
  fc.assert(
    fc.property(fc.oneof(nameInput, fc.string({ maxLength: 100 })), (input) => {
      const code = protocolErrorCode(() => canonicalName(input));
      assert.ok(code === undefined || code === 'BAD_VALUE', code);
    }),
    { numRuns: 2000 },
  );
});

function referenceModelHash(vendor: string, model: string): string {
  return createHash('sha256').update(`tattler model v1\0${vendor}\0${model}`, 'utf8').digest('hex');
}

test('modelHash() is SHA-256("tattler model v1" 0x00 vendor 0x00 model)', () => {
  const pairs: [string, string][] = [
    ['dlink', 'dir859'],
    ['hikvision', 'ds2cd2032i'],
    ['\u00fcber', 'cam'],
    ['a', ''],
  ];
  for (const [vendor, model] of pairs) {
    assert.equal(
      toHex(modelHash(vendor, model)),
      referenceModelHash(vendor, model),
      `${vendor}/${model}`,
    );
  }
});

test('modelHash() separates vendor and model ("ab"/"c" differs from "a"/"bc")', () => {
  assert.notEqual(toHex(modelHash('ab', 'c')), toHex(modelHash('a', 'bc')));
});

test('modelHash() agrees with node:crypto for arbitrary names', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.string({ unit: 'binary', maxLength: 20 }),
      (vendor, model) => {
        assert.equal(toHex(modelHash(vendor, model)), referenceModelHash(vendor, model));
      },
    ),
    { numRuns: 500 },
  );
});

test('prefixOfBucket() and bucketIndex() round trip for all 4096 buckets, low 4 bits zero', () => {
  assert.equal(BUCKET_COUNT, 4096);
  const seen = new Set<string>();
  for (let i = 0; i < BUCKET_COUNT; i++) {
    const prefix = prefixOfBucket(i);
    assert.equal(prefix.byteLength, 2);
    assert.equal((prefix[1] ?? 0) & 0x0f, 0, `bucket ${i}`);
    assert.equal(bucketIndex(prefix), i);
    assert.deepEqual(
      bucketPrefix(Uint8Array.of(prefix[0] ?? 0, (prefix[1] ?? 0) | 0x0f, 0xaa)),
      prefix,
    );
    seen.add(toHex(prefix));
  }
  assert.equal(seen.size, BUCKET_COUNT);
});

test('bucketPrefix() keeps the first 12 bits of a hash; bucketTag() its first 6 bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (hash) => {
      const prefix = bucketPrefix(hash);
      assert.deepEqual(prefix, Uint8Array.of(hash[0] ?? 0, (hash[1] ?? 0) & 0xf0));
      assert.equal(bucketIndex(prefix), ((hash[0] ?? 0) << 4) | ((hash[1] ?? 0) >> 4));
      assert.deepEqual(prefixOfBucket(bucketIndex(prefix)), prefix);
      assert.deepEqual(bucketTag(hash), hash.slice(0, 6));
    }),
    { numRuns: 500 },
  );
});

const ADVISORY_IDS: readonly (readonly [string, number])[] = [
  ['CVE-2021-36260', 220036260],
  ['CVE-2014-0160', 150000160],
  ['CVE-2017-1000253', 181000253],
  ['CVE-2000-0001', 10000001],
  ['CVE-2021-9999999', 229999999],
  ['CVE-2428-4967295', 4294967295], // the largest integer form: 2^32 − 1
];

for (const [id, wire] of ADVISORY_IDS) {
  test(`encodeAdvisoryId() maps ${id} to ${wire} and decodeAdvisoryId() back`, () => {
    assert.equal(encodeAdvisoryId(id), wire);
    assert.equal(decodeAdvisoryId(wire), id);
  });
}

test('encodeAdvisoryId() leaves non-CVE and non-compact CVE ids as text', () => {
  const texts = [
    'GHSA-xxxx-xxxx-xxxx',
    'CVE-1999-0001', // before 2000
    'CVE-2021-00001', // an extra leading zero would make two spellings of one number
    'CVE-2021-036260',
    'CVE-2021-123', // fewer than 4 digits
    'CVE-2021-12345678', // 10^7 and above
    'CVE-2428-4967296', // the integer form would exceed 2^32 − 1
    'CVE-9999-0001',
    'cve-2021-36260',
    ' CVE-2021-36260',
    'ZDI-21-123',
  ];
  for (const id of texts) {
    assert.equal(encodeAdvisoryId(id), id, id);
    assert.equal(decodeAdvisoryId(id), id, id);
  }
});

test('decodeAdvisoryId() refuses numbers below 10^7 (year 1999) with BAD_VALUE', () => {
  for (const n of [0, 1, 9_999_999])
    assert.equal(
      protocolErrorCode(() => decodeAdvisoryId(n)),
      'BAD_VALUE',
      String(n),
    );
});

test('decodeAdvisoryId(encodeAdvisoryId(id)) === id for every CVE id and every text id', () => {
  const cveId = fc
    .tuple(fc.integer({ min: 2000, max: 9999 }), fc.integer({ min: 0, max: 9_999_999 }))
    .map(([year, n]) => ({
      id: `CVE-${year}-${String(n).padStart(4, '0')}`,
      // [P-4.3-1]: the integer form exactly when it fits in 2^32 − 1.
      compact: (year - 1999) * 10_000_000 + n <= 0xffffffff,
    }));
  fc.assert(
    fc.property(
      fc.oneof(
        cveId,
        fc.string({ unit: 'binary', maxLength: 20 }).map((id) => ({ id, compact: false })),
      ),
      ({ id, compact }) => {
        const wire = encodeAdvisoryId(id);
        assert.equal(decodeAdvisoryId(wire), id);
        assert.equal(typeof wire, compact ? 'number' : 'string');
      },
    ),
    { numRuns: 2000 },
  );
});
