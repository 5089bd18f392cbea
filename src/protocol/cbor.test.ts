/**
 * The strict CBOR codec: golden value ↔ hex tables (RFC 8949 Appendix A and §4.2.1), hostile
 * input refused with its exact code, and properties cross-checked against cbor-x.
 * @module
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Decoder } from 'cbor-x';
import { fromHex, toHex } from '../crypto/index.ts';
import { CborTag, decodeCbor, encodeCbor, type CborKey, type CborValue } from './index.ts';
import { cborValue, fromCborX, reverseMaps } from '../testing/cbor-arbitrary.ts';
import {
  anyMutation,
  applyMutations,
  assertRefusesOnlyWithProtocolError,
  protocolErrorCode,
} from '../testing/mutation.ts';

const map = (...entries: [CborKey, CborValue][]): CborValue => new Map(entries);
const bytes = (hex: string): Uint8Array => fromHex(hex);

// [name, value, hex]: each value encodes to exactly this hex, and this hex decodes to the value.
const GOLDEN: readonly (readonly [string, CborValue, string])[] = [
  ['0', 0, '00'],
  ['23, the largest inline argument', 23, '17'],
  ['24, the smallest 1-byte argument', 24, '1818'],
  ['255', 255, '18ff'],
  ['256, the smallest 2-byte argument', 256, '190100'],
  ['65535', 65535, '19ffff'],
  ['65536, the smallest 4-byte argument', 65536, '1a00010000'],
  ['2^32 - 1', 2 ** 32 - 1, '1affffffff'],
  ['2^32, the smallest 8-byte argument', 2 ** 32, '1b0000000100000000'],
  ['2^53 - 1, the largest integer of the subset', Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
  ['-1', -1, '20'],
  ['-24', -24, '37'],
  ['-25', -25, '3818'],
  ['-256', -256, '38ff'],
  ['-257', -257, '390100'],
  ['-65537', -65537, '3a00010000'],
  [
    '-(2^53 - 1), the smallest integer of the subset',
    Number.MIN_SAFE_INTEGER,
    '3b001ffffffffffffe',
  ],
  ['empty text', '', '60'],
  ['text "a"', 'a', '6161'],
  ['text "IETF"', 'IETF', '6449455446'],
  ['text with a 2-byte UTF-8 code point', 'ü', '62c3bc'],
  ['text with a 3-byte UTF-8 code point', '水', '63e6b0b4'],
  ['text with a 4-byte UTF-8 code point', '\u{10151}', '64f0908591'],
  [
    '24-byte text: 1-byte length',
    'abcdefghijklmnopqrstuvwx',
    '7818' + toHex(new TextEncoder().encode('abcdefghijklmnopqrstuvwx')),
  ],
  ['empty bytes', new Uint8Array(0), '40'],
  ['4 bytes', bytes('01020304'), '4401020304'],
  ['24 bytes: 1-byte length', new Uint8Array(24).fill(0xaa), '5818' + 'aa'.repeat(24)],
  ['256 bytes: 2-byte length', new Uint8Array(256), '590100' + '00'.repeat(256)],
  ['empty array', [], '80'],
  ['[1, 2, 3]', [1, 2, 3], '83010203'],
  ['[1, [2, 3], [4, 5]]', [1, [2, 3], [4, 5]], '8301820203820405'],
  [
    '25 items: 1-byte length',
    Array.from({ length: 25 }, (_, i) => i + 1),
    '98190102030405060708090a0b0c0d0e0f101112131415161718181819',
  ],
  ['empty map', map(), 'a0'],
  ['{1: 2, 3: 4}', map([1, 2], [3, 4]), 'a201020304'],
  // RFC 8949 §4.2.1: bytewise order of the encoded keys, so 100 (1864) < -1 (20) < -65537 (3a…)
  // < "a" (6161) < "aa" (626161); insertion order here is deliberately different.
  [
    'keys sorted bytewise',
    map(['aa', 5], [-65537, 6], ['a', 4], [100, 3], [-1, 2], [10, 1]),
    'a60a0118640320023a000100000661610462616105',
  ],
  ['"b" sorts before "aa" (shorter encoding first)', map(['aa', 1], ['b', 2]), 'a261620262616101'],
  ['nested maps', map(['a', map([1, true])], ['b', [null, false]]), 'a26161a101f5616282f6f4'],
  [
    'tag 18 (COSE_Sign1)',
    new CborTag(18, [new Uint8Array(0), map(), new Uint8Array(0), new Uint8Array(0)]),
    'd28440a04040',
  ],
  ['tag 98 (COSE_Sign)', new CborTag(98, [1]), 'd8628101'],
  [
    'tag 52 (RFC 9164 IPv4 prefix 192.0.2.0/24)',
    new CborTag(52, [24, bytes('c00002')]),
    'd83482181843c00002',
  ],
  [
    'tag 54 (RFC 9164 IPv6 prefix 2001:db8:1234::/48)',
    new CborTag(54, [48, bytes('20010db81234')]),
    'd8368218304620010db81234',
  ],
  ['false', false, 'f4'],
  ['true', true, 'f5'],
  ['null', null, 'f6'],
];

for (const [name, value, hex] of GOLDEN) {
  test(`encodeCbor() encodes ${name} as ${hex.length > 40 ? hex.slice(0, 40) + '…' : hex}`, () => {
    assert.equal(toHex(encodeCbor(value)), hex);
  });
  test(`decodeCbor() decodes the encoding of ${name}`, () => {
    assert.deepEqual(decodeCbor(bytes(hex)), value);
  });
}

// [name, hex, code]: each must be refused with exactly this code.
const NEGATIVE: readonly (readonly [string, string, string])[] = [
  ['empty input', '', 'TRUNCATED'],
  ['1-byte argument missing', '18', 'TRUNCATED'],
  ['2-byte argument cut', '1901', 'TRUNCATED'],
  ['4-byte argument cut', '1a000100', 'TRUNCATED'],
  ['8-byte argument cut', '1b00000001000000', 'TRUNCATED'],
  ['text shorter than its length', '6261', 'TRUNCATED'],
  ['bytes shorter than their length', '4201', 'TRUNCATED'],
  ['array missing an item', '8201', 'TRUNCATED'],
  ['map missing a value', 'a101', 'TRUNCATED'],
  ['tag without content', 'd2', 'TRUNCATED'],
  ['a second item after the first', '0000', 'TRAILING_BYTES'],
  ['a byte after an empty array', '8001', 'TRAILING_BYTES'],
  ['two nulls', 'f6f6', 'TRAILING_BYTES'],
  ['23 in a 1-byte argument', '1817', 'NON_CANONICAL'],
  ['23 in a 2-byte argument', '190017', 'NON_CANONICAL'],
  ['65535 in a 4-byte argument', '1a0000ffff', 'NON_CANONICAL'],
  ['2^32 - 1 in an 8-byte argument', '1b00000000ffffffff', 'NON_CANONICAL'],
  ['-24 in a 1-byte argument', '3817', 'NON_CANONICAL'],
  ['a 1-byte bstr with a 1-byte length', '5801ff', 'NON_CANONICAL'],
  ['a 1-byte tstr with a 1-byte length', '780161', 'NON_CANONICAL'],
  ['an empty array with a 1-byte length', '9800', 'NON_CANONICAL'],
  ['an empty map with a 1-byte length', 'b800', 'NON_CANONICAL'],
  ['tag 18 in a 1-byte argument', 'd81280', 'NON_CANONICAL'],
  [
    'the length of an array of 2^32 items as a non-preferred 8-byte argument',
    '9b00000000ffffffff',
    'NON_CANONICAL',
  ],
  ['map keys 2, 1', 'a202010100', 'NON_CANONICAL'],
  ['map keys -1, 10', 'a220000a00', 'NON_CANONICAL'],
  ['map keys "a", 10', 'a26161000a00', 'NON_CANONICAL'],
  ['map keys "aa", "b" (text order instead of bytewise)', 'a262616100616200', 'NON_CANONICAL'],
  ['map key 1 twice', 'a201000100', 'DUPLICATE_KEY'],
  ['map key "a" twice', 'a2616100616101', 'DUPLICATE_KEY'],
  ['indefinite bytes', '5f4100ff', 'UNSUPPORTED'],
  ['indefinite text', '7f6161ff', 'UNSUPPORTED'],
  ['indefinite array', '9f01ff', 'UNSUPPORTED'],
  ['indefinite map', 'bf0101ff', 'UNSUPPORTED'],
  ['a lone break', 'ff', 'UNSUPPORTED'],
  ['half float 1.0', 'f93c00', 'UNSUPPORTED'],
  ['half float 0.0', 'f90000', 'UNSUPPORTED'],
  ['single float 1.0', 'fa3f800000', 'UNSUPPORTED'],
  ['double float 1.0', 'fb3ff0000000000000', 'UNSUPPORTED'],
  ['double float 0.0', 'fb0000000000000000', 'UNSUPPORTED'],
  ['undefined', 'f7', 'UNSUPPORTED'],
  ['simple value 16', 'f0', 'UNSUPPORTED'],
  ['simple value 255', 'f8ff', 'UNSUPPORTED'],
  ['reserved additional information 28', '1c', 'UNSUPPORTED'],
  ['reserved additional information 30 in a negative integer', '3e', 'UNSUPPORTED'],
  ['tag 1 (epoch time)', 'c100', 'UNSUPPORTED'],
  ['tag 0 (date text)', 'c060', 'UNSUPPORTED'],
  ['tag 55799 (self-described CBOR)', 'd9d9f700', 'UNSUPPORTED'],
  ['2^53', '1b0020000000000000', 'UNSUPPORTED'],
  ['2^64 - 1', '1bffffffffffffffff', 'UNSUPPORTED'],
  ['-2^53', '3b001fffffffffffff', 'UNSUPPORTED'],
  ['-2^64', '3bffffffffffffffff', 'UNSUPPORTED'],
  ['a byte-string map key', 'a14000', 'UNSUPPORTED'],
  ['a null map key', 'a1f600', 'UNSUPPORTED'],
  ['an array map key', 'a18000', 'UNSUPPORTED'],
  ['text with a truncated 2-byte sequence', '62c328', 'BAD_VALUE'],
  ['text with byte 0xff', '61ff', 'BAD_VALUE'],
  ['text with an overlong "/"', '62c0af', 'BAD_VALUE'],
  ['text with a UTF-8-encoded surrogate', '63eda080', 'BAD_VALUE'],
  ['9 nested arrays', '81'.repeat(8) + '80', 'TOO_DEEP'],
  ['9 nested maps', 'a100'.repeat(8) + 'a0', 'TOO_DEEP'],
  ['8 tags around an array', 'd2'.repeat(8) + '80', 'TOO_DEEP'],
  ['a depth bomb of 10,000 arrays', '81'.repeat(10_000), 'TOO_DEEP'],
  ['an array claiming 2^32 items', '9b0000000100000000', 'TOO_LARGE'],
  ['an array claiming 2^32 - 1 items', '9affffffff', 'TOO_LARGE'],
  ['a map claiming 2^32 - 1 pairs', 'baffffffff', 'TOO_LARGE'],
  ['an array of 1233 items (one over the limit)', '9904d1', 'TOO_LARGE'],
  ['an array claiming 1232 items, none present', '9904d0', 'TRUNCATED'],
  ['bytes claiming 2^32 - 1 bytes', '5affffffff', 'TRUNCATED'],
  ['bytes claiming 2^32 bytes', '5b0000000100000000', 'TRUNCATED'],
  ['text claiming 2^53 - 1 bytes', '7b001fffffffffffff', 'TRUNCATED'],
];

for (const [name, hex, code] of NEGATIVE) {
  test(`decodeCbor() refuses ${name} with ${code}`, () => {
    assert.equal(
      protocolErrorCode(() => decodeCbor(bytes(hex))),
      code,
    );
  });
}

test('decodeCbor() accepts 8 nested arrays, the deepest allowed', () => {
  const value = decodeCbor(bytes('81'.repeat(7) + '80'));
  let depth = 0;
  for (let v: CborValue | undefined = value; Array.isArray(v); v = (v as readonly CborValue[])[0])
    depth++;
  assert.equal(depth, 8);
});

test('decodeCbor() accepts an array of 1232 items, the most allowed', () => {
  assert.equal(
    (decodeCbor(bytes('9904d0' + '00'.repeat(1232))) as readonly CborValue[]).length,
    1232,
  );
});

test('decodeCbor() refuses huge length claims without allocating or scanning (under 50 ms each)', () => {
  for (const hex of [
    '9b0000000100000000',
    '9affffffff',
    'baffffffff',
    '5affffffff',
    '5b001fffffffffffff',
    '7b001fffffffffffff',
  ]) {
    const started = performance.now();
    assert.ok(protocolErrorCode(() => decodeCbor(bytes(hex))) !== undefined);
    const elapsedMs = performance.now() - started;
    assert.ok(elapsedMs < 50, `${hex}: ${elapsedMs.toFixed(1)} ms`);
  }
});

test('decodeCbor() returns byte strings that do not alias the input', () => {
  const input = bytes('42abcd');
  const out = decodeCbor(input);
  input[1] = 0;
  assert.deepEqual(out, bytes('abcd'));
});

test('encodeCbor() throws RangeError for values outside the subset', () => {
  for (const value of [
    1.5,
    Number.MAX_SAFE_INTEGER + 1,
    Number.MIN_SAFE_INTEGER - 1,
    NaN,
    Infinity,
  ]) {
    assert.throws(() => encodeCbor(value), RangeError, String(value));
  }
});

const cborX = new Decoder({ mapsAsObjects: false, useRecords: false });

test('decodeCbor(encodeCbor(v)) deep-equals v for arbitrary values', () => {
  fc.assert(
    fc.property(cborValue, (value) => {
      assert.deepEqual(decodeCbor(encodeCbor(value)), value);
    }),
    { numRuns: 2000 },
  );
});

test('encodeCbor() is deterministic: map insertion order does not change the bytes', () => {
  fc.assert(
    fc.property(cborValue, (value) => {
      assert.equal(toHex(encodeCbor(reverseMaps(value))), toHex(encodeCbor(value)));
    }),
    { numRuns: 2000 },
  );
});

test('cbor-x decodes encodeCbor() output to the same value', () => {
  fc.assert(
    fc.property(cborValue, (value) => {
      const decoded: unknown = cborX.decode(encodeCbor(value));
      assert.deepEqual(fromCborX(decoded), value);
    }),
    { numRuns: 2000 },
  );
});

test('decodeCbor() returns or throws ProtocolError for arbitrary bytes (10,000 runs)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (input) => {
      assertRefusesOnlyWithProtocolError(decodeCbor, input);
    }),
    { numRuns: 10_000 },
  );
});

test('decodeCbor() returns or throws ProtocolError for mutated valid encodings (10,000 runs)', () => {
  fc.assert(
    fc.property(
      cborValue,
      fc.array(anyMutation, { minLength: 1, maxLength: 4 }),
      (value, mutations) => {
        assertRefusesOnlyWithProtocolError(
          decodeCbor,
          applyMutations(encodeCbor(value), mutations),
        );
      },
    ),
    { numRuns: 10_000 },
  );
});

test('decodeCbor() accepts a mutated encoding only if it re-encodes to the same bytes', () => {
  // Strictness: every accepted byte string is the one encoding of its value ([P-2.1-3]).
  fc.assert(
    fc.property(
      cborValue,
      fc.array(anyMutation, { minLength: 1, maxLength: 3 }),
      (value, mutations) => {
        const mutated = applyMutations(encodeCbor(value), mutations);
        let decoded: CborValue;
        try {
          decoded = decodeCbor(mutated);
        } catch {
          return;
        }
        assert.equal(toHex(encodeCbor(decoded)), toHex(mutated));
      },
    ),
    { numRuns: 5000 },
  );
});
