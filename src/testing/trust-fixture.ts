/**
 * Scenario builder for the acceptance rule's tests (tests only): a device, a root, a collector
 * with a certificate, and an answer, each condition of the rule switchable to its failing value.
 * @module
 */
import { DIR859_RECORD } from './vector-cases.ts';
import type { PrivateKey } from '../crypto/index.ts';
import type { AcceptanceContext, RefusalCode } from '../protocol/acceptance.ts';
import { bucketPrefix, bucketTag, modelHash } from '../protocol/canonical.ts';
import { CborTag, decodeCbor, encodeCbor, type CborValue } from '../protocol/cbor.ts';
import { COAP_CODE } from '../protocol/coap.ts';
import { signBucket, type BucketEntry } from '../protocol/bucket.ts';
import { readFeedRecord, signFeedRecord, type FeedRecord } from '../protocol/feed-record.ts';
import { parseIp, parsePrefix } from '../protocol/ip.ts';
import { readKeyCertificate, signKeyCertificate } from '../protocol/key-certificate.ts';
import { addRequest, openNonceBook, type NonceBook } from '../protocol/nonce-book.ts';
import { signPolicy, type Policy } from '../protocol/policy.ts';
import { decodeResponse, encodeResponse, type DecodedResponse } from '../protocol/response.ts';
import type { Root } from '../protocol/root.ts';
import { SignatureBudget } from '../protocol/signature-budget.ts';
import { trustAnchorsOf } from '../protocol/trust-root.ts';
import { signVerdict, type Status } from '../protocol/verdict.ts';
import { TRUST_KEYS } from './trust-keys.ts';

/** Wall-clock "now" of every scenario: 2023-11-14T22:13:20Z. */
export const NOW = 1_700_000_000;
/** Monotonic clock at the start of the window. */
export const T0_MS = 5_000;
export const DEVICE_ADDRESS = parse('2001:db8:1::7');
export const COLLECTOR_ADDRESS = parse('2001:db8:ffff::1');
export const OTHER_ADDRESS = parse('2001:db8:6666::1');
export const TOKEN = new Uint8Array(8).fill(0x42);
export const NONCE = new Uint8Array(16).fill(0x17);

function parse(text: string): Uint8Array {
  const a = parseIp(text);
  if (a === undefined) throw new RangeError(text);
  return a;
}

/** The shipped root of every scenario: root keys 1..3, threshold 2, one feed and one registry key. */
export const ROOT: Root = {
  version: 1,
  threshold: 2,
  rootKeys: TRUST_KEYS.root.slice(0, 3).map((k) => k.publicKey.raw),
  feedKeys: [TRUST_KEYS.feed.publicKey.raw],
  registryKeys: [TRUST_KEYS.registry.publicKey.raw],
  issuedAt: NOW - 365 * 86_400,
};

/** The device: a D-Link DIR-859 on a vulnerable build. */
export const DEVICE = { vendor: 'dlink', model: 'dir859', swVersion: '1.05B03', hwVersion: 'A1', scopeAddress: DEVICE_ADDRESS } as const;

/** The record listing the device (eligible, KEV). */
export function deviceRecord(overrides: Partial<FeedRecord> = {}): FeedRecord {
  return {
    ...DIR859_RECORD,
    hwVersions: ['A1'],
    advisories: ['CVE-2019-17621'],
    feedVersion: 42,
    issuedAt: NOW - 3_600,
    expiresAt: NOW + 30 * 86_400,
    ...overrides,
  };
}

/** Conditions of an identified FAIL, named by the refusal each one's failure must produce. */
export const IDENTIFIED_CONDITIONS = [
  'UNKNOWN_TOKEN',
  'WRONG_SOURCE',
  'WINDOW_CLOSED',
  'MODE_MISMATCH',
  'NONCE_MISMATCH',
  'DESTINATION_MISMATCH',
  'ALREADY_SETTLED',
  'SIGNATURE_BUDGET_EXHAUSTED',
  'NO_CERTIFICATE',
  'CERT_ISSUER_UNKNOWN',
  'RECORD_KEY_NOT_AUTHORISED',
  'BAD_SIGNATURE',
  'CERT_BAD_SIGNATURE',
  'CERT_EXPIRED',
  'CERT_NOT_YET_VALID',
  'OUT_OF_SCOPE',
  'RECORD_BAD_SIGNATURE',
  'RECORD_EXPIRED',
  'RECORD_NOT_YET_VALID',
  'NOT_ELIGIBLE',
  'MODEL_MISMATCH',
  'HARDWARE_NOT_AFFECTED',
  'VERSION_NOT_AFFECTED',
] as const satisfies readonly RefusalCode[];
/** One condition of {@link IDENTIFIED_CONDITIONS}. */
export type IdentifiedCondition = (typeof IDENTIFIED_CONDITIONS)[number];

/** Conditions of a private FAIL: refusals, then the bases that turn it into a PASS or WARN. */
export const PRIVATE_CONDITIONS = [
  'UNKNOWN_TOKEN',
  'WRONG_SOURCE',
  'WINDOW_CLOSED',
  'MODE_MISMATCH',
  'NONCE_MISMATCH',
  'ALREADY_SETTLED',
  'SIGNATURE_BUDGET_EXHAUSTED',
  'NO_CERTIFICATE',
  'CERT_ISSUER_UNKNOWN',
  'RECORD_KEY_NOT_AUTHORISED',
  'BAD_SIGNATURE',
  'CERT_BAD_SIGNATURE',
  'CERT_EXPIRED',
  'CERT_NOT_YET_VALID',
  'OUT_OF_SCOPE',
  'POLICY_EXPIRED',
  'RECORD_BAD_SIGNATURE',
  'RECORD_EXPIRED',
  'RECORD_NOT_YET_VALID',
  'WRONG_BUCKET',
  'MODEL_MISMATCH',
  'HARDWARE_NOT_AFFECTED',
  'VERSION_NOT_AFFECTED',
  'NOT_ELIGIBLE',
  'POLICY_DENIED',
] as const satisfies readonly RefusalCode[];
/** One condition of {@link PRIVATE_CONDITIONS}. */
export type PrivateCondition = (typeof PRIVATE_CONDITIONS)[number];

/** Pairs that cannot fail together (one validity period cannot be both past and future). */
export const EXCLUSIVE_PAIRS: readonly (readonly [RefusalCode, RefusalCode])[] = [
  ['CERT_EXPIRED', 'CERT_NOT_YET_VALID'],
  ['RECORD_EXPIRED', 'RECORD_NOT_YET_VALID'],
];

/** A tagged COSE_Sign1 or COSE_Sign1-like tag with the first signature byte flipped. */
export function tamperSignature(tag: CborTag): CborTag {
  const items = tag.value as readonly CborValue[];
  const signature = new Uint8Array(items[3] as Uint8Array);
  signature[0] = (signature[0] ?? 0) ^ 0x01;
  return new CborTag(tag.tag, [items[0] as CborValue, items[1] as CborValue, items[2] as CborValue, signature]);
}

/** The request book of the scenarios: one identified or private request, optionally settled. */
export function scenarioBook(options: { mode?: 'identified' | 'private'; quarantined?: boolean; settled?: Status } = {}): NonceBook {
  const book = addRequest(openNonceBook(T0_MS), {
    attempt: 0,
    destination: COLLECTOR_ADDRESS,
    token: TOKEN,
    nonce: NONCE,
    mode: options.mode ?? 'identified',
    quarantined: options.quarantined ?? false,
  });
  return options.settled === undefined ? book : { ...book, settled: { status: options.settled, token: TOKEN } };
}

/** The collector's certificate, valid now, scoped to 2001:db8:1::/48 and 192.0.2.0/24. */
export function collectorCertificate(options: { issuer?: PrivateKey; subject?: PrivateKey; notBefore?: number; notAfter?: number; scope?: string[]; tamper?: boolean } = {}): CborTag {
  const tag = signKeyCertificate(options.issuer ?? TRUST_KEYS.registry, {
    subject: (options.subject ?? TRUST_KEYS.collector).publicKey.raw,
    operator: 'Example ISP',
    scope: (options.scope ?? ['2001:db8:1::/48', '192.0.2.0/24']).map(parsePrefix),
    notBefore: options.notBefore ?? NOW - 86_400,
    notAfter: options.notAfter ?? NOW + 6 * 86_400,
  });
  return options.tamper === true ? tamperSignature(tag) : tag;
}

/** Encodes `response` as a datagram answering the scenario request and decodes it, as a device would. */
export function roundTrip(body: Parameters<typeof encodeResponse>[1], token: Uint8Array = TOKEN): DecodedResponse {
  return decodeResponse(encodeResponse({ messageId: 7, token }, body, COAP_CODE.POST));
}

function baseContext(has: (c: RefusalCode) => boolean, book: NonceBook): AcceptanceContext {
  const certificate = collectorCertificate({
    ...(has('CERT_ISSUER_UNKNOWN') ? { issuer: TRUST_KEYS.attacker } : {}),
    ...(has('CERT_EXPIRED') ? { notBefore: NOW - 8 * 86_400, notAfter: NOW - 86_400 } : {}),
    ...(has('CERT_NOT_YET_VALID') ? { notBefore: NOW + 86_400, notAfter: NOW + 2 * 86_400 } : {}),
    ...(has('OUT_OF_SCOPE') ? { scope: ['2001:db8:9::/48'] } : {}),
    tamper: has('CERT_BAD_SIGNATURE'),
  });
  return {
    from: has('WRONG_SOURCE') ? OTHER_ADDRESS : COLLECTOR_ADDRESS,
    nowMs: has('WINDOW_CLOSED') ? book.closesAtMs : T0_MS + 200,
    time: { floorSeconds: NOW - 86_400, wallSeconds: NOW },
    book,
    anchors: trustAnchorsOf(ROOT),
    certificates: has('NO_CERTIFICATE') ? [] : [readKeyCertificate(decodeCbor(encodeCbor(certificate)))],
    device: DEVICE,
    budget: new SignatureBudget(has('SIGNATURE_BUDGET_EXHAUSTED') ? 2 : undefined),
  };
}

/** An identified FAIL answer and its context, with the conditions in `failing` made false. */
export function identifiedScenario(failing: Iterable<IdentifiedCondition> = []): { answer: DecodedResponse; ctx: AcceptanceContext } {
  const set = new Set<RefusalCode>(failing);
  const has = (c: RefusalCode): boolean => set.has(c);
  const record = deviceRecord({
    ...(has('RECORD_EXPIRED') ? { issuedAt: NOW - 40 * 86_400, expiresAt: NOW - 86_400 } : {}),
    ...(has('RECORD_NOT_YET_VALID') ? { issuedAt: NOW + 86_400, expiresAt: NOW + 30 * 86_400 } : {}),
    ...(has('NOT_ELIGIBLE') ? { eligible: false } : {}),
    ...(has('MODEL_MISMATCH') ? { model: 'dir860l' } : {}),
    ...(has('HARDWARE_NOT_AFFECTED') ? { hwVersions: ['B1'] } : {}),
    ...(has('VERSION_NOT_AFFECTED') ? { ranges: { scheme: 0, intervals: [{ kind: 'range', lower: null, lowerInclusive: false, upper: '1.05b01', upperInclusive: false }] } } : {}),
  });
  let recordTag = signFeedRecord(has('RECORD_KEY_NOT_AUTHORISED') ? TRUST_KEYS.attacker : TRUST_KEYS.feed, record);
  if (has('RECORD_BAD_SIGNATURE')) recordTag = tamperSignature(recordTag);
  let verdictTag = signVerdict(TRUST_KEYS.collector, {
    nonce: has('NONCE_MISMATCH') ? new Uint8Array(16).fill(0x99) : NONCE,
    status: 'fail',
    destination: has('DESTINATION_MISMATCH') ? OTHER_ADDRESS : COLLECTOR_ADDRESS,
    source: DEVICE_ADDRESS,
    lifetimeSeconds: 86_400,
    feedVersion: 42,
    record: readFeedRecord(recordTag),
  });
  if (has('BAD_SIGNATURE')) verdictTag = tamperSignature(verdictTag);
  const answer = roundTrip({ kind: 'verdict', signed: encodeCbor(verdictTag) }, has('UNKNOWN_TOKEN') ? new Uint8Array(8).fill(0x43) : TOKEN);
  const book = scenarioBook({ mode: has('MODE_MISMATCH') ? 'private' : 'identified', ...(has('ALREADY_SETTLED') ? { settled: 'fail' } : {}) });
  return { answer, ctx: baseContext(has, book) };
}

/** The scenario ISP policy: allows everything, valid for a day. */
export function scenarioPolicy(overrides: Partial<Policy> = {}): Policy {
  return { operator: 'Example ISP', issuedAt: NOW - 3_600, expiresAt: NOW + 86_400, kevOnly: false, minCvss10: 0, warnOnly: false, deny: [], allow: [], ...overrides };
}

/** A private answer (bucket + policy) and its context, with the conditions in `failing` made false. */
export function privateScenario(failing: Iterable<PrivateCondition> = []): { answer: DecodedResponse; ctx: AcceptanceContext } {
  const set = new Set<RefusalCode>(failing);
  const has = (c: RefusalCode): boolean => set.has(c);
  const hash = modelHash(DEVICE.vendor, DEVICE.model);
  const otherHash = modelHash('dlink', 'dir860l');
  const entry: BucketEntry = {
    tag: has('MODEL_MISMATCH') ? bucketTag(otherHash) : bucketTag(hash),
    eligible: !has('NOT_ELIGIBLE'),
    kev: true,
    cvss10: 98,
    hwVersions: has('HARDWARE_NOT_AFFECTED') ? ['B1'] : ['A1'],
    ranges: { scheme: 0, intervals: [{ kind: 'range', lower: null, lowerInclusive: false, upper: has('VERSION_NOT_AFFECTED') ? '1.05b01' : '1.06b01', upperInclusive: false }] },
    fixed: ['1.06B01'],
    advisories: ['CVE-2019-17621'],
  };
  let prefix = bucketPrefix(hash);
  if (has('WRONG_BUCKET')) prefix = new Uint8Array([(prefix[0] ?? 0) ^ 0x80, prefix[1] ?? 0]);
  let bucketTagged = signBucket(has('RECORD_KEY_NOT_AUTHORISED') ? TRUST_KEYS.attacker : TRUST_KEYS.feed, {
    feedVersion: 42,
    prefix,
    page: 0,
    pages: 1,
    issuedAt: has('RECORD_NOT_YET_VALID') ? NOW + 86_400 : has('RECORD_EXPIRED') ? NOW - 40 * 86_400 : NOW - 3_600,
    expiresAt: has('RECORD_EXPIRED') ? NOW - 86_400 : NOW + 7 * 86_400,
    entries: [entry],
  });
  if (has('RECORD_BAD_SIGNATURE')) bucketTagged = tamperSignature(bucketTagged);
  let policyTag = signPolicy(TRUST_KEYS.collector, scenarioPolicy({
    ...(has('POLICY_EXPIRED') ? { issuedAt: NOW - 2 * 86_400, expiresAt: NOW - 60 } : {}),
    ...(has('POLICY_DENIED') ? { deny: ['CVE-2019-17621'] } : {}),
  }));
  if (has('BAD_SIGNATURE')) policyTag = tamperSignature(policyTag);
  const answer = roundTrip({ kind: 'private', nonce: has('NONCE_MISMATCH') ? new Uint8Array(16).fill(0x99) : NONCE, bucket: encodeCbor(bucketTagged), policy: encodeCbor(policyTag) }, has('UNKNOWN_TOKEN') ? new Uint8Array(8).fill(0x43) : TOKEN);
  const book = scenarioBook({ mode: has('MODE_MISMATCH') ? 'identified' : 'private', ...(has('ALREADY_SETTLED') ? { settled: 'fail' } : {}) });
  return { answer, ctx: baseContext(has, book) };
}
