/**
 * decodeRequest() and decodeResponse() on hostile datagrams: random bytes, random CBOR inside a
 * valid CoAP frame, and mutations of valid datagrams of every kind. Each decoder must return or
 * throw ProtocolError, nothing else ([P-2.2-1]: the collector catches exactly that), at ≥ 10,000
 * runs per decoder and input family.
 * @module
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  CborTag,
  CLAIM,
  COAP_CODE,
  COAP_OPTION,
  COAP_TYPE,
  COSE_TYP,
  decodeRequest,
  decodeResponse,
  encodeCbor,
  encodeCoap,
  encodeRequest,
  encodeResponse,
  encodeUintOption,
  type CborKey,
  type CborValue,
  type Request,
} from './index.ts';
import { cborValue } from '../testing/cbor-arbitrary.ts';
import { frameArbitrary, requestArbitrary } from '../testing/message-arbitrary.ts';
import {
  anyMutation,
  applyMutations,
  assertRefusesOnlyWithProtocolError,
  sameLengthMutation,
} from '../testing/mutation.ts';
import { responseCase } from '../testing/response-case.ts';

const RUNS = { numRuns: 10_000 };

// Valid datagrams to mutate, drawn once with fixed seeds so failures reproduce.
const REQUEST_KINDS: readonly Request['kind'][] = ['identified', 'private', 'certificate', 'root'];
const requestPool = REQUEST_KINDS.flatMap((kind, i) =>
  fc
    .sample(
      fc.tuple(
        requestArbitrary.filter((r) => r.kind === kind),
        frameArbitrary,
      ),
      { numRuns: 12, seed: 100 + i },
    )
    .map(([request, frame]) => encodeRequest(request, frame)),
);
const responseSamples = fc.sample(fc.tuple(responseCase, frameArbitrary), {
  numRuns: 80,
  seed: 200,
});
const responsePool = responseSamples.map(([c, frame]) => encodeResponse(frame, c.body, c.method));

test('the mutation pools hold valid datagrams of every request and answer kind (control)', () => {
  assert.deepEqual(
    new Set(requestPool.map((d) => decodeRequest(d).request.kind)),
    new Set(REQUEST_KINDS),
  );
  const kinds = new Set(responsePool.map((d) => decodeResponse(d).response.kind));
  assert.deepEqual(
    kinds,
    new Set(['verdict', 'unsigned-verdict', 'private', 'certificate', 'root', 'not-found', 'busy']),
  );
});

test('decodeRequest() returns or throws ProtocolError for arbitrary short byte strings (10,000 runs)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (input) => {
      assertRefusesOnlyWithProtocolError(decodeRequest, input);
    }),
    RUNS,
  );
});

test('decodeRequest() returns or throws ProtocolError for length-preserving mutations of valid requests (10,000 runs)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...requestPool),
      fc.array(sameLengthMutation, { minLength: 1, maxLength: 8 }),
      (datagram, mutations) => {
        assertRefusesOnlyWithProtocolError(decodeRequest, applyMutations(datagram, mutations));
      },
    ),
    RUNS,
  );
});

test('decodeRequest() returns or throws ProtocolError for any mutation of valid requests (10,000 runs)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...requestPool),
      fc.array(anyMutation, { minLength: 1, maxLength: 4 }),
      (datagram, mutations) => {
        assertRefusesOnlyWithProtocolError(decodeRequest, applyMutations(datagram, mutations));
      },
    ),
    RUNS,
  );
});

const REQUEST_OPTIONS = (path: string): { number: number; value: Uint8Array }[] => [
  { number: COAP_OPTION.URI_PATH, value: new TextEncoder().encode(path) },
  { number: COAP_OPTION.CONTENT_FORMAT, value: encodeUintOption(60) },
];

/** A 1232-byte request frame around `payload`: zero-padded, or cut, to the exact length. */
function padded(path: string, code: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(1232);
  out.set(
    encodeCoap({
      type: COAP_TYPE.NON,
      code,
      messageId: 7,
      token: new Uint8Array(8),
      options: REQUEST_OPTIONS(path),
      payload,
    }).subarray(0, 1232),
  );
  return out;
}

// Field values that are often of the right type, so decoders get past their first check.
const plausible: fc.Arbitrary<CborValue> = fc.oneof(
  cborValue,
  fc.constantFrom<CborValue>(
    1,
    0,
    3,
    true,
    false,
    null,
    'dlink',
    'cpe:2.3:h',
    'https://x',
    [0, ['1.0']],
    [['1.0']],
  ),
  fc.integer({ min: 0, max: 2 ** 32 }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  fc.uint8Array({ minLength: 2, maxLength: 8 }),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
);

/** A map over `keys`, each present with probability ~3/4, with plausible values. */
function mapOver(keys: readonly CborKey[]): fc.Arbitrary<Map<CborKey, CborValue>> {
  return fc
    .tuple(
      ...keys.map((key) =>
        fc.option(
          plausible.map((value) => [key, value] as const),
          { freq: 4 },
        ),
      ),
    )
    .map((entries) => new Map(entries.filter((e) => e !== null)));
}

const requestBody = fc.oneof(
  cborValue,
  mapOver(Object.values(CLAIM)),
  mapOver([10, 270, 271, -65537, -65538]),
);

test('decodeRequest() returns or throws ProtocolError for arbitrary CBOR bodies in a valid frame (10,000 runs)', () => {
  const route = fc.constantFrom(
    ['t', COAP_CODE.POST] as const,
    ['c', COAP_CODE.GET] as const,
    ['r', COAP_CODE.GET] as const,
  );
  fc.assert(
    fc.property(route, fc.integer({ min: 0, max: 4 }), requestBody, ([path, code], kind, body) => {
      // [1, kind, body, pad]: 17 bytes of CoAP, 6 of CBOR framing, the body, then the pad.
      const padBytes = 1232 - 17 - 6 - encodeCbor(body).byteLength;
      const payload = encodeCbor([1, kind, body, new Uint8Array(Math.max(0, padBytes))]);
      assertRefusesOnlyWithProtocolError(decodeRequest, padded(path, code, payload));
    }),
    RUNS,
  );
});

const KID = new Uint8Array(8);
const NO_SIGNATURE = new Uint8Array(64);

/** A structurally valid COSE_Sign1 of type `typ` (zero signature) around `payload`. */
function sign1Around(typ: number, payload: Map<CborKey, CborValue>): CborTag {
  const headers = encodeCbor(
    new Map<CborKey, CborValue>([
      [1, -8],
      [4, KID],
      [16, typ],
    ]),
  );
  return new CborTag(18, [headers, new Map(), encodeCbor(payload), NO_SIGNATURE]);
}

/** A structurally valid COSE_Sign of type `typ` with one signer (zero signature). */
function signAround(typ: number, payload: Map<CborKey, CborValue>): CborTag {
  const signer = [
    encodeCbor(
      new Map<CborKey, CborValue>([
        [1, -8],
        [4, KID],
      ]),
    ),
    new Map(),
    NO_SIGNATURE,
  ];
  return new CborTag(98, [
    encodeCbor(new Map([[16, typ]])),
    new Map(),
    encodeCbor(payload),
    [signer],
  ]);
}

const keys = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

// [1, kind, ...documents]: correct envelopes and headers, payload maps with plausible fields.
const structuredAnswer: fc.Arbitrary<CborValue[]> = fc.oneof(
  mapOver(keys(8)).map((m) => [1, 0, sign1Around(COSE_TYP.VERDICT, m)]),
  mapOver(keys(8)).map((m) => [1, 1, m]),
  fc
    .tuple(mapOver(keys(8)), mapOver(keys(9)), fc.uint8Array({ minLength: 16, maxLength: 16 }))
    .map(([bucket, policy, nonce]) => [
      1,
      2,
      nonce,
      sign1Around(COSE_TYP.BUCKET, bucket),
      sign1Around(COSE_TYP.POLICY, policy),
    ]),
  mapOver(keys(6)).map((m) => [1, 3, sign1Around(COSE_TYP.KEY_CERTIFICATE, m)]),
  mapOver(keys(7)).map((m) => [1, 4, signAround(COSE_TYP.ROOT, m)]),
  fc
    .tuple(fc.integer({ min: 0, max: 5 }), fc.array(cborValue, { maxLength: 4 }))
    .map(([kind, items]) => [1, kind, ...items]),
);

test('decodeResponse() returns or throws ProtocolError for arbitrary byte strings (10,000 runs)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.constantFrom(undefined, 0x44, 0x45, 0x84, 0xa3),
      (generated, code) => {
        // Most inputs get a NON header with a legal TKL and a known code, to reach the payload.
        const input = Uint8Array.from(generated);
        if (code !== undefined && input.byteLength >= 2) {
          input[0] = 0x50 | ((input[0] ?? 0) & 0x07);
          input[1] = code;
        }
        assertRefusesOnlyWithProtocolError(decodeResponse, input);
      },
    ),
    RUNS,
  );
});

test('decodeResponse() returns or throws ProtocolError for mutated valid answers of every kind (10,000 runs)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...responsePool),
      fc.array(anyMutation, { minLength: 1, maxLength: 4 }),
      (datagram, mutations) => {
        assertRefusesOnlyWithProtocolError(decodeResponse, applyMutations(datagram, mutations));
      },
    ),
    RUNS,
  );
});

test('decodeResponse() returns or throws ProtocolError for arbitrary documents in a valid answer frame (10,000 runs)', () => {
  fc.assert(
    fc.property(structuredAnswer, (answer) => {
      const datagram = encodeCoap({
        type: COAP_TYPE.NON,
        code: COAP_CODE.CHANGED,
        messageId: 7,
        token: new Uint8Array(8),
        options: [{ number: COAP_OPTION.CONTENT_FORMAT, value: encodeUintOption(60) }],
        payload: encodeCbor(answer),
      });
      assertRefusesOnlyWithProtocolError(decodeResponse, datagram);
    }),
    RUNS,
  );
});
