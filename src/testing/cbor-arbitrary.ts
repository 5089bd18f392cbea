/**
 * fast-check arbitraries for values of Tattler's CBOR subset, and the conversion of cbor-x's
 * decoded values (Buffer, BigInt, Tag) into that subset, so cbor-x can act as an independent
 * decoder in cross-checks.
 * @module
 */
import fc from 'fast-check';
import { Tag } from 'cbor-x';
import { CBOR_TAG, CborTag, type CborKey, type CborValue } from '../protocol/index.ts';

// Both ends of every argument size (RFC 8949 §3: 0..23 inline, then 1, 2, 4 and 8 bytes).
const BOUNDARY_INTEGERS = [
  0,
  1,
  23,
  24,
  255,
  256,
  65535,
  65536,
  2 ** 32 - 1,
  2 ** 32,
  Number.MAX_SAFE_INTEGER,
  -1,
  -24,
  -25,
  -256,
  -257,
  -65536,
  -65537,
  -(2 ** 32),
  -(2 ** 32) - 1,
  Number.MIN_SAFE_INTEGER,
];

/** Integers of the subset, ±(2^53−1), biased towards argument-size boundaries. */
export const cborInteger: fc.Arbitrary<number> = fc.oneof(
  fc.maxSafeInteger(),
  fc.constantFrom(...BOUNDARY_INTEGERS),
  fc.integer({ min: -300, max: 70000 }),
  fc.integer(),
);

/** Text of any Unicode scalar values (no lone surrogates: those have no UTF-8 form). */
export const cborText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
);

const cborKey: fc.Arbitrary<CborKey> = fc.oneof(cborInteger, cborText);

/** Any value of the subset, nested at most 5 containers deep (the decoder allows 8). */
export const cborValue: fc.Arbitrary<CborValue> = fc.letrec<{ value: CborValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    cborInteger,
    cborText,
    fc.uint8Array({ maxLength: 40 }),
    fc.constantFrom(true, false, null),
    fc.array(tie('value'), { maxLength: 6 }),
    fc
      .uniqueArray(fc.tuple(cborKey, tie('value')), { selector: ([key]) => key, maxLength: 6 })
      .map((entries) => new Map<CborKey, CborValue>(entries)),
    fc
      .tuple(fc.constantFrom(...Object.values(CBOR_TAG)), tie('value'))
      .map(([tag, value]) => new CborTag(tag, value)),
  ),
})).value;

/** `value` with every map rebuilt in reverse insertion order (same content). */
export function reverseMaps(value: CborValue): CborValue {
  if (value instanceof Map) {
    const entries = [...(value as ReadonlyMap<CborKey, CborValue>)].reverse();
    return new Map(entries.map(([k, v]) => [k, reverseMaps(v)]));
  }
  if (value instanceof CborTag) return new CborTag(value.tag, reverseMaps(value.value));
  if (Array.isArray(value)) return (value as readonly CborValue[]).map(reverseMaps);
  return value;
}

function toKey(value: unknown): CborKey {
  const key = fromCborX(value);
  if (typeof key !== 'number' && typeof key !== 'string')
    throw new TypeError('cbor-x: map key is not an integer or text');
  return key;
}

/**
 * The subset value that a cbor-x decode result stands for: Buffers become plain Uint8Arrays,
 * BigInts numbers, Tags CborTags. Throws `TypeError` for anything outside the subset.
 */
export function fromCborX(value: unknown): CborValue {
  if (
    typeof value === 'number' ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    value === null
  )
    return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value)) return value.map((item: unknown) => fromCborX(item));
  if (value instanceof Map) {
    const out = new Map<CborKey, CborValue>();
    for (const [k, v] of value as Map<unknown, unknown>) out.set(toKey(k), fromCborX(v));
    return out;
  }
  if (value instanceof Tag) return new CborTag(value.tag, fromCborX(value.value as unknown));
  throw new TypeError(`cbor-x: unexpected decoded value ${Object.prototype.toString.call(value)}`);
}
