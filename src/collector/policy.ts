/**
 * The ISP's quarantine policy on the collector: its configuration type, how it narrows the feed's
 * verdict (never widens it), the signed policy document of private answers and when to re-sign.
 * @module
 */
import type { BundleRecord } from '../feed/bundle.ts';
import {
  MAX_VERDICT_LIFETIME_SECONDS,
  policyAllows,
  prefixContains,
  type IpPrefix,
  type Policy,
  type Status,
} from '../protocol/index.ts';
import type { FeedMatch } from './feed-index.ts';

/** Verdict lifetimes per status, in seconds (each at most 45 days, [P-6.1] key 6). */
export interface VerdictLifetimes {
  readonly pass: number;
  readonly fail: number;
  readonly warn: number;
  readonly unknown: number;
}

/** The operator's policy as configured (the config loader builds it). */
export interface CollectorPolicy {
  /** Quarantine only for records in CISA KEV. */
  readonly kevOnly: boolean;
  /** Quarantine only at or above this CVSS × 10 (0: any). */
  readonly minCvss10: number;
  /** Advisories that must never cause a quarantine (circuit breaker), at most 16. */
  readonly deny: readonly string[];
  /** If non-empty, only these advisories may cause a quarantine, at most 16. */
  readonly allow: readonly string[];
  /** Never quarantine: WARN where the feed would allow a FAIL. */
  readonly warnOnly: boolean;
  /** Source prefixes that never get a FAIL (they get WARN instead). */
  readonly exemptPrefixes: readonly IpPrefix[];
  readonly verdictLifetimes: VerdictLifetimes;
  /** Validity of each signed policy document, seconds. */
  readonly policyLifetimeSeconds: number;
  /** Re-sign the policy document when less than this is left of its validity, seconds. */
  readonly policyRenewBeforeSeconds: number;
}

/**
 * Defaults: quarantine for every eligible record; verdicts live a day (a FAIL 7 days, renewed by
 * the device's more frequent announcements while quarantined); the policy document is valid for
 * a day and re-signed with an hour left.
 */
export const COLLECTOR_POLICY_DEFAULTS: CollectorPolicy = Object.freeze({
  kevOnly: false,
  minCvss10: 0,
  deny: [],
  allow: [],
  warnOnly: false,
  exemptPrefixes: [],
  verdictLifetimes: Object.freeze({ pass: 86_400, fail: 7 * 86_400, warn: 86_400, unknown: 3_600 }),
  policyLifetimeSeconds: 86_400,
  policyRenewBeforeSeconds: 3_600,
});

/** The outcome of policy: the status on the wire and the record it carries (FAIL, WARN). */
export interface PolicyDecision {
  readonly status: Status;
  readonly record?: BundleRecord;
}

/** Throws `RangeError` naming the field when a policy cannot be used (a configuration bug). */
export function assertCollectorPolicy(policy: CollectorPolicy): void {
  if (!Number.isSafeInteger(policy.minCvss10) || policy.minCvss10 < 0 || policy.minCvss10 > 100) throw new RangeError('policy minCvss10: expected an integer 0..100');
  if (policy.deny.length > 16 || policy.allow.length > 16) throw new RangeError('policy deny/allow: at most 16 advisories each ([P-6.4])');
  for (const [status, seconds] of Object.entries(policy.verdictLifetimes)) {
    if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds > MAX_VERDICT_LIFETIME_SECONDS) throw new RangeError(`policy verdictLifetimes.${status}: expected 0..${MAX_VERDICT_LIFETIME_SECONDS} seconds`);
  }
  if (!Number.isSafeInteger(policy.policyLifetimeSeconds) || policy.policyLifetimeSeconds < 1) throw new RangeError('policy policyLifetimeSeconds: expected a positive integer');
  if (!Number.isSafeInteger(policy.policyRenewBeforeSeconds) || policy.policyRenewBeforeSeconds < 0 || policy.policyRenewBeforeSeconds >= policy.policyLifetimeSeconds) {
    throw new RangeError('policy policyRenewBeforeSeconds: expected 0 ≤ renew-before < policy lifetime');
  }
}

/** True when `source` lies in one of the policy's exempt prefixes. */
export function isExempt(policy: CollectorPolicy, source: Uint8Array): boolean {
  return policy.exemptPrefixes.some((p) => prefixContains(p, source));
}

/**
 * The policy document's values ([P-6.4]) issued at `nowSeconds`. Its rules are the ones
 * {@link applyPolicy} applies, so identified and private answers quarantine alike.
 * @example signPolicy(collectorKey, policyDocument(policy, { operator: 'Example ISP', nowSeconds }))
 */
export function policyDocument(policy: CollectorPolicy, options: { operator: string; nowSeconds: number }): Policy {
  return {
    operator: options.operator,
    issuedAt: options.nowSeconds,
    expiresAt: options.nowSeconds + policy.policyLifetimeSeconds,
    kevOnly: policy.kevOnly,
    minCvss10: policy.minCvss10,
    warnOnly: policy.warnOnly,
    deny: [...policy.deny],
    allow: [...policy.allow],
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * True when the cached signed policy must be replaced: none yet, its content differs from the
 * configured policy (or operator), or less than `policyRenewBeforeSeconds` of it is left.
 */
export function needsResign(cached: Policy | undefined, policy: CollectorPolicy, options: { operator: string; nowSeconds: number }): boolean {
  if (cached === undefined) return true;
  if (cached.expiresAt - options.nowSeconds <= policy.policyRenewBeforeSeconds) return true;
  // A clock that went back before the document's issue time: re-issue rather than serve a
  // document a device with a trusted clock would call not yet valid.
  if (cached.issuedAt > options.nowSeconds) return true;
  return (
    cached.operator !== options.operator ||
    cached.kevOnly !== policy.kevOnly ||
    cached.minCvss10 !== policy.minCvss10 ||
    cached.warnOnly !== policy.warnOnly ||
    !sameList(cached.deny, policy.deny) ||
    !sameList(cached.allow, policy.allow)
  );
}

/**
 * Applies the ISP's policy to the feed's verdict. It only narrows ([P-6.1-2], [P-8.5-5]): a FAIL
 * stays a FAIL only for an eligible record the policy allows and a source that is not exempt,
 * and becomes a WARN otherwise; every other status passes through unchanged.
 * @example applyPolicy(lookupVerdict(index, announcement), { policy, source }).status
 */
export function applyPolicy(match: FeedMatch, context: { policy: CollectorPolicy; source: Uint8Array }): PolicyDecision {
  const first = match.matches[0];
  switch (match.status) {
    case 'pass':
    case 'unknown':
      return { status: match.status };
    case 'warn':
      return first === undefined ? { status: 'warn' } : { status: 'warn', record: first };
    case 'fail':
      break;
  }
  const rules = policyDocument(context.policy, { operator: '-', nowSeconds: 0 });
  if (!isExempt(context.policy, context.source)) {
    // The device-side check of private answers, so both forms decide alike.
    const allowed = match.matches.find((r) => r.record.eligible && policyAllows(rules, r.record));
    if (allowed !== undefined) return { status: 'fail', record: allowed };
  }
  return first === undefined ? { status: 'warn' } : { status: 'warn', record: first };
}
