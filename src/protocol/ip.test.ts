/**
 * Addresses and prefixes: text parsing and RFC 5952 formatting (cross-checked against node:net
 * and the WHATWG URL host serialiser), CIDR parsing, containment and RFC 9164 prefix encoding.
 * @module
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { fromHex, toHex } from '../crypto/index.ts';
import {
  CborTag,
  decodeCbor,
  decodePrefix,
  encodeCbor,
  encodePrefix,
  formatIp,
  formatPrefix,
  parseIp,
  parsePrefix,
  prefixContains,
  type CborValue,
  type IpPrefix,
} from './index.ts';
import { protocolErrorCode } from '../testing/mutation.ts';

// [input, bytes, RFC 5952 text]
const ADDRESSES: readonly (readonly [string, string, string])[] = [
  ['192.0.2.1', 'c0000201', '192.0.2.1'],
  ['0.0.0.0', '00000000', '0.0.0.0'],
  ['255.255.255.255', 'ffffffff', '255.255.255.255'],
  ['::', '00'.repeat(16), '::'],
  ['::1', '00'.repeat(15) + '01', '::1'],
  ['1::', '0001' + '00'.repeat(14), '1::'],
  ['2001:db8::1', '20010db8' + '00'.repeat(11) + '01', '2001:db8::1'],
  ['2001:0db8::0001', '20010db8' + '00'.repeat(11) + '01', '2001:db8::1'], // RFC 5952 §4.1: no leading zeros
  ['2001:db8:0:0:0:0:2:1', '20010db8' + '00'.repeat(8) + '00020001', '2001:db8::2:1'], // §4.2.1: shorten fully
  ['2001:db8:0:1:1:1:1:1', '20010db800000001000100010001' + '0001', '2001:db8:0:1:1:1:1:1'], // §4.2.2: one 0 group stays
  ['2001:0:0:1:0:0:0:1', '200100000000000100000000' + '00000001', '2001:0:0:1::1'], // §4.2.3: the longest run
  ['2001:db8:0:0:1:0:0:1', '20010db800000000000100000000' + '0001', '2001:db8::1:0:0:1'], // §4.2.3: the first of equal runs
  ['2001:DB8::ABCD', '20010db8' + '00'.repeat(10) + 'abcd', '2001:db8::abcd'], // §4.3: lower case
  ['::ffff:192.0.2.1', '00'.repeat(10) + 'ffffc0000201', '::ffff:c000:201'],
  ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008', '1:2:3:4:5:6:7:8'],
  ['1:2:3:4:5:6:1.2.3.4', '000100020003000400050006' + '01020304', '1:2:3:4:5:6:102:304'],
];

for (const [input, hex, text] of ADDRESSES) {
  test(`parseIp() reads ${input} and formatIp() writes ${text}`, () => {
    const bytes = parseIp(input);
    assert.ok(bytes !== undefined);
    assert.equal(toHex(bytes), hex);
    assert.equal(formatIp(bytes), text);
    assert.deepEqual(parseIp(text), bytes);
  });
}

const INVALID = [
  '',
  '1.2.3',
  '1.2.3.4.5',
  '256.1.1.1',
  '01.2.3.4',
  '1.2.3.-1',
  '1.2.3.4 ',
  ' 1.2.3.4',
  '1..2.3',
  '0x1.2.3.4',
  ':::',
  '1::2::3',
  '12345::',
  'g::',
  ':',
  '1:2:3:4:5:6:7',
  '1:2:3:4:5:6:7:8:9',
  '1:2:3:4:5:6:7::8',
  ':1::',
  '1::2:',
  'fe80::1%eth0',
  '[::1]',
  '::1.2.3',
  '::1.2.3.4.5',
  '::1.2.3.4:5',
  '::256.1.1.1',
  '1:2:3:4:5:6:7:1.2.3.4',
  '1.2.3.4::',
  '1.2.3.4::5', // a dotted quad is only allowed as the last 32 bits (RFC 4291 §2.2)
];

for (const input of INVALID) {
  test(`parseIp() returns undefined for ${JSON.stringify(input)}`, () => {
    assert.equal(parseIp(input), undefined);
  });
}

// Strings shaped like addresses: groups, dotted quads and empty pieces joined by ':' (giving '::').
const hexGroup = fc.string({
  unit: fc.constantFrom(...Array.from('0123456789abcdefABCDEF')),
  minLength: 1,
  maxLength: 5,
});
const decimal = fc.oneof(
  fc.nat({ max: 300 }).map(String),
  fc.constantFrom('00', '01', '255', '256', ''),
);
const dottedQuad = fc
  .array(decimal, { minLength: 3, maxLength: 5 })
  .map((parts) => parts.join('.'));
const addressLike = fc.oneof(
  dottedQuad,
  fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: hexGroup },
        { weight: 2, arbitrary: fc.constant('') },
        { weight: 1, arbitrary: dottedQuad },
      ),
      { minLength: 1, maxLength: 10 },
    )
    .map((parts) => parts.join(':')),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => formatIp(bytes)),
);

test('parseIp() accepts exactly what node:net isIP() accepts, with the same family', () => {
  fc.assert(
    fc.property(addressLike, (text) => {
      const family = isIP(text);
      const bytes = parseIp(text);
      assert.equal(bytes === undefined ? 0 : bytes.byteLength === 4 ? 4 : 6, family, text);
    }),
    { numRuns: 5000 },
  );
});

test('formatIp() of an IPv6 address equals the WHATWG URL host serialisation', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.nat({ max: 15 }),
      fc.nat({ max: 16 }),
      (random, from, length) => {
        // Zero a run of bytes so that compressible runs of zero groups are common.
        const bytes = Uint8Array.from(random).fill(0, from, from + length);
        const text = formatIp(bytes);
        assert.equal(`[${text}]`, new URL(`http://[${text}]/`).hostname);
        assert.equal(
          `[${text}]`,
          new URL(`http://[${toHex(bytes).replace(/(....)(?!$)/g, '$1:')}]/`).hostname,
        );
        assert.deepEqual(parseIp(text), bytes);
      },
    ),
    { numRuns: 2000 },
  );
});

test('parsePrefix() reads CIDR text with host bits zero', () => {
  assert.deepEqual(parsePrefix('192.0.2.0/24'), { address: fromHex('c0000200'), length: 24 });
  assert.deepEqual(parsePrefix('2001:db8:1234::/48'), {
    address: fromHex('20010db81234' + '00'.repeat(10)),
    length: 48,
  });
  assert.deepEqual(parsePrefix('0.0.0.0/0'), { address: new Uint8Array(4), length: 0 });
  assert.deepEqual(parsePrefix('::/0'), { address: new Uint8Array(16), length: 0 });
  assert.deepEqual(parsePrefix('192.0.2.1'), { address: fromHex('c0000201'), length: 32 });
  assert.deepEqual(parsePrefix('2001:db8::1/128'), {
    address: parseIp('2001:db8::1'),
    length: 128,
  });
});

test('parsePrefix() throws RangeError on host bits, bad lengths and junk', () => {
  for (const text of [
    '192.0.2.1/24',
    '11.0.0.0/7',
    '2001:db8::1/64',
    '10.0.0.0/33',
    '::/129',
    '10.0.0.0/-1',
    '10.0.0.0/',
    '10.0.0.0/1e1',
    '10.0.0.0/ 8',
    '/24',
    '10.0.0.0/8/8',
    'x/8',
  ]) {
    assert.throws(() => parsePrefix(text), RangeError, text);
  }
});

test('prefixContains() tests the first length bits, within one family', () => {
  const p24 = parsePrefix('192.0.2.0/24');
  const p23 = parsePrefix('192.0.2.0/23');
  const p48 = parsePrefix('2001:db8:1234::/48');
  const ip = (text: string): Uint8Array => parseIp(text) ?? assert.fail(text);
  assert.equal(prefixContains(p24, ip('192.0.2.255')), true);
  assert.equal(prefixContains(p24, ip('192.0.3.0')), false);
  assert.equal(prefixContains(p23, ip('192.0.3.7')), true);
  assert.equal(prefixContains(p23, ip('192.0.4.0')), false);
  assert.equal(prefixContains(parsePrefix('0.0.0.0/0'), ip('203.0.113.9')), true);
  assert.equal(prefixContains(parsePrefix('0.0.0.0/0'), ip('::1')), false);
  assert.equal(prefixContains(p48, ip('2001:db8:1234:ffff::1')), true);
  assert.equal(prefixContains(p48, ip('2001:db8:1235::1')), false);
  assert.equal(prefixContains(p48, ip('192.0.2.1')), false);
});

const ipPrefix: fc.Arbitrary<IpPrefix> = fc
  .tuple(
    fc.constantFrom(4, 16),
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
    fc.nat({ max: 128 }),
  )
  .map(([size, random, n]) => {
    const length = n % (size * 8 + 1);
    const address = random.slice(0, size);
    for (let bit = length; bit < size * 8; bit++)
      address[bit >> 3] = (address[bit >> 3] ?? 0) & ~(0x80 >> (bit & 7));
    return { address, length };
  });

function bitsEqual(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let bit = 0; bit < bits; bit++) {
    const mask = 0x80 >> (bit & 7);
    if (((a[bit >> 3] ?? 0) & mask) !== ((b[bit >> 3] ?? 0) & mask)) return false;
  }
  return true;
}

test('prefixContains() agrees with a bit-by-bit comparison', () => {
  fc.assert(
    fc.property(
      ipPrefix,
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.nat({ max: 128 }),
      (prefix, random, keep) => {
        // Addresses that share the first `keep` bits with the prefix, so both outcomes are common.
        const address = random.slice(0, prefix.address.byteLength);
        for (let bit = 0; bit < Math.min(keep, address.byteLength * 8); bit++) {
          const mask = 0x80 >> (bit & 7);
          address[bit >> 3] =
            ((address[bit >> 3] ?? 0) & ~mask) | ((prefix.address[bit >> 3] ?? 0) & mask);
        }
        assert.equal(
          prefixContains(prefix, address),
          bitsEqual(prefix.address, address, prefix.length),
        );
      },
    ),
    { numRuns: 2000 },
  );
});

// RFC 9164 §4.2/§4.3 prefix encodings: [text, hex of the tagged CBOR].
const PREFIXES: readonly (readonly [string, string])[] = [
  ['2001:db8:1234::/48', 'd8368218304620010db81234'], // 54([48, h'20010db81234'])
  ['192.0.2.0/24', 'd83482181843c00002'], // 52([24, h'c00002'])
  ['2001:db8:1230::/44', 'd83682182c4620010db81230'],
  ['2001:db8::/32', 'd8368218204420010db8'],
  ['10.0.0.0/24', 'd834821818410a'], // trailing zero bytes removed
  ['0.0.0.0/0', 'd834820040'],
  ['::/0', 'd836820040'],
  ['192.0.2.1/32', 'd83482182044c0000201'],
];

for (const [text, hex] of PREFIXES) {
  test(`encodePrefix() encodes ${text} as RFC 9164 ${hex}, and decodePrefix() reads it back`, () => {
    const prefix = parsePrefix(text);
    assert.equal(toHex(encodeCbor(encodePrefix(prefix))), hex);
    assert.deepEqual(decodePrefix(decodeCbor(fromHex(hex)), 'prefix'), prefix);
  });
}

// [name, CBOR value, code]
const BAD_PREFIXES: readonly (readonly [string, CborValue, string])[] = [
  ['trailing zero bytes (IPv4)', new CborTag(52, [24, fromHex('c00000')]), 'NON_CANONICAL'],
  ['trailing zero bytes (IPv6)', new CborTag(54, [48, fromHex('20010db80000')]), 'NON_CANONICAL'],
  ['a single zero byte for /8', new CborTag(52, [8, fromHex('00')]), 'NON_CANONICAL'],
  ['host bits set', new CborTag(52, [23, fromHex('c00003')]), 'BAD_VALUE'],
  ['more bytes than the length needs', new CborTag(52, [8, fromHex('0a01')]), 'BAD_VALUE'],
  ['length 33 for IPv4', new CborTag(52, [33, fromHex('0a')]), 'BAD_VALUE'],
  ['length 129 for IPv6', new CborTag(54, [129, fromHex('20')]), 'BAD_VALUE'],
  ['three elements', new CborTag(52, [8, fromHex('0a'), 0]), 'BAD_VALUE'],
  ['tag 18', new CborTag(18, [8, fromHex('0a')]), 'BAD_TYPE'],
  ['an untagged array', [8, fromHex('0a')], 'BAD_TYPE'],
  ['text instead of bytes', new CborTag(52, [8, '0a']), 'BAD_TYPE'],
  ['a negative length', new CborTag(52, [-1, fromHex('')]), 'BAD_VALUE'],
];

for (const [name, built, code] of BAD_PREFIXES) {
  test(`decodePrefix() refuses ${name} with ${code}`, () => {
    // Through the wire, as a receiver sees it.
    const value = decodeCbor(encodeCbor(built));
    assert.equal(
      protocolErrorCode(() => decodePrefix(value, 'prefix')),
      code,
    );
  });
}

test('decodePrefix(encodePrefix(p)) and parsePrefix(formatPrefix(p)) deep-equal p', () => {
  fc.assert(
    fc.property(ipPrefix, (prefix) => {
      assert.deepEqual(
        decodePrefix(decodeCbor(encodeCbor(encodePrefix(prefix))), 'prefix'),
        prefix,
      );
      assert.deepEqual(parsePrefix(formatPrefix(prefix)), prefix);
    }),
    { numRuns: 2000 },
  );
});
