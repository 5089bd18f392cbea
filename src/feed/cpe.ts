/**
 * CPE 2.3 formatted strings (NISTIR 7695 §6.2): parse into attribute values with the logical values
 * ANY (`*`) and NA (`-`) kept apart, unescape quoted characters, and compare names (NISTIR 7696 §6).
 * @module
 */
import { FeedError } from './types.ts';

/**
 * One attribute value: ANY (`*`, "any value"), NA (`-`, "not applicable"), or a value. `value` is
 * unescaped and lower-cased (NISTIR 7696 §6.1: attribute comparison is case-insensitive); `pattern`
 * is true when it holds unquoted `*`/`?` wildcards (NISTIR 7695 §5.3.2), kept as `*`/`?` in `value`
 * while a quoted `\*`/`\?` becomes a literal character.
 */
export type CpeValue =
  | { readonly kind: 'any' }
  | { readonly kind: 'na' }
  | { readonly kind: 'value'; readonly value: string; readonly pattern: boolean };

/** The part attribute (NISTIR 7695 §5.3.3.1): application, operating system, hardware. */
export type CpePart = 'a' | 'o' | 'h';

/** A parsed CPE 2.3 name: the 11 attributes after `cpe:2.3:` (NISTIR 7695 §6.2.1). */
export interface Cpe {
  readonly part: CpePart;
  readonly vendor: CpeValue;
  readonly product: CpeValue;
  readonly version: CpeValue;
  readonly update: CpeValue;
  readonly edition: CpeValue;
  readonly language: CpeValue;
  readonly swEdition: CpeValue;
  readonly targetSw: CpeValue;
  readonly targetHw: CpeValue;
  readonly other: CpeValue;
}

/** The attribute names of {@link Cpe} in formatted-string order (NISTIR 7695 §6.2.1). */
export const CPE_ATTRIBUTES = [
  'part', 'vendor', 'product', 'version', 'update', 'edition', 'language', 'swEdition', 'targetSw', 'targetHw',
  'other',
] as const;

// NISTIR 7695 §6.2.1: "cpe:2.3:" then 11 attribute values; 2 + 11 = 13 colon-separated components.
const PREFIX = 'cpe:2.3:';
const ATTRIBUTE_COUNT = 11;

/**
 * Longest formatted string accepted, in UTF-16 code units: a guard against hostile input, not a
 * property of CPE. 4 × the 255-byte wire limit (protocol MAX_URI_BYTES) leaves room for escapes.
 */
export const MAX_CPE_CHARS = 1024;

const ANY: CpeValue = Object.freeze({ kind: 'any' });
const NA: CpeValue = Object.freeze({ kind: 'na' });

/** Where a CPE came from, for errors: file, record and JSON path. */
export interface CpeLocation {
  readonly file: string;
  readonly record: string;
  readonly path: string;
}

function bad(where: CpeLocation, message: string): FeedError {
  return new FeedError('BAD_CPE', where, `${where.path}: ${message}`);
}

/**
 * Splits at unquoted colons (NISTIR 7695 §6.2.2: `\:` is a quoted colon and does not split).
 * Backslashes are kept for {@link decodeValue}; a trailing lone backslash is an error.
 */
function splitComponents(text: string, where: CpeLocation): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      if (i + 1 >= text.length) throw bad(where, 'CPE ends with a lone backslash');
      i++;
    } else if (c === ':') {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/**
 * One formatted-string component → a value (NISTIR 7695 §6.2.2.2 unbind_value_fs): a bare `*` is
 * ANY, a bare `-` is NA, `\x` is the literal `x`, unquoted `*`/`?` are wildcards.
 */
function decodeValue(component: string, name: string, where: CpeLocation): CpeValue {
  if (component === '*') return ANY;
  if (component === '-') return NA;
  if (component === '') throw bad(where, `${name}: empty component (use * for ANY, - for NA)`);
  let value = '';
  let pattern = false;
  for (let i = 0; i < component.length; i++) {
    const c = component[i] ?? '';
    if (c === '\\') {
      value += component[i + 1] ?? '';
      i++;
    } else if (c === '*' || c === '?') {
      pattern = true;
      value += c;
    } else if (/\s/u.test(c)) {
      // NISTIR 7695 §5.3.2: whitespace is never part of a bound value.
      throw bad(where, `${name}: whitespace in ${JSON.stringify(component.slice(0, 40))}`);
    } else {
      value += c;
    }
  }
  return { kind: 'value', value: value.toLowerCase(), pattern };
}

/**
 * Parses a CPE 2.3 formatted string (NISTIR 7695 §6.2); throws `FeedError('BAD_CPE')` naming
 * `where.path` when it is not one.
 * @example parseCpe('cpe:2.3:h:hikvision:ds-2cd2026g2-iu\\/sl:-:*:*:*:*:*:*:*', where).product
 *   // { kind: 'value', value: 'ds-2cd2026g2-iu/sl', pattern: false }
 */
export function parseCpe(text: string, where: CpeLocation): Cpe {
  if (text.length > MAX_CPE_CHARS) throw bad(where, `CPE of ${text.length} characters, at most ${MAX_CPE_CHARS}`);
  // NISTIR 7695 §6.2.1: the prefix is case-insensitive like every other component.
  if (text.slice(0, PREFIX.length).toLowerCase() !== PREFIX) {
    throw bad(where, `expected a CPE 2.3 formatted string starting "${PREFIX}", got ${JSON.stringify(text.slice(0, 40))}`);
  }
  const components = splitComponents(text.slice(PREFIX.length), where);
  if (components.length !== ATTRIBUTE_COUNT) {
    throw bad(where, `expected ${ATTRIBUTE_COUNT} attributes after "${PREFIX}", got ${components.length}`);
  }
  const values = components.map((c, n) => decodeValue(c, CPE_ATTRIBUTES[n] ?? '?', where));
  const partValue = values[0];
  const part = partValue?.kind === 'value' ? partValue.value : '';
  if (part !== 'a' && part !== 'o' && part !== 'h') {
    throw bad(where, `part: expected a, o or h, got ${JSON.stringify(components[0] ?? '')}`);
  }
  const at = (n: number): CpeValue => values[n] ?? ANY;
  return {
    part,
    vendor: at(1),
    product: at(2),
    version: at(3),
    update: at(4),
    edition: at(5),
    language: at(6),
    swEdition: at(7),
    targetSw: at(8),
    targetHw: at(9),
    other: at(10),
  };
}

/** The text of a value that is neither ANY nor NA nor a wildcard pattern, else null. */
export function cpeText(value: CpeValue): string | null {
  return value.kind === 'value' && !value.pattern ? value.value : null;
}

/** Set relation of a source attribute value to a target value (NISTIR 7696 §6.1.2, Table 6-2). */
export type CpeRelation = 'SUPERSET' | 'SUBSET' | 'EQUAL' | 'DISJOINT';

function wildcardMatches(pattern: string, text: string): boolean {
  // NISTIR 7696 §6.1.2.1: `*` any run of characters, `?` exactly one. Values here are unescaped, so
  // this treats every `*`/`?` of a pattern value as a wildcard (quoted ones are vanishingly rare).
  let regex = '^';
  for (const c of pattern) regex += c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.*+?^${}()|[\]\\/-]/gu, '\\$&');
  return new RegExp(`${regex}$`, 'su').test(text);
}

/**
 * Compares one source attribute value with one target value (NISTIR 7696 Table 6-2):
 * ANY ⊇ everything, NA = NA only, values compare case-insensitively, wildcards in the source match.
 */
export function compareCpeValues(source: CpeValue, target: CpeValue): CpeRelation {
  if (source.kind === 'any') return target.kind === 'any' ? 'EQUAL' : 'SUPERSET';
  if (target.kind === 'any') return 'SUBSET';
  if (source.kind === 'na' || target.kind === 'na') return source.kind === target.kind ? 'EQUAL' : 'DISJOINT';
  if (source.pattern) return wildcardMatches(source.value, target.value) ? 'SUPERSET' : 'DISJOINT';
  return source.value === target.value ? 'EQUAL' : 'DISJOINT';
}

/**
 * True when the source name matches the target (NISTIR 7696 §6.2 CPE_EQUAL or CPE_SUPERSET): every
 * attribute of the source is a superset of or equal to the target's.
 */
export function isCpeMatch(source: Cpe, target: Cpe): boolean {
  if (source.part !== target.part) return false;
  return CPE_ATTRIBUTES.every((name) => {
    if (name === 'part') return true;
    const r = compareCpeValues(source[name], target[name]);
    return r === 'EQUAL' || r === 'SUPERSET';
  });
}
