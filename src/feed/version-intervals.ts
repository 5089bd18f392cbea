/**
 * Source version statements → wire intervals (protocol/version-range.ts): exact lists stay lists,
 * ranges stay separate intervals, nothing is widened. Used by the NVD, OSV and CSAF parsers.
 * @module
 */
import { MAX_SUFFIXES, MAX_VERSION_BYTES, type Interval } from '../protocol/index.ts';
import { describeValue, type RecordLocation } from './record-fields.ts';
import { FeedError } from './types.ts';

const textEncoder = new TextEncoder();

/** The trimmed version at `path`; `BAD_VERSION` when empty or longer than MAX_VERSION_BYTES. */
export function assertVersion(version: string, where: RecordLocation, path: string): string {
  const v = version.trim();
  const bytes = textEncoder.encode(v).byteLength;
  if (bytes === 0 || bytes > MAX_VERSION_BYTES) {
    throw new FeedError('BAD_VERSION', where, `${path}: expected a version of 1..${MAX_VERSION_BYTES} bytes, got ${bytes}`);
  }
  return v;
}

/** The version at `path` (trimmed, see {@link assertVersion}), `null` when absent, `BAD_RECORD` for a non-string. */
export function optionalVersion(value: unknown, where: RecordLocation, path: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new FeedError('BAD_RECORD', where, `${path}: expected a version string, got ${describeValue(value)}`);
  return assertVersion(value, where, path);
}

function commonPrefix(versions: readonly string[]): string {
  let prefix = versions[0] ?? '';
  for (const v of versions) while (!v.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}

/**
 * Exact versions as `exact` (one) or `exact-list` members (prefix + suffixes, at most
 * MAX_SUFFIXES each), in input order, duplicates removed. Never a range. Prefix and every suffix
 * are non-empty, as the wire requires (version-range.ts: text of 1.. bytes); versions with no
 * common prefix stay separate `exact` members.
 * @example exactIntervals(['1.0.1', '1.0.2']) // [{ kind: 'exact-list', prefix: '1.0.', suffixes: ['1', '2'] }]
 */
export function exactIntervals(versions: readonly string[]): Interval[] {
  const unique = [...new Set(versions)];
  if (unique.length === 1) return [{ kind: 'exact', version: unique[0] ?? '' }];
  const out: Interval[] = [];
  for (let i = 0; i < unique.length; i += MAX_SUFFIXES) {
    const chunk = unique.slice(i, i + MAX_SUFFIXES);
    // Every suffix must be non-empty on the wire, so the prefix is shorter than the shortest version.
    const shortest = Math.min(...chunk.map((v) => v.length));
    const prefix = commonPrefix(chunk).slice(0, shortest - 1);
    if (chunk.length === 1 || prefix === '') out.push(...chunk.map((version): Interval => ({ kind: 'exact', version })));
    else out.push({ kind: 'exact-list', prefix, suffixes: chunk.map((v) => v.slice(prefix.length)) });
  }
  return out;
}

/** What one version-range statement says: its intervals and the exclusive upper bounds (= fixed). */
export interface ParsedRange {
  readonly intervals: readonly Interval[];
  readonly fixed: readonly string[];
}

type Comparator = '=' | '!=' | '<' | '<=' | '>' | '>=';
const CONSTRAINT = /^(!=|<=|>=|<|>|=)?\s*(.+)$/;

function parseConstraints(parts: readonly string[], where: RecordLocation, path: string): ParsedRange {
  const intervals: Interval[] = [];
  const fixed: string[] = [];
  const exact: string[] = [];
  let lower: { version: string; inclusive: boolean } | null = null;
  for (const part of parts) {
    const m = CONSTRAINT.exec(part.trim());
    if (m === null) throw new FeedError('BAD_VERSION', where, `${path}: empty version constraint`);
    const comparator = (m[1] ?? '=') as Comparator;
    const version = assertVersion(m[2] ?? '', where, path);
    switch (comparator) {
      case '=':
        exact.push(version);
        break;
      case '!=':
        throw new FeedError('BAD_VERSION', where, `${path}: "!=" constraints are not supported`);
      case '>':
      case '>=':
        if (lower !== null) intervals.push({ kind: 'range', lower: lower.version, lowerInclusive: lower.inclusive, upper: null, upperInclusive: false });
        lower = { version, inclusive: comparator === '>=' };
        break;
      case '<':
      case '<=':
        intervals.push({
          kind: 'range',
          lower: lower?.version ?? null,
          lowerInclusive: lower?.inclusive ?? false,
          upper: version,
          upperInclusive: comparator === '<=',
        });
        if (comparator === '<') fixed.push(version);
        lower = null;
        break;
    }
  }
  if (lower !== null) intervals.push({ kind: 'range', lower: lower.version, lowerInclusive: lower.inclusive, upper: null, upperInclusive: false });
  return { intervals: [...exactIntervals(exact), ...intervals], fixed };
}

// vers (github.com/package-url/purl-spec VERSION-RANGE-SPEC): "vers:" scheme "/" constraints,
// constraints separated by "|", each an optional comparator and a percent-encoded version; "*" = all.
const VERS = /^vers:([a-z0-9.+-]+)\/(.*)$/i;

/**
 * Parses a CSAF `product_version_range` (CSAF 2.0 §3.1.2.3.2): the `vers:` syntax
 * (`vers:generic/>=1.0|<2.0`, `vers:intdot/<2.3`) or the free-text forms vendors use (`<=2.0`,
 * `<V4.00`, `>=1.0 <2.0`). Returns null for text that is no comparison (`all versions`):
 * the caller records the product with no known versions and low confidence.
 * @example parseVersionRange('vers:generic/>=1.0|<2.0', where, '$') // one interval [1.0, 2.0), fixed ['2.0']
 */
export function parseVersionRange(text: string, where: RecordLocation, path: string): ParsedRange | null {
  const vers = VERS.exec(text.trim());
  if (vers !== null) {
    const body = vers[2] ?? '';
    if (body.trim() === '*') return { intervals: [{ kind: 'range', lower: null, lowerInclusive: false, upper: null, upperInclusive: false }], fixed: [] };
    const parts = body.split('|').map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        throw new FeedError('BAD_VERSION', where, `${path}: bad percent-encoding in ${JSON.stringify(p.slice(0, 40))}`);
      }
    });
    return parseConstraints(parts, where, path);
  }
  // Free text: one or more comparisons separated by "|", "," or whitespace before a comparator.
  const trimmed = text.trim();
  if (!/^(<=|>=|<|>|=)/.test(trimmed)) return null;
  return parseConstraints(trimmed.split(/\s*[|,]\s*|\s+(?=[<>=])/), where, path);
}
