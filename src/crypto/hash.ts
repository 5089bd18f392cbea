/**
 * SHA-256 (FIPS 180-4) through node:crypto.
 * @module
 */
import { createHash } from 'node:crypto';

/** SHA-256 of the concatenation of `parts`. @example sha256(new TextEncoder().encode('abc')) */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
