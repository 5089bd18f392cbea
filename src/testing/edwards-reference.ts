/**
 * A deliberately naive edwards25519 (RFC 8032 §5.1) in BigInt affine coordinates, for tests only:
 * it decodes points and multiplies by 8, so a test can prove that its table of small-order
 * encodings really is one, independently of the code under test. Slow and not constant-time.
 * @module
 */

const P = 2n ** 255n - 19n;
// RFC 8032 §5.1: d = −121665 / 121666 mod p.
const D = mod(-121665n * inverse(121666n));
// sqrt(−1) = 2^((p−1)/4) mod p (RFC 8032 §5.1.3).
const SQRT_M1 = power(2n, (P - 1n) / 4n);

function mod(a: bigint): bigint {
  const r = a % P;
  return r >= 0n ? r : r + P;
}

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = mod(result * b);
    b = mod(b * b);
    e >>= 1n;
  }
  return result;
}

function inverse(a: bigint): bigint {
  return power(a, P - 2n);
}

/** An affine point (x, y). */
export interface EdwardsPoint {
  readonly x: bigint;
  readonly y: bigint;
}

/** Decodes a 32-byte point encoding (RFC 8032 §5.1.3), or `undefined` if it is not a point. */
export function decodePoint(raw: Uint8Array): EdwardsPoint | undefined {
  if (raw.byteLength !== 32) return undefined;
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(raw[i] ?? 0);
  const sign = y >> 255n;
  y &= (1n << 255n) - 1n;
  if (y >= P) return undefined;
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * power(v, 3n) * power(u * power(v, 7n), (P - 5n) / 8n));
  if (mod(v * x * x) !== u) {
    if (mod(v * x * x) !== mod(-u)) return undefined;
    x = mod(x * SQRT_M1);
  }
  if (x === 0n && sign === 1n) return undefined;
  if ((x & 1n) !== sign) x = P - x;
  return { x, y };
}

/** The sum of two points (twisted Edwards addition with a = −1, complete for edwards25519). */
export function addPoints(a: EdwardsPoint, b: EdwardsPoint): EdwardsPoint {
  const t = mod(D * a.x * b.x * a.y * b.y);
  return {
    x: mod((a.x * b.y + a.y * b.x) * inverse(1n + t)),
    y: mod((a.y * b.y + a.x * b.x) * inverse(1n - t)),
  };
}

/** True when the encoding decodes to a point P with 8·P the identity (0, 1). */
export function isSmallOrderEncoding(raw: Uint8Array): boolean {
  let point = decodePoint(raw);
  if (point === undefined) return false;
  for (let i = 0; i < 3; i++) point = addPoints(point, point);
  return point.x === 0n && point.y === 1n;
}
