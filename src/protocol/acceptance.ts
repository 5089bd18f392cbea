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
import { findQuery, findRequest, isSettledFor, isWindowClosed, type NonceBook, type OutstandingRequest } from './nonce-book.ts';
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
  // Certificate answers only ([P-8.7-4]): the certificate is not for the key that was asked for.
  'CERT_KID_MISMATCH',
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
  /** Signatures already verified in this window: verified again for free ([P-8.6-2]). */
  readonly memo?: VerificationMemo;
  readonly verifier?: Sign1Verifier;
}

/** One signature that verified: the exact signed document and the key it verified under. */
export interface VerifiedSignature {
  readonly key: Uint8Array;
  readonly protectedBytes: Uint8Array;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/**
 * The signatures verified in one answer window, so that the same signed bytes under the same key
 * (a policy on every bucket page, a certificate on every answer) are charged once ([P-8.6-2]).
 * Only a verification that was charged and succeeded is added, so it holds at most as many
 * entries as the window's signature budget (16). Make one per window; `entries` is plain data.
 */
export class VerificationMemo {
  readonly #entries: VerifiedSignature[];

  constructor(entries: readonly VerifiedSignature[] = []) {
    this.#entries = [...entries];
  }

  /** The verified signatures, as plain data to keep in a state. */
  get entries(): readonly VerifiedSignature[] {
    return [...this.#entries];
  }

  /** True when exactly this document verified under `key` (raw 32 bytes) before. */
  has(sign1: Sign1, key: Uint8Array): boolean {
    return this.#entries.some((e) => equalBytes(e.key, key) && sameDocument(e, sign1));
  }

  /** True when exactly this document verified under some key before (a cost estimate only). */
  hasDocument(sign1: Sign1): boolean {
    return this.#entries.some((e) => sameDocument(e, sign1));
  }

  /** Records a verification that succeeded. */
  add(sign1: Sign1, key: Uint8Array): void {
    if (!this.has(sign1, key)) this.#entries.push({ key, protectedBytes: sign1.protectedBytes, payload: sign1.payload, signature: sign1.signature });
  }
}

function sameDocument(entry: VerifiedSignature, sign1: Sign1): boolean {
  return equalBytes(entry.signature, sign1.signature) && equalBytes(entry.protectedBytes, sign1.protectedBytes) && equalBytes(entry.payload, sign1.payload);
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
  /**
   * Private mode: the bucket page this answer carried, the bucket's page count and feed version.
   * A PASS or WARN of a bucket with more than one page is a statement about that page only: the
   * device decides with {@link combinePrivatePages} once it holds every page ([P-8.5-7]).
   */
  readonly page?: number;
  readonly pages?: number;
  readonly feedVersion?: number;
  /** The latest verified signed time seen: raise the time floor to it ([P-8.3-2]). */
  readonly signedTimeSeconds?: number;
}

/** An answer refused with its reason; `detail` is for logs (no keys, no payloads). */
export interface Refused {
  readonly accept: false;
  readonly reason: RefusalCode;
  readonly detail: string;
  /**
   * `NO_CERTIFICATE` and `CERT_EXPIRED`: the kid of the collector key whose current certificate
   * the device lacks, to ask for with a certificate query ([P-8.7-3]).
   */
  readonly kid?: Uint8Array;
}

/** The result of {@link acceptAnswer}. */
export type Acceptance = Accepted | Refused;

/** Signature verifications a complete answer costs at most: verdict/policy, certificate, record/bucket. */
export const MAX_CHECKS_PER_ANSWER = 3;

function refuse(reason: RefusalCode, detail: string, kid?: Uint8Array): Refused {
  return kid === undefined ? { accept: false, reason, detail } : { accept: false, reason, detail, kid };
}

interface Collector {
  readonly certificate: Signed<KeyCertificate>;
  readonly key: PublicKey;
  readonly issuer: PublicKey;
}

/** Cheap lookups for the collector: its certificate by kid, and that certificate's issuer. */
function findCollector(kid: Uint8Array, ctx: AcceptanceContext): Collector | Refused {
  const certificate = ctx.certificates.find((c) => equalBytes(importPublicKey(c.value.subject).kid, kid));
  if (certificate === undefined) return refuse('NO_CERTIFICATE', 'no key certificate held for the signing collector key', kid.slice());
  const issuer = keyByKid(ctx.anchors.registryKeys, certificate.sign1.kid);
  if (issuer === undefined) return refuse('CERT_ISSUER_UNKNOWN', `certificate for ${certificate.value.operator}: issuer is not a registry key of root v${ctx.anchors.root.version}`);
  return { certificate, key: importPublicKey(certificate.value.subject), issuer };
}

function verifyCounted(ctx: Pick<AcceptanceContext, 'budget' | 'memo' | 'verifier'>, sign1: Sign1, key: PublicKey): boolean {
  if (ctx.memo?.has(sign1, key.raw) === true) return true;
  ctx.budget.spend();
  const ok = (ctx.verifier ?? verifySign1)(sign1, key);
  if (ok) ctx.memo?.add(sign1, key.raw);
  return ok;
}

/** Verifications the documents will cost: those not already verified in this window. */
function costOf(ctx: Pick<AcceptanceContext, 'memo'>, documents: readonly (readonly [Sign1, PublicKey | undefined])[]): number {
  let cost = 0;
  for (const [sign1, key] of documents) {
    const known = key === undefined ? ctx.memo?.hasDocument(sign1) : ctx.memo?.has(sign1, key.raw);
    if (known !== true) cost++;
  }
  return cost;
}

/** The certificate's share of the estimate: 0 when the one held for `kid` already verified this window. */
function certificateEstimate(kid: Uint8Array, ctx: AcceptanceContext): number {
  const certificate = ctx.certificates.find((c) => equalBytes(importPublicKey(c.value.subject).kid, kid));
  return certificate === undefined ? 1 : costOf(ctx, [[certificate.sign1, undefined]]);
}

function budgetRefusal(budget: SignatureBudget): Refused {
  return refuse('SIGNATURE_BUDGET_EXHAUSTED', `${budget.used} signature checks already spent in this answer window`);
}

/** Checks the collector's certificate: signature, validity, scope (steps 12–15). */
function checkCertificate(collector: Collector, ctx: AcceptanceContext): Refused | 'verified' | 'advisory' {
  const cert = collector.certificate;
  if (!verifyCounted(ctx, cert.sign1, collector.issuer)) return refuse('CERT_BAD_SIGNATURE', 'key certificate signature does not verify under its registry key');
  const validity = checkValidity(ctx.time, cert.value);
  if (validity === 'EXPIRED') return refuse('CERT_EXPIRED', `certificate for ${cert.value.operator}: not_after ${cert.value.notAfter} ≤ now ${effectiveNow(ctx.time)}`, collector.key.kid.slice());
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
  // [P-8.6-2] the worst case, less what this window already verified (estimated by document here,
  // exactly once the keys are known below).
  const estimate = costOf(ctx, [[signed.sign1, undefined], ...(record === undefined ? [] : [[record.sign1, undefined] as const])]) + certificateEstimate(signed.sign1.kid, ctx);
  if (!ctx.budget.canAfford(Math.min(estimate, record === undefined ? 2 : MAX_CHECKS_PER_ANSWER))) return budgetRefusal(ctx.budget);
  const collector = findCollector(signed.sign1.kid, ctx);
  if ('accept' in collector) return collector;
  const feedKey = record === undefined ? undefined : keyByKid(ctx.anchors.feedKeys, record.sign1.kid);
  if (record !== undefined && feedKey === undefined) return refuse('RECORD_KEY_NOT_AUTHORISED', `feed record: signer is not a feed key of root v${ctx.anchors.root.version}`);
  const documents = [[signed.sign1, collector.key], [collector.certificate.sign1, collector.issuer], ...(record === undefined ? [] : [[record.sign1, feedKey] as const])] as const;
  if (!ctx.budget.canAfford(costOf(ctx, documents))) return budgetRefusal(ctx.budget);
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
  // [P-8.6-2] a further page of a bucket usually repeats the policy and certificate: only its page is new.
  if (!ctx.budget.canAfford(Math.min(MAX_CHECKS_PER_ANSWER, costOf(ctx, [[policy.sign1, undefined], [bucket.sign1, undefined]]) + certificateEstimate(policy.sign1.kid, ctx)))) return budgetRefusal(ctx.budget);
  const collector = findCollector(policy.sign1.kid, ctx);
  if ('accept' in collector) return collector;
  const feedKey = keyByKid(ctx.anchors.feedKeys, bucket.sign1.kid);
  if (feedKey === undefined) return refuse('RECORD_KEY_NOT_AUTHORISED', `bucket: signer is not a feed key of root v${ctx.anchors.root.version}`);
  if (!ctx.budget.canAfford(costOf(ctx, [[policy.sign1, collector.key], [collector.certificate.sign1, collector.issuer], [bucket.sign1, feedKey]]))) return budgetRefusal(ctx.budget);
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
    page: bucket.value.page,
    pages: bucket.value.pages,
    feedVersion: bucket.value.feedVersion,
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

/** What {@link acceptCertificate} needs: the window, the trust anchors, the time and the budget. */
export interface CertificateContext {
  /** The source address of the datagram carrying the answer. */
  readonly from: Uint8Array;
  /** The monotonic clock (ms), for the answer window. */
  readonly nowMs: number;
  readonly time: TimeView;
  readonly book: NonceBook;
  readonly anchors: TrustAnchors;
  readonly budget: SignatureBudget;
  readonly memo?: VerificationMemo;
  readonly verifier?: Sign1Verifier;
}

/** A certificate answer the device may keep: current, issued by a registry key, for the kid asked. */
export interface AcceptedCertificate {
  readonly accept: true;
  readonly certificate: Signed<KeyCertificate>;
  /** The kid of the certified collector key (the kid the query asked for). */
  readonly kid: Uint8Array;
  /** The token of the query answered. */
  readonly token: Uint8Array;
  /** The certificate's not_before: raise the time floor to it ([P-8.7-1]). */
  readonly signedTimeSeconds: number;
}

/**
 * Decides whether a certificate answer (kind 3) may be kept ([P-8.7-4]): it answers an outstanding
 * certificate query (token, source, open window), certifies the key that was asked for, is signed
 * by a registry key of the current root and is current (§8.3). Cheapest checks first; at most one
 * signature verification, charged to `ctx.budget`. The scope is checked later, per answer.
 * @example
 * const result = acceptCertificate(decodeResponse(datagram), { from, nowMs, time, book, anchors, budget });
 * if (result.accept) certificates = [...certificates, result.certificate];
 */
export function acceptCertificate(answer: DecodedResponse, ctx: CertificateContext): AcceptedCertificate | Refused {
  const response = answer.response;
  if (response.kind !== 'certificate') return refuse('UNEXPECTED_KIND', `a ${response.kind} answer is not a key certificate`);
  const query = findQuery(ctx.book, answer.frame.token);
  if (query === undefined) return refuse('UNKNOWN_TOKEN', 'no outstanding certificate query has this CoAP token');
  if (!equalBytes(ctx.from, query.destination)) return refuse('WRONG_SOURCE', 'the answer did not come from the address the query went to');
  if (isWindowClosed(ctx.book, ctx.nowMs)) return refuse('WINDOW_CLOSED', 'the answer window has closed');
  const certificate = response.certificate;
  const kid = importPublicKey(certificate.value.subject).kid;
  if (!equalBytes(kid, query.kid)) return refuse('CERT_KID_MISMATCH', `certificate for ${certificate.value.operator}: it certifies another key than the one asked for`);
  const issuer = keyByKid(ctx.anchors.registryKeys, certificate.sign1.kid);
  if (issuer === undefined) return refuse('CERT_ISSUER_UNKNOWN', `certificate for ${certificate.value.operator}: issuer is not a registry key of root v${ctx.anchors.root.version}`);
  if (!ctx.budget.canAfford(costOf(ctx, [[certificate.sign1, issuer]]))) return budgetRefusal(ctx.budget);
  if (!verifyCounted(ctx, certificate.sign1, issuer)) return refuse('CERT_BAD_SIGNATURE', 'key certificate signature does not verify under its registry key');
  const validity = checkValidity(ctx.time, certificate.value);
  if (validity === 'EXPIRED') return refuse('CERT_EXPIRED', `certificate for ${certificate.value.operator}: not_after ${certificate.value.notAfter} ≤ now ${effectiveNow(ctx.time)}`);
  if (validity === 'NOT_YET_VALID') return refuse('CERT_NOT_YET_VALID', `certificate for ${certificate.value.operator}: not_before ${certificate.value.notBefore} is ahead of the trusted clock`);
  return { accept: true, certificate, kid, token: query.token, signedTimeSeconds: certificate.value.notBefore };
}

const PASS_BASES: readonly PrivateBasis[] = ['MODEL_MISMATCH', 'HARDWARE_NOT_AFFECTED', 'VERSION_NOT_AFFECTED'];

/**
 * The device's decision on a whole bucket ([P-8.5-7]) from its accepted pages: `undefined` until
 * `pages` holds every page 0..n−1 of one feed version and page count (a PASS from an incomplete set
 * decides nothing). Then FAIL if a page is a FAIL; else WARN if a page is a WARN (`POLICY_DENIED`
 * when a page's basis is, else `NOT_ELIGIBLE`), with the union of their entries; else PASS with the
 * most specific basis of any page. Lifetime: the shortest; scope: `advisory` if any page's was;
 * signed time: the latest. Throws `RangeError` for an answer that is not an accepted private page.
 * @example const decision = combinePrivatePages(acceptedPages); if (decision !== undefined) act(decision);
 */
export function combinePrivatePages(pages: readonly Accepted[]): Accepted | undefined {
  const first = pages[0];
  if (first === undefined) return undefined;
  for (const p of pages) {
    if (p.mode !== 'private' || p.page === undefined || p.pages === undefined || p.feedVersion === undefined) throw new RangeError('combinePrivatePages: expected accepted private pages');
  }
  const failed = pages.find((p) => p.status === 'fail');
  if (failed !== undefined) return failed;
  const count = first.pages ?? 1;
  const sameSet = pages.every((p) => p.pages === count && p.feedVersion === first.feedVersion);
  const present = new Set(pages.map((p) => p.page));
  if (!sameSet || present.size !== count) return undefined;
  if (count === 1) return first;
  const warns = pages.filter((p) => p.status === 'warn');
  const last = pages[pages.length - 1] ?? first;
  const common = {
    accept: true,
    mode: 'private',
    signed: true,
    token: last.token,
    scopeCheck: pages.some((p) => p.scopeCheck === 'advisory') ? 'advisory' : last.scopeCheck,
    lifetimeSeconds: Math.min(...pages.map((p) => p.lifetimeSeconds)),
    ...(last.operator === undefined ? {} : { operator: last.operator }),
    signedTimeSeconds: Math.max(...pages.map((p) => p.signedTimeSeconds ?? 0)),
    page: last.page ?? 0,
    pages: count,
    feedVersion: first.feedVersion ?? 0,
  } as const;
  if (warns.length > 0) {
    const basis: PrivateBasis = warns.some((p) => p.basis === 'POLICY_DENIED') ? 'POLICY_DENIED' : 'NOT_ELIGIBLE';
    return { ...common, status: 'warn', basis, entries: warns.flatMap((p) => p.entries ?? []) };
  }
  const basis = PASS_BASES.reduce<PrivateBasis>((best, b) => (pages.some((p) => p.basis === b) ? b : best), 'MODEL_MISMATCH');
  return { ...common, status: 'pass', basis, entries: [] };
}
