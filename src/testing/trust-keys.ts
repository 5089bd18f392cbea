/**
 * Fixed keys for the trust tests (tests only): the committed role keys of keys.ts plus the extra
 * root keys, a second feed key and an attacker key that rotation and compromise drills need.
 * @module
 */
import type { PrivateKey } from '../crypto/index.ts';
import { TEST_KEYS, testKey } from './keys.ts';

/** Role keys for trust tests; `root[i]` has seed i + 1, so root[0..2] are keys.ts's root1..root3. */
export const TRUST_KEYS: Readonly<{
  root: readonly PrivateKey[];
  feed: PrivateKey;
  feed2: PrivateKey;
  registry: PrivateKey;
  collector: PrivateKey;
  attacker: PrivateKey;
}> = Object.freeze({
  root: [TEST_KEYS.root1, TEST_KEYS.root2, TEST_KEYS.root3, testKey(0x04), testKey(0x05), testKey(0x06)],
  feed: TEST_KEYS.feed,
  feed2: testKey(0x12),
  registry: TEST_KEYS.registry,
  collector: TEST_KEYS.collector,
  attacker: testKey(0x99),
});
