/**
 * Every message and document type: encode → decode round trips with fast-check, through the
 * wire (datagrams, or tagged COSE documents encoded and decoded), with their signatures checked.
 * @module
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  decodeCbor,
  decodeRequest,
  decodeResponse,
  decodeVerdictMap,
  encodeCbor,
  encodeRequest,
  encodeResponse,
  encodeUnsignedVerdict,
  readBucket,
  readFeedRecord,
  readKeyCertificate,
  readPolicy,
  readRoot,
  readVerdict,
  signBucket,
  signFeedRecord,
  signKeyCertificate,
  signPolicy,
  signRoot,
  signVerdict,
  verifyCoseSignature,
  verifySign1,
  type CborValue,
} from './index.ts';
import {
  bucketArbitrary,
  feedRecordArbitrary,
  frameArbitrary,
  keyCertificateArbitrary,
  policyArbitrary,
  requestArbitrary,
  rootArbitrary,
  verdictArbitrary,
} from '../testing/message-arbitrary.ts';
import { anyVerdict, contentOf, responseCase } from '../testing/response-case.ts';
import { TEST_KEYS } from '../testing/keys.ts';

const { feed, collector, registry, root1, root2 } = TEST_KEYS;
const RUNS = { numRuns: 150 };

/** A document as a receiver sees it: encoded, then decoded. */
function overTheWire(value: CborValue): CborValue {
  return decodeCbor(encodeCbor(value));
}

test('decodeRequest(encodeRequest(r)) deep-equals r, in exactly 1232 bytes, for every request kind', () => {
  fc.assert(
    fc.property(requestArbitrary, frameArbitrary, (request, frame) => {
      const datagram = encodeRequest(request, frame);
      assert.equal(datagram.byteLength, 1232);
      assert.deepEqual(decodeRequest(datagram), { frame, request });
    }),
    { numRuns: 500 },
  );
});

test('decodeResponse(encodeResponse(a)) gives back the content of every answer kind', () => {
  fc.assert(
    fc.property(responseCase, frameArbitrary, ({ body, method, expected }, frame) => {
      const datagram = encodeResponse(frame, body, method);
      assert.ok(datagram.byteLength <= 1232);
      const decoded = decodeResponse(datagram);
      assert.deepEqual(decoded.frame, frame);
      assert.deepEqual(contentOf(decoded.response), expected);
    }),
    { numRuns: 300 },
  );
});

test('readVerdict(signVerdict(v)) deep-equals v for every status, and the signature verifies', () => {
  fc.assert(
    fc.property(anyVerdict, (verdict) => {
      const signed = readVerdict(overTheWire(signVerdict(collector, verdict)));
      assert.deepEqual(signed.value, verdict);
      assert.ok(verifySign1(signed.sign1, collector.publicKey));
      if (signed.value.record !== undefined)
        assert.ok(verifySign1(signed.value.record.sign1, feed.publicKey));
    }),
    RUNS,
  );
});

test('decodeVerdictMap(encodeUnsignedVerdict(v)) deep-equals v for PASS, WARN and UNKNOWN', () => {
  fc.assert(
    fc.property(verdictArbitrary(['pass', 'warn', 'unknown']), (verdict) => {
      assert.deepEqual(decodeVerdictMap(decodeCbor(encodeUnsignedVerdict(verdict))), verdict);
    }),
    { numRuns: 500 },
  );
});

test('readFeedRecord(signFeedRecord(r)) deep-equals r and verifies with the feed key', () => {
  fc.assert(
    fc.property(feedRecordArbitrary, (record) => {
      const signed = readFeedRecord(overTheWire(signFeedRecord(feed, record)));
      assert.deepEqual(signed.value, record);
      assert.ok(verifySign1(signed.sign1, feed.publicKey));
    }),
    RUNS,
  );
});

test('readBucket(signBucket(b)) deep-equals b and verifies with the feed key', () => {
  fc.assert(
    fc.property(bucketArbitrary, (bucket) => {
      const signed = readBucket(overTheWire(signBucket(feed, bucket)));
      assert.deepEqual(signed.value, bucket);
      assert.ok(verifySign1(signed.sign1, feed.publicKey));
    }),
    RUNS,
  );
});

test('readPolicy(signPolicy(p)) deep-equals p and verifies with the collector key', () => {
  fc.assert(
    fc.property(policyArbitrary, (policy) => {
      const signed = readPolicy(overTheWire(signPolicy(collector, policy)));
      assert.deepEqual(signed.value, policy);
      assert.ok(verifySign1(signed.sign1, collector.publicKey));
    }),
    RUNS,
  );
});

test('readKeyCertificate(signKeyCertificate(c)) deep-equals c and verifies with the registry key', () => {
  fc.assert(
    fc.property(keyCertificateArbitrary, (certificate) => {
      const signed = readKeyCertificate(overTheWire(signKeyCertificate(registry, certificate)));
      assert.deepEqual(signed.value, certificate);
      assert.ok(verifySign1(signed.sign1, registry.publicKey));
    }),
    RUNS,
  );
});

test('readRoot(signRoot([k1, k2], r)) deep-equals r; each of the 2 signatures verifies with its own key only', () => {
  fc.assert(
    fc.property(rootArbitrary, (root) => {
      const signed = readRoot(overTheWire(signRoot([root1, root2], root)));
      assert.deepEqual(signed.value, root);
      const [first, second] = signed.sign.signatures;
      assert.ok(first !== undefined && second !== undefined && signed.sign.signatures.length === 2);
      assert.deepEqual(first.kid, root1.publicKey.kid);
      assert.deepEqual(second.kid, root2.publicKey.kid);
      assert.ok(verifyCoseSignature(signed.sign, first, root1.publicKey));
      assert.ok(verifyCoseSignature(signed.sign, second, root2.publicKey));
      assert.ok(!verifyCoseSignature(signed.sign, first, root2.publicKey));
      assert.ok(!verifyCoseSignature(signed.sign, second, root1.publicKey));
    }),
    { numRuns: 50 },
  );
});
