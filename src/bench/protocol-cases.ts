/**
 * The cases of `npm run bench:protocol`: the wire codecs and signatures on the collector's and the
 * device's hot paths, plus baselines (cbor-x, node:crypto with a PEM key) to read them against.
 * @module
 */
// The bench is the one place besides protocol/cbor.ts that imports a CBOR library and node:crypto
// directly: they are the baselines our codec and our key caching are measured against.
import { DIR859_RECORD } from '../testing/vector-cases.ts';
import { createPrivateKey, sign as nodeSign } from 'node:crypto';
import { Encoder, Tag } from 'cbor-x';
import {
  bucketPrefix,
  canonicalName,
  CborTag,
  decodeCbor,
  decodeRequest,
  decodeResponse,
  encodeCbor,
  encodeRequest,
  encodeResponse,
  encodeVerdictPayload,
  COAP_CODE,
  modelHash,
  parseIp,
  readFeedRecord,
  sign1ToBeSigned,
  signFeedRecord,
  signVerdict,
  verifySign1,
  type CborMap,
  type CborValue,
  type FeedRecord,
  type IdentifiedAnnouncement,
  type PrivateAnnouncement,
  type RequestFrame,
  type Verdict,
} from '../protocol/index.ts';
import {
  encodePrivateKeyPem,
  equalBytes,
  importPrivateKey,
  sign,
  verify,
} from '../crypto/index.ts';
import type { BenchCase, Measurement } from './measure.ts';
import type { RatioSpec } from './performance-section.ts';

/** Case ids, to refer to cases in ratios and notes. */
export const CASE = {
  DECODE_IDENTIFIED: 'decode-identified',
  DECODE_PRIVATE: 'decode-private',
  ENCODE_IDENTIFIED: 'encode-identified',
  DECODE_FAIL_ANSWER: 'decode-fail-answer',
  ENCODE_VERDICT_PAYLOAD: 'encode-verdict-payload',
  SIGN_VERDICT: 'sign-verdict',
  VERIFY_VERDICT: 'verify-verdict',
  ED25519_SIGN: 'ed25519-sign',
  ED25519_VERIFY: 'ed25519-verify',
  PEM_SIGN: 'pem-sign',
  CBOR_ENCODE: 'cbor-encode',
  CBORX_ENCODE: 'cborx-encode',
  CBOR_DECODE: 'cbor-decode',
  CBORX_DECODE: 'cborx-decode',
} as const;

/**
 * cbor-x set up to write what encodeCbor writes: Maps in and out, no record extension, sized
 * maps, and byte strings without cbor-x's default tag 64 (RFC 8746 typed array) in front.
 */
const CBORX_OPTIONS = { mapsAsObjects: false, useRecords: false, variableMapSize: true, tagUint8Array: false } as const;

// A fixed, public key: the bench signs nothing that leaves the process.
const BENCH_SEED = new Uint8Array(32).fill(7);

/** The messages the cases work on, built once; sizes are reported in the case names. */
interface Fixtures {
  readonly identified: IdentifiedAnnouncement;
  readonly frame: RequestFrame;
  readonly identifiedDatagram: Uint8Array;
  readonly privateDatagram: Uint8Array;
  readonly verdict: Verdict;
  readonly answerDatagram: Uint8Array;
  readonly verdictPayload: Uint8Array;
  readonly toBeSigned: Uint8Array;
  readonly signature: Uint8Array;
}

function buildFixtures(key: ReturnType<typeof importPrivateKey>): Fixtures {
  const nonce = new Uint8Array(16).fill(1);
  const vendor = canonicalName('D-Link');
  const model = canonicalName('DIR-859');
  const frame: RequestFrame = { messageId: 0x1234, token: new Uint8Array(8).fill(9) };
  const identified: IdentifiedAnnouncement = {
    kind: 'identified',
    nonce,
    vendor,
    model,
    swName: 'firmware',
    swVersion: { version: '1.05B03' },
    hwVersion: { version: 'A1' },
    cpe: 'cpe:2.3:o:dlink:dir-859_firmware:1.05b03:*:*:*:*:*:*:*',
    quarantined: false,
  };
  const privateAnnouncement: PrivateAnnouncement = {
    kind: 'private',
    nonce,
    prefix: bucketPrefix(modelHash(vendor, model)),
    page: 0,
  };
  const record: FeedRecord = { ...DIR859_RECORD, vendor, model };

  const destination = parseIp('192.0.2.1');
  const source = parseIp('198.51.100.7');
  if (destination === undefined || source === undefined) throw new Error('bench fixture: bad address');
  const verdict: Verdict = {
    nonce,
    status: 'fail',
    destination,
    source,
    lifetimeSeconds: 86_400,
    feedVersion: 42,
    record: readFeedRecord(signFeedRecord(key, record)),
  };
  const signed = encodeCbor(signVerdict(key, verdict));
  const answerDatagram = encodeResponse(frame, { kind: 'verdict', signed }, COAP_CODE.POST);
  const verdictPayload = encodeVerdictPayload(verdict);
  const answer = decodeResponse(answerDatagram).response;
  if (answer.kind !== 'verdict') throw new Error('bench fixture: the answer is not a signed verdict');
  const { sign1 } = answer.verdict;
  return {
    identified,
    frame,
    identifiedDatagram: encodeRequest(identified, frame),
    privateDatagram: encodeRequest(privateAnnouncement, frame),
    verdict,
    answerDatagram,
    verdictPayload,
    toBeSigned: sign1ToBeSigned(sign1.protectedBytes, sign1.payload),
    signature: sign1.signature,
  };
}

/** Our decoded value in cbor-x's terms: the same maps, arrays and bytes, with cbor-x `Tag`s. */
function toCborX(value: CborValue): unknown {
  if (value instanceof CborTag) return new Tag(toCborX(value.value), value.tag);
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, v] of value as CborMap) out.set(k, toCborX(v));
    return out;
  }
  if (Array.isArray(value)) return (value as readonly CborValue[]).map(toCborX);
  return value;
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`bench self-check failed: ${what}`);
}

/**
 * Builds every case, and runs each operation once to check it does the real work (a decode that
 * throws or a verify that fails would be measured as fast nonsense).
 * @example measureCases(protocolCases(), options)
 */
export function protocolCases(): BenchCase[] {
  const key = importPrivateKey(BENCH_SEED);
  const publicKey = key.publicKey;
  const f = buildFixtures(key);
  const pem = encodePrivateKeyPem(key);
  const cborx = new Encoder(CBORX_OPTIONS);
  const verdictMap = decodeCbor(f.verdictPayload);
  const verdictMapX = toCborX(verdictMap);
  const answer = decodeResponse(f.answerDatagram).response;
  if (answer.kind !== 'verdict') throw new Error('bench fixture: the answer is not a signed verdict');
  const sign1 = answer.verdict.sign1;

  const identifiedBody = f.identifiedDatagram.byteLength;
  const cases: BenchCase[] = [
    {
      id: CASE.DECODE_IDENTIFIED,
      name: `decodeRequest: identified announcement (${identifiedBody} B)`,
      op: () => decodeRequest(f.identifiedDatagram).frame.messageId,
    },
    {
      id: CASE.DECODE_PRIVATE,
      name: `decodeRequest: private announcement (${f.privateDatagram.byteLength} B)`,
      op: () => decodeRequest(f.privateDatagram).frame.messageId,
    },
    {
      id: CASE.ENCODE_IDENTIFIED,
      name: 'encodeRequest: identified announcement',
      op: () => encodeRequest(f.identified, f.frame).byteLength,
    },
    {
      id: CASE.DECODE_FAIL_ANSWER,
      name: `decodeResponse: FAIL verdict + feed record (${f.answerDatagram.byteLength} B)`,
      op: () => decodeResponse(f.answerDatagram).frame.messageId,
    },
    {
      id: CASE.ENCODE_VERDICT_PAYLOAD,
      name: `encodeVerdictPayload: FAIL verdict (${f.verdictPayload.byteLength} B)`,
      op: () => encodeVerdictPayload(f.verdict).byteLength,
    },
    {
      id: CASE.SIGN_VERDICT,
      name: 'signVerdict + encodeCbor: COSE_Sign1 verdict bytes',
      op: () => encodeCbor(signVerdict(key, f.verdict)).byteLength,
    },
    {
      id: CASE.VERIFY_VERDICT,
      name: 'verifySign1: verdict',
      op: () => (verifySign1(sign1, publicKey) ? 1 : 0),
    },
    {
      id: CASE.ED25519_SIGN,
      name: `Ed25519 sign, cached key (crypto sign, ${f.toBeSigned.byteLength} B)`,
      op: () => sign(key, f.toBeSigned).byteLength,
    },
    {
      id: CASE.ED25519_VERIFY,
      name: 'Ed25519 verify, cached key (crypto verify)',
      op: () => (verify(publicKey, f.toBeSigned, f.signature) ? 1 : 0),
    },
    {
      id: CASE.PEM_SIGN,
      name: 'node:crypto sign, key re-imported from PEM each call',
      op: () => nodeSign(null, f.toBeSigned, createPrivateKey({ key: pem, format: 'pem' })).byteLength,
    },
    {
      id: CASE.CBOR_ENCODE,
      name: 'encodeCbor (ours): verdict map',
      op: () => encodeCbor(verdictMap).byteLength,
    },
    {
      id: CASE.CBORX_ENCODE,
      name: 'cbor-x Encoder.encode: same verdict map',
      op: () => cborx.encode(verdictMapX).byteLength,
    },
    {
      id: CASE.CBOR_DECODE,
      name: 'decodeCbor (ours, strict): verdict bytes',
      op: () => (decodeCbor(f.verdictPayload) instanceof Map ? 1 : 0),
    },
    {
      id: CASE.CBORX_DECODE,
      name: 'cbor-x decode (same options): same bytes',
      op: () => (cborx.decode(f.verdictPayload) instanceof Map ? 1 : 0),
    },
  ];

  // Each case must do the real thing once before it is timed.
  check(decodeRequest(f.identifiedDatagram).request.kind === 'identified', 'identified announcement decodes');
  check(decodeRequest(f.privateDatagram).request.kind === 'private', 'private announcement decodes');
  check(equalBytes(encodeRequest(f.identified, f.frame), f.identifiedDatagram), 'encodeRequest is deterministic');
  check(verifySign1(sign1, publicKey), 'the verdict verifies');
  check(verify(publicKey, f.toBeSigned, nodeSign(null, f.toBeSigned, createPrivateKey({ key: pem, format: 'pem' }))), 'the PEM-key signature verifies');
  const ours = encodeCbor(verdictMap);
  check(equalBytes(ours, f.verdictPayload), 'encodeCbor re-encodes the verdict exactly');
  check(equalBytes(cborx.encode(verdictMapX), ours), 'cbor-x produces the same bytes as encodeCbor');
  const decodedX: unknown = cborx.decode(f.verdictPayload);
  check(decodedX instanceof Map && decodedX.size === (verdictMap instanceof Map ? verdictMap.size : -1), 'cbor-x decodes the verdict to a Map');
  for (const c of cases) check(Number.isFinite(c.op()), `${c.id} returns a number`);
  return cases;
}

/** The ratios the section reports, each of two cases from the same run. */
export const PROTOCOL_RATIOS: readonly RatioSpec[] = [
  { label: 'Ed25519 verify ÷ decodeRequest (identified)', numerator: CASE.ED25519_VERIFY, denominator: CASE.DECODE_IDENTIFIED },
  { label: 'Ed25519 sign ÷ decodeRequest (identified)', numerator: CASE.ED25519_SIGN, denominator: CASE.DECODE_IDENTIFIED },
  { label: 'decodeRequest identified ÷ private', numerator: CASE.DECODE_IDENTIFIED, denominator: CASE.DECODE_PRIVATE },
  { label: 'signVerdict + encodeCbor ÷ Ed25519 sign (COSE and CBOR overhead)', numerator: CASE.SIGN_VERDICT, denominator: CASE.ED25519_SIGN },
  { label: 'verifySign1 ÷ Ed25519 verify', numerator: CASE.VERIFY_VERDICT, denominator: CASE.ED25519_VERIFY },
  { label: 'decodeResponse (FAIL) ÷ Ed25519 verify', numerator: CASE.DECODE_FAIL_ANSWER, denominator: CASE.ED25519_VERIFY },
  { label: 'Ed25519 verify ÷ sign', numerator: CASE.ED25519_VERIFY, denominator: CASE.ED25519_SIGN },
  { label: 'sign with PEM re-import ÷ sign with cached key', numerator: CASE.PEM_SIGN, denominator: CASE.ED25519_SIGN },
  { label: 'encodeCbor (ours) ÷ cbor-x encode', numerator: CASE.CBOR_ENCODE, denominator: CASE.CBORX_ENCODE },
  { label: 'decodeCbor (ours, strict) ÷ cbor-x decode', numerator: CASE.CBOR_DECODE, denominator: CASE.CBORX_DECODE },
];

/** What the issue expects on the reference machine; the notes compare against these. */
export const PROTOCOL_EXPECTATIONS = Object.freeze({
  ed25519SignPerSecond: 45_000,
  ed25519VerifyPerSecond: 16_000,
  maxDecodeAnnouncementNs: 10_000,
});

function byId(measurements: readonly Measurement[], id: string): Measurement {
  const m = measurements.find((x) => x.id === id);
  if (m === undefined) throw new RangeError(`no measurement "${id}"`);
  return m;
}

function kilo(perSecond: number): string {
  return `${(perSecond / 1000).toFixed(1)} k/s`;
}

/** Derived lines for the section: the expectations and per-core ceilings, from this run. */
export function protocolNotes(measurements: readonly Measurement[]): string[] {
  const e = PROTOCOL_EXPECTATIONS;
  const signRate = byId(measurements, CASE.ED25519_SIGN).opsPerSecond;
  const verifyRate = byId(measurements, CASE.ED25519_VERIFY).opsPerSecond;
  const decodeNs = byId(measurements, CASE.DECODE_IDENTIFIED).nsPerOp;
  const signVerdictNs = byId(measurements, CASE.SIGN_VERDICT).nsPerOp;
  const deviceNs = byId(measurements, CASE.DECODE_FAIL_ANSWER).nsPerOp + 2 * byId(measurements, CASE.VERIFY_VERDICT).nsPerOp;
  const verdict = (ok: boolean): string => (ok ? 'as expected' : 'NOT as expected');
  return [
    `Expected Ed25519 sign ~${kilo(e.ed25519SignPerSecond)} per core: measured ${kilo(signRate)} (${(signRate / e.ed25519SignPerSecond).toFixed(2)}× the expectation).`,
    `Expected Ed25519 verify ~${kilo(e.ed25519VerifyPerSecond)} per core: measured ${kilo(verifyRate)} (${(verifyRate / e.ed25519VerifyPerSecond).toFixed(2)}× the expectation).`,
    `Expected an announcement decode well under ${e.maxDecodeAnnouncementNs / 1000} µs: measured ${(decodeNs / 1000).toFixed(2)} µs, ${verdict(decodeNs < e.maxDecodeAnnouncementNs)}.`,
    `Collector ceiling per core for signed answers (decodeRequest + signVerdict, sum of two rows): ${kilo(1e9 / (decodeNs + signVerdictNs))}; the signature is ${((byId(measurements, CASE.ED25519_SIGN).nsPerOp / (decodeNs + signVerdictNs)) * 100).toFixed(0)}% of it.`,
    `Device cost of checking a FAIL answer (decodeResponse + verifySign1 of the verdict and of its feed record, sum of rows): ${(deviceNs / 1000).toFixed(0)} µs on this CPU.`,
  ];
}
