/**
 * Refusals of §2.4/§2.5 with their exact codes (request length, BAD_ALG, BAD_TYP, UNKNOWN_KEY),
 * the compact advisory-id bound, and signatures that stop verifying when one byte changes.
 * @module
 */
import { DIR859_RECORD } from '../testing/vector-cases.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { sign, type PrivateKey } from '../crypto/index.ts';
import {
  asMap,
  CborTag,
  COAP_CODE,
  COAP_OPTION,
  COAP_TYPE,
  COSE_TYP,
  decodeCbor,
  decodeCoseSign,
  decodeFeedRecordPayload,
  decodeRequest,
  decodeResponse,
  decodeSign1,
  encodeCbor,
  encodeCoap,
  encodeFeedRecordPayload,
  encodeRequest,
  encodeResponse,
  encodeUintOption,
  encodeVerdictPayload,
  readFeedRecord,
  readVerdict,
  sign1ToBeSigned,
  signFeedRecord,
  signRoot,
  signVerdict,
  verifyCoseSignature,
  verifySign1,
  type CborKey,
  type CborValue,
  type FeedRecord,
  type Verdict,
} from './index.ts';
import { anyVerdict } from '../testing/response-case.ts';
import { TEST_KEYS } from '../testing/keys.ts';
import { protocolErrorCode } from '../testing/mutation.ts';

const { feed, collector, registry, root1, root2 } = TEST_KEYS;

/** A document as a receiver sees it: encoded, then decoded. */
function overTheWire(value: CborValue): CborValue {
  return decodeCbor(encodeCbor(value));
}

// A fixed record and verdict for the example-based tests below.
const RECORD: FeedRecord = DIR859_RECORD;
const VERDICT: Verdict = {
  nonce: new Uint8Array(16).fill(1),
  status: 'pass',
  destination: Uint8Array.of(192, 0, 2, 1),
  source: Uint8Array.of(198, 51, 100, 7),
  lifetimeSeconds: 86_400,
  feedVersion: 42,
};
const FRAME = { messageId: 0x1234, token: new Uint8Array(8).fill(9) };

/** A COSE_Sign1 over `payload` with exactly the given headers, correctly signed by `key`. */
function sign1With(
  key: PrivateKey,
  headers: Map<CborKey, CborValue>,
  payload: Uint8Array,
  unprotected: Map<CborKey, CborValue> = new Map(),
): CborTag {
  const protectedBytes = encodeCbor(headers);
  return new CborTag(18, [
    protectedBytes,
    unprotected,
    payload,
    sign(key, sign1ToBeSigned(protectedBytes, payload)),
  ]);
}

const verdictHeaders = (
  alg: CborValue,
  typ: CborValue = COSE_TYP.VERDICT,
): Map<CborKey, CborValue> =>
  new Map<CborKey, CborValue>([
    [1, alg],
    [4, collector.publicKey.kid],
    [16, typ],
  ]);

function verdictPayloadWith(key: CborKey, value: CborValue): Uint8Array {
  const map = asMap(decodeCbor(encodeVerdictPayload(VERDICT)), 'verdict');
  return encodeCbor(new Map([...map, [key, value]]));
}

/** A request datagram of exactly 1232 bytes around an arbitrary body map (kind 0, path "t"). */
function requestDatagram(body: Map<CborKey, CborValue>): Uint8Array {
  const options = [
    { number: COAP_OPTION.URI_PATH, value: new TextEncoder().encode('t') },
    { number: COAP_OPTION.CONTENT_FORMAT, value: encodeUintOption(60) },
  ];
  const head = encodeCoap({
    type: COAP_TYPE.NON,
    code: COAP_CODE.POST,
    messageId: 1,
    token: new Uint8Array(8),
    options,
    payload: new Uint8Array(0),
  });
  const bodyBytes = encodeCbor(body).byteLength;
  // 0xff marker, then [1, 0, body, pad]: 3 bytes of array header, version and kind, 3 of pad header.
  const padBytes = 1232 - head.byteLength - 1 - 3 - bodyBytes - 3;
  const datagram = encodeCoap({
    type: COAP_TYPE.NON,
    code: COAP_CODE.POST,
    messageId: 1,
    token: new Uint8Array(8),
    options,
    payload: encodeCbor([1, 0, body, new Uint8Array(padBytes)]),
  });
  assert.equal(datagram.byteLength, 1232);
  return datagram;
}

const IDENTIFIED_BODY = new Map<CborKey, CborValue>([
  [10, new Uint8Array(16)],
  [270, 'fw'],
  [271, ['1.0']],
  [-65537, 'dlink'],
  [-65538, 'dir859'],
]);

test('requestDatagram() builds a request that decodeRequest() accepts (control for the refusals below)', () => {
  assert.equal(decodeRequest(requestDatagram(IDENTIFIED_BODY)).request.kind, 'identified');
});

test('decodeRequest() refuses 1231 bytes with BAD_LENGTH and 1233 bytes with TOO_LARGE', () => {
  const datagram = encodeRequest({ kind: 'root', version: 1 }, FRAME);
  assert.equal(
    protocolErrorCode(() => decodeRequest(datagram.subarray(0, 1231))),
    'BAD_LENGTH',
  );
  const longer = new Uint8Array(1233);
  longer.set(datagram);
  assert.equal(
    protocolErrorCode(() => decodeRequest(longer)),
    'TOO_LARGE',
  );
  assert.equal(
    protocolErrorCode(() => decodeRequest(new Uint8Array(0))),
    'BAD_LENGTH',
  );
});

test('decodeRequest() refuses an unknown body key with UNKNOWN_KEY', () => {
  for (const key of [11, -65547, 'vendor']) {
    const body = new Map(IDENTIFIED_BODY).set(key, 1);
    assert.equal(
      protocolErrorCode(() => decodeRequest(requestDatagram(body))),
      'UNKNOWN_KEY',
      String(key),
    );
  }
});

test('decodeRequest() refuses a non-canonical vendor with NON_CANONICAL and non-zero padding with BAD_VALUE', () => {
  assert.equal(
    protocolErrorCode(() =>
      decodeRequest(requestDatagram(new Map(IDENTIFIED_BODY).set(-65537, 'D-Link'))),
    ),
    'NON_CANONICAL',
  );
  const datagram = requestDatagram(IDENTIFIED_BODY);
  datagram[1231] = 1;
  assert.equal(
    protocolErrorCode(() => decodeRequest(datagram)),
    'BAD_VALUE',
  );
});

test('readVerdict() refuses alg -7 (ES256) and other algs with BAD_ALG', () => {
  for (const alg of [-7, -19, 'EdDSA']) {
    const tag = sign1With(collector, verdictHeaders(alg), encodeVerdictPayload(VERDICT));
    assert.equal(
      protocolErrorCode(() => readVerdict(overTheWire(tag))),
      'BAD_ALG',
      String(alg),
    );
  }
});

test('decodeResponse() refuses a verdict signed with alg -7 with BAD_ALG', () => {
  const signed = encodeCbor(
    sign1With(collector, verdictHeaders(-7), encodeVerdictPayload(VERDICT)),
  );
  const datagram = encodeResponse(FRAME, { kind: 'verdict', signed }, COAP_CODE.POST);
  assert.equal(
    protocolErrorCode(() => decodeResponse(datagram)),
    'BAD_ALG',
  );
});

test('readVerdict() refuses another document type with BAD_TYP', () => {
  assert.equal(
    protocolErrorCode(() => readVerdict(overTheWire(signFeedRecord(feed, RECORD)))),
    'BAD_TYP',
  );
  const asPolicy = sign1With(
    collector,
    verdictHeaders(-8, COSE_TYP.POLICY),
    encodeVerdictPayload(VERDICT),
  );
  assert.equal(
    protocolErrorCode(() => readVerdict(overTheWire(asPolicy))),
    'BAD_TYP',
  );
  assert.equal(
    protocolErrorCode(() => readFeedRecord(overTheWire(signVerdict(collector, VERDICT)))),
    'BAD_TYP',
  );
});

test('decodeResponse() refuses a feed record in the verdict position with BAD_TYP', () => {
  const datagram = encodeResponse(
    FRAME,
    { kind: 'verdict', signed: encodeCbor(signFeedRecord(feed, RECORD)) },
    COAP_CODE.POST,
  );
  assert.equal(
    protocolErrorCode(() => decodeResponse(datagram)),
    'BAD_TYP',
  );
});

test('readVerdict() refuses unknown keys in the payload and in both headers with UNKNOWN_KEY', () => {
  const good = verdictHeaders(-8);
  const cases: [string, CborTag][] = [
    ['payload key 9', sign1With(collector, good, verdictPayloadWith(9, 0))],
    ['payload key "x"', sign1With(collector, good, verdictPayloadWith('x', 0))],
    [
      'protected header key 3 (content type)',
      sign1With(collector, new Map(good).set(3, 60), encodeVerdictPayload(VERDICT)),
    ],
    [
      'unprotected header kid',
      sign1With(
        collector,
        good,
        encodeVerdictPayload(VERDICT),
        new Map<CborKey, CborValue>([[4, collector.publicKey.kid]]),
      ),
    ],
  ];
  for (const [name, tag] of cases)
    assert.equal(
      protocolErrorCode(() => readVerdict(overTheWire(tag))),
      'UNKNOWN_KEY',
      name,
    );
});

test('decodeFeedRecordPayload() refuses an unknown key with UNKNOWN_KEY', () => {
  const map = asMap(decodeCbor(encodeFeedRecordPayload(RECORD)), 'record');
  const payload = encodeCbor(new Map([...map, [15, true]]));
  assert.equal(
    protocolErrorCode(() => decodeFeedRecordPayload(payload)),
    'UNKNOWN_KEY',
  );
});

test('decodeFeedRecordPayload() reads back CVE ids of every year, integer up to 2^32 − 1 and text beyond', () => {
  // [P-4.3-1]: (YYYY − 1999)·10^7 + N is sent as an integer only while it fits readAdvisoryId()'s
  // uint32 bound; CVE-2428-4967296 is the first id that must stay text.
  const cases: [string, 'number' | 'string'][] = [
    ['CVE-2427-9999999', 'number'],
    ['CVE-2428-4967295', 'number'],
    ['CVE-2428-4967296', 'string'],
    ['CVE-2500-0001', 'string'],
    ['CVE-9999-9999999', 'string'],
  ];
  for (const [id, form] of cases) {
    const payload = encodeFeedRecordPayload({ ...RECORD, advisories: [id] });
    const wire = asMap(decodeCbor(payload), 'record').get(6);
    assert.ok(Array.isArray(wire));
    assert.equal(typeof wire[0], form, id);
    assert.deepEqual(decodeFeedRecordPayload(payload).advisories, [id], id);
  }
});

test('decodeFeedRecordPayload() refuses a CVE id sent as text when it has an integer form (NON_CANONICAL)', () => {
  // [P-4.3-1] "A CVE id that can be sent as an integer MUST be (one encoding per value)", and
  // [P-2.1-3]: every value has exactly one accepted encoding.
  const map = asMap(decodeCbor(encodeFeedRecordPayload(RECORD)), 'record');
  const payload = encodeCbor(new Map([...map, [6, ['CVE-2019-17621']]]));
  assert.equal(
    protocolErrorCode(() => decodeFeedRecordPayload(payload)),
    'NON_CANONICAL',
  );
});

test('verifySign1() returns false after any one payload byte of a signed verdict is flipped', () => {
  fc.assert(
    fc.property(anyVerdict, fc.nat(), fc.integer({ min: 0, max: 7 }), (verdict, at, bit) => {
      const sign1 = decodeSign1(overTheWire(signVerdict(collector, verdict)), {
        typ: COSE_TYP.VERDICT,
        path: 'verdict',
      });
      assert.ok(verifySign1(sign1, collector.publicKey));
      const payload = Uint8Array.from(sign1.payload);
      payload[at % payload.byteLength] = (payload[at % payload.byteLength] ?? 0) ^ (1 << bit);
      assert.equal(verifySign1({ ...sign1, payload }, collector.publicKey), false);
    }),
    { numRuns: 150 },
  );
});

test('verifySign1() returns false after a protected-header byte flip, with another key, or with a flipped signature', () => {
  const sign1 = decodeSign1(overTheWire(signVerdict(collector, VERDICT)), {
    typ: COSE_TYP.VERDICT,
    path: 'verdict',
  });
  const flip = (bytes: Uint8Array, at: number): Uint8Array => {
    const out = Uint8Array.from(bytes);
    out[at] = (out[at] ?? 0) ^ 1;
    return out;
  };
  assert.equal(
    verifySign1({ ...sign1, protectedBytes: flip(sign1.protectedBytes, 4) }, collector.publicKey),
    false,
  );
  assert.equal(verifySign1(sign1, feed.publicKey), false);
  assert.equal(
    verifySign1({ ...sign1, signature: flip(sign1.signature, 63) }, collector.publicKey),
    false,
  );
});

test('verifyCoseSignature() returns false after a root payload byte flip', () => {
  const root = {
    version: 1,
    threshold: 2,
    rootKeys: [root1.publicKey.raw, root2.publicKey.raw],
    feedKeys: [feed.publicKey.raw],
    registryKeys: [registry.publicKey.raw],
    issuedAt: 1_700_000_000,
  };
  const doc = decodeCoseSign(overTheWire(signRoot([root1, root2], root)), {
    typ: COSE_TYP.ROOT,
    path: 'root',
  });
  const payload = Uint8Array.from(doc.payload);
  payload[payload.byteLength - 1] = (payload[payload.byteLength - 1] ?? 0) ^ 1;
  for (const [i, key] of [root1, root2].entries()) {
    const signer = doc.signatures[i];
    assert.ok(signer !== undefined);
    assert.ok(verifyCoseSignature(doc, signer, key.publicKey));
    assert.equal(verifyCoseSignature({ ...doc, payload }, signer, key.publicKey), false);
  }
});
