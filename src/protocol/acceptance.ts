/**
 * The device's acceptance rule (docs/protocol.md §8.5): one pure function deciding whether an
 * answer may be acted on, cheapest checks first, returning the exact refusal code otherwise. No
 * single stolen key can make it accept a FAIL for a device that is not really listed.
 * @module
 */
import { equalBytes, importPublicKey, type PublicKey } from '../crypto/index.ts';
import type { Bucket, BucketEntry } from './bucket.ts';
import { bucketPrefix, bucketTag, modelHash } from './canonical.ts';
import { verifySign1, type Sign1 } from './cose.ts';
import type { FeedRecord } from './feed-record.ts';
import { prefixContains } from './ip.ts';
import type { KeyCertificate } from './key-certificate.ts';
import { findRequest, isSettledFor, isWindowClosed, type NonceBook, type OutstandingRequest } from './nonce-book.ts';
import type { Policy } from './policy.ts';
import type { DecodedResponse } from './response.ts';
import type { SignatureBudget } from './signature-budget.ts';
import type { Signed } from './signed.ts';
import { checkValidity, effectiveNow, type TimeView } from './time-floor.ts';
import { keyByKid, type TrustAnchors } from './trust-root.ts';
import { MAX_VERDICT_LIFETIME_SECONDS, type Status, type Verdict } from './verdict.ts';
import { compareVersions, rangeContains } from './version-compare.ts';

/** Every reason the acceptance rule refuses an answer, in the order the checks run ([P-8.5-2]). */
export const REFUSAL_CODES = [
  'UNEXPECTED_KIND',
  'UNKNOWN_TOKEN',
  'WRONG_SOURCE',
  'WINDOW_CLOSED',
  'MODE_MISMATCH',
  'NONCE_MISMATCH',
  'DESTINATION_MISMATCH',
  'ALREADY_SETTLED',
  'UNSIGNED_WHILE_QUARANTINED',
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
  'NOT_ELIGIBLE',
  'POLICY_DENIED',
  'MODEL_MISMATCH',
  'HARDWARE_NOT_AFFECTED',
  'VERSION_NOT_AFFECTED',
] as const;
/** A code from {@link REFUSAL_CODES}. */
export type RefusalCode = (typeof REFUSAL_CODES)[number];

/** Why a private answer's bucket does not quarantine this device (the answer itself is valid). */
export type PrivateBasis = 'MODEL_MISMATCH' | 'HARDWARE_NOT_AFFECTED' | 'VERSION_NOT_AFFECTED' | 'NOT_ELIGIBLE' | 'POLICY_DENIED';

/** The device as the acceptance rule sees it. Names are canonical ([P-4.1-1]). */
export interface DeviceIdentity {
  readonly vendor: string;
  readonly model: string;
  readonly swVersion: string;
  readonly hwVersion?: string;
  /**
   * The address the certificate scope must cover: the device's global IPv6 address, or for IPv4
   * behind NAT the WAN address learned from the gateway (PCP, NAT-PMP, UPnP IGD). Absent: the
   * scope check is advisory ([P-8.5-4]).
   */
  readonly scopeAddress?: Uint8Array;
}

/** Verifies a COSE_Sign1; injected so tests count verifications. */
export type Sign1Verifier = (sign1: Sign1, key: PublicKey) => boolean;

/** Everything the rule needs besides the answer. Read-only except `budget`, which it charges. */
export interface AcceptanceContext {
  /** The source address of the datagram carrying the answer. */
  readonly from: Uint8Array;
  /** The monotonic clock (ms), for the answer window. */
  readonly nowMs: number;
  readonly time: TimeView;
  readonly book: NonceBook;
  readonly anchors: TrustAnchors;
  /** Key certificates the device holds for collector keys (fetched with certificate queries). */
  readonly certificates: readonly Signed<KeyCertificate>[];
  readonly device: DeviceIdentity;
  readonly budget: SignatureBudget;
  readonly verifier?: Sign1Verifier;
}

/** An answer the device may act on. */
export interface Accepted {
  readonly accept: true;
  readonly mode: 'identified' | 'private';
  readonly status: Status;
  readonly signed: boolean;
  /** The token of the request answered: pass it to `settleNonceBook`. */
  readonly token: Uint8Array;
  /** 'verified': the scope covers the device's address; 'advisory': the address was unknown. */
  readonly scopeCheck: 'verified' | 'advisory' | 'not-applicable';
  /** Seconds from receipt, timed on the monotonic clock. */
  readonly lifetimeSeconds: number;
  readonly operator?: string;
  readonly record?: FeedRecord;
  /** Private mode: the bucket entries that make this device FAIL or WARN. */
  readonly entries?: readonly BucketEntry[];
  /** Private mode, no FAIL: why not. */
  readonly basis?: PrivateBasis;
  /** The latest verified signed time seen: raise the time floor to it ([P-8.3-2]). */
  readonly signedTimeSeconds?: number;
}

/** An answer refused with its reason; `detail` is for logs (no keys, no payloads). */
export interface Refused {
  readonly accept: false;
  readonly reason: RefusalCode;
  readonly detail: string;
}

/** The result of {@link acceptAnswer}. */
export type Acceptance = Accepted | Refused;

/** Signature verifications a complete answer costs at most: verdict/policy, certificate, record/bucket. */
export const MAX_CHECKS_PER_ANSWER = 3;

function refuse(reason: RefusalCode, detail: string): Refused {
  return { accept: false, reason, detail };
}

interface Collector {
  readonly certificate: Signed<KeyCertificate>;
  readonly key: PublicKey;
  readonly issuer: PublicKey;
}

/** Cheap lookups for the collector: its certificate by kid, and that certificate's issuer. */
function findCollector(kid: Uint8Array, ctx: AcceptanceContext): Collector | Refused {
  const certificate = ctx.certificates.find((c) => equalBytes(importPublicKey(c.value.subject).kid, kid));
  if (certificate === undefined) return refuse('NO_CERTIFICATE', 'no key certificate held for the signing collector key');
  const issuer = keyByKid(ctx.anchors.registryKeys, certificate.sign1.kid);
  if (issuer === undefined) return refuse('CERT_ISSUER_UNKNOWN', `certificate for ${certificate.value.operator}: issuer is not a registry key of root v${ctx.anchors.root.version}`);
  return { certificate, key: importPublicKey(certificate.value.subject), issuer };
}

function verifyCounted(ctx: AcceptanceContext, sign1: Sign1, key: PublicKey): boolean {
  ctx.budget.spend();
  return (ctx.verifier ?? verifySign1)(sign1, key);
}

/** Checks the collector's certificate: signature, validity, scope (steps 12–15). */
function checkCertificate(collector: Collector, ctx: AcceptanceContext): Refused | 'verified' | 'advisory' {
  const cert = collector.certificate;
  if (!verifyCounted(ctx, cert.sign1, collector.issuer)) return refuse('CERT_BAD_SIGNATURE', 'key certificate signature does not verify under its registry key');
  const validity = checkValidity(ctx.time, cert.value);
  if (validity === 'EXPIRED') return refuse('CERT_EXPIRED', `certificate for ${cert.value.operator}: not_after ${cert.value.notAfter} ≤ now ${effectiveNow(ctx.time)}`);
  if (validity === 'NOT_YET_VALID') return refuse('CERT_NOT_YET_VALID', `certificate for ${cert.value.operator}: not_before ${cert.value.notBefore} is ahead of the trusted clock`);
  const address = ctx.device.scopeAddress;
  if (address === undefined) return 'advisory';
  if (!cert.value.scope.some((p) => prefixContains(p, address))) return refuse('OUT_OF_SCOPE', `certificate for ${cert.value.operator}: scope does not cover the device address`);
  return 'verified';
}

/** Checks a feed document's signature under a root feed key and its validity (steps 17–19). */
function checkFeedDocument(doc: Signed<FeedRecord> | Signed<Bucket>, feedKey: PublicKey, ctx: AcceptanceContext): Refused | undefined {
  if (!verifyCounted(ctx, doc.sign1, feedKey)) return refuse('RECORD_BAD_SIGNATURE', 'feed document signature does not verify under its feed key');
  const validity = checkValidity(ctx.time, { notBefore: doc.value.issuedAt, notAfter: doc.value.expiresAt });
  if (validity === 'EXPIRED') return refuse('RECORD_EXPIRED', `feed document: expires_at ${doc.value.expiresAt} ≤ now ${effectiveNow(ctx.time)}`);
  if (validity === 'NOT_YET_VALID') return refuse('RECORD_NOT_YET_VALID', `feed document: issued_at ${doc.value.issuedAt} is ahead of the trusted clock`);
  return undefined;
}

function hardwareAffected(hwVersions: readonly string[], device: DeviceIdentity): boolean {
  if (hwVersions.length === 0) return true;
  const hw = device.hwVersion;
  return hw !== undefined && hwVersions.some((v) => compareVersions(v, hw) === 0);
}

/** Relative lifetime of a private answer: until its bucket or policy expires, capped like a verdict. */
function privateLifetime(ctx: AcceptanceContext, bucket: Bucket, policy: Policy): number {
  const until = Math.min(bucket.expiresAt, policy.expiresAt);
  return Math.max(0, Math.min(MAX_VERDICT_LIFETIME_SECONDS, until - effectiveNow(ctx.time)));
}

/** True when the ISP policy allows an entry to quarantine: it only ever narrows ([P-8.5-6]). */
export function policyAllows(policy: Policy, entry: { kev: boolean; cvss10: number | null; advisories: readonly string[] }): boolean {
  if (policy.warnOnly) return false;
  if (policy.kevOnly && !entry.kev) return false;
  if (policy.minCvss10 > 0 && (entry.cvss10 === null || entry.cvss10 < policy.minCvss10)) return false;
  const remaining = entry.advisories.filter((a) => !policy.deny.includes(a));
  if (remaining.length === 0) return false;
  return policy.allow.length === 0 || remaining.some((a) => policy.allow.includes(a));
}

function acceptVerdict(verdict: Verdict, signed: Signed<Verdict> | undefined, request: OutstandingRequest, ctx: AcceptanceContext): Acceptance {
  // Steps 6–7: the signed content must be bound to this request.
  if (!equalBytes(verdict.nonce, request.nonce)) return refuse('NONCE_MISMATCH', 'verdict nonce is not the nonce of the request with this token');
  if (!equalBytes(verdict.destination, request.destination)) return refuse('DESTINATION_MISMATCH', 'verdict destination is not where the request went');
  if (isSettledFor(ctx.book, verdict.status)) return refuse('ALREADY_SETTLED', `window already settled by ${ctx.book.settled?.status ?? '?'}: no second action`);
  const base = { accept: true, mode: 'identified', status: verdict.status, token: request.token, lifetimeSeconds: verdict.lifetimeSeconds } as const;
  if (signed === undefined) {
    // [P-8.5-7] only a signed answer may change a quarantine; a FAIL is never unsigned (codec).
    if (request.quarantined) return refuse('UNSIGNED_WHILE_QUARANTINED', 'the request asked for a signed answer (quarantined flag)');
    return { ...base, signed: false, scopeCheck: 'not-applicable' };
  }
  const record = verdict.record;
  const cost = record === undefined ? 2 : MAX_CHECKS_PER_ANSWER;
  if (!ctx.budget.canAfford(cost)) return refuse('SIGNATURE_BUDGET_EXHAUSTED', `${ctx.budget.used} signature checks already spent in this answer window`);
  const collector = findCollector(signed.sign1.kid, ctx);
  if ('accept' in collector) return collector;
  const feedKey = record === undefined ? undefined : keyByKid(ctx.anchors.feedKeys, record.sign1.kid);
  if (record !== undefined && feedKey === undefined) return refuse('RECORD_KEY_NOT_AUTHORISED', `feed record: signer is not a feed key of root v${ctx.anchors.root.version}`);
  if (!verifyCounted(ctx, signed.sign1, collector.key)) return refuse('BAD_SIGNATURE', 'verdict signature does not verify under the certified collector key');
  const scopeCheck = checkCertificate(collector, ctx);
  if (typeof scopeCheck !== 'string') return scopeCheck;
  const accepted = { ...base, signed: true, scopeCheck, operator: collector.certificate.value.operator, signedTimeSeconds: collector.certificate.value.notBefore };
  if (record === undefined || feedKey === undefined) return accepted;
  const feedProblem = checkFeedDocument(record, feedKey, ctx);
  if (feedProblem !== undefined) return feedProblem;
  const withRecord = { ...accepted, record: record.value, signedTimeSeconds: Math.max(accepted.signedTimeSeconds, record.value.issuedAt) };
  if (verdict.status !== 'fail') return withRecord;
  // Steps 20–24: the offline-signed record must really list this device.
  const r = record.value;
  if (!r.eligible) return refuse('NOT_ELIGIBLE', 'feed record is not quarantine-eligible');
  if (r.vendor !== ctx.device.vendor || r.model !== ctx.device.model) return refuse('MODEL_MISMATCH', `feed record names ${r.vendor} ${r.model}, not this device`);
  if (!hardwareAffected(r.hwVersions, ctx.device)) return refuse('HARDWARE_NOT_AFFECTED', 'feed record does not list this hardware version');
  if (!rangeContains(r.ranges, ctx.device.swVersion)) return refuse('VERSION_NOT_AFFECTED', 'feed record ranges do not contain this software version');
  return withRecord;
}

function acceptPrivate(bucket: Signed<Bucket>, policy: Signed<Policy>, request: OutstandingRequest, ctx: AcceptanceContext): Acceptance {
  if (isSettledFor(ctx.book, 'private')) return refuse('ALREADY_SETTLED', 'window already settled by a FAIL: no second action');
  if (!ctx.budget.canAfford(MAX_CHECKS_PER_ANSWER)) return refuse('SIGNATURE_BUDGET_EXHAUSTED', `${ctx.budget.used} signature checks already spent in this answer window`);
  const collector = findCollector(policy.sign1.kid, ctx);
  if ('accept' in collector) return collector;
  const feedKey = keyByKid(ctx.anchors.feedKeys, bucket.sign1.kid);
  if (feedKey === undefined) return refuse('RECORD_KEY_NOT_AUTHORISED', `bucket: signer is not a feed key of root v${ctx.anchors.root.version}`);
  if (!verifyCounted(ctx, policy.sign1, collector.key)) return refuse('BAD_SIGNATURE', 'policy signature does not verify under the certified collector key');
  const scopeCheck = checkCertificate(collector, ctx);
  if (typeof scopeCheck !== 'string') return scopeCheck;
  if (checkValidity(ctx.time, { notBefore: policy.value.issuedAt, notAfter: policy.value.expiresAt }) !== undefined) {
    return refuse('POLICY_EXPIRED', `policy of ${policy.value.operator}: not valid now`);
  }
  const feedProblem = checkFeedDocument(bucket, feedKey, ctx);
  if (feedProblem !== undefined) return feedProblem;
  const hash = modelHash(ctx.device.vendor, ctx.device.model);
  if (!equalBytes(bucket.value.prefix, bucketPrefix(hash))) return refuse('WRONG_BUCKET', 'bucket prefix is not the prefix of this device');
  const result = (status: Status, basis?: PrivateBasis, entries: readonly BucketEntry[] = []): Accepted => ({
    accept: true,
    mode: 'private',
    status,
    signed: true,
    token: request.token,
    scopeCheck,
    lifetimeSeconds: privateLifetime(ctx, bucket.value, policy.value),
    operator: collector.certificate.value.operator,
    entries,
    signedTimeSeconds: Math.max(collector.certificate.value.notBefore, bucket.value.issuedAt),
    ...(basis === undefined ? {} : { basis }),
  });
  // The device decides alone ([P-8.5-8]): entries for its tag, hardware and version, then eligibility and policy.
  const tag = bucketTag(hash);
  const listed = bucket.value.entries.filter((e) => equalBytes(e.tag, tag));
  if (listed.length === 0) return result('pass', 'MODEL_MISMATCH');
  const hw = listed.filter((e) => hardwareAffected(e.hwVersions, ctx.device));
  if (hw.length === 0) return result('pass', 'HARDWARE_NOT_AFFECTED');
  const affected = hw.filter((e) => rangeContains(e.ranges, ctx.device.swVersion));
  if (affected.length === 0) return result('pass', 'VERSION_NOT_AFFECTED');
  const eligible = affected.filter((e) => e.eligible);
  if (eligible.length === 0) return result('warn', 'NOT_ELIGIBLE', affected);
  const allowed = eligible.filter((e) => policyAllows(policy.value, e));
  if (allowed.length === 0) return result('warn', 'POLICY_DENIED', affected);
  return result('fail', undefined, allowed);
}

/**
 * Decides whether the device may act on an answer ([P-8.5-1]). Cheap checks run first (kind,
 * token, source address, window, mode, nonce, settlement), then the signature budget, then the
 * signatures and content. Charges `ctx.budget` one unit per signature verified, and never more
 * than 3 per answer. Identified answers are accepted with their status; private answers with the
 * status the device derives from its bucket entry (and `basis` when it is not a FAIL).
 * @example
 * const result = acceptAnswer(decodeResponse(datagram), { from, nowMs, time, book, anchors, certificates, device, budget });
 * if (result.accept) book = settleNonceBook(book, { status: result.status, token: result.token }).book;
 */
export function acceptAnswer(answer: DecodedResponse, ctx: AcceptanceContext): Acceptance {
  const response = answer.response;
  if (response.kind !== 'verdict' && response.kind !== 'unsigned-verdict' && response.kind !== 'private') {
    return refuse('UNEXPECTED_KIND', `a ${response.kind} answer is not an answer to an announcement`);
  }
  const request = findRequest(ctx.book, answer.frame.token);
  if (request === undefined) return refuse('UNKNOWN_TOKEN', 'no outstanding request has this CoAP token');
  if (!equalBytes(ctx.from, request.destination)) return refuse('WRONG_SOURCE', 'the answer did not come from the address the request went to');
  if (isWindowClosed(ctx.book, ctx.nowMs)) return refuse('WINDOW_CLOSED', 'the answer window has closed');
  const mode = response.kind === 'private' ? 'private' : 'identified';
  if (mode !== request.mode) return refuse('MODE_MISMATCH', `a ${mode} answer to a ${request.mode} request`);
  switch (response.kind) {
    case 'verdict':
      return acceptVerdict(response.verdict.value, response.verdict, request, ctx);
    case 'unsigned-verdict':
      return acceptVerdict(response.verdict, undefined, request, ctx);
    case 'private':
      if (!equalBytes(response.nonce, request.nonce)) return refuse('NONCE_MISMATCH', 'private answer nonce is not the nonce of the request with this token');
      return acceptPrivate(response.bucket, response.policy, request, ctx);
  }
}
