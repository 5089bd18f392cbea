/**
 * Following root documents (docs/protocol.md §8.2): TUF-style rotation where version N+1
 * must carry the thresholds of both N's and N+1's root keys, versions rise by exactly 1 and never
 * go back; and the imported trust anchors the acceptance rule uses.
 * @module
 */
import { equalBytes, importPublicKey, type PublicKey } from '../crypto/index.ts';
import { verifyCoseSignature, type CoseSign } from './cose.ts';
import type { Root, SignedRoot } from './root.ts';

/** Why a root document is refused as the next link. */
export const ROOT_REFUSAL_CODES = ['ROOT_ROLLBACK', 'ROOT_VERSION_GAP', 'ROOT_UNDER_SIGNED_PREVIOUS', 'ROOT_UNDER_SIGNED_NEW', 'ROOT_ISSUED_BEFORE_PREVIOUS'] as const;
/** A code from {@link ROOT_REFUSAL_CODES}. */
export type RootRefusalCode = (typeof ROOT_REFUSAL_CODES)[number];

/** Verifies one COSE_Sign signer; injected so tests can count signature checks. */
export type CoseSignatureVerifier = typeof verifyCoseSignature;

/** The outcome of checking one link. */
export type RootLinkResult =
  | { readonly ok: true; readonly root: Root }
  | { readonly ok: false; readonly reason: RootRefusalCode; readonly message: string };

/** The outcome of following a chain: the last root reached and, if it stopped early, why. */
export interface RootChainResult {
  readonly root: Root;
  /** Versions accepted, in order (empty if the first link was refused). */
  readonly accepted: readonly number[];
  readonly refused?: { readonly version: number; readonly index: number; readonly reason: RootRefusalCode; readonly message: string };
}

/**
 * The number of distinct keys among `keys` with a signer of `doc` that verifies (signers picked by
 * kid; a key counts once however often it signs). At most one verification per signer.
 */
export function countRootSigners(doc: CoseSign, keys: readonly Uint8Array[], options: { verifier?: CoseSignatureVerifier } = {}): number {
  const verifier = options.verifier ?? verifyCoseSignature;
  const counted = new Set<number>();
  for (const signer of doc.signatures) {
    keys.forEach((raw, index) => {
      if (counted.has(index)) return;
      const key = importPublicKey(raw);
      if (equalBytes(key.kid, signer.kid) && verifier(doc, signer, key)) counted.add(index);
    });
  }
  return counted.size;
}

function signersOf(next: SignedRoot, keys: readonly Uint8Array[], verifier: CoseSignatureVerifier | undefined): number {
  return countRootSigners(next.sign, keys, verifier === undefined ? {} : { verifier });
}

/** True when a root document carries its own threshold of its own root keys (a shipped or first root). */
export function isSelfSigned(signed: SignedRoot, options: { verifier?: CoseSignatureVerifier } = {}): boolean {
  return signersOf(signed, signed.value.rootKeys, options.verifier) >= signed.value.threshold;
}

/**
 * Checks that `next` may follow `current` ([P-8.2-2]..[P-8.2-5]): version exactly N+1, issued no
 * earlier, and signed by at least `current.threshold` of N's root keys and `next.threshold` of
 * its own.
 * @example const link = verifyRootLink(shipped, readRoot(decodeCbor(bytes))); if (!link.ok) log(link.reason)
 */
export function verifyRootLink(current: Root, next: SignedRoot, options: { verifier?: CoseSignatureVerifier } = {}): RootLinkResult {
  const v = next.value;
  if (v.version <= current.version) {
    return { ok: false, reason: 'ROOT_ROLLBACK', message: `root v${v.version}: not newer than the current v${current.version}; versions never go back` };
  }
  if (v.version !== current.version + 1) {
    return { ok: false, reason: 'ROOT_VERSION_GAP', message: `root v${v.version}: expected v${current.version + 1} next; every version must be followed in turn` };
  }
  if (v.issuedAt < current.issuedAt) {
    return { ok: false, reason: 'ROOT_ISSUED_BEFORE_PREVIOUS', message: `root v${v.version}: issued_at ${v.issuedAt} is before v${current.version}'s ${current.issuedAt}` };
  }
  const previousSigners = signersOf(next, current.rootKeys, options.verifier);
  if (previousSigners < current.threshold) {
    return { ok: false, reason: 'ROOT_UNDER_SIGNED_PREVIOUS', message: `root v${v.version}: ${previousSigners} valid signature(s) of v${current.version}'s root keys, threshold ${current.threshold}` };
  }
  const newSigners = signersOf(next, v.rootKeys, options.verifier);
  if (newSigners < v.threshold) {
    return { ok: false, reason: 'ROOT_UNDER_SIGNED_NEW', message: `root v${v.version}: ${newSigners} valid signature(s) of its own root keys, threshold ${v.threshold}` };
  }
  return { ok: true, root: v };
}

/**
 * Follows `chain` in the given order from `trusted` ([P-8.2-1]); stops at the first refused
 * link and reports it, keeping the last root reached (the device persists that one).
 */
export function followRootChain(trusted: Root, chain: readonly SignedRoot[], options: { verifier?: CoseSignatureVerifier } = {}): RootChainResult {
  let root = trusted;
  const accepted: number[] = [];
  for (const [index, next] of chain.entries()) {
    const link = verifyRootLink(root, next, options);
    if (!link.ok) return { root, accepted, refused: { version: next.value.version, index, reason: link.reason, message: link.message } };
    root = link.root;
    accepted.push(root.version);
  }
  return { root, accepted };
}

/** The current root with its role keys imported once (imports are the costly part of a verify). */
export interface TrustAnchors {
  readonly root: Root;
  readonly feedKeys: readonly PublicKey[];
  readonly registryKeys: readonly PublicKey[];
}

/** Imports the feed and registry keys of the current root. */
export function trustAnchorsOf(root: Root): TrustAnchors {
  return { root, feedKeys: root.feedKeys.map(importPublicKey), registryKeys: root.registryKeys.map(importPublicKey) };
}

/** The key among `keys` whose kid is `kid`, if any (a lookup, no signature work). */
export function keyByKid(keys: readonly PublicKey[], kid: Uint8Array): PublicKey | undefined {
  return keys.find((k) => equalBytes(k.kid, kid));
}
