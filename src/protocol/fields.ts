/**
 * Typed access to decoded CBOR maps and arrays: each getter names the field in its error, so a
 * refusal reads `verdict.nonce: expected 16 bytes, got 15`. Parsing code uses these instead of casts.
 * @module
 */
import { CborTag, type CborKey, type CborMap, type CborValue } from './cbor.ts';
import { ProtocolError } from './errors.ts';

function kind(value: CborValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof CborTag) return `tag ${value.tag}`;
  if (value instanceof Map) return 'map';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'number' ? 'integer' : typeof value;
}

function badType(path: string, expected: string, value: CborValue | undefined): ProtocolError {
  return new ProtocolError('BAD_TYPE', `${path}: expected ${expected}, got ${kind(value)}`);
}

/** Asserts `value` is a map; `path` names it in errors. */
export function asMap(value: CborValue | undefined, path: string): CborMap {
  if (!(value instanceof Map)) throw badType(path, 'a map', value);
  return value as CborMap;
}

/** Asserts `value` is an array with a length in [min, max]. */
export function asArray(
  value: CborValue | undefined,
  path: string,
  bounds: { min?: number; max?: number } = {},
): readonly CborValue[] {
  if (!Array.isArray(value)) throw badType(path, 'an array', value);
  const items = value as readonly CborValue[];
  const min = bounds.min ?? 0;
  const max = bounds.max ?? Infinity;
  if (items.length < min || items.length > max) {
    throw new ProtocolError('BAD_VALUE', `${path}: expected ${min}..${max} elements, got ${items.length}`);
  }
  return items;
}

/** Asserts `value` is an unsigned integer in [min, max]. */
export function asUint(
  value: CborValue | undefined,
  path: string,
  bounds: { min?: number; max?: number } = {},
): number {
  if (typeof value !== 'number') throw badType(path, 'an integer', value);
  const min = bounds.min ?? 0;
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  if (value < min || value > max) {
    throw new ProtocolError('BAD_VALUE', `${path}: expected ${min}..${max}, got ${value}`);
  }
  return value;
}

/** Asserts `value` is an integer (either sign). */
export function asInt(value: CborValue | undefined, path: string): number {
  if (typeof value !== 'number') throw badType(path, 'an integer', value);
  return value;
}

/** Asserts `value` is a byte string whose length is in [min, max]. */
export function asBytes(
  value: CborValue | undefined,
  path: string,
  bounds: { min?: number; max?: number } = {},
): Uint8Array {
  if (!(value instanceof Uint8Array)) throw badType(path, 'bytes', value);
  const min = bounds.min ?? 0;
  const max = bounds.max ?? Infinity;
  if (value.byteLength < min || value.byteLength > max) {
    const expected = min === max ? `${min}` : `${min}..${max}`;
    throw new ProtocolError('BAD_VALUE', `${path}: expected ${expected} bytes, got ${value.byteLength}`);
  }
  return value;
}

/** UTF-8 length of a string without encoding it (lone surrogates count 3, as U+FFFD). */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Asserts `value` is a text string of 1..maxBytes UTF-8 bytes with no control characters. */
export function asText(value: CborValue | undefined, path: string, maxBytes: number): string {
  if (typeof value !== 'string') throw badType(path, 'text', value);
  const n = utf8Length(value);
  if (n === 0 || n > maxBytes) {
    throw new ProtocolError('BAD_VALUE', `${path}: expected 1..${maxBytes} bytes of text, got ${n}`);
  }
  // eslint-disable-next-line no-control-regex -- the point is to refuse control characters
  if (/[\u0000-\u001f\u007f-\u009f]/u.test(value)) {
    throw new ProtocolError('BAD_VALUE', `${path}: control characters are not allowed`);
  }
  return value;
}

/** Asserts `value` is a boolean. */
export function asBool(value: CborValue | undefined, path: string): boolean {
  if (typeof value !== 'boolean') throw badType(path, 'true or false', value);
  return value;
}

/** Asserts `value` is tag `tag` and returns its content. */
export function asTag(value: CborValue | undefined, tag: number, path: string): CborValue {
  if (!(value instanceof CborTag) || value.tag !== tag) throw badType(path, `tag ${tag}`, value);
  return value.value;
}

/**
 * Asserts every key of `map` is in `allowed` ([P-2.4-2]: unknown keys are refused in version 1)
 * and every key in `required` is present.
 */
export function checkKeys(
  map: CborMap,
  path: string,
  keys: { allowed: readonly CborKey[]; required: readonly CborKey[] },
): void {
  for (const key of map.keys()) {
    if (!keys.allowed.includes(key)) {
      throw new ProtocolError('UNKNOWN_KEY', `${path}: unknown key ${JSON.stringify(key)}`);
    }
  }
  for (const key of keys.required) {
    if (!map.has(key)) {
      throw new ProtocolError('MISSING_FIELD', `${path}: missing key ${JSON.stringify(key)}`);
    }
  }
}

/** Returns `map.get(key)` or `undefined` for an optional field. */
export function optional<T>(
  map: CborMap,
  key: CborKey,
  read: (value: CborValue) => T,
): T | undefined {
  const value = map.get(key);
  return value === undefined ? undefined : read(value);
}
