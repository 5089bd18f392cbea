/**
 * The CoAP message codec (RFC 7252 §3): golden messages both ways, every message format error
 * with its code, and round-trip and hostile-input properties.
 * @module
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fromHex, toHex } from '../crypto/index.ts';
import {
  COAP_CODE,
  COAP_TYPE,
  decodeCoap,
  decodeUintOption,
  encodeCoap,
  encodeUintOption,
  type CoapMessage,
  type CoapOption,
  type CoapType,
} from './index.ts';
import {
  anyMutation,
  applyMutations,
  assertRefusesOnlyWithProtocolError,
  protocolErrorCode,
} from '../testing/mutation.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const EMPTY = new Uint8Array(0);

function message(fields: Partial<CoapMessage>): CoapMessage {
  return {
    type: COAP_TYPE.CON,
    code: COAP_CODE.GET,
    messageId: 0,
    token: EMPTY,
    options: [],
    payload: EMPTY,
    ...fields,
  };
}

// [name, message, hex]: encodeCoap gives exactly hex and decodeCoap(hex) gives the message back.
const GOLDEN: readonly (readonly [string, CoapMessage, string])[] = [
  [
    'CON GET /temperature, no token (RFC 7252 Figure 16)',
    message({ messageId: 0x7d34, options: [{ number: 11, value: text('temperature') }] }),
    '40017d34bb74656d7065726174757265',
  ],
  [
    'ACK 2.05 with payload "22.3 C"',
    message({
      type: COAP_TYPE.ACK,
      code: COAP_CODE.CONTENT,
      messageId: 0x7d34,
      payload: text('22.3 C'),
    }),
    '60457d34ff32322e332043',
  ],
  [
    'CON GET with a 1-byte token',
    message({
      messageId: 0x7d35,
      token: fromHex('20'),
      options: [{ number: 11, value: text('temperature') }],
    }),
    '41017d3520bb74656d7065726174757265',
  ],
  [
    'NON POST with an 8-byte token (TKL 8)',
    message({
      type: COAP_TYPE.NON,
      code: COAP_CODE.POST,
      messageId: 0xffff,
      token: fromHex('0102030405060708'),
    }),
    '5802ffff0102030405060708',
  ],
  ['RST with message id 0 and nothing else', message({ type: COAP_TYPE.RST, code: 0 }), '70000000'],
  [
    'two Uri-Path segments (delta 0 for the repeat)',
    message({
      options: [
        { number: 11, value: text('a') },
        { number: 11, value: text('b') },
      ],
    }),
    '40010000b1610162',
  ],
  [
    'Content-Format 60 then Size1 1232: delta 48 in the 13 form (1 extension byte, 48 − 13)',
    message({
      options: [
        { number: 12, value: fromHex('3c') },
        { number: 60, value: fromHex('04d0') },
      ],
    }),
    '40010000c13cd22304d0',
  ],
  [
    'delta 13, the smallest 13 form (extension 0)',
    message({ options: [{ number: 13, value: EMPTY }] }),
    '40010000d000',
  ],
  [
    'delta 268, the largest 13 form (extension 255)',
    message({ options: [{ number: 268, value: EMPTY }] }),
    '40010000d0ff',
  ],
  [
    'delta 269, the smallest 14 form (2 extension bytes, 269 − 269)',
    message({ options: [{ number: 269, value: EMPTY }] }),
    '40010000e00000',
  ],
  [
    'delta 65535 in the 14 form',
    message({ options: [{ number: 65535, value: EMPTY }] }),
    '40010000e0fef2',
  ],
  [
    'length 12, the largest inline length',
    message({ options: [{ number: 1, value: new Uint8Array(12) }] }),
    '400100001c' + '00'.repeat(12),
  ],
  [
    'length 13 in the 13 form',
    message({ options: [{ number: 1, value: new Uint8Array(13) }] }),
    '400100001d00' + '00'.repeat(13),
  ],
  [
    'length 300 and delta 2048, both in the 14 form',
    message({ options: [{ number: 2048, value: new Uint8Array(300).fill(7) }] }),
    '40010000ee06f3001f' + '07'.repeat(300),
  ],
];

for (const [name, msg, hex] of GOLDEN) {
  test(`encodeCoap() encodes ${name}`, () => {
    assert.equal(toHex(encodeCoap(msg)), hex);
  });
  test(`decodeCoap() decodes ${name}`, () => {
    assert.deepEqual(decodeCoap(fromHex(hex)), msg);
  });
}

test('encodeCoap() sorts options by number, keeping repeated options in order', () => {
  const msg = message({
    options: [
      { number: 12, value: fromHex('3c') },
      { number: 11, value: text('x') },
      { number: 11, value: text('y') },
    ],
  });
  assert.equal(toHex(encodeCoap(msg)), '40010000b1780179113c');
  assert.deepEqual(
    decodeCoap(encodeCoap(msg)).options.map((o) => [o.number, toHex(o.value)]),
    [
      [11, '78'],
      [11, '79'],
      [12, '3c'],
    ],
  );
});

// [name, hex, code]
const NEGATIVE: readonly (readonly [string, string, string])[] = [
  ['version 0', '00010000', 'BAD_COAP'],
  ['version 2', '80010000', 'BAD_COAP'],
  ['version 3', 'c0010000', 'BAD_COAP'],
  ...Array.from({ length: 7 }, (_, i): [string, string, string] => [
    `TKL ${i + 9}`,
    `4${(i + 9).toString(16)}010000` + '00'.repeat(16),
    'BAD_COAP',
  ]),
  ['option delta nibble 15', '40010000f0', 'BAD_COAP'],
  ['option length nibble 15', '400100001f' + '00'.repeat(16), 'BAD_COAP'],
  ['a payload marker followed by nothing', '40017d34ff', 'BAD_COAP'],
  ['a payload marker after an option, followed by nothing', '40017d34b161ff', 'BAD_COAP'],
  ['17 options', '40010000' + '00'.repeat(17), 'BAD_COAP'],
  ['no bytes', '', 'TRUNCATED'],
  ['a 3-byte header', '400100', 'TRUNCATED'],
  ['a token shorter than TKL', '48010000010203', 'TRUNCATED'],
  ['a delta extension byte missing (13 form)', '40010000d0', 'TRUNCATED'],
  ['a delta extension byte missing (14 form)', '40010000e000', 'TRUNCATED'],
  ['a length extension byte missing (13 form)', '400100000d', 'TRUNCATED'],
  ['a length extension byte missing (14 form)', '400100000e01', 'TRUNCATED'],
  ['an option value running past the end', '40010000b36161', 'TRUNCATED'],
];

for (const [name, hex, code] of NEGATIVE) {
  test(`decodeCoap() refuses ${name} with ${code}`, () => {
    assert.equal(
      protocolErrorCode(() => decodeCoap(fromHex(hex))),
      code,
    );
  });
}

test('decodeCoap() accepts 16 options, the most allowed', () => {
  assert.equal(decodeCoap(fromHex('40010000' + '00'.repeat(16))).options.length, 16);
});

test('encodeCoap() throws RangeError on a 9-byte token or an out-of-range message id', () => {
  assert.throws(() => encodeCoap(message({ token: new Uint8Array(9) })), RangeError);
  assert.throws(() => encodeCoap(message({ messageId: 0x10000 })), RangeError);
  assert.throws(() => encodeCoap(message({ messageId: -1 })), RangeError);
});

test('encodeUintOption() gives the shortest big-endian form and decodeUintOption() reads it back', () => {
  const cases: [number, string][] = [
    [0, ''],
    [1, '01'],
    [60, '3c'],
    [255, 'ff'],
    [256, '0100'],
    [1232, '04d0'],
    [65536, '010000'],
    [2 ** 32 - 1, 'ffffffff'],
  ];
  for (const [value, hex] of cases) {
    assert.equal(toHex(encodeUintOption(value)), hex, String(value));
    assert.equal(decodeUintOption(fromHex(hex)), value, hex);
  }
});

test('decodeUintOption() accepts leading zero bytes and refuses 5-byte values with BAD_COAP', () => {
  assert.equal(decodeUintOption(fromHex('003c')), 60);
  assert.equal(
    protocolErrorCode(() => decodeUintOption(fromHex('0000000001'))),
    'BAD_COAP',
  );
});

const coapOption: fc.Arbitrary<CoapOption> = fc.record(
  {
    number: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 65535 })),
    value: fc.oneof(
      fc.uint8Array({ maxLength: 16 }),
      fc.uint8Array({ minLength: 260, maxLength: 300 }),
    ),
  },
  { noNullPrototype: true },
);

const coapMessage: fc.Arbitrary<CoapMessage> = fc.record(
  {
    type: fc.constantFrom<CoapType>(0, 1, 2, 3),
    code: fc.integer({ min: 0, max: 255 }),
    messageId: fc.integer({ min: 0, max: 0xffff }),
    token: fc.uint8Array({ maxLength: 8 }),
    // Sorted (stably) as the encoder sorts them, so the decoded list equals the input.
    options: fc
      .array(coapOption, { maxLength: 16 })
      .map((options) => [...options].sort((a, b) => a.number - b.number)),
    payload: fc.uint8Array({ maxLength: 64 }),
  },
  { noNullPrototype: true },
);

test('decodeCoap(encodeCoap(m)) deep-equals m for arbitrary messages', () => {
  fc.assert(
    fc.property(coapMessage, (msg) => {
      assert.deepEqual(decodeCoap(encodeCoap(msg)), msg);
    }),
    { numRuns: 2000 },
  );
});

test('decodeCoap() returns or throws ProtocolError for arbitrary bytes (10,000 runs)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 48 }), fc.boolean(), (generated, validHeader) => {
      // Half the inputs start with version 1 and a legal TKL, to get past the first check.
      const input = Uint8Array.from(generated);
      if (validHeader && input.byteLength > 0) input[0] = 0x40 | ((input[0] ?? 0) & 0x37);
      assertRefusesOnlyWithProtocolError(decodeCoap, input);
    }),
    { numRuns: 10_000 },
  );
});

test('decodeCoap() returns or throws ProtocolError for mutated valid messages (10,000 runs)', () => {
  fc.assert(
    fc.property(
      coapMessage,
      fc.array(anyMutation, { minLength: 1, maxLength: 4 }),
      (msg, mutations) => {
        assertRefusesOnlyWithProtocolError(decodeCoap, applyMutations(encodeCoap(msg), mutations));
      },
    ),
    { numRuns: 10_000 },
  );
});
