/**
 * The wire encoding of affected-version sets (docs/protocol.md §4.4): a scheme id and a list of
 * intervals or exact versions. Exact lists stay lists and per-branch fixes stay separate
 * intervals; nothing is widened. The comparison rules of each scheme live beside this file.
 * @module
 */
import type { CborValue } from './cbor.ts';
import { ProtocolError } from './errors.ts';
import { asArray, asText, asUint } from './fields.ts';
import { MAX_INTERVALS, MAX_VERSION_BYTES } from './limits.ts';

/** Version schemes ([P-4.4-2]). 0: the generic firmware scheme, the only one in v1. */
export const VERSION_SCHEME = { GENERIC: 0 } as const;
/** A version scheme id. */
export type VersionScheme = (typeof VERSION_SCHEME)[keyof typeof VERSION_SCHEME];

/**
 * One member of a range set: one exact version, exact versions sharing a prefix (each version is
 * prefix + suffix: NAS and camera builds share long prefixes), or an interval with optional bounds.
 */
export type Interval =
  | { readonly kind: 'exact'; readonly version: string }
  | { readonly kind: 'exact-list'; readonly prefix: string; readonly suffixes: readonly string[] }
  | {
      readonly kind: 'range';
      /** `null`: unbounded below. */
      readonly lower: string | null;
      readonly lowerInclusive: boolean;
      /** `null`: unbounded above. */
      readonly upper: string | null;
      readonly upperInclusive: boolean;
    };

/** A set of affected versions: the union of its intervals under one scheme. */
export interface RangeSet {
  readonly scheme: VersionScheme;
  readonly intervals: readonly Interval[];
}

const LOWER_INCLUSIVE = 1;
const textEncoder = new TextEncoder();
const UPPER_INCLUSIVE = 2;

/** Most suffixes in one exact-list member. */
export const MAX_SUFFIXES = 128;

/** Every exact version an interval names (empty for a range). */
export function exactVersions(interval: Interval): readonly string[] {
  if (interval.kind === 'exact') return [interval.version];
  if (interval.kind === 'exact-list') return interval.suffixes.map((s) => interval.prefix + s);
  return [];
}

/** The CBOR form of a range set: [scheme, [+ interval]]. */
export function rangeSetToCbor(set: RangeSet): CborValue {
  return [
    set.scheme,
    set.intervals.map((i): CborValue =>
      i.kind === 'exact'
        ? i.version
        : i.kind === 'exact-list'
          ? [i.prefix, [...i.suffixes]]
          : [
            i.lower,
            i.upper,
            (i.lowerInclusive ? LOWER_INCLUSIVE : 0) | (i.upperInclusive ? UPPER_INCLUSIVE : 0),
          ],
    ),
  ];
}

function boundOf(value: CborValue | undefined, path: string): string | null {
  return value === null ? null : asText(value, path, MAX_VERSION_BYTES);
}

/** Parses a range set, refusing unknown schemes and flag bits and inclusive flags on open ends. */
export function rangeSetFromCbor(value: CborValue | undefined, path: string): RangeSet {
  const parts = asArray(value, path, { min: 2, max: 2 });
  const scheme = asUint(parts[0], `${path}.scheme`);
  if (scheme !== VERSION_SCHEME.GENERIC) {
    throw new ProtocolError('BAD_VALUE', `${path}.scheme: unknown version scheme ${scheme}`);
  }
  const items = asArray(parts[1], `${path}.intervals`, { min: 1, max: MAX_INTERVALS });
  const intervals = items.map((item, n): Interval => {
    const p = `${path}.intervals[${n}]`;
    if (typeof item === 'string') return { kind: 'exact', version: asText(item, p, MAX_VERSION_BYTES) };
    const fields = asArray(item, p, { min: 2, max: 3 });
    if (fields.length === 2) {
      const prefix = asText(fields[0], `${p}.prefix`, MAX_VERSION_BYTES);
      const suffixes = asArray(fields[1], `${p}.suffixes`, { min: 1, max: MAX_SUFFIXES }).map((x, k) => {
        const suffix = asText(x, `${p}.suffixes[${k}]`, MAX_VERSION_BYTES);
        if (textEncoder.encode(prefix + suffix).byteLength > MAX_VERSION_BYTES) {
          throw new ProtocolError('BAD_VALUE', `${p}.suffixes[${k}]: version longer than ${MAX_VERSION_BYTES} bytes`);
        }
        return suffix;
      });
      return { kind: 'exact-list', prefix, suffixes };
    }
    const lower = boundOf(fields[0], `${p}.lower`);
    const upper = boundOf(fields[1], `${p}.upper`);
    const flags = asUint(fields[2], `${p}.flags`, { max: 3 });
    const lowerInclusive = (flags & LOWER_INCLUSIVE) !== 0;
    const upperInclusive = (flags & UPPER_INCLUSIVE) !== 0;
    if ((lower === null && lowerInclusive) || (upper === null && upperInclusive)) {
      throw new ProtocolError('BAD_VALUE', `${p}.flags: an unbounded end cannot be inclusive`);
    }
    return { kind: 'range', lower, lowerInclusive, upper, upperInclusive };
  });
  return { scheme: VERSION_SCHEME.GENERIC, intervals };
}
