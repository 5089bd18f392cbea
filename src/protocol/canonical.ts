/**
 * Canonical vendor and model names, the model hash of the private form, and compact advisory ids
 * (docs/protocol.md §4). Devices and the feed compute exactly the same strings and hashes.
 * @module
 */
import { sha256 } from '../crypto/index.ts';
import { BUCKET_TAG_BYTES, MAX_NAME_BYTES } from './limits.ts';
import { ProtocolError } from './errors.ts';

const textEncoder = new TextEncoder();
const ASCII_CANONICAL = /^[a-z0-9]+$/;

// [P-4.1-1] Removed after folding: punctuation (P*), separators (Z*) and other (C*) code points.
const STRIP = /[\p{P}\p{Z}\p{C}]/gu;

/**
 * The canonical form of a vendor or model name ([P-4.1-1]): Unicode NFKC, lower case (Unicode
 * default mapping, no locale), NFKC again, every punctuation, separator and control code point
 * removed, and NFKC once more. Throws `ProtocolError('BAD_VALUE')` when nothing is left or the result exceeds
 * 64 UTF-8 bytes.
 * @example canonicalName('D-Link') === 'dlink'; canonicalName('Archer C7') === canonicalName('archer_c7')
 */
export function canonicalName(name: string): string {
  // The last NFKC composes what the removal made adjacent ('a' + ' ' + U+0301 → 'á'), so the
  // function is idempotent; composition only ever yields letters, never a removed category.
  const folded = name.normalize('NFKC').toLowerCase().normalize('NFKC').replace(STRIP, '').normalize('NFKC');
  const n = textEncoder.encode(folded).byteLength;
  if (n === 0) throw new ProtocolError('BAD_VALUE', `name ${JSON.stringify(name.slice(0, 80))}: nothing left after canonicalisation`);
  if (n > MAX_NAME_BYTES) {
    throw new ProtocolError('BAD_VALUE', `name: ${n} bytes after canonicalisation, at most ${MAX_NAME_BYTES}`);
  }
  return folded;
}

/** True when `name` is already canonical (devices must send canonical names, [P-5.1-3]). */
export function isCanonicalName(name: string): boolean {
  // Fast path: lower-case ASCII letters and digits are unchanged by every step of [P-4.1-1].
  if (ASCII_CANONICAL.test(name)) return name.length <= MAX_NAME_BYTES;
  try {
    return canonicalName(name) === name;
  } catch {
    return false;
  }
}

const MODEL_HASH_LABEL = textEncoder.encode('tattler model v1\0');
const NUL = new Uint8Array([0]);

/**
 * The model hash ([P-4.2-1]): SHA-256("tattler model v1" ‖ 0x00 ‖ vendor ‖ 0x00 ‖ model) over the
 * UTF-8 of the canonical names. The label separates it from any other use of SHA-256.
 * @example toHex(modelHash('hikvision', 'ds2cd2032i'))
 */
export function modelHash(vendor: string, model: string): Uint8Array {
  return sha256(MODEL_HASH_LABEL, textEncoder.encode(vendor), NUL, textEncoder.encode(model));
}

/** The 2-byte bucket prefix of a model hash: its first 12 bits, the low 4 bits zero ([P-4.2-2]). */
export function bucketPrefix(hash: Uint8Array): Uint8Array {
  return new Uint8Array([hash[0] ?? 0, (hash[1] ?? 0) & 0xf0]);
}

/** The bucket index 0..4095 of a 2-byte prefix. */
export function bucketIndex(prefix: Uint8Array): number {
  return ((prefix[0] ?? 0) << 4) | ((prefix[1] ?? 0) >> 4);
}

/** The 2-byte prefix of bucket `index`. */
export function prefixOfBucket(index: number): Uint8Array {
  return new Uint8Array([(index >> 4) & 0xff, (index << 4) & 0xf0]);
}

/** The bucket-entry tag of a model hash: its first 6 bytes ([P-6.3-2]). */
export function bucketTag(hash: Uint8Array): Uint8Array {
  return hash.slice(0, BUCKET_TAG_BYTES);
}

// CVE ids: "CVE-" year "-" a sequence of 4 digits, or more digits without a leading zero.
const CVE = /^CVE-(\d{4})-(0\d{3}|[1-9]\d{3,6})$/;
const CVE_BASE = 10_000_000;

/**
 * The wire form of an advisory id ([P-4.3-1]): `CVE-YYYY-N` with 1999 < YYYY and N < 10^7 becomes
 * the unsigned integer (YYYY − 1999) × 10^7 + N (5 bytes instead of 14–16); anything else stays text.
 * @example encodeAdvisoryId('CVE-2021-36260') === 220036260
 */
export function encodeAdvisoryId(id: string): number | string {
  const m = CVE.exec(id);
  if (m === null) return id;
  const year = Number(m[1]);
  const value = (year - 1999) * CVE_BASE + Number(m[2]);
  // Only years 2000..2428 fit: the integer form is at most 2^32 − 1 (5 bytes on the wire).
  return year <= 1999 || value > 0xffffffff ? id : value;
}

/** The text form of a wire advisory id; the inverse of {@link encodeAdvisoryId}. */
export function decodeAdvisoryId(value: number | string): string {
  if (typeof value === 'string') return value;
  const year = Math.floor(value / CVE_BASE) + 1999;
  if (year < 2000) throw new ProtocolError('BAD_VALUE', `advisory id ${value}: not a CVE number`);
  return `CVE-${year}-${String(value % CVE_BASE).padStart(4, '0')}`;
}
