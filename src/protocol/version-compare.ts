/**
 * The generic firmware version comparator (version scheme 0, docs/protocol-trust.md §8.9) and
 * range containment over the wire range sets of version-range.ts.
 * @module
 */
import { exactVersions, type RangeSet } from './version-range.ts';

/** One token of a version: a digit run, a pre-release marker, or any other letter run. */
export type VersionToken =
  | { readonly kind: 'number'; readonly digits: string }
  | { readonly kind: 'pre'; readonly rank: number }
  | { readonly kind: 'text'; readonly text: string };

/** Pre-release markers, lowest first; they sort before the release they qualify. */
export const PRE_RELEASE_RANK: Readonly<Record<string, number>> = Object.freeze({ alpha: 0, beta: 1, rc: 2 });

const TOKEN = /[0-9]+|[a-z]+/g;

/**
 * Splits a version into tokens: lower-cased, a leading `v` before a digit dropped, split at every
 * character that is neither a letter nor a digit and at every letter/digit boundary. `alpha`,
 * `beta` and `rc` right after a number token become pre-release markers.
 * @example tokenizeVersion('v1.05B03') // number 1, number 05, text b, number 03
 */
export function tokenizeVersion(version: string): VersionToken[] {
  const text = version.toLowerCase().replace(/^v(?=[0-9])/, '');
  const tokens: VersionToken[] = [];
  for (const match of text.matchAll(TOKEN)) {
    const part = match[0];
    const previous = tokens[tokens.length - 1];
    if (/^[0-9]/.test(part)) {
      // Leading zeros carry no value: '05' == '5'. Kept as text, so no precision limit.
      tokens.push({ kind: 'number', digits: part.replace(/^0+(?=.)/, '') });
    } else {
      const rank = PRE_RELEASE_RANK[part];
      tokens.push(rank !== undefined && previous?.kind === 'number' ? { kind: 'pre', rank } : { kind: 'text', text: part });
    }
  }
  return tokens;
}

const ZERO: VersionToken = { kind: 'number', digits: '0' };

// Token order at one position: pre-release < number (a missing token counts as 0) < text.
function classOf(token: VersionToken): number {
  return token.kind === 'pre' ? 0 : token.kind === 'number' ? 1 : 2;
}

function compareTokens(a: VersionToken, b: VersionToken): number {
  const d = classOf(a) - classOf(b);
  if (d !== 0) return Math.sign(d);
  if (a.kind === 'number' && b.kind === 'number') {
    if (a.digits.length !== b.digits.length) return Math.sign(a.digits.length - b.digits.length);
    return a.digits < b.digits ? -1 : a.digits > b.digits ? 1 : 0;
  }
  if (a.kind === 'pre' && b.kind === 'pre') return Math.sign(a.rank - b.rank);
  if (a.kind === 'text' && b.kind === 'text') return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
  return 0;
}

/**
 * Compares two firmware versions: −1, 0 or 1. Tokens compare left to right; digit runs
 * numerically; a missing token counts as 0, so `3.11` equals `3.11.0`; a pre-release marker sorts
 * below a number (so below the release, `1.0rc1 < 1.0`), and a letter run above one (`1.0a > 1.0`).
 * The order is total: every version is padded with the same token.
 * @example compareVersions('v3.11', '3.11.0') === 0; compareVersions('2.0rc1', '2.0') === -1
 */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  const x = tokenizeVersion(a);
  const y = tokenizeVersion(b);
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = compareTokens(x[i] ?? ZERO, y[i] ?? ZERO);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * True when `version` lies in the union of the range set's intervals (generic scheme).
 * @example rangeContains({ scheme: 0, intervals: [{ kind: 'exact', version: '1.0' }] }, 'v1.0.0') === true
 */
export function rangeContains(set: RangeSet, version: string): boolean {
  return set.intervals.some((interval) => {
    if (interval.kind !== 'range') return exactVersions(interval).some((v) => compareVersions(v, version) === 0);
    if (interval.lower !== null) {
      const d = compareVersions(version, interval.lower);
      if (d < 0 || (d === 0 && !interval.lowerInclusive)) return false;
    }
    if (interval.upper !== null) {
      const d = compareVersions(version, interval.upper);
      if (d > 0 || (d === 0 && !interval.upperInclusive)) return false;
    }
    return true;
  });
}
