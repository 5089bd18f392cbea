/**
 * Fixed test keys (tests and vectors only): seeds are 32 copies of one byte, so every vector
 * and every test signature is reproducible. Never use these anywhere else.
 * @module
 */
import { importPrivateKey, type PrivateKey } from '../crypto/index.ts';

/** A deterministic test key whose seed is 32 bytes of `n`. */
export function testKey(n: number): PrivateKey {
  return importPrivateKey(new Uint8Array(32).fill(n));
}

/** The test keys of each role used by vectors and tests. */
export const TEST_KEYS = {
  root1: testKey(0x01),
  root2: testKey(0x02),
  root3: testKey(0x03),
  feed: testKey(0x11),
  registry: testKey(0x21),
  collector: testKey(0x31),
} as const;
