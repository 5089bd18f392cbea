import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PrivateKey } from '../crypto/index.ts';
import { decodeCbor, encodeCbor } from './cbor.ts';
import { readRoot, signRoot, type Root, type SignedRoot } from './root.ts';
import { countRootSigners, followRootChain, isSelfSigned, verifyRootLink } from './trust-root.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';

const [r0, r1, r2, r3, r4, r5] = TRUST_KEYS.root as [PrivateKey, PrivateKey, PrivateKey, PrivateKey, PrivateKey, PrivateKey];
const raw = (keys: PrivateKey[]): Uint8Array[] => keys.map((k) => k.publicKey.raw);

function root(version: number, keys: PrivateKey[], threshold: number, feed: PrivateKey = TRUST_KEYS.feed): Root {
  return { version, threshold, rootKeys: raw(keys), feedKeys: raw([feed]), registryKeys: raw([TRUST_KEYS.registry]), issuedAt: 1_700_000_000 + version * 86_400 };
}

function signed(value: Root, signers: PrivateKey[]): SignedRoot {
  return readRoot(decodeCbor(encodeCbor(signRoot(signers, value))));
}

const v1 = root(1, [r0, r1, r2], 2);
const v2 = signed(root(2, [r0, r1, r2], 2), [r0, r1]);
// v3 raises the threshold to 3 and adds r3.
const v3 = signed(root(3, [r0, r1, r2, r3], 3), [r0, r1, r2]);
// v4 replaces the feed key.
const v4 = signed(root(4, [r0, r1, r2, r3], 3, TRUST_KEYS.feed2), [r0, r1, r3]);
// v5 retires r0, adds r4, threshold back to 2.
const v5 = signed(root(5, [r1, r2, r3, r4], 2, TRUST_KEYS.feed2), [r1, r2, r3]);

test('followRootChain() takes a device from root v1 to v5 through a threshold change and a new feed key', () => {
  const result = followRootChain(v1, [v2, v3, v4, v5]);
  assert.equal(result.refused, undefined);
  assert.deepEqual(result.accepted, [2, 3, 4, 5]);
  assert.equal(result.root.version, 5);
  assert.equal(result.root.threshold, 2);
  assert.deepEqual(result.root.feedKeys, [TRUST_KEYS.feed2.publicKey.raw]);
});

test('followRootChain() refuses a missing link and keeps the last root reached', () => {
  const result = followRootChain(v1, [v2, v4]);
  assert.equal(result.root.version, 2);
  assert.equal(result.refused?.reason, 'ROOT_VERSION_GAP');
  assert.equal(result.refused.version, 4);
});

test('followRootChain() refuses v3 after v5 (versions never go back)', () => {
  const result = followRootChain(v1, [v2, v3, v4, v5, v3]);
  assert.equal(result.root.version, 5);
  assert.equal(result.refused?.reason, 'ROOT_ROLLBACK');
  assert.equal(result.refused.index, 4);
});

test('verifyRootLink() refuses a link under-signed by the previous or by the new root keys', () => {
  const byOne = signed(root(2, [r0, r1, r2], 2), [r0]);
  assert.deepEqual(pick(verifyRootLink(v1, byOne)), 'ROOT_UNDER_SIGNED_PREVIOUS');
  // Signed by 3 of v4's keys, but by none of its own new keys.
  const hijack = signed(root(5, [r4, r5], 2, TRUST_KEYS.feed2), [r1, r2, r3]);
  assert.deepEqual(pick(verifyRootLink(v4.value, hijack)), 'ROOT_UNDER_SIGNED_NEW');
  // The threshold of the previous version applies: v4 needs 3 of v3's keys, 2 are not enough.
  const weak = signed(root(4, [r0, r1, r2, r3], 3, TRUST_KEYS.feed2), [r0, r1]);
  assert.deepEqual(pick(verifyRootLink(v3.value, weak)), 'ROOT_UNDER_SIGNED_PREVIOUS');
  const earlier = signed({ ...root(2, [r0, r1, r2], 2), issuedAt: v1.issuedAt - 1 }, [r0, r1]);
  assert.deepEqual(pick(verifyRootLink(v1, earlier)), 'ROOT_ISSUED_BEFORE_PREVIOUS');
});

test('countRootSigners() counts distinct authorised keys whose signature verifies', () => {
  const twice = signed(root(2, [r0, r1, r2], 2), [r0, r0, TRUST_KEYS.attacker]);
  assert.equal(countRootSigners(twice.sign, v1.rootKeys), 1);
  let calls = 0;
  countRootSigners(v2.sign, v1.rootKeys, { verifier: () => ((calls += 1), true) });
  assert.ok(calls <= v2.sign.signatures.length, `${calls} verifications`);
  assert.equal(isSelfSigned(v2), true);
  assert.equal(isSelfSigned(signed(root(1, [r0, r1, r2], 2), [r0])), false);
});

function pick(result: ReturnType<typeof verifyRootLink>): string {
  return result.ok ? 'ok' : result.reason;
}
