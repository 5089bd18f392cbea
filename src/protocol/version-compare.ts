/**
 * The generic firmware version comparator (version scheme 0, docs/protocol.md §8.9, rules and
 * vectors in docs/protocol.md §8.9) and range containment over the range sets of version-range.ts.
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

/**
 * Words that only separate a build or update number from the version before it ([P-8.9-4]):
 * QNAP `4.3.6.1333 build 20200702`, Hikvision `V5.4.5 build 170123` (also written
 * `V5.4.5_170123`), FortiOS `7.2.4 build1396`, Synology `7.1.1-42962 Update 5` (also written
 * `7.1.1-42962-5`). They are dropped, so each spelling compares like the punctuated form.
 */
export const SEPARATOR_WORDS: ReadonlySet<string> = new Set(['build', 'update']);

/**
 * A dotted release followed by a build or update number is padded to this many components before
 * the build ([P-8.9-5]), so the build number never lines up with a missing patch component:
 * Synology `7.0-41890` (build 41890 of 7.0) < `7.0.1-42218`. Four covers the widest release part
 * seen with a build suffix (QNAP `4.3.6.1333 build 20200702`, Netgear `1.0.0.62_10.1.66`).
 */
export const RELEASE_WIDTH = 4;

const TOKEN = /[0-9]+|[a-z]+/g;
const DIGIT = /[0-9]/;
const RELEASE = /^[0-9]+(?:\.[0-9]+)*/;
// What introduces a build or update number right after the dotted release: a separator word
// (`build`, `update`, any punctuation around it), a bare `-` or `_`, or a `b` (`1.04b12`, `2.05.b10`).
const BUILD_INTRODUCER = /^(?:[^a-z0-9]*(?:build|update)[^a-z0-9]*|[-_]|[._\- ]?b)(?=[0-9])/;

function isDigitAt(text: string, index: number): boolean {
  const c = text[index];
  return c !== undefined && DIGIT.test(c);
}

// D-Link `2.60b02`, `1.04B12`, `2.05.b10`: a lone b glued to a following digit and preceded by a
// digit (directly or across one `.`, `_`, `-` or space) numbers a build; it is not a beta.
function isBuildB(text: string, at: number): boolean {
  if (!isDigitAt(text, at + 1)) return false;
  if (isDigitAt(text, at - 1)) return true;
  const c = text[at - 1];
  return c !== undefined && '._- '.includes(c) && isDigitAt(text, at - 2);
}

function numberToken(digits: string): VersionToken {
  // Leading zeros carry no value: '05' == '5'. Kept as text, so no precision limit.
  return { kind: 'number', digits: digits.replace(/^0+(?=.)/, '') };
}

// [P-8.9-1] A prefix before the first digit: words each followed by punctuation or a space
// (`QTS `, `DSM `, `AXIS OS `, airOS `XW.`) and then an optional `v`/`ver`/`version` glued to the
// number. A letter glued to a digit is kept otherwise: hardware revisions `A1` and `B1` differ.
const PREFIX = /^[^a-z0-9]*(?:[a-z]+[^a-z0-9]+)*(?:v(?:er(?:sion)?)?[^a-z0-9]?)?(?=[0-9])/;

/**
 * Splits a version into tokens ([P-8.9-1], [P-8.9-4], [P-8.9-5]): lower-cased; a prefix of words
 * (`QTS `, `DSM `) and a `v` before the first digit dropped; split at every character that is
 * neither an ASCII letter nor a digit and at every letter/digit boundary. The words `build` and
 * `update` and a `b` glued between digits (D-Link `1.04b12`) only introduce a build number and
 * vanish; when one (or a bare `-`/`_` before a digit) follows the leading dotted release, the
 * release is padded with zeros to {@link RELEASE_WIDTH} numbers first. `alpha`, `beta` and `rc`
 * right after a number token become pre-release markers.
 * @example tokenizeVersion('v1.05B03') // numbers 1, 5, 0, 0, 3
 */
export function tokenizeVersion(version: string): VersionToken[] {
  const lower = version.toLowerCase();
  const text = lower.slice(PREFIX.exec(lower)?.[0].length ?? 0);
  const release = RELEASE.exec(text)?.[0] ?? '';
  const tokens: VersionToken[] = release === '' ? [] : release.split('.').map(numberToken);
  const introducer = release === '' ? null : BUILD_INTRODUCER.exec(text.slice(release.length));
  if (introducer !== null) while (tokens.length < RELEASE_WIDTH) tokens.push(numberToken('0'));
  const restAt = release.length + (introducer?.[0].length ?? 0);
  for (const match of text.slice(restAt).matchAll(TOKEN)) {
    const part = match[0];
    if (DIGIT.test(part)) {
      tokens.push(numberToken(part));
      continue;
    }
    if (SEPARATOR_WORDS.has(part) || (part === 'b' && isBuildB(text, restAt + match.index))) continue;
    const rank = PRE_RELEASE_RANK[part];
    const previous = tokens[tokens.length - 1];
    tokens.push(rank !== undefined && previous?.kind === 'number' ? { kind: 'pre', rank } : { kind: 'text', text: part });
  }
  return tokens;
}

const ZERO: VersionToken = { kind: 'number', digits: '0' };

// Token order at one position: pre-release < number (a missing token counts as 0) < text.
function classOf(token: VersionToken): number {
  return token.kind === 'pre' ? 0 : token.kind === 'number' ? 1 : 2;
}

/** Compares two tokens under [P-8.9-2]: −1, 0 or 1. */
export function compareVersionTokens(a: VersionToken, b: VersionToken): -1 | 0 | 1 {
  const d = classOf(a) - classOf(b);
  if (d !== 0) return d < 0 ? -1 : 1;
  if (a.kind === 'number' && b.kind === 'number') {
    if (a.digits.length !== b.digits.length) return a.digits.length < b.digits.length ? -1 : 1;
    return a.digits < b.digits ? -1 : a.digits > b.digits ? 1 : 0;
  }
  if (a.kind === 'pre' && b.kind === 'pre') return a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0;
  if (a.kind === 'text' && b.kind === 'text') return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
  return 0;
}

/** Compares two token lists, padding the shorter with the number 0 ([P-8.9-2]). */
export function compareTokenLists(x: readonly VersionToken[], y: readonly VersionToken[]): -1 | 0 | 1 {
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = compareVersionTokens(x[i] ?? ZERO, y[i] ?? ZERO);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Compares two firmware versions: −1, 0 or 1. Tokens compare left to right; digit runs
 * numerically; a missing token counts as 0, so `3.11` equals `3.11.0`; a pre-release marker sorts
 * below a number (so below the release, `6.43rc3 < 6.43`), and a letter run above one
 * (`1.0a > 1.0`). Separators and prefixes vanish first (see {@link tokenizeVersion}). The order
 * is total: every version is padded with the same token.
 * @example compareVersions('v3.11', '3.11.0') === 0; compareVersions('6.43rc3', '6.43') === -1
 */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  return compareTokenLists(tokenizeVersion(a), tokenizeVersion(b));
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
