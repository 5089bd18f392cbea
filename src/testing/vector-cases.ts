/**
 * The protocol test vectors as code: every golden message and every hostile one, built from the
 * fixed test keys. `generate-vectors.ts` writes them to vectors/protocol/*.json; the vector test
 * rebuilds them and checks both directions against those files.
 * @module
 */
import { concatBytes, sign, toHex, type PrivateKey } from '../crypto/index.ts';
import {
  bucketPrefix,
  bucketTag,
  canonicalName,
  CborTag,
  COAP_CODE,
  COSE_TYP,
  encodeCbor,
  encodeRequest,
  encodeResponse,
  encodeUnsignedVerdict,
  modelHash,
  parseIp,
  parsePrefix,
  readFeedRecord,
  REQUEST_BYTES,
  sign1ToBeSigned,
  signBucket,
  signFeedRecord,
  signKeyCertificate,
  signPolicy,
  signRoot,
  signVerdict,
  type BucketEntry,
  type CborValue,
  type FeedRecord,
  type Policy,
  type ProtocolErrorCode,
  type Request,
  type RequestFrame,
  type ResponseBody,
  type Verdict,
} from '../protocol/index.ts';
import { TEST_KEYS } from './keys.ts';

/** A golden vector: a datagram and what it decodes to. */
export interface GoldenVector {
  readonly name: string;
  readonly description: string;
  readonly direction: 'request' | 'response';
  readonly bytes: Uint8Array;
}

/** A hostile vector: a datagram and the exact error code it must be refused with. */
export interface NegativeVector {
  readonly name: string;
  readonly direction: 'request' | 'response';
  readonly bytes: Uint8Array;
  readonly code: ProtocolErrorCode;
}

const FRAME: RequestFrame = { messageId: 0x7a11, token: Uint8Array.from([0x54, 0x61, 0x74, 0x74, 0x6c, 0x65, 0x72, 0x31]) };
const NONCE = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
/** Fixed times of the vectors: 2026-11-01T00:00:00Z and seven days later. */
export const VECTOR_TIME = { issuedAt: 1793491200, expiresAt: 1793491200 + 7 * 86400 } as const;
const ANYCAST_V6 = parseIp('2001:db8:7a77::1') ?? new Uint8Array(16);
const DEVICE_V6 = parseIp('2001:db8:1234:5678::42') ?? new Uint8Array(16);

/** The identified announcement used by most vectors: D-Link DIR-859 on firmware 1.05B03. */
export const IDENTIFIED: Request = {
  kind: 'identified',
  nonce: NONCE,
  vendor: canonicalName('D-Link'),
  model: canonicalName('DIR-859'),
  swName: 'DIR-859 firmware',
  swVersion: { version: '1.05B03' },
  quarantined: false,
};

const FULL: Request = {
  kind: 'identified',
  nonce: NONCE,
  vendor: canonicalName('Hikvision'),
  model: canonicalName('DS-2CD2032-I'),
  swName: 'IPC firmware',
  swVersion: { version: 'V5.4.5 build 170123', scheme: 1 },
  hwVersion: { version: 'A1' },
  hwModel: new TextEncoder().encode('DS-2CD2032-I'),
  oemId: Uint8Array.from([0x44, 0x19, 0xb6]),
  cpe: 'cpe:2.3:o:hikvision:ds-2cd2032-i_firmware:5.4.5:*:*:*:*:*:*:*',
  mudUrl: 'https://mud.example.com/hikvision/ds-2cd2032-i.json',
  sbomUrl: 'https://sbom.example.com/hikvision/ds-2cd2032-i/5.4.5.cdx.json',
  quarantined: true,
};

/** The feed record for CVE-2019-17621 on the D-Link DIR-859 (CISA KEV, CVSS 9.8). */
export const DIR859_RECORD: FeedRecord = {
  vendor: 'dlink',
  model: 'dir859',
  hwVersions: [],
  ranges: { scheme: 0, intervals: [{ kind: 'range', lower: null, lowerInclusive: false, upper: '1.06b01', upperInclusive: false }] },
  advisories: ['CVE-2019-17621', 'CVE-2019-20215'],
  cvss10: 98,
  kev: true,
  fixed: ['1.06B01'],
  remediationHosts: ['support.dlink.com'],
  eligible: true,
  feedVersion: 2026110101,
  ...VECTOR_TIME,
};

/** A worst-case record: a NAS firmware listing 80 exact versions. */
export function worstCaseRecord(): FeedRecord {
  // 80 exact builds on 8 release lines, as QNAP lists them (4.3.<line>.<build>).
  const intervals = Array.from({ length: 8 }, (_, line) => ({
    kind: 'exact-list' as const,
    prefix: `4.3.${line}.`,
    suffixes: Array.from({ length: 10 }, (_, i) => String(1000 + line * 97 + i * 37).padStart(4, '0')),
  }));
  return {
    vendor: 'qnap',
    model: 'ts251',
    hwVersions: [],
    ranges: { scheme: 0, intervals },
    advisories: ['CVE-2021-28799', 'CVE-2020-2509', 'CVE-2020-36195', 'CVE-2021-28814'],
    cvss10: 100,
    kev: true,
    fixed: ['4.3.6.1750', '4.5.2.1630', '5.0.0.1716'],
    remediationHosts: ['download.qnap.com', 'update.qnap.com', 'www.qnap.com', 'eu1.qnap.com'],
    eligible: true,
    feedVersion: 2026110101,
    ...VECTOR_TIME,
  };
}

function verdictFor(status: Verdict['status'], record?: FeedRecord, key: PrivateKey = TEST_KEYS.feed): Verdict {
  return {
    nonce: NONCE,
    status,
    destination: ANYCAST_V6,
    source: DEVICE_V6,
    lifetimeSeconds: status === 'fail' ? 7 * 86400 : 30 * 86400,
    feedVersion: 2026110101,
    ...(record === undefined ? {} : { record: readFeedRecord(signFeedRecord(key, record)) }),
  };
}

const POLICY: Policy = { operator: 'Example ISP', ...VECTOR_TIME, kevOnly: true, minCvss10: 0, warnOnly: false, deny: [], allow: [] };

/** A bucket entry of at most 56 bytes (a model with a bounded range and two advisories). */
function maxEntry(i: number): BucketEntry {
  return {
    tag: bucketTag(modelHash('vendor', `model${i}`)),
    eligible: true,
    kev: true,
    cvss10: 98,
    hwVersions: [],
    ranges: { scheme: 0, intervals: [{ kind: 'range', lower: '1.0.0.10', lowerInclusive: true, upper: `2.${i % 10}.1.10`, upperInclusive: false }] },
    fixed: [`2.${i % 10}.1.10`],
    advisories: [`CVE-2024-${String(10000 + i)}`, `CVE-2023-${String(20000 + i)}`],
  };
}

function respond(body: ResponseBody, method: number = COAP_CODE.POST): Uint8Array {
  return encodeResponse(FRAME, body, method);
}

/** Every golden vector, by message type (the vector file name). */
export function goldenVectors(): Record<string, GoldenVector[]> {
  const k = TEST_KEYS;
  const dirPrefix = bucketPrefix(modelHash('dlink', 'dir859'));
  const dirEntry: BucketEntry = {
    tag: bucketTag(modelHash('dlink', 'dir859')),
    eligible: true,
    kev: true,
    cvss10: 98,
    hwVersions: [],
    ranges: DIR859_RECORD.ranges,
    fixed: ['1.06B01'],
    advisories: ['CVE-2019-17621'],
  };
  const bucket = { feedVersion: 2026110101, prefix: dirPrefix, page: 0, pages: 1, ...VECTOR_TIME, entries: [dirEntry] };
  const fullest = { feedVersion: 2026110101, prefix: Uint8Array.from([0x5a, 0x50]), page: 0, pages: 2, ...VECTOR_TIME, entries: Array.from({ length: 15 }, (_, i) => maxEntry(i)) };
  const bigPolicy: Policy = { ...POLICY, operator: 'Example Regional Broadband Cooperative', kevOnly: false, minCvss10: 90, deny: ['CVE-2024-99990', 'CVE-2024-99991', 'CVE-2024-99992'], allow: [] };
  const cert = signKeyCertificate(k.registry, {
    subject: k.collector.publicKey.raw,
    operator: 'Example ISP',
    scope: [parsePrefix('2001:db8::/32'), parsePrefix('198.51.100.0/24')],
    notBefore: VECTOR_TIME.issuedAt,
    notAfter: VECTOR_TIME.issuedAt + 7 * 86400,
  });
  const root = signRoot([k.root1, k.root2], {
    version: 1,
    threshold: 2,
    rootKeys: [k.root1.publicKey.raw, k.root2.publicKey.raw, k.root3.publicKey.raw],
    feedKeys: [k.feed.publicKey.raw],
    registryKeys: [k.registry.publicKey.raw],
    issuedAt: VECTOR_TIME.issuedAt,
  });
  const v = (name: string, description: string, direction: 'request' | 'response', bytes: Uint8Array): GoldenVector => ({ name, description, direction, bytes });
  return {
    'announcement-identified': [
      v('minimal', 'D-Link DIR-859 on 1.05B03, only the required claims', 'request', encodeRequest(IDENTIFIED, FRAME)),
      v('full', 'every optional claim, quarantined flag set', 'request', encodeRequest(FULL, FRAME)),
    ],
    'announcement-private': [
      v('page-0', 'bucket of dlink/dir859, first page', 'request', encodeRequest({ kind: 'private', nonce: NONCE, prefix: dirPrefix, page: 0 }, FRAME)),
      v('page-1', 'same bucket, second page', 'request', encodeRequest({ kind: 'private', nonce: NONCE, prefix: dirPrefix, page: 1 }, FRAME)),
    ],
    queries: [
      v('certificate', 'GET /c for the certificate of the collector key', 'request', encodeRequest({ kind: 'certificate', kid: k.collector.publicKey.kid }, FRAME)),
      v('root', 'GET /r for root version 2', 'request', encodeRequest({ kind: 'root', version: 2 }, FRAME)),
    ],
    verdict: [
      v('fail', 'signed FAIL carrying the DIR-859 feed record', 'response', respond({ kind: 'verdict', signed: encodeCbor(signVerdict(k.collector, verdictFor('fail', DIR859_RECORD))) })),
      v('fail-worst-case', 'signed FAIL whose record lists 80 exact versions: still one datagram', 'response', respond({ kind: 'verdict', signed: encodeCbor(signVerdict(k.collector, verdictFor('fail', worstCaseRecord()))) })),
      v('warn', 'signed WARN with a record that is not quarantine-eligible', 'response', respond({ kind: 'verdict', signed: encodeCbor(signVerdict(k.collector, verdictFor('warn', { ...DIR859_RECORD, eligible: false }))) })),
      v('pass-signed', 'signed PASS, as sent to a device that announced it is quarantined', 'response', respond({ kind: 'verdict', signed: encodeCbor(signVerdict(k.collector, verdictFor('pass'))) })),
      v('pass-unsigned', 'unsigned PASS to a device that is not quarantined', 'response', respond({ kind: 'unsigned-verdict', verdict: encodeUnsignedVerdict(verdictFor('pass')) })),
      v('unknown-unsigned', 'unsigned UNKNOWN: the feed does not know the model', 'response', respond({ kind: 'unsigned-verdict', verdict: encodeUnsignedVerdict(verdictFor('unknown')) })),
      v('busy', '5.03 with Max-Age 600: rate limited, retry later', 'response', respond({ kind: 'busy', retryAfterSeconds: 600 })),
    ],
    'private-answer': [
      v('one-model', 'bucket page with the DIR-859 entry, and the ISP policy', 'response', respond({ kind: 'private', nonce: NONCE, bucket: encodeCbor(signBucket(k.feed, bucket)), policy: encodeCbor(signPolicy(k.collector, POLICY)) })),
      v('fullest', '15 entries of the largest size and a long policy: still one datagram', 'response', respond({ kind: 'private', nonce: NONCE, bucket: encodeCbor(signBucket(k.feed, fullest)), policy: encodeCbor(signPolicy(k.collector, bigPolicy)) })),
    ],
    documents: [
      v('certificate', 'answer to GET /c: key certificate for the collector key, 7 days, two prefixes', 'response', respond({ kind: 'certificate', certificate: encodeCbor(cert) }, COAP_CODE.GET)),
      v('root', 'answer to GET /r: root v1, 3 root keys, threshold 2, signed by two', 'response', respond({ kind: 'root', root: encodeCbor(root) }, COAP_CODE.GET)),
      v('not-found', '4.04: no such certificate or root version', 'response', respond({ kind: 'not-found' }, COAP_CODE.GET)),
    ],
  };
}

/** Rebuilds a request datagram around a hand-made CBOR payload, padding it back to 1232 bytes. */
function withPayload(template: Uint8Array, payloadHead: Uint8Array): Uint8Array {
  const marker = template.indexOf(0xff, 12);
  const head = template.subarray(0, marker + 1);
  const padBytes = REQUEST_BYTES - head.byteLength - payloadHead.byteLength - 3;
  return concatBytes(head, payloadHead, Uint8Array.from([0x59, padBytes >> 8, padBytes & 0xff]), new Uint8Array(padBytes));
}

function bodyOf(datagram: Uint8Array): Uint8Array {
  const marker = datagram.indexOf(0xff, 12);
  // 0x84 version kind, then the body map up to the pad header 0x59.
  const payload = datagram.subarray(marker + 1);
  const padAt = payload.lastIndexOf(0x59, payload.byteLength - 257);
  return payload.subarray(3, padAt);
}

function resignWith(key: PrivateKey, header: Map<number, CborValue>, payload: Uint8Array): Uint8Array {
  const protectedBytes = encodeCbor(header);
  const signature = sign(key, sign1ToBeSigned(protectedBytes, payload));
  return encodeCbor(new CborTag(18, [protectedBytes, new Map(), payload, signature]));
}

/** Every hostile vector with the exact code it must be refused with. */
export function negativeVectors(): NegativeVector[] {
  const k = TEST_KEYS;
  const good = encodeRequest(IDENTIFIED, FRAME);
  const body = bodyOf(good);
  const n = (name: string, direction: 'request' | 'response', bytes: Uint8Array, code: ProtocolErrorCode): NegativeVector => ({ name, direction, bytes, code });
  const flip = (bytes: Uint8Array, at: number, value: number): Uint8Array => {
    const out = new Uint8Array(bytes);
    out[at] = value;
    return out;
  };
  const marker = good.indexOf(0xff, 12);
  const verdictPayload = encodeCbor(new Map<number, CborValue>([[1, 1], [2, NONCE], [3, 0], [4, ANYCAST_V6], [5, DEVICE_V6], [6, 86400], [7, 1]]));
  const okHeader = new Map<number, CborValue>([[1, -8], [4, k.collector.publicKey.kid], [16, COSE_TYP.VERDICT]]);
  const signedOk = resignWith(k.collector, okHeader, verdictPayload);
  const badSignature = flip(signedOk, signedOk.byteLength - 1, (signedOk[signedOk.byteLength - 1] ?? 0) ^ 0x01);
  const wrap = (signed: Uint8Array): Uint8Array => encodeResponse(FRAME, { kind: 'verdict', signed }, COAP_CODE.POST);
  let deep: CborValue = 1;
  for (let i = 0; i < 9; i++) deep = [deep];
  return [
    n('undersized', 'request', good.subarray(0, REQUEST_BYTES - 1), 'BAD_LENGTH'),
    n('unpadded', 'request', good.subarray(0, marker + 1 + 3 + body.byteLength + 3), 'BAD_LENGTH'),
    n('oversize', 'request', concatBytes(good, new Uint8Array(1)), 'TOO_LARGE'),
    n('coap-version-2', 'request', flip(good, 0, 0x98), 'BAD_COAP'),
    n('coap-confirmable', 'request', flip(good, 0, 0x48), 'BAD_COAP'),
    n('coap-get-to-announce', 'request', flip(good, 1, 0x01), 'BAD_COAP'),
    n('wrong-version', 'request', flip(good, marker + 2, 0x02), 'BAD_VERSION'),
    n('truncated-cbor', 'request', flip(good, marker + 3 + body.byteLength + 3, (good[marker + 3 + body.byteLength + 3] ?? 0) + 1), 'TRUNCATED'),
    n('trailing-bytes', 'request', (() => { const d = new Uint8Array(good); d[marker + 1] = 0x83; return d; })(), 'TRAILING_BYTES'),
    n('non-preferred-integer', 'request', withPayload(good, concatBytes(Uint8Array.from([0x84, 0x01, 0x18, 0x00]), body)), 'NON_CANONICAL'),
    n('keys-out-of-order', 'request', withPayload(good, Uint8Array.from([0x84, 0x01, 0x01, 0xa2, 0x3a, 0x00, 0x01, 0x00, 0x06, 0x42, 0x12, 0x30, 0x0a, 0x50, ...NONCE])), 'NON_CANONICAL'),
    n('duplicate-key', 'request', withPayload(good, Uint8Array.from([0x84, 0x01, 0x01, 0xa3, 0x0a, 0x50, ...NONCE, 0x0a, 0x50, ...NONCE, 0x3a, 0x00, 0x01, 0x00, 0x06, 0x42, 0x12, 0x30])), 'DUPLICATE_KEY'),
    n('deep-nesting', 'request', withPayload(good, concatBytes(Uint8Array.from([0x84, 0x01, 0x00]), encodeCbor(deep))), 'TOO_DEEP'),
    n('indefinite-length', 'request', withPayload(good, Uint8Array.from([0x84, 0x01, 0x01, 0xbf, 0x0a, 0x50, ...NONCE, 0xff])), 'UNSUPPORTED'),
    n('float', 'request', withPayload(good, Uint8Array.from([0x84, 0x01, 0xf9, 0x00, 0x00])), 'UNSUPPORTED'),
    n('unknown-claim', 'request', withPayload(good, Uint8Array.from([0x84, 0x01, 0x01, 0xa3, 0x0a, 0x50, ...NONCE, 0x19, 0x01, 0x00, 0x41, 0x00, 0x3a, 0x00, 0x01, 0x00, 0x06, 0x42, 0x12, 0x30])), 'UNKNOWN_KEY'),
    n('missing-nonce', 'request', withPayload(good, Uint8Array.from([0x84, 0x01, 0x01, 0xa1, 0x3a, 0x00, 0x01, 0x00, 0x06, 0x42, 0x12, 0x30])), 'MISSING_FIELD'),
    n('short-nonce', 'request', withPayload(good, Uint8Array.from([0x84, 0x01, 0x01, 0xa2, 0x0a, 0x4f, ...NONCE.subarray(1), 0x3a, 0x00, 0x01, 0x00, 0x06, 0x42, 0x12, 0x30])), 'BAD_VALUE'),
    n('non-canonical-model', 'request', encodeRequest({ ...IDENTIFIED, model: 'DIR-859' } as Request, FRAME), 'NON_CANONICAL'),
    n('nonzero-padding', 'request', flip(good, REQUEST_BYTES - 1, 0x01), 'BAD_VALUE'),
    n('bad-signature', 'response', wrap(badSignature), 'BAD_SIGNATURE'),
    n('wrong-alg', 'response', wrap(resignWith(k.collector, new Map<number, CborValue>([[1, -7], [4, k.collector.publicKey.kid], [16, COSE_TYP.VERDICT]]), verdictPayload)), 'BAD_ALG'),
    n('wrong-typ', 'response', wrap(resignWith(k.collector, new Map<number, CborValue>([[1, -8], [4, k.collector.publicKey.kid], [16, COSE_TYP.POLICY]]), verdictPayload)), 'BAD_TYP'),
    n('unprotected-header', 'response', wrap(encodeCbor(new CborTag(18, [encodeCbor(okHeader), new Map([[4, k.collector.publicKey.kid]]), verdictPayload, new Uint8Array(64)]))), 'UNKNOWN_KEY'),
    n('unsigned-fail', 'response', encodeResponse(FRAME, { kind: 'unsigned-verdict', verdict: encodeCbor(new Map<number, CborValue>([[1, 1], [2, NONCE], [3, 1], [4, ANYCAST_V6], [5, DEVICE_V6], [6, 86400], [7, 1]])) }, COAP_CODE.POST), 'MISSING_FIELD'),
    n('signed-by-raw-key-wrong-length-sig', 'response', wrap(encodeCbor(new CborTag(18, [encodeCbor(okHeader), new Map(), verdictPayload, new Uint8Array(63)]))), 'BAD_VALUE'),
  ];
}

/** The public keys a reader needs to check the signed vectors, as hex. */
export function vectorPublicKeys(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [role, key] of Object.entries(TEST_KEYS)) out[role] = toHex(key.publicKey.raw);
  return out;
}
